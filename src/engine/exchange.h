// The request/reply loop every single-server operation shares, whatever the protocol:
// acquire a connection, send, read replies until the one asked for is complete, give
// the connection back (or discard it after any trouble), and report the outcome to the
// server's health. A protocol comes in as a codec (text_adapter.cpp, binary_adapter.cpp,
// meta_adapter.cpp) and make_adapter() (protocol_adapter.h) compiles the loop once per
// operation for it.
// Internal to the engine.
//
// A codec is a struct of static members:
//
//   kProtocol, kCreatesCounters    what ProtocolAdapter says of it
//   kTrailer                       bytes sent after a payload ("\r\n" for text)
//   Pending                        what the reader must know of the request just sent
//                                  (an opaque, whether a value came), value-initialised
//                                  before each request is written
//   check(const R&) -> Result      ok, or why R cannot be sent: value_too_large for a
//                                  value too long for the protocol's length field,
//                                  invalid_argument for a time the protocol would misread;
//                                  refused before a connection is taken, nothing sent
//   encode(Connection&, const R&, Pending&) -> std::string_view
//                                  writes the request into conn.out() and returns a
//                                  payload to send after it (followed by kTrailer), or an
//                                  empty view; readies the connection's parser
//   read(Server&, Connection&, const R&, Pending&, Result&) -> Read
//                                  consumes what has arrived (read_events below)
//   write_batch, read_batch        the multi-get entries of ProtocolAdapter (a codec
//                                  whose multi-get is another codec's has none)
//
// with encode, read and check for every request type of requests.h.
#ifndef MMC_ENGINE_EXCHANGE_H
#define MMC_ENGINE_EXCHANGE_H

#include <algorithm>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <utility>

#include "engine/connection.h"
#include "engine/protocol_adapter.h"
#include "engine/requests.h"
#include "engine/server.h"

