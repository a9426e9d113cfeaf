#include "proto/binary_codec.h"

namespace mmc::proto {

namespace {

// ---- byte order ---------------------------------------------------------------------
// Shifts rather than htonl & co.: they need no system header, work the same on any host
// and read through unsigned char, so a byte >= 0x80 never sign-extends.

void put_u16(char* p, std::uint16_t v) noexcept {
    p[0] = static_cast<char>(v >> 8);
    p[1] = static_cast<char>(v);
}

void put_u32(char* p, std::uint32_t v) noexcept {
    put_u16(p, static_cast<std::uint16_t>(v >> 16));
    put_u16(p + 2, static_cast<std::uint16_t>(v));
}

void put_u64(char* p, std::uint64_t v) noexcept {
    put_u32(p, static_cast<std::uint32_t>(v >> 32));
    put_u32(p + 4, static_cast<std::uint32_t>(v));
}

std::uint16_t get_u16(const char* p) noexcept {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    return static_cast<std::uint16_t>((u[0] << 8) | u[1]);
}

std::uint32_t get_u32(const char* p) noexcept {
    return (std::uint32_t{get_u16(p)} << 16) | get_u16(p + 2);
}

std::uint64_t get_u64(const char* p) noexcept {
    return (std::uint64_t{get_u32(p)} << 32) | get_u32(p + 4);
}

// ---- encoding helpers ---------------------------------------------------------------

// The largest extras a request of ours carries: incr/decr's delta, initial, expiration.
constexpr std::size_t kMaxRequestExtras = 20;

void write_header(char* p, const BinaryHeader& h) noexcept {
    p[0] = static_cast<char>(h.magic);
    p[1] = static_cast<char>(h.opcode);
    put_u16(p + 2, h.key_length);
    p[4] = static_cast<char>(h.extras_length);
    p[5] = static_cast<char>(h.data_type);
    put_u16(p + 6, h.vbucket_or_status);
    put_u32(p + 8, h.body_length);
    put_u32(p + 12, h.opaque);
    put_u64(p + 16, h.cas);
}

// Request extras, built on the stack and written with the header in one append.
struct Extras {
    char bytes[kMaxRequestExtras] = {};
    std::uint8_t size = 0;

