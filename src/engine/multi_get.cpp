#include "engine/multi_get.h"

#include <poll.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "engine/connection.h"
#include "engine/exchange.h"
#include "engine/stack_arena.h"

namespace mmc::engine {

namespace {

// The caller's callbacks, as multi_get() was given them.
struct Sinks {
    BatchValueFn fn;
    BatchKeyErrorFn key_error;
    void* ctx;
};

struct InFlight {
    GetBatch* batch;
    std::size_t index;  // of batch, for the callback
    std::unique_ptr<Connection> conn;
    bool done = false;
    bool sent = false;                   // the request is out (else still connecting)
    Clock::time_point connect_deadline{};  // while connecting
    BatchCursor cursor{};                // the adapter's, between reads
    // A pooled connection (not one made for this call), on the batch's first try: if it
    // fails before any byte of the reply, the server most likely closed it while it
    // sat idle (a restart), and the batch is tried once more on a new connection.
    bool may_retry = false;
    bool got_bytes = false;  // some of the reply has arrived
    bool retry = false;      // ended, to be tried again in the next round
    Clock::time_point started{};     // when its connection was asked for
    std::uint64_t started_ticks = 0;  // and the stamp of that moment (metrics.h)
    std::size_t answered[2] = {0, 0};  // keys with a value, keys with an error of their own
};

// Counts a batch's keys (metrics.h): those with a value are hits, those with an error
// of their own errors; the rest are misses when the server answered completely, and
// share the batch's error when not.
void count_keys(ServerMetrics::Shard& counts, const GetBatch& b, const std::size_t answered[2],
                Result outcome) {
    auto& row = counts.requests[static_cast<std::size_t>(MetricOp::multiget_key)];
    const std::size_t hits = std::min(answered[0], b.nkeys);
    const std::size_t key_errors = std::min(answered[1], b.nkeys - hits);
    const std::size_t rest = b.nkeys - hits - key_errors;
    if (hits) row[static_cast<std::size_t>(MetricResult::hit)].fetch_add(hits, std::memory_order_relaxed);
    if (key_errors) {
        row[static_cast<std::size_t>(MetricResult::error)].fetch_add(key_errors, std::memory_order_relaxed);
        counts.errors[static_cast<std::size_t>(MetricError::server_error)].fetch_add(key_errors,
                                                                                    std::memory_order_relaxed);
    }
    if (rest == 0) return;
    const MetricClass c = outcome == Result::ok ? MetricClass{MetricResult::miss, MetricError::timeout}
                                                : classify(MetricOp::multiget_key, outcome);
    row[static_cast<std::size_t>(c.result)].fetch_add(rest, std::memory_order_relaxed);
    if (c.result == MetricResult::error) {
        counts.errors[static_cast<std::size_t>(c.error)].fetch_add(rest, std::memory_order_relaxed);
    }
}

// Counts a batch: a replicated write's share (write_all) is one call of its kind; a
// multi-get's share counts its keys.
void count_batch(ServerMetrics::Shard& counts, const GetBatch& b, const std::size_t answered[2],
                 Result outcome) {
    if (b.write) {
        static constexpr MetricOp kOp[] = {MetricOp::store, MetricOp::touch, MetricOp::remove, MetricOp::store,
                                           MetricOp::remove};
        counts.count(kOp[static_cast<std::size_t>(b.write->kind)], outcome);
        return;
    }
    count_keys(counts, b, answered, outcome);
}

// The call's lists live in one arena on its stack (multi_get): a call over a few
// servers then allocates none of them from the heap.
template <class T>
using ArenaVector = std::vector<T, ArenaAllocator<T>>;
using Flights = ArenaVector<InFlight>;

// Ends a batch. `blame` is false when the failure is this process's own (poll failed):
// it must not count against the server.
void finish(InFlight& f, Outcome outcome, bool blame = true) {
    f.done = true;
    if (f.may_retry && blame && !f.got_bytes &&
        (outcome.result == Result::closed || outcome.result == Result::io_error)) {
        // As a single get does (exchange.h): nothing of this batch has reached the
        // caller, so asking again changes nothing but the connection.
        f.retry = true;
        f.batch->outcome = outcome;  // what it ends with if no time is left for a retry
        f.batch->server->pool().release(std::move(f.conn), false);
        f.batch->server->pool().drop_idle();
        return;
    }
    f.batch->outcome = outcome;
    // In step (multi_get.h): a reply the adapter read to its end, error line or not,
    // with nothing after it.
    bool clean = is_server_reply(outcome.result) && f.conn && f.conn->in().empty();
    std::uint32_t epoch = Server::kNoConnection;
    ServerMetrics::Shard* counts = &f.batch->server->metrics().common();
    if (f.conn) {
        counts = &f.conn->metrics();
        // The round trip of this server's share, from when its connection was asked
        // for.
        counts->observe(ticks_to_ns(f.started_ticks, tick_stamp(), f.started));
        epoch = f.conn->epoch;
        f.conn->trim_request_buffer();
        f.batch->server->pool().release(std::move(f.conn), clean);
    }
    if (blame) f.batch->server->report(outcome, epoch);
    count_batch(*counts, *f.batch, f.answered, outcome.result);
}

// Parses what has arrived on a batch's connection (its server's adapter reads it);
// finishes the batch when its reply is complete or unusable.
void drain(InFlight& f, const Sinks& s) {
    Server& server = *f.batch->server;
    const BatchSink sink{s.fn, s.key_error, s.ctx, f.index, f.answered};
    const BatchRead r = f.batch->write ? server.adapter().read_one(*f.conn, *f.batch, f.cursor, sink)
                                       : server.adapter().read_batch(*f.conn, *f.batch, f.cursor, sink);
    switch (r.state) {
        case BatchRead::State::need_more: return;
        case BatchRead::State::done: return finish(f, Outcome{r.result});
        case BatchRead::State::unusable:
            server.unusable_reply(r.why);
            return finish(f, Outcome{Result::protocol_error});
    }
}

// The deadline passed while waiting for one server: what the others have sent already
// still counts (a server that answered in time is not blamed for one that did not);
// whoever is still incomplete gets the timeout.
void expire(Flights& flights, const Sinks& s) {
    for (auto& f : flights) {
        if (!f.done && !f.sent) {
            finish(f, Outcome{Result::connect_timeout});
            continue;
        }
        Outcome r;
        while (!f.done) {
            const std::size_t had = f.conn->in().view().size();
            r = f.conn->receive_nowait();
            if (!r.ok() || f.conn->in().view().size() == had) break;  // failed, or nothing more
            f.got_bytes = true;
            drain(f, s);
        }
        if (!f.done) finish(f, r.ok() ? Outcome{Result::timeout} : r);
    }
}

// Sends the request of a batch that holds a connection.
void send_request(InFlight& f, Clock::time_point deadline) {
    f.conn->out().clear();
    if (f.batch->write) {
        f.batch->server->adapter().write_one(*f.conn, *f.batch, f.cursor);
    } else {
        f.batch->server->adapter().write_batch(*f.conn, *f.batch, f.cursor);
    }
    Outcome sent = f.conn->send_all(f.conn->out(), deadline);
    f.sent = true;
    if (!sent.ok()) finish(f, sent);
}

// A connecting socket is ready for what it waited for: take the connect (and a TLS
// handshake) a step on; once connected, send the request. Or try the server's next
// address, or give up on the batch.
void connected(InFlight& f, Clock::time_point deadline) {
    Outcome r = f.conn->finish_connect();
    if (!r.ok()) {
        r = f.batch->server->pool().connect_next(f.conn, r);
        if (!r.ok()) return finish(f, r);
    }
    // Still connecting: the next address, or a TLS handshake waiting for its peer.
    if (f.conn->connecting()) return;
    send_request(f, deadline);
}

// Phase one, while any connect is in progress: one poll loop waits for connects to
// finish (each then sends its request at once) and for replies, so a server that does
// not answer its handshake holds up nobody else. A connect that runs out of time fails
// its own batch only. Returns false when the call is over (its deadline passed, or
// poll failed).
bool connect_pending(Flights& flights, Clock::time_point deadline, const Sinks& s) {
    // Sized once: growing them push by push cost about 30 instructions per key of a
    // 100-key call over 4 servers.
    ArenaVector<pollfd> fds(flights.get_allocator());
    ArenaVector<InFlight*> polled(flights.get_allocator());
    fds.reserve(flights.size());
    polled.reserve(flights.size());
    for (;;) {
        fds.clear();
        polled.clear();
        bool connecting = false;
        Clock::time_point until = deadline;
        const auto now = Clock::now();
        for (auto& f : flights) {
            if (f.done) continue;
            if (!f.sent) {
                if (now >= f.connect_deadline) {
                    finish(f, Outcome{Result::connect_timeout});
                    continue;
                }
                connecting = true;
                until = std::min(until, f.connect_deadline);
            }
            fds.push_back(pollfd{f.conn->fd(), static_cast<short>(f.sent ? POLLIN : f.conn->wait_events()), 0});
            polled.push_back(&f);
        }
        if (!connecting) return true;
        if (now >= deadline) {
            expire(flights, s);
            return false;
        }
        int rc = ::poll(fds.data(), fds.size(), poll_millis(until));
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) {
            const Outcome why{Result::io_error, errno};
            for (InFlight* f : polled) finish(*f, why, false);
            return false;
        }
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].revents == 0) continue;
            InFlight& f = *polled[i];
            if (!f.sent) {
                connected(f, deadline);
                continue;
            }
            Outcome r = f.conn->receive_nowait();
            if (!r.ok()) {
                finish(f, r);
                continue;
            }
            f.got_bytes = true;
            drain(f, s);
        }
    }
}

