// The request/reply skeleton every single-server operation shares, whatever the
// protocol: acquire a connection, send, read replies until the one asked for is
// complete, give the connection back (or discard it after any trouble), and report the
// outcome to the server's health. Internal to the engine.
#ifndef MMC_ENGINE_EXCHANGE_H
#define MMC_ENGINE_EXCHANGE_H

#include <algorithm>
#include <string_view>

#include "engine/connection.h"
#include "engine/server.h"
#include "proto/binary_codec.h"
#include "proto/text_codec.h"

namespace mmc::engine::detail {

enum class Retry : bool { never, if_stale };

// A connection idle longer than this is checked for a close by the server (a restart)
// before a request is written on it; busier ones are not, to keep one syscall per
// direction on the hot path.
inline constexpr auto kStaleCheckAfter = std::chrono::milliseconds(250);

// What a reader made of the bytes received so far.
enum class Read : bool { need_more, done };

// Parses the events that have arrived and hands each to on_event(const Event&) ->
// Result. done at the final event (result = what on_event returned for it), at a parse
// error, or when on_event returns protocol_error (a well-formed reply that does not
// answer the request).
template <class Event, class Parser, class OnEvent>
Read read_events(Server& server, Connection& conn, Parser& parser, OnEvent&& on_event,
                 Result& result) {
    for (;;) {
        Event ev;
        std::size_t consumed = 0;
        auto pr = parser.parse(conn.in().view(), ev, consumed);
        if (pr == proto::ParseResult::need_more) return Read::need_more;
        if (pr == proto::ParseResult::error) {
            result = Result::protocol_error;
            server.log(3, Outcome{result},
                       "memcached server " + server.name() + ": unusable reply: " + parser.error_message());
            return Read::done;
        }
        Result r = on_event(ev);
        conn.in().consume(consumed);
        if (r == Result::protocol_error || ev.final) {
            result = r;
            return Read::done;
        }
    }
}

template <class OnEvent>
Read read_text(Server& server, Connection& conn, OnEvent& on_event, Result& result) {
    return read_events<proto::TextEvent>(server, conn, conn.parser(), on_event, result);
}

// Binary responses must carry the opaque of the request; any other is out of step.
template <class OnEvent>
Read read_binary(Server& server, Connection& conn, std::uint32_t opaque, OnEvent& on_event,
                 Result& result) {
    return read_events<proto::BinaryEvent>(
        server, conn, conn.binary_parser(),
        [&](const proto::BinaryEvent& ev) { return ev.opaque == opaque ? on_event(ev) : Result::protocol_error; },
        result);
}

// encode(Connection&) writes the request into conn.out() and returns a payload to send
// after it (followed by `trailer`), or an empty view. read(Connection&, Result&) -> Read
// consumes what has arrived (read_text / read_binary).
//
// The whole call, a retry on a new connection included, ends by one deadline: the
// acquire, connect and I/O timeouts added up from its start (the documented worst
// case). Each wait takes its own timeout or the time left in the call, whichever ends
// first.
template <class Encode, class Reader>
Outcome exchange(Server& server, Retry retry, std::string_view trailer, Encode&& encode,
                 Reader&& read) {
    const Timeouts& t = server.options().timeouts;
    // One clock read serves the call's deadline, the acquire deadline, the stale check
    // and the I/O deadline, unless the acquire had to wait or connect (then time has
    // moved).
    const auto start = Clock::now();
    auto now = start;
    for (int attempt = 0;; ++attempt) {
        std::unique_ptr<Connection> conn;
        bool fresh = false;
        bool waited = false;
        // The first attempt cannot overrun the call's deadline (its connect starts by
        // start + acquire, its I/O by start + acquire + connect), so only a retry pays
        // for computing and applying it.
        const auto call_deadline =
            attempt == 0 ? Clock::time_point::max() : start + t.acquire + t.connect + t.io;
        Outcome got = server.pool().acquire(attempt == 0 ? now + t.acquire : std::min(now + t.acquire, call_deadline),
                                            call_deadline, conn, fresh, &waited);
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
        if (waited || fresh) now = Clock::now();
        if (!fresh && now - conn->idle_since > kStaleCheckAfter && conn->peer_closed()) {
            // The server went away while the connection sat idle (e.g. a restart): its
            // siblings are likely dead too. Nothing was sent, so simply start again.
            server.pool().release(std::move(conn), false);
            server.pool().drop_idle();
            if (attempt < 2 && now < start + t.acquire + t.connect + t.io) continue;
            server.report(Outcome{Result::closed});
            return {Result::closed};
        }

        // Clipped by the call's deadline only after a wait or a retry; receive_soon
        // assumes a full io timeout ahead.
        const bool clipped = attempt != 0 && now + t.io > call_deadline;
        const auto deadline = clipped ? call_deadline : now + t.io;
        conn->out().clear();
        std::string_view payload = encode(*conn);
        Outcome sent;
        bool quick = false;  // sent at once: no time has passed since `now`
        if (payload.empty()) {
            sent = conn->send_all(conn->out(), deadline, &quick);
        } else {
            iovec iov[3] = {{conn->out().data(), conn->out().size()},
                            {const_cast<char*>(payload.data()), payload.size()},
                            {const_cast<char*>(trailer.data()), trailer.size()}};
            sent = conn->send_all(iov, trailer.empty() ? 2 : 3, deadline, &quick);
        }

        // The request is out and nothing has arrived yet (a reusable connection has an
        // empty buffer): receive first, then parse.
        Outcome outcome = sent;
        bool got_bytes = false;
        if (sent.ok()) {
            for (;;) {
                outcome = quick && !clipped ? conn->receive_soon(deadline) : conn->receive(deadline);
                quick = false;
                if (!outcome.ok()) break;
                got_bytes = true;
                Result r = Result::ok;
                if (read(*conn, r) == Read::done) {
                    outcome = Outcome{r};
                    break;
                }
            }
        }

        // Reusable only after a complete reply with nothing left over.
        bool clean = is_server_reply(outcome.result) && conn->in().empty();
        const std::uint32_t epoch = conn->epoch;
        server.pool().release(std::move(conn), clean, now);

        // A reused connection that failed before any reply byte: for a request that
        // changes nothing, one more try on a new connection costs nothing and hides a
        // server restart from the caller, as long as the call has time left.
        if (retry == Retry::if_stale && !fresh && !got_bytes && attempt == 0 &&
            (outcome.result == Result::closed || outcome.result == Result::io_error)) {
            server.pool().drop_idle();
            now = Clock::now();
            if (now < start + t.acquire + t.connect + t.io) continue;
        }
        server.report(outcome, epoch);
        return outcome;
    }
}

}  // namespace mmc::engine::detail

#endif