    void u32(std::uint32_t v) noexcept {
        put_u32(bytes + size, v);
        size = static_cast<std::uint8_t>(size + 4);
    }
    void u64(std::uint64_t v) noexcept {
        put_u64(bytes + size, v);
        size = static_cast<std::uint8_t>(size + 8);
    }
};

// Header, extras and key. The body length counts `value_bytes` more, which the caller
// appends (or sends) right after. Returns false, appending nothing, for a request whose
// lengths the header cannot carry: truncated, they would frame the wrong number of bytes.
bool append_request(std::string& out, std::uint8_t opcode, const Extras& extras,
                    std::string_view key, std::size_t value_bytes, std::uint32_t opaque,
                    std::uint64_t cas) {
    if (!binary_request_fits(extras.size, key.size(), value_bytes)) return false;
    BinaryHeader h;
    h.magic = kBinaryRequestMagic;
    h.opcode = opcode;
    h.key_length = static_cast<std::uint16_t>(key.size());
    h.extras_length = extras.size;
    h.body_length = static_cast<std::uint32_t>(extras.size + key.size() + value_bytes);
    h.opaque = opaque;
    h.cas = cas;

    char buf[kBinaryHeaderSize + kMaxRequestExtras];
    write_header(buf, h);
    for (std::uint8_t i = 0; i < extras.size; ++i) buf[kBinaryHeaderSize + i] = extras.bytes[i];
    out.append(buf, kBinaryHeaderSize + extras.size);
    out.append(key);
    return true;
}

// A request with neither extras nor value.
void append_simple(std::string& out, BinaryOpcode opcode, std::string_view key,
                   std::uint32_t opaque, std::uint64_t cas = 0) {
    append_request(out, static_cast<std::uint8_t>(opcode), Extras{}, key, 0, opaque, cas);
}

Extras flush_extras(std::uint32_t delay) noexcept {
    Extras e;
    if (delay != 0) e.u32(delay);
    return e;
}

// ---- parsing helpers ----------------------------------------------------------------

bool is_flags_opcode(BinaryOpcode op) noexcept {
    switch (op) {
        case BinaryOpcode::get:
        case BinaryOpcode::getq:
        case BinaryOpcode::getk:
        case BinaryOpcode::getkq:
        case BinaryOpcode::gat:
        case BinaryOpcode::gatq:
        case BinaryOpcode::gatk:
        case BinaryOpcode::gatkq:
        // memcached answers touch like a get without the value: the flags stay.
        case BinaryOpcode::touch: return true;
        default: return false;
    }
}

bool is_arith_opcode(BinaryOpcode op) noexcept {
    switch (op) {
        case BinaryOpcode::increment:
        case BinaryOpcode::decrement:
        case BinaryOpcode::incrementq:
        case BinaryOpcode::decrementq: return true;
        default: return false;
    }
}

// Every check that the header alone can decide, in a fixed order so that the error
// message never depends on how the input was split. Returns nullptr when the header is
// acceptable.
const char* check_header(const BinaryHeader& h, std::size_t max_value_size) noexcept {
    if (!known_binary_opcode(h.opcode)) return "unknown opcode in response";
    if (h.data_type != 0) return "unsupported data type in response";
    // Written to avoid max_value_size + overhead overflowing when it is huge.
    if (h.body_length > kBinaryMaxBodyOverhead &&
        h.body_length - kBinaryMaxBodyOverhead > max_value_size) {
        return "response body larger than max_value_size allows";
    }
    if (h.key_length > kMaxKeyLength) return "key in response longer than 250 bytes";
    const std::size_t prefix = std::size_t{h.extras_length} + h.key_length;
    if (prefix > h.body_length) return "response body shorter than its extras and key";
    const std::size_t value_size = h.body_length - prefix;
    if (value_size > max_value_size) return "value larger than max_value_size";

    const auto op = static_cast<BinaryOpcode>(h.opcode);
    if (is_flags_opcode(op)) {
        if (h.extras_length != 0 && h.extras_length != 4) {
            return "extras in a get, gat or touch response are not 0 or 4 bytes";
        }
    } else if (h.extras_length != 0) {
        return "extras in a response that has none";
    }
    if (is_arith_opcode(op) && h.vbucket_or_status == 0 && value_size != 8) {
        return "incr/decr response value is not 8 bytes";
    }
    return nullptr;
}

}  // namespace

bool known_binary_opcode(std::uint8_t opcode) noexcept {
    // memcached assigns nothing to 0x1f, the only gap up to gatkq.
    return opcode <= static_cast<std::uint8_t>(BinaryOpcode::gatkq) && opcode != 0x1f;
}

void encode_binary_header(std::string& out, const BinaryHeader& header) {
    char buf[kBinaryHeaderSize];
    write_header(buf, header);
    out.append(buf, sizeof buf);
}

bool decode_binary_header(std::string_view in, BinaryHeader& header) noexcept {
    if (in.size() < kBinaryHeaderSize) return false;
    const char* p = in.data();
    header.magic = static_cast<std::uint8_t>(p[0]);
    header.opcode = static_cast<std::uint8_t>(p[1]);
    header.key_length = get_u16(p + 2);
    header.extras_length = static_cast<std::uint8_t>(p[4]);
    header.data_type = static_cast<std::uint8_t>(p[5]);
    header.vbucket_or_status = get_u16(p + 6);
    header.body_length = get_u32(p + 8);
    header.opaque = get_u32(p + 12);
    header.cas = get_u64(p + 16);
    return true;
}

// ---- requests -----------------------------------------------------------------------

void encode_binary_get(std::string& out, BinaryGetCommand cmd, std::string_view key,
                       std::uint32_t opaque) {
    append_request(out, static_cast<std::uint8_t>(cmd), Extras{}, key, 0, opaque, 0);
}

void encode_binary_get_multi(std::string& out, const std::string_view* keys, std::size_t n,
                             std::uint32_t first_opaque) {
    if (n == 0) return;
    std::uint32_t opaque = first_opaque;
    for (std::size_t i = 0; i < n; ++i) {
        encode_binary_get(out, BinaryGetCommand::getkq, keys[i], opaque++);
    }
    encode_binary_noop(out, opaque);
}

bool encode_binary_store_header(std::string& out, BinaryStoreCommand cmd,
                                std::string_view key, std::uint32_t flags,
                                std::uint32_t exptime, std::size_t bytes,
                                std::uint32_t opaque, std::uint64_t cas) {
    Extras extras;
    extras.u32(flags);
    extras.u32(exptime);
    static_assert(kBinaryStoreExtrasLength == 8, "flags and expiration");
    return append_request(out, static_cast<std::uint8_t>(cmd), extras, key, bytes, opaque, cas);
}

bool encode_binary_store(std::string& out, BinaryStoreCommand cmd, std::string_view key,
                         std::uint32_t flags, std::uint32_t exptime, std::string_view value,
                         std::uint32_t opaque, std::uint64_t cas) {
    if (!encode_binary_store_header(out, cmd, key, flags, exptime, value.size(), opaque, cas)) {
        return false;
    }
    out.append(value);
    return true;
}

bool encode_binary_concat_header(std::string& out, BinaryConcatCommand cmd,
                                 std::string_view key, std::size_t bytes,
                                 std::uint32_t opaque, std::uint64_t cas) {
    return append_request(out, static_cast<std::uint8_t>(cmd), Extras{}, key, bytes, opaque, cas);
}

bool encode_binary_concat(std::string& out, BinaryConcatCommand cmd, std::string_view key,
                          std::string_view value, std::uint32_t opaque, std::uint64_t cas) {
    if (!encode_binary_concat_header(out, cmd, key, value.size(), opaque, cas)) return false;
    out.append(value);
    return true;
}

void encode_binary_delete(std::string& out, std::string_view key, std::uint32_t opaque,
                          std::uint64_t cas) {
    append_simple(out, BinaryOpcode::del, key, opaque, cas);
}

void encode_binary_deleteq(std::string& out, std::string_view key, std::uint32_t opaque,
                           std::uint64_t cas) {
    append_simple(out, BinaryOpcode::deleteq, key, opaque, cas);
}

void encode_binary_arith(std::string& out, BinaryArithCommand cmd, std::string_view key,
                         std::uint64_t delta, std::uint64_t initial, std::uint32_t exptime,
                         std::uint32_t opaque, std::uint64_t cas) {
    Extras extras;
    extras.u64(delta);
    extras.u64(initial);
    extras.u32(exptime);
    append_request(out, static_cast<std::uint8_t>(cmd), extras, key, 0, opaque, cas);
}

void encode_binary_touch(std::string& out, std::string_view key, std::uint32_t exptime,
                         std::uint32_t opaque) {
    Extras extras;
    extras.u32(exptime);
    append_request(out, static_cast<std::uint8_t>(BinaryOpcode::touch), extras, key, 0,
                   opaque, 0);
}

void encode_binary_gat(std::string& out, BinaryGatCommand cmd, std::string_view key,
                       std::uint32_t exptime, std::uint32_t opaque) {
    Extras extras;
    extras.u32(exptime);
    append_request(out, static_cast<std::uint8_t>(cmd), extras, key, 0, opaque, 0);
}

void encode_binary_flush(std::string& out, std::uint32_t opaque, std::uint32_t delay) {
    append_request(out, static_cast<std::uint8_t>(BinaryOpcode::flush), flush_extras(delay),
                   {}, 0, opaque, 0);
}

void encode_binary_flushq(std::string& out, std::uint32_t opaque, std::uint32_t delay) {
    append_request(out, static_cast<std::uint8_t>(BinaryOpcode::flushq), flush_extras(delay),
                   {}, 0, opaque, 0);
}

void encode_binary_noop(std::string& out, std::uint32_t opaque) {
    append_simple(out, BinaryOpcode::noop, {}, opaque);
}

void encode_binary_version(std::string& out, std::uint32_t opaque) {
    append_simple(out, BinaryOpcode::version, {}, opaque);
}

void encode_binary_stat(std::string& out, std::uint32_t opaque, std::string_view group) {
    append_simple(out, BinaryOpcode::stat, group, opaque);
}

void encode_binary_quit(std::string& out, std::uint32_t opaque) {
    append_simple(out, BinaryOpcode::quit, {}, opaque);
}

void encode_binary_quitq(std::string& out, std::uint32_t opaque) {
    append_simple(out, BinaryOpcode::quitq, {}, opaque);
}

// ---- responses ----------------------------------------------------------------------

BinaryStatus binary_status_from_raw(std::uint16_t raw) noexcept {
    switch (raw) {
        case 0x0000: return BinaryStatus::ok;
        case 0x0001: return BinaryStatus::key_not_found;
        case 0x0002: return BinaryStatus::key_exists;
        case 0x0003: return BinaryStatus::value_too_large;
        case 0x0004: return BinaryStatus::invalid_arguments;
        case 0x0005: return BinaryStatus::item_not_stored;
        case 0x0006: return BinaryStatus::non_numeric;
        // The protocol document and memcached's own header disagree on the SASL codes;
        // a server may send either.
        case 0x0008:
        case 0x0020: return BinaryStatus::auth_error;
        case 0x0009:
        case 0x0021: return BinaryStatus::auth_continue;
        case 0x0081: return BinaryStatus::unknown_command;
        case 0x0082: return BinaryStatus::out_of_memory;
        case 0x0083: return BinaryStatus::not_supported;
        case 0x0084: return BinaryStatus::internal_error;
        case 0x0085: return BinaryStatus::busy;
        case 0x0086: return BinaryStatus::temporary_failure;
        default: return BinaryStatus::other;
    }
}

BinaryReplyParser::BinaryReplyParser(std::size_t max_value_size) noexcept
    : max_value_size_(max_value_size) {}

void BinaryReplyParser::reset() noexcept {
    failed_ = false;
    error_ = "";
}

ParseResult BinaryReplyParser::fail(const char* why) noexcept {
    failed_ = true;
    error_ = why;
    return ParseResult::error;
}

ParseResult BinaryReplyParser::parse(std::string_view in, BinaryEvent& ev,
                                     std::size_t& consumed) noexcept {
    consumed = 0;
    if (failed_) return ParseResult::error;
    if (in.empty()) return ParseResult::need_more;
    // Checked on the first byte so that a peer speaking something else (a text-protocol
    // "ERROR\r\n" is 7 bytes) fails at once instead of waiting for 24 bytes.
    if (static_cast<std::uint8_t>(in[0]) != kBinaryResponseMagic) {
        return fail("wrong magic byte in response");
    }

    BinaryHeader h;
    if (!decode_binary_header(in, h)) return ParseResult::need_more;
    if (const char* why = check_header(h, max_value_size_)) return fail(why);
    if (in.size() - kBinaryHeaderSize < h.body_length) return ParseResult::need_more;

    const std::size_t key_at = kBinaryHeaderSize + h.extras_length;
    const std::size_t value_at = key_at + h.key_length;
    const std::size_t end = kBinaryHeaderSize + h.body_length;

    BinaryEvent next;
    next.opcode = static_cast<BinaryOpcode>(h.opcode);
    next.raw_status = h.vbucket_or_status;
    next.status = binary_status_from_raw(h.vbucket_or_status);
    next.opaque = h.opaque;
    next.cas = h.cas;
    next.key = in.substr(key_at, h.key_length);
    next.value = in.substr(value_at, end - value_at);
    if (h.extras_length == 4) next.flags = get_u32(in.data() + kBinaryHeaderSize);
    if (next.status == BinaryStatus::ok && is_arith_opcode(next.opcode)) {
        next.number = get_u64(next.value.data());
    }
    if (next.opcode == BinaryOpcode::stat && next.status == BinaryStatus::ok) {
        next.final = next.key.empty();
    }

    ev = next;
    consumed = end;
    return ParseResult::event;
}

}  // namespace mmc::proto
