#include "proto/auth_codec.h"

#include <cstring>

namespace mmc::proto {

namespace {

constexpr std::string_view kProbe = "version\r\n";
static_assert(kProbe.size() == kTextAuthProbeSize);
constexpr std::string_view kSetLine = "set mmc-auth 0 0 ";
constexpr std::string_view kSaslPlain = "PLAIN";

std::size_t decimal_digits(std::size_t v) noexcept {
    std::size_t n = 1;
    while (v >= 10) {
        v /= 10;
        ++n;
    }
    return n;
}

char* put(char* p, std::string_view s) noexcept {
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    return p + s.size();
}

char* put_decimal(char* p, std::size_t v) noexcept {
    const std::size_t n = decimal_digits(v);
    for (std::size_t i = n; i > 0; --i) {
        p[i - 1] = static_cast<char>('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

void put_be(char* p, std::uint64_t v, int bytes) noexcept {
    for (int i = 0; i < bytes; ++i) p[i] = static_cast<char>(v >> (8 * (bytes - 1 - i)));
}

// A binary request header with no extras and no cas, written in place.
void put_request_header(char* p, BinaryOpcode op, std::size_t key_length, std::size_t body_length,
                        std::uint32_t opaque) noexcept {
    std::memset(p, 0, kBinaryHeaderSize);
    p[0] = static_cast<char>(kBinaryRequestMagic);
    p[1] = static_cast<char>(op);
    put_be(p + 2, key_length, 2);
    put_be(p + 8, body_length, 4);
    put_be(p + 12, opaque, 4);
}

}  // namespace

std::size_t encode_text_auth_probe(char* out, std::size_t capacity) noexcept {
    if (capacity < kProbe.size()) return 0;
    put(out, kProbe);
    return kProbe.size();
}

std::size_t text_auth_set_size(std::string_view user, std::string_view password) noexcept {
    const std::size_t data = user.size() + 1 + password.size();
    return kSetLine.size() + decimal_digits(data) + 2 + data + 2;
}

std::size_t encode_text_auth_set(char* out, std::size_t capacity, std::string_view user,
                                 std::string_view password) noexcept {
    const std::size_t size = text_auth_set_size(user, password);
    if (capacity < size) return 0;
    char* p = put(out, kSetLine);
    p = put_decimal(p, user.size() + 1 + password.size());
    p = put(p, "\r\n");
    p = put(p, user);
    *p++ = ' ';
    p = put(p, password);
    put(p, "\r\n");
    return size;
}

std::size_t encode_binary_sasl_list_mechs(char* out, std::size_t capacity, std::uint32_t opaque) noexcept {
    if (capacity < kBinarySaslListMechsSize) return 0;
    put_request_header(out, BinaryOpcode::sasl_list_mechs, 0, 0, opaque);
    return kBinarySaslListMechsSize;
}

std::size_t binary_sasl_plain_size(std::string_view user, std::string_view password) noexcept {
    return kBinaryHeaderSize + kSaslPlain.size() + 1 + user.size() + 1 + password.size();
}

std::size_t encode_binary_sasl_plain(char* out, std::size_t capacity, std::string_view user,
                                     std::string_view password, std::uint32_t opaque) noexcept {
    const std::size_t value = 1 + user.size() + 1 + password.size();
    if (!binary_request_fits(0, kSaslPlain.size(), value)) return 0;
    const std::size_t size = binary_sasl_plain_size(user, password);
    if (capacity < size) return 0;
    put_request_header(out, BinaryOpcode::sasl_auth, kSaslPlain.size(), kSaslPlain.size() + value, opaque);
    char* p = put(out + kBinaryHeaderSize, kSaslPlain);
    *p++ = '\0';
    p = put(p, user);
    *p++ = '\0';
    put(p, password);
    return size;
}

AuthReply text_auth_probe_reply(const TextEvent& ev) noexcept {
    switch (ev.type) {
        case EventType::version: return AuthReply::not_asked;
        case EventType::client_error:
            return ev.data == "unauthenticated" ? AuthReply::asked : AuthReply::error_reply;
        case EventType::error:
        case EventType::server_error: return AuthReply::error_reply;
        default: return AuthReply::unexpected;
    }
}

AuthReply text_auth_set_reply(const TextEvent& ev) noexcept {
    switch (ev.type) {
        case EventType::stored: return AuthReply::accepted;
        case EventType::client_error:
            return ev.data == "authentication failure" ? AuthReply::refused : AuthReply::error_reply;
        case EventType::error:
        case EventType::server_error: return AuthReply::error_reply;
        default: return AuthReply::unexpected;
    }
}

AuthReply binary_sasl_list_reply(const BinaryEvent& ev) noexcept {
    if (ev.opcode != BinaryOpcode::sasl_list_mechs) return AuthReply::unexpected;
    switch (ev.status) {
        case BinaryStatus::ok:
            return sasl_mechanism_listed(ev.value, kSaslPlain) ? AuthReply::asked : AuthReply::not_asked;
        case BinaryStatus::unknown_command: return AuthReply::not_asked;
        default: return AuthReply::error_reply;
    }
}

AuthReply binary_sasl_auth_reply(const BinaryEvent& ev) noexcept {
    if (ev.opcode != BinaryOpcode::sasl_auth) return AuthReply::unexpected;
    switch (ev.status) {
        case BinaryStatus::ok: return AuthReply::accepted;
        case BinaryStatus::auth_error: return AuthReply::refused;
        default: return AuthReply::error_reply;
    }
}

bool sasl_mechanism_listed(std::string_view list, std::string_view mechanism) noexcept {
    while (!list.empty()) {
        const std::size_t sp = list.find(' ');
        if (list.substr(0, sp) == mechanism) return true;
        if (sp == std::string_view::npos) break;
        list.remove_prefix(sp + 1);
    }
    return false;
}

}  // namespace mmc::proto
