// Authentication of a new connection, as the last step of its connect: memcached's -Y
// for the text and meta protocols, SASL PLAIN for the binary protocol. The requests
// and the meaning of the replies are proto/auth_codec.h's; this file only drives the
// steps. The password goes out only after the server has asked for it (a probe first),
// so a server that does not enforce authentication never receives it, and never stores
// it as an ordinary item that anyone could read.
//
// It runs on the still non-blocking socket, one step per readiness like the TCP connect
// and the TLS handshake, so it keeps the connect deadline and fits a fan-out's poll loop.
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "engine/auth_notes.h"
#include "engine/connection.h"
#include "engine/tls.h"

namespace mmc::engine {

namespace {

// Nothing else is in flight on the connection yet: the responses are told apart by
// their opcodes (auth_codec.h), and the opaque is not needed.
constexpr std::uint32_t kOpaque = 0;

// How a reply that ends the exchange (anything but the probe's "asked") ends it.
Outcome finished(proto::AuthReply reply) noexcept {
    switch (reply) {
        case proto::AuthReply::accepted: return {};
        case proto::AuthReply::refused: return {Result::auth_failed};
        case proto::AuthReply::not_asked: return {Result::auth_not_asked};
        case proto::AuthReply::error_reply: return {Result::server_error};
        case proto::AuthReply::asked:
        case proto::AuthReply::unexpected: break;
    }
    return {Result::protocol_error};
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

void Connection::auth_wipe() noexcept {
    auth_request_.clear();
    auth_sent_ = 0;
}

Outcome Connection::authenticate() {
    Outcome r = auth_step();
    // Whatever ended the exchange, the credentials do not stay in this connection's
    // memory; while it goes on (connecting_), they wait in auth_request_ for the socket.
    if (!r.ok() || !connecting_) auth_wipe();
    if (r.ok() && !connecting_) auth_ = nullptr;
    return r;
}

Outcome Connection::auth_step() {
    const bool binary = protocol_ == Protocol::binary;
    if (auth_stage_ == AuthStage::start) {
        // Nothing secret, but the same buffer as the credentials that may follow.
        auth_request_ = Secret(binary ? proto::kBinarySaslListMechsSize : proto::kTextAuthProbeSize);
        if (binary) {
            proto::encode_binary_sasl_list_mechs(auth_request_.data(), auth_request_.size(), kOpaque);
        } else {
            proto::encode_text_auth_probe(auth_request_.data(), auth_request_.size());
        }
        // -Y is a text-protocol exchange on meta connections too: the same server code.
        if (!binary) text_parser_.expect(proto::kTextAuthProbeReply);
        auth_stage_ = AuthStage::probe;
    }
    for (;;) {
        while (auth_sent_ < auth_request_.size()) {
            std::size_t n = 0;
            Outcome r = send_nowait(auth_request_.view().substr(auth_sent_), n);
            auth_sent_ += n;
            if (r.result == Result::timeout) {
                connecting_ = true;
                return {};
            }
            if (!r.ok()) return r;
        }
        proto::AuthReply reply = proto::AuthReply::unexpected;
        std::string quoted;
        if (Outcome r = auth_reply(reply, quoted); !r.ok() || connecting_) return r;
        if (auth_stage_ == AuthStage::credentials || reply != proto::AuthReply::asked) {
            if (reply == proto::AuthReply::accepted) {
                // Nothing may follow the reply unasked.
                return in_.empty() ? Outcome{} : Outcome{Result::protocol_error};
            }
            if (auth_notes_) auth_notes_->note(std::move(quoted));
            return finished(reply);
        }
        // The server asked: now, and only now, the credentials.
        if (!in_.empty()) return {Result::protocol_error};
        const Credentials& c = *auth_;
        auth_wipe();
        // Built straight into wiped memory (Secret): no temporary holds the password.
        const std::string_view password = c.password.view();
        if (binary) {
            auth_request_ = Secret(proto::binary_sasl_plain_size(c.user, password));
            if (proto::encode_binary_sasl_plain(auth_request_.data(), auth_request_.size(), c.user, password,
                                                kOpaque) == 0) {
                return {Result::invalid_argument};
            }
        } else {
            auth_request_ = Secret(proto::text_auth_set_size(c.user, password));
            proto::encode_text_auth_set(auth_request_.data(), auth_request_.size(), c.user, password);
            text_parser_.expect(proto::kTextAuthSetReply);
        }
        auth_stage_ = AuthStage::credentials;
    }
}

// The reply to the step's request, read with the protocol's parser: ok with `reply`
// set, ok with connecting_ set (wait for more), or why the exchange failed. `quoted`
// gets the reply as a log line may quote it, unless it is one the exchange goes on
// with.
Outcome Connection::auth_reply(proto::AuthReply& reply, std::string& quoted) {
    const bool binary = protocol_ == Protocol::binary;
    for (;;) {
        std::size_t used = 0;
        proto::ParseResult pr;
        if (binary) {
            proto::BinaryEvent ev;
            pr = binary_parser_.parse(in_.view(), ev, used);
            if (pr == proto::ParseResult::event) {
                reply = auth_stage_ == AuthStage::probe ? proto::binary_sasl_list_reply(ev)
                                                        : proto::binary_sasl_auth_reply(ev);
                if (reply != proto::AuthReply::asked && reply != proto::AuthReply::accepted) {
                    quoted = printable_status(ev.raw_status, ev.value);
                }
            }
        } else {
            proto::TextEvent ev;
            pr = text_parser_.parse(in_.view(), ev, used);
            if (pr == proto::ParseResult::event) {
                reply = !ev.final ? proto::AuthReply::unexpected
                        : auth_stage_ == AuthStage::probe ? proto::text_auth_probe_reply(ev)
                                                          : proto::text_auth_set_reply(ev);
                if (reply != proto::AuthReply::asked && reply != proto::AuthReply::accepted) {
                    quoted = printable_reply(in_.view().substr(0, used));
                }
            }
        }
        if (pr == proto::ParseResult::error) return {Result::protocol_error};
        if (pr == proto::ParseResult::event) {
            in_.consume(used);
            return {};
        }
        Outcome r = receive_into(MSG_DONTWAIT);
        if (r.result == Result::timeout) {
            if (r.sys_error == EINTR) continue;
            connecting_ = true;
            wait_events_ = POLLIN;
            return {};
        }
        if (!r.ok()) return r;
    }
}

}  // namespace mmc::engine