// Reads the replies of every in-flight batch, until all are complete or the deadline
// passes. One poll() waits for the first replies and every server that is ready then is
// read; the servers still owing a reply after that are read one after the other, each
// read blocking until its bytes arrive (a read instead of a poll and a read: with n
// servers a call makes n writes, one poll and n reads when each reply comes in one
// piece). Waiting on one server while another's reply is already there costs nothing:
// the call ends when the last reply is complete either way.
void collect(Flights& flights, Clock::time_point deadline, const Sinks& s) {
    if (!connect_pending(flights, deadline, s)) return;
    ArenaVector<pollfd> fds(flights.get_allocator());
    ArenaVector<InFlight*> polled(flights.get_allocator());
    fds.reserve(flights.size());
    polled.reserve(flights.size());
    for (auto& f : flights) {
        if (f.done) continue;
        fds.push_back(pollfd{f.conn->fd(), POLLIN, 0});
        polled.push_back(&f);
    }
    if (fds.empty()) return;
    // A replicated write's servers all answer at about the same time, the primary (asked
    // first) first: reading them in order saves the poll, so that a write to a primary
    // and one replica costs two writes and two reads.
    const bool in_order = flights.front().batch->write != nullptr;
    // A reply that came in during phase one is already buffered, and may be complete
    // (drained) or not; poll only says whether more is coming.
    for (; !in_order;) {
        int rc = ::poll(fds.data(), fds.size(), poll_millis(deadline));
        if (rc < 0 && errno == EINTR) continue;
        if (rc == 0 && Clock::now() < deadline) continue;
        if (rc == 0) {
            // The deadline passed before any reply: every server gets the blame for its
            // own keys only.
            for (InFlight* f : polled) finish(*f, Outcome{Result::timeout});
            return;
        }
        if (rc < 0) {
            // poll itself failed (out of memory, too many descriptors): this process's
            // trouble, not the servers'.
            const Outcome why{Result::io_error, errno};
            for (InFlight* f : polled) finish(*f, why, false);
            return;
        }
        break;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        InFlight& f = *polled[i];
        Outcome r = f.conn->receive_nowait();
        if (!r.ok()) {
            finish(f, r);
            continue;
        }
        f.got_bytes = true;
        drain(f, s);
    }
    for (auto& f : flights) {
        while (!f.done) {
            Outcome r = f.conn->receive(deadline);
            if (r.result == Result::timeout) return expire(flights, s);
            if (!r.ok()) {
                finish(f, r);
                break;
            }
            f.got_bytes = true;
            drain(f, s);
        }
    }
}

}  // namespace

