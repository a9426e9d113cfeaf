// The operations, written once: each becomes a request (requests.h) and goes to the
// server's protocol adapter, chosen when the server was created.
#include "engine/operations.h"

#include <charconv>

#include "engine/exchange.h"
#include "proto/binary_codec.h"

namespace mmc::engine {

Outcome get(Server& s, std::string_view key, ValueFn fn, void* ctx, bool with_cas) {
    return s.adapter().get(s, GetRequest{key, fn, ctx, with_cas});
}

Outcome store(Server& s, proto::StoreCommand cmd, std::string_view key, std::string_view data,
              std::uint32_t flags, std::uint32_t exptime, std::uint64_t cas) {
    // First, before a connection is taken: memcached would read the data of a value it
    // refuses anyway and answer with an error, and apr-util sends it all the same.
    if (data.size() > s.options().max_store_size) return detail::refuse_value(s);
    // A cas unique of 0 names no version of the item: text would answer EXISTS or
    // NOT_FOUND, while binary and meta read 0 as "no cas" and overwrite unconditionally.
    if (cmd == proto::StoreCommand::cas && cas == 0) return Outcome{Result::invalid_argument};
    return s.adapter().store(s, StoreRequest{cmd, key, data, flags, proto::capped_time(exptime), cas});
}

Outcome add_unanswered(Server& s, const UnansweredAdd* adds, std::size_t n, Clock::time_point deadline,
                       std::size_t* sent) {
    if (sent) *sent = 0;
    const Timeouts& t = s.options().timeouts;
    const auto now = Clock::now();
    if (now >= deadline) return Outcome{Result::timeout};
    std::unique_ptr<Connection> conn;
    bool fresh = false;
    Outcome got = s.pool().acquire(std::min(now + t.acquire, deadline), deadline, conn, fresh);
    if (!got.ok()) return got;
    if (!fresh && Clock::now() - conn->idle_since > detail::kStaleCheckAfter && conn->peer_closed()) {
        s.pool().release(std::move(conn), false);
        s.pool().drop_idle();
        return Outcome{Result::closed};
    }
    const bool binary = s.options().protocol == Protocol::binary;
    std::string& out = conn->out();
    out.clear();
    std::size_t count = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const UnansweredAdd& a = adds[i];
        if (a.data.size() > s.options().max_store_size) continue;
        const std::uint32_t exptime = proto::capped_time(a.exptime);
        const bool fits = binary ? proto::encode_binary_store(out, proto::BinaryStoreCommand::addq, a.key, a.flags,
                                                              exptime, a.data, 0)
                                 : proto::encode_store(out, proto::StoreCommand::add, a.key, a.flags, exptime, a.data,
                                                       0, proto::Noreply::yes);
        count += fits;
    }
    if (count == 0) {
        s.pool().release(std::move(conn), true);
        return Outcome{Result::value_too_large};
    }
    const Outcome done = conn->send_all(std::string_view(out), std::min(Clock::now() + t.io, deadline));
    const std::uint32_t epoch = conn->epoch;
    // Text's noreply leaves nothing to read: the connection is as clean as before.
    s.pool().release(std::move(conn), done.ok() && !binary);
    if (!done.ok()) {
        s.report(done, epoch);
    } else if (sent) {
        *sent = count;
    }
    return done;
}

Outcome touch(Server& s, std::string_view key, std::uint32_t exptime) {
    return s.adapter().touch(s, TouchRequest{key, proto::capped_time(exptime)});
}

Outcome get_and_touch(Server& s, std::string_view key, std::uint32_t exptime, ValueFn fn, void* ctx) {
    return s.adapter().get_and_touch(s, GetAndTouchRequest{key, proto::capped_time(exptime), fn, ctx});
}

Outcome flush(Server& s, std::uint32_t delay) {
    return s.adapter().flush(s, FlushRequest{proto::capped_time(delay)});
}

Outcome arith_create(Server& s, proto::ArithCommand cmd, std::string_view key, std::uint64_t delta,
                     std::uint64_t initial, std::uint32_t exptime, std::uint64_t& value) {
    exptime = proto::capped_time(exptime);
    const ProtocolAdapter& a = s.adapter();
    if (a.creates_counters) return a.arith(s, ArithRequest{cmd, key, delta, initial, exptime, true, &value});
    // Two rounds at most: if another client creates the counter between our miss and
    // our add, the add is not stored and the second incr finds it.
    const ArithRequest incr{cmd, key, delta, 0, 0, false, &value};
    for (int round = 0; round < 2; ++round) {
        Outcome o = a.arith(s, incr);
        if (o.result != Result::not_found) return o;
        char digits[24];
        auto [end, ec] = std::to_chars(digits, digits + sizeof digits, initial);
        (void)ec;
        const std::string_view text(digits, static_cast<std::size_t>(end - digits));
        o = a.store(s, StoreRequest{proto::StoreCommand::add, key, text, 0, exptime, 0});
        if (o.result != Result::not_stored) {
            if (o.ok()) value = initial;
            return o;
        }
    }
    return a.arith(s, incr);
}

Outcome remove(Server& s, std::string_view key) { return s.adapter().remove(s, RemoveRequest{key}); }

Outcome arith(Server& s, proto::ArithCommand cmd, std::string_view key, std::uint64_t delta,
              std::uint64_t& value) {
    return s.adapter().arith(s, ArithRequest{cmd, key, delta, 0, 0, false, &value});
}

Outcome version(Server& s, std::string& out) { return s.adapter().version(s, VersionRequest{&out}); }

Outcome stats(Server& s, StatFn fn, void* ctx) { return s.adapter().stats(s, StatsRequest{fn, ctx}); }

Outcome meta_get(Server& s, const proto::MetaGetRequest& req, MetaReplyFn fn, void* ctx) {
    return s.adapter().meta_get(s, MetaGetCall{&req, fn, ctx});
}

Outcome meta_set(Server& s, const proto::MetaSetRequest& req, std::string_view data, MetaReplyFn fn,
                 void* ctx) {
    if (s.adapter().protocol == Protocol::meta && data.size() > s.options().max_store_size) {
        return detail::refuse_value(s);
    }
    return s.adapter().meta_set(s, MetaSetCall{&req, data, fn, ctx});
}

Outcome meta_delete(Server& s, const proto::MetaDeleteRequest& req) {
    return s.adapter().meta_delete(s, MetaDeleteCall{&req});
}

}  // namespace mmc::engine
