#include "engine/multi_get.h"

#include <poll.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "engine/connection.h"
#include "engine/exchange.h"

namespace mmc::engine {

namespace {

struct InFlight {
    GetBatch* batch;
    std::unique_ptr<Connection> conn;
    bool done = false;
};

void finish(InFlight& f, Outcome outcome) {
    f.batch->outcome = outcome;
    f.done = true;
    bool clean = outcome.ok() && f.conn && f.conn->in().empty() && !f.conn->parser().in_reply();
    if (f.conn) f.batch->server->pool().release(std::move(f.conn), clean);
    f.batch->server->report(outcome);
}

// Parses what has arrived on one connection; finishes the batch on END or trouble.
void drain(InFlight& f, ValueFn fn, void* ctx) {
    proto::TextReplyParser& parser = f.conn->parser();
    for (;;) {
        proto::TextEvent ev;
        std::size_t consumed = 0;
        auto pr = parser.parse(f.conn->in().view(), ev, consumed);
        if (pr == proto::ParseResult::need_more) return;
        if (pr == proto::ParseResult::error) {
            f.batch->server->log(3, Outcome{Result::protocol_error},
                                 "memcached server " + f.batch->server->name() +
                                     ": unusable reply: " + parser.error_message());
            finish(f, Outcome{Result::protocol_error});
            return;
        }
        Result r = Result::ok;
        if (ev.type == proto::EventType::value) {
            fn(ctx, ValueView{ev.key, ev.data, ev.flags, ev.cas, ev.has_cas});
        } else if (ev.type == proto::EventType::client_error) {
            r = Result::client_error;
        } else if (ev.type != proto::EventType::end) {
            r = Result::server_error;
        }
        f.conn->in().consume(consumed);
        if (ev.final) {
            finish(f, Outcome{r});
            return;
        }
    }
}


// Sends the request of a batch that holds a connection.
void send_request(InFlight& f, Clock::time_point deadline) {
    const GetBatch& b = *f.batch;
    f.conn->out().clear();
    proto::encode_get_multi(f.conn->out(), b.keys, b.nkeys);
    f.conn->parser().expect(proto::ReplyKind::retrieval);
    Outcome sent = f.conn->send_all(f.conn->out(), deadline);
    if (!sent.ok()) finish(f, sent);
}

// Reads the replies of every in-flight batch as they arrive, until all are complete or
// the deadline passes.
void collect(std::vector<InFlight>& flights, Clock::time_point deadline, ValueFn fn, void* ctx) {
    std::vector<pollfd> fds;
    std::vector<InFlight*> polled;
    for (;;) {
        fds.clear();
        polled.clear();
        for (auto& f : flights) {
            if (f.done) continue;
            fds.push_back(pollfd{f.conn->fd(), POLLIN, 0});
            polled.push_back(&f);
        }
        if (fds.empty()) return;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        int rc = left.count() > 0 ? ::poll(fds.data(), fds.size(), static_cast<int>(left.count()) + 1) : 0;
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) {
            // The deadline passed (or poll failed): every server still owing a reply
            // gets the blame for its own keys only.
            Outcome why = rc == 0 ? Outcome{Result::timeout} : Outcome{Result::io_error, errno};
            for (InFlight* f : polled) finish(*f, why);
            return;
        }
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].revents == 0) continue;
            InFlight& f = *polled[i];
            Outcome r = f.conn->receive_nowait();
            if (!r.ok()) {
                finish(f, r);
                continue;
            }
            drain(f, fn, ctx);
        }
    }
}

}  // namespace

void multi_get(GetBatch* batches, std::size_t n, Duration total, ValueFn fn, void* ctx) {
    const auto deadline = Clock::now() + total;
    std::vector<GetBatch*> pending;
    for (std::size_t i = 0; i < n; ++i) {
        if (batches[i].nkeys == 0) {
            batches[i].outcome = Outcome{};
        } else {
            pending.push_back(&batches[i]);
        }
    }

    std::vector<InFlight> flights;
    std::vector<GetBatch*> later;
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
            auto wait_until = flights.empty()
                                  ? std::min(deadline, Clock::now() + server.options().timeouts.acquire)
                                  : Clock::time_point::min();
            InFlight f{b, nullptr};
            bool fresh = false;
            Outcome got = server.pool().acquire(wait_until, f.conn, fresh);
            if (got.ok() && !fresh && Clock::now() - f.conn->idle_since > detail::kStaleCheckAfter &&
                f.conn->peer_closed()) {
                // Idle connection closed by the server (restart): try one new one.
                server.pool().release(std::move(f.conn), false);
                server.pool().drop_idle();
                got = server.pool().acquire(wait_until, f.conn, fresh);
            }
            if (got.result == Result::pool_timeout && !flights.empty()) {
                later.push_back(b);  // next round, once ours are back in their pools
                continue;
            }
            if (!got.ok()) {
                finish(f, got);
                continue;
            }
            flights.push_back(std::move(f));
        }
        // Every request is written before any reply is read, so all servers work at
        // the same time.
        for (auto& f : flights) send_request(f, deadline);
        collect(flights, deadline, fn, ctx);
        pending.swap(later);
    }
}

}  // namespace mmc::engine