void multi_get(GetBatch* batches, std::size_t n, Duration total, BatchValueFn fn, BatchKeyErrorFn key_error,
               void* ctx) {
    const Sinks s{fn, key_error, ctx};
    const auto deadline = Clock::now() + total;
    // Room for the lists of a call over a dozen servers; more come from the heap.
    alignas(std::max_align_t) unsigned char room[3072];
    StackArena arena(room, sizeof room);
    ArenaVector<GetBatch*> pending{ArenaAllocator<GetBatch*>(arena)};
    pending.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (batches[i].nkeys == 0) {
            batches[i].outcome = Outcome{};
        } else {
            pending.push_back(&batches[i]);
        }
    }

    Flights flights{ArenaAllocator<InFlight>(arena)};
    ArenaVector<GetBatch*> later{ArenaAllocator<GetBatch*>(arena)};
    later.reserve(n);
    ArenaVector<bool> retried(n, false, ArenaAllocator<bool>(arena));
    flights.reserve(pending.size());
    while (!pending.empty()) {
        flights.clear();
        later.clear();
        // Take a connection from every server that has one to spare. Waiting for a busy
        // pool is allowed only while holding no other connection: threads that each
        // held one server's connection while waiting for another's would deadlock
        // until the deadline.
        for (GetBatch* b : pending) {
            Server& server = *b->server;
            const auto now = Clock::now();
            auto wait_until = flights.empty() ? std::min(deadline, now + server.options().timeouts.acquire)
                                              : Clock::time_point::min();
            InFlight f{b, static_cast<std::size_t>(b - batches), nullptr, false, false, {}};
            f.started = now;
            f.started_ticks = tick_stamp();
            bool fresh = false;
            // New connections are only started here, all of them before any is waited
            // for: one slow server must not hold up the connects to the others.
            Outcome got = server.pool().acquire(wait_until, deadline, f.conn, fresh, nullptr, true);
            if (got.ok() && !fresh && now - f.conn->idle_since > detail::kStaleCheckAfter &&
                f.conn->peer_closed()) {
                // Idle connection closed by the server (restart): try one new one.
                server.pool().release(std::move(f.conn), false);
                server.pool().drop_idle();
                got = server.pool().acquire(wait_until, deadline, f.conn, fresh, nullptr, true);
            }
            if (got.result == Result::pool_timeout && !flights.empty()) {
                later.push_back(b);  // next round, once ours are back in their pools
                continue;
            }
            if (!got.ok()) {
                finish(f, got);
                continue;
            }
            f.connect_deadline = std::min(deadline, Clock::now() + server.options().timeouts.connect);
            // A write is never sent twice: an append or an add may have applied.
            f.may_retry = !fresh && !retried[f.index] && !b->write;
            flights.push_back(std::move(f));
        }
        // Every request is written before any reply is read, so all servers work at
        // the same time.
        for (auto& f : flights) {
            if (!f.conn->connecting()) send_request(f, deadline);
        }
        collect(flights, deadline, s);
        for (auto& f : flights) {
            if (!f.retry) continue;
            retried[f.index] = true;
            if (Clock::now() < deadline) {
                later.push_back(f.batch);
            } else {
                f.batch->server->report(f.batch->outcome);
                count_batch(f.batch->server->metrics().common(), *f.batch, f.answered, f.batch->outcome.result);
            }
        }
        pending.swap(later);
    }
}

