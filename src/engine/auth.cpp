// Authentication of a new connection, as the last step of its connect: memcached's -Y
// for the text protocol (a set whose data is "user password", answered STORED) and SASL
// PLAIN for the binary protocol (opcode 0x21, mechanism "PLAIN", data
// "\0user\0password"). It runs on the still non-blocking socket, one step per
// readiness like the TCP connect and the TLS handshake, so it keeps the connect deadline
// and fits a fan-out's poll loop.
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "engine/connection.h"
#include "engine/tls.h"

namespace mmc::engine {

namespace {

constexpr std::uint8_t kBinaryRequest = 0x80;
constexpr std::uint8_t kBinaryResponse = 0x81;
constexpr std::uint8_t kSaslAuth = 0x21;
constexpr std::size_t kBinaryHeader = 24;

std::string text_auth_request(const Credentials& c) {
    const std::string data = c.user + " " + c.password;
    // memcached takes the key of this set for nothing; any valid key does.
    return "set mmc-auth 0 0 " + std::to_string(data.size()) + "\r\n" + data + "\r\n";
}

std::string sasl_plain_request(const Credentials& c) {
    static constexpr char kMechanism[] = "PLAIN";
    const std::size_t key_len = sizeof kMechanism - 1;
    std::string value;
    value.push_back('\0');  // no authorization identity: act as the user itself
    value += c.user;
    value.push_back('\0');
    value += c.password;
    const auto body = static_cast<std::uint32_t>(key_len + value.size());
    std::string r(kBinaryHeader, '\0');
    r[0] = static_cast<char>(kBinaryRequest);
    r[1] = static_cast<char>(kSaslAuth);
    r[2] = static_cast<char>(key_len >> 8);
    r[3] = static_cast<char>(key_len & 0xff);
    for (int i = 0; i < 4; ++i) r[8 + i] = static_cast<char>(body >> (24 - 8 * i));
    r += kMechanism;
    r += value;
    return r;
}

enum class Verdict { need_more, accepted, refused };

// Reads the reply at the front of `in`; `used` is its length once complete.
Verdict judge(Protocol protocol, std::string_view in, std::size_t& used) {
    if (protocol == Protocol::binary) {
        if (in.size() < kBinaryHeader) return Verdict::need_more;
        auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(in[i]); };
        const std::uint32_t body = (std::uint32_t{byte(8)} << 24) | (std::uint32_t{byte(9)} << 16) |
                                   (std::uint32_t{byte(10)} << 8) | byte(11);
        if (byte(0) != kBinaryResponse || byte(1) != kSaslAuth || body > 4096) return Verdict::refused;
        if (in.size() < kBinaryHeader + body) return Verdict::need_more;
        used = kBinaryHeader + body;
        const unsigned status = (unsigned{byte(6)} << 8) | byte(7);
        return status == 0 ? Verdict::accepted : Verdict::refused;
    }
    const std::size_t eol = in.find("\r\n");
    if (eol == std::string_view::npos) return in.size() > 1024 ? Verdict::refused : Verdict::need_more;
    used = eol + 2;
    return in.substr(0, eol) == "STORED" ? Verdict::accepted : Verdict::refused;
}

}  // namespace

// One non-blocking write: {timeout} (wait_events_ set) when the socket or the TLS
// session cannot take more now.
Outcome Connection::send_nowait(std::string_view bytes, std::size_t& sent) {
    sent = 0;
    if (tls_) {
        switch (tls_->write(bytes.data(), bytes.size(), sent)) {
            case TlsStream::Status::ok: return {};
            case TlsStream::Status::want_write: wait_events_ = POLLOUT; return {Result::timeout};
            case TlsStream::Status::want_read: wait_events_ = POLLIN; return {Result::timeout};
            case TlsStream::Status::closed: return {Result::closed, tls_->sys_error()};
            case TlsStream::Status::failed: return {Result::io_error, tls_->sys_error()};
        }
    }
    for (;;) {
        ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            sent = static_cast<std::size_t>(n);
            return {};
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            wait_events_ = POLLOUT;
            return {Result::timeout};
        }
        if (errno == EPIPE || errno == ECONNRESET) return {Result::closed, errno};
        return {Result::io_error, errno};
    }
}

Outcome Connection::authenticate() {
    if (auth_sent_ == 0 && auth_request_.empty()) {
        auth_request_ = protocol_ == Protocol::binary ? sasl_plain_request(*auth_) : text_auth_request(*auth_);
    }
    while (auth_sent_ < auth_request_.size()) {
        std::size_t n = 0;
        Outcome r = send_nowait(std::string_view(auth_request_).substr(auth_sent_), n);
        auth_sent_ += n;
        if (r.result == Result::timeout) {
            connecting_ = true;
            return {};
        }
        if (!r.ok()) return r;
    }
    for (;;) {
        std::size_t used = 0;
        const Verdict v = judge(protocol_, in_.view(), used);
        if (v == Verdict::refused) return {Result::auth_failed};
        if (v == Verdict::accepted) {
            in_.consume(used);
            // The password does not stay in this connection's memory.
            std::memset(auth_request_.data(), 0, auth_request_.size());
            std::string().swap(auth_request_);
            auth_ = nullptr;
            // Nothing may follow the reply unasked.
            return in_.empty() ? Outcome{} : Outcome{Result::protocol_error};
        }
        Outcome r = receive_into(MSG_DONTWAIT);
        if (r.result == Result::timeout) {
            if (r.sys_error == EINTR) continue;
            connecting_ = true;
            wait_events_ = POLLIN;
            return {};
        }
        // memcached closes the connection after refusing the credentials.
        if (r.result == Result::closed) return {Result::auth_failed};
        if (!r.ok()) return r;
    }
}

}  // namespace mmc::engine
