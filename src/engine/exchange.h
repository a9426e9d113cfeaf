// The request/reply skeleton every single-server operation shares: acquire a
// connection, send, parse events until the reply is complete, give the connection back
// (or discard it after any trouble), and report the outcome to the server's health.
// Internal to the engine.
#ifndef MMC_ENGINE_EXCHANGE_H
#define MMC_ENGINE_EXCHANGE_H

#include <string_view>

#include "engine/connection.h"
#include "engine/server.h"
#include "proto/text_codec.h"

namespace mmc::engine::detail {

enum class Retry : bool { never, if_stale };

// A connection idle longer than this is checked for a close by the server (a restart)
// before a request is written on it; busier ones are not, to keep one syscall per
// direction on the hot path.
inline constexpr auto kStaleCheckAfter = std::chrono::milliseconds(250);

// encode(Connection&) writes the request into conn.out() and returns a payload to send
// after it (followed by "\r\n"), or an empty view. on_event(const TextEvent&) returns
// the Result the reply stands for; the one returned for the final event is the outcome.
template <class Encode, class OnEvent>
Outcome exchange(Server& server, proto::ReplyKind kind, Retry retry, Encode&& encode,
                 OnEvent&& on_event) {
    const Timeouts& t = server.options().timeouts;
    for (int attempt = 0;; ++attempt) {
        std::unique_ptr<Connection> conn;
        bool fresh = false;
        bool waited = false;
        Outcome got = server.pool().acquire(Clock::now() + t.acquire, conn, fresh, &waited);
        if (!got.ok()) {
            server.report(got);
            return got;
        }
        if (waited && !server.live()) {
            // The server died while this caller queued for one of its connections
            // (those ahead of it timed out): fail now instead of paying another I/O
            // deadline on it.
            server.pool().release(std::move(conn), true);
            server.report(Outcome{Result::no_server});
            return {Result::no_server};
        }
        if (!fresh && Clock::now() - conn->idle_since > kStaleCheckAfter && conn->peer_closed()) {
            // The server went away while the connection sat idle (e.g. a restart): its
            // siblings are likely dead too. Nothing was sent, so simply start again.
            server.pool().release(std::move(conn), false);
            server.pool().drop_idle();
            if (attempt < 2) continue;
            server.report(Outcome{Result::closed});
            return {Result::closed};
        }

        const auto deadline = Clock::now() + t.io;
        conn->out().clear();
        std::string_view payload = encode(*conn);
        Outcome sent;
        if (payload.empty()) {
            sent = conn->send_all(conn->out(), deadline);
        } else {
            static const char kCrlf[] = "\r\n";
            iovec iov[3] = {{conn->out().data(), conn->out().size()},
                            {const_cast<char*>(payload.data()), payload.size()},
                            {const_cast<char*>(kCrlf), 2}};
            sent = conn->send_all(iov, 3, deadline);
        }

        Outcome outcome = sent;
        bool got_bytes = false;
        if (sent.ok()) {
            proto::TextReplyParser& parser = conn->parser();
            parser.expect(kind);
            for (;;) {
                proto::TextEvent ev;
                std::size_t consumed = 0;
                auto pr = parser.parse(conn->in().view(), ev, consumed);
                if (pr == proto::ParseResult::event) {
                    Result r = on_event(ev);
                    conn->in().consume(consumed);
                    if (r == Result::protocol_error) {
                        // Well-formed, but not an answer to what was asked.
                        outcome = Outcome{r};
                        break;
                    }
                    if (ev.final) {
                        outcome = Outcome{r};
                        break;
                    }
                    continue;
                }
                if (pr == proto::ParseResult::error) {
                    outcome = Outcome{Result::protocol_error};
                    server.log(3, outcome,
                               "memcached server " + server.name() +
                                   ": unusable reply: " + parser.error_message());
                    break;
                }
                outcome = conn->receive(deadline);
                if (!outcome.ok()) break;
                got_bytes = true;
            }
        }

        // Reusable only after a complete reply with nothing left over.
        bool clean = is_server_reply(outcome.result) && conn->in().empty() &&
                     !conn->parser().in_reply();
        server.pool().release(std::move(conn), clean);

        // A reused connection that failed before any reply byte: for a request that
        // changes nothing, one more try on a new connection costs nothing and hides a
        // server restart from the caller.
        if (retry == Retry::if_stale && !fresh && !got_bytes && attempt == 0 &&
            (outcome.result == Result::closed || outcome.result == Result::io_error)) {
            server.pool().drop_idle();
            continue;
        }
        server.report(outcome);
        return outcome;
    }
}

}  // namespace mmc::engine::detail

#endif