namespace {
void no_value(void*, std::size_t, std::size_t, const ValueView&) {}
void no_key_error(void*, std::size_t, std::size_t, Result) {}
}  // namespace

void write_all(Server* const* servers, std::size_t n, const WriteRequest& w, Outcome* each) {
    constexpr std::size_t kMax = 8;
    GetBatch batches[kMax];
    std::size_t at[kMax];
    std::size_t m = 0;
    WriteRequest req = w;
    req.store.exptime = proto::capped_time(req.store.exptime);
    Duration total = Duration::zero();
    for (std::size_t i = 0; i < n && i < kMax; ++i) {
        Server& s = *servers[i];
        if (w.kind == WriteRequest::Kind::store && w.store.data.size() > s.options().max_store_size) {
            each[i] = detail::refuse_value(s);
            continue;
        }
        if (w.kind == WriteRequest::Kind::meta_set && w.meta_set->data.size() > s.options().max_store_size) {
            each[i] = detail::refuse_value(s);
            continue;
        }
        const bool meta_write = w.kind == WriteRequest::Kind::meta_set || w.kind == WriteRequest::Kind::meta_delete;
        if (meta_write && s.options().protocol != Protocol::meta) {
            each[i] = Outcome{Result::not_supported};
            continue;
        }
        GetBatch& b = batches[m];
        b.server = &s;
        b.keys = &req.store.key;
        b.nkeys = 1;
        b.write = &req;
        at[m++] = i;
        total = std::max(total, s.options().timeouts.io);
    }
    if (m > 0) multi_get(batches, m, total, no_value, no_key_error, nullptr);
    for (std::size_t j = 0; j < m; ++j) each[at[j]] = batches[j].outcome;
}

}  // namespace mmc::engine