namespace mmc::engine::detail {

// A connection idle longer than this is checked for a close by the server (a restart)
// before a request is written on it; busier ones are not, to keep one syscall per
// direction on the hot path.
inline constexpr auto kStaleCheckAfter = std::chrono::milliseconds(250);

// What a reader made of the bytes received so far.
enum class Read : bool { need_more, done };

// Whether an event ends the reply to its request: its `final` where the protocol has
// replies of several events (text VALUE* END, binary stats), else every event (a
// protocol with one line per reply, as meta's).
template <class Event, class = void>
struct HasFinal : std::false_type {};
template <class Event>
struct HasFinal<Event, std::void_t<decltype(std::declval<const Event&>().final)>> : std::true_type {};

template <class Event>
constexpr bool ends_reply(const Event& ev) noexcept {
    if constexpr (HasFinal<Event>::value) {
        return ev.final;
    } else {
        return true;
    }
}

// Parses the events that have arrived and hands each to on_event(const Event&) ->
// Result. done at the event that ends the reply (result = what on_event returned for
// it), at a parse error, or when on_event returns protocol_error (a well-formed reply
// that does not answer the request); both are unusable replies (Server::unusable_reply).
// Parser: parse(bytes, Event&, consumed) -> proto::ParseResult and error_message(), as
// every codec in proto/ has.
template <class Event, class Parser, class OnEvent>
[[gnu::always_inline]] inline Read read_events(Server& server, Connection& conn, Parser& parser,
                                               OnEvent&& on_event, Result& result) {
    for (;;) {
        Event ev;
        std::size_t consumed = 0;
        auto pr = parser.parse(conn.in().view(), ev, consumed);
        if (pr == proto::ParseResult::need_more) return Read::need_more;
        if (pr == proto::ParseResult::error) {
            result = Result::protocol_error;
            // Counted and logged (rate-limited) out of line, so that this loop stays
            // small enough to be inlined into each exchange.
            server.unusable_reply(parser.error_message());
            return Read::done;
        }
        Result r = on_event(ev);
        conn.in().consume(consumed);
        if (r == Result::protocol_error || ends_reply(ev)) {
            if (r == Result::protocol_error) server.unusable_reply("a reply that does not answer the request");
            result = r;
            return Read::done;
        }
    }
}

// Ends a request that may not be sent (a value over the store limit or longer than the
// protocol can carry, a time it would misread) before a connection is taken: nothing is
// sent. report() leaves the server's health as it is and only lets go of a retry probe
// the caller may have claimed when it picked the server, which this call will never make.
// The kind of call a request is counted as (metrics.h).
template <class Request>
constexpr MetricOp metric_op() noexcept {
    if constexpr (std::is_same_v<Request, GetRequest> || std::is_same_v<Request, GetAndTouchRequest> ||
                  std::is_same_v<Request, MetaGetCall>) {
        return MetricOp::get;
    } else if constexpr (std::is_same_v<Request, StoreRequest> || std::is_same_v<Request, MetaSetCall>) {
        return MetricOp::store;
    } else if constexpr (std::is_same_v<Request, RemoveRequest> || std::is_same_v<Request, MetaDeleteCall>) {
        return MetricOp::remove;
    } else if constexpr (std::is_same_v<Request, ArithRequest>) {
        return MetricOp::arith;
    } else if constexpr (std::is_same_v<Request, TouchRequest>) {
        return MetricOp::touch;
    } else {
        return MetricOp::other;
    }
}

// Ends a call that never got a connection (refused, no connection free, no server):
// reported and counted, on the server's block for such rare ends.
inline Outcome end_without_connection(Server& server, MetricOp op, const Outcome& why) {
    server.report(why);
    server.metrics().common().count(op, why.result);
    return why;
}

inline Outcome refuse(Server& server, Result why, MetricOp op) {
    return end_without_connection(server, op, Outcome{why});
}

inline Outcome refuse_value(Server& server) { return refuse(server, Result::value_too_large, MetricOp::store); }

// One request of type Request over Codec's protocol.
//
// The whole call, a retry on a new connection included, ends by one deadline: the
// acquire, connect and I/O timeouts added up from its start (the documented worst
// case). Each wait takes its own timeout or the time left in the call, whichever ends
// first.
template <class Codec, class Request>
Outcome exchange_supported(Server& server, const Request& req) {
    // Whatever the store limit says: the encoder would refuse a length its protocol
    // cannot carry, and by then a connection would be taken and a reply awaited that
    // never comes.
    constexpr MetricOp op = metric_op<Request>();
    if (const Result why = Codec::check(req); why != Result::ok) return refuse(server, why, op);
    const Timeouts& t = server.options().timeouts;
    // One clock read serves the call's deadline, the acquire deadline, the stale check
    // and the I/O deadline, unless the acquire had to wait or connect (then time has
    // moved).
    const auto start = Clock::now();
    // The call's duration, for the latency histogram (metrics.h): not a clock read.
    const std::uint64_t start_ticks = tick_stamp();
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
        if (!got.ok()) return end_without_connection(server, op, got);
        if (waited && !server.live()) {
            // The server died while this caller queued for one of its connections
            // (those ahead of it timed out): fail now instead of paying another I/O
            // deadline on it.
            server.pool().release(std::move(conn), true);
            return end_without_connection(server, op, Outcome{Result::no_server});
        }
        if (waited || fresh) now = Clock::now();
        if (!fresh && now - conn->idle_since > kStaleCheckAfter && conn->peer_closed()) {
            // The server went away while the connection sat idle (e.g. a restart): its
            // siblings are likely dead too. Nothing was sent, so simply start again.
            server.pool().release(std::move(conn), false);
            server.pool().drop_idle();
            if (attempt < 2 && now < start + t.acquire + t.connect + t.io) continue;
            return end_without_connection(server, op, Outcome{Result::closed});
        }

        // Clipped by the call's deadline only after a wait or a retry; receive_soon
        // assumes a full io timeout ahead.
        const bool clipped = attempt != 0 && now + t.io > call_deadline;
        const auto deadline = clipped ? call_deadline : now + t.io;
        conn->out().clear();
        typename Codec::Pending pending{};
        std::string_view payload = Codec::encode(*conn, req, pending);
        Outcome sent;
        bool quick = false;  // sent at once: no time has passed since `now`
        if (payload.empty()) {
            sent = conn->send_all(conn->out(), deadline, &quick);
        } else {
            constexpr std::string_view trailer = Codec::kTrailer;
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
                if (Codec::read(server, *conn, req, pending, r) == Read::done) {
                    outcome = Outcome{r};
                    break;
                }
            }
        }

        // Reusable only after a complete reply with nothing left over.
        bool clean = is_server_reply(outcome.result) && conn->in().empty();
        const std::uint32_t epoch = conn->epoch;
        const std::uint64_t end_ticks = tick_stamp();
        ServerMetrics::Shard& counts = conn->metrics();
        server.pool().release(std::move(conn), clean, now);

        // A reused connection that failed before any reply byte: for a request that
        // changes nothing, one more try on a new connection costs nothing and hides a
        // server restart from the caller, as long as the call has time left.
        if (Request::retry == Retry::if_stale && !fresh && !got_bytes && attempt == 0 &&
            (outcome.result == Result::closed || outcome.result == Result::io_error)) {
            server.pool().drop_idle();
            now = Clock::now();
            if (now < start + t.acquire + t.connect + t.io) continue;
        }
        server.report(outcome, epoch);
        counts.count(op, outcome.result);
        counts.observe(ticks_to_ns(start_ticks, end_ticks, start));
        return outcome;
    }
}

// Any request over Codec's protocol: one it cannot express at all (meta_only, on a
// server speaking another protocol) is refused with not_supported, nothing sent.
template <class Codec, class Request>
Outcome exchange(Server& server, const Request& req) {
    if constexpr (IsMetaOnly<Request>::value && Codec::kProtocol != Protocol::meta) {
        return refuse(server, Result::not_supported, metric_op<Request>());
    } else {
        return exchange_supported<Codec>(server, req);
    }
}

// ---- a write as one batch of the fan-out (replicated writes, multi_get.h) ----

template <class Codec>
void write_one(Connection& conn, const GetBatch& b, BatchCursor& cursor) {
    using Pending = typename Codec::Pending;
    static_assert(sizeof(Pending) <= sizeof cursor.pending && std::is_trivially_copyable_v<Pending>);
    const WriteRequest& w = *b.write;
    Pending p{};
    std::string_view payload;
    switch (w.kind) {
        case WriteRequest::Kind::store: payload = Codec::encode(conn, w.store, p); break;
        case WriteRequest::Kind::touch: Codec::encode(conn, TouchRequest{w.store.key, w.store.exptime}, p); break;
        case WriteRequest::Kind::remove: Codec::encode(conn, RemoveRequest{w.store.key}, p); break;
        case WriteRequest::Kind::meta_set:
            if constexpr (Codec::kProtocol == Protocol::meta) payload = Codec::encode(conn, *w.meta_set, p);
            break;
        case WriteRequest::Kind::meta_delete:
            if constexpr (Codec::kProtocol == Protocol::meta) Codec::encode(conn, *w.meta_delete, p);
            break;
    }
    if (!payload.empty()) {
        // One buffer, so the fan-out sends it as it sends a multi-get's request.
        conn.out().append(payload.data(), payload.size());
        conn.out().append(Codec::kTrailer.data(), Codec::kTrailer.size());
    }
    std::memcpy(cursor.pending, &p, sizeof p);
}

template <class Codec>
BatchRead read_one(Connection& conn, const GetBatch& b, BatchCursor& cursor, const BatchSink&) {
    using Pending = typename Codec::Pending;
    const WriteRequest& w = *b.write;
    Pending p;
    std::memcpy(&p, cursor.pending, sizeof p);
    Result r = Result::ok;
    Read rd = Read::need_more;
    switch (w.kind) {
        case WriteRequest::Kind::store: rd = Codec::read(*b.server, conn, w.store, p, r); break;
        case WriteRequest::Kind::touch:
            rd = Codec::read(*b.server, conn, TouchRequest{w.store.key, w.store.exptime}, p, r);
            break;
        case WriteRequest::Kind::remove: rd = Codec::read(*b.server, conn, RemoveRequest{w.store.key}, p, r); break;
        case WriteRequest::Kind::meta_set:
            if constexpr (Codec::kProtocol == Protocol::meta) {
                rd = Codec::read(*b.server, conn, *w.meta_set, p, r);
            } else {
                rd = Read::done;
                r = Result::not_supported;
            }
            break;
        case WriteRequest::Kind::meta_delete:
            if constexpr (Codec::kProtocol == Protocol::meta) {
                rd = Codec::read(*b.server, conn, *w.meta_delete, p, r);
            } else {
                rd = Read::done;
                r = Result::not_supported;
            }
            break;
    }
    std::memcpy(cursor.pending, &p, sizeof p);
    BatchRead out;
    if (rd == Read::done) {
        // An unusable reply was counted and logged by read_events already; as a result
        // that is no server reply it closes the connection.
        out.state = BatchRead::State::done;
        out.result = r;
    }
    return out;
}

}  // namespace mmc::engine::detail

#endif
