// Replicas: a key's servers, the writes that go to all of them, and the set-up calls.
#include "compat/replicas.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "engine/multi_get.h"
#include "engine/operations.h"
#include "proto/key.h"

namespace mmc::compat {

std::size_t key_servers(apr_memcache_t* mc, std::string_view key, apr_memcache_server_t** out) {
    const std::size_t primary = primary_index(mc, key);
    if (primary == kNoPrimary) return 0;
    const std::size_t n = 1 + replicas_of(mc);
    for (std::size_t i = 0; i < n; ++i) out[i] = mc->live_servers[(primary + i) % mc->ntotal];
    return n;
}

apr_memcache_server_t* first_usable_server(apr_memcache_t* mc, std::string_view key) {
    apr_memcache_server_t* servers[kMaxKeyServers];
    const std::size_t n = key_servers(mc, key, servers);
    for (std::size_t i = 0; i < n; ++i) {
        const bool usable = engine_of(servers[i]).usable();
        publish_status(servers[i]);
        if (usable) return servers[i];
    }
    return nullptr;
}

namespace {

// Whether a replica's answer to a write is a failure of the replica: a transport
// failure or an error reply. A replica that did not store an add (it had the key) or
// had nothing to delete answered as a server does.
bool replica_failure(engine::Result r) noexcept {
    using engine::Result;
    return !(r == Result::ok || r == Result::not_stored || r == Result::not_found || r == Result::exists);
}

}  // namespace

apr_status_t replicated_write(apr_memcache_t* mc, std::string_view key, const engine::WriteRequest& w) {
    apr_memcache_server_t* servers[kMaxKeyServers];
    const std::size_t n = key_servers(mc, key, servers);
    apr_memcache_server_t* asked[kMaxKeyServers];
    engine::Server* engines[kMaxKeyServers];
    bool replica[kMaxKeyServers];
    std::size_t m = 0;
    const bool meta_only =
        w.kind == engine::WriteRequest::Kind::meta_set || w.kind == engine::WriteRequest::Kind::meta_delete;
    for (std::size_t i = 0; i < n; ++i) {
        const bool usable = engine_of(servers[i]).usable();
        publish_status(servers[i]);
        if (!usable) continue;
        if (meta_only && engine_of(servers[i]).options().protocol != engine::Protocol::meta) {
            if (m == 0) return APR_ENOTIMPL;
            continue;
        }
        asked[m] = servers[i];
        engines[m] = &engine_of(servers[i]);
        replica[m] = i > 0;
        ++m;
    }
    if (m == 0) {
        using engine::MetricOp;
        using Kind = engine::WriteRequest::Kind;
        return no_server(mc, key, w.kind == Kind::store || w.kind == Kind::meta_set ? MetricOp::store
                                  : w.kind == Kind::touch                            ? MetricOp::touch
                                                                                     : MetricOp::remove);
    }
    engine::Outcome each[kMaxKeyServers];
    engine::write_all(engines, m, w, each);
    // The call's status is the first server's that answered: the primary's, or, when the
    // primary could not be reached or gave no usable reply (a server not yet known to be
    // dead), the next one's, as if the primary had been skipped as dead.
    std::size_t answer = 0;
    while (answer + 1 < m && !engine::is_server_reply(each[answer].result)) ++answer;
    for (std::size_t j = 0; j < m; ++j) {
        publish_status(asked[j]);
        if (!replica[j]) continue;
        engines[j]->count_replica_write();
        if (j != answer && replica_failure(each[j].result)) engines[j]->replica_failed(each[j]);
    }
    return to_apr_status(each[answer]);
}

apr_status_t replicated_store(apr_memcache_t* mc, const char* key, proto::StoreCommand cmd, const char* data,
                              apr_size_t size, apr_uint32_t exptime, apr_uint32_t flags) {
    if (!key || (size > 0 && !data)) return APR_EINVAL;
    const std::string_view k(key);
    if (!proto::valid_key(k)) return APR_EINVAL;
    return guarded([&]() -> apr_status_t {
        std::string_view value(data ? data : "", size);
        SealedValue sealed;
        if (const auto* ring = keyring_of(mc)) {
            if (apr_status_t rv = sealed.seal(*ring, k, flags, value)) return rv;
            value = sealed.view();
        }
        const engine::WriteRequest w{engine::WriteRequest::Kind::store,
                                     engine::StoreRequest{cmd, k, value, flags, exptime, 0}};
        return replicated_write(mc, k, w);
    });
}

apr_status_t replicated_key_write(apr_memcache_t* mc, const char* key, engine::WriteRequest::Kind kind,
                                  apr_uint32_t exptime) {
    if (!key) return APR_EINVAL;
    const std::string_view k(key);
    if (!proto::valid_key(k)) return APR_EINVAL;
    return guarded([&]() -> apr_status_t {
        const engine::WriteRequest w{kind, engine::StoreRequest{proto::StoreCommand::set, k, {}, 0, exptime, 0}};
        return replicated_write(mc, k, w);
    });
}

namespace {

// A meta replica's reply, as the value the caller's fn takes, and what a repair needs.
struct MetaRead {
    const ReplicaRead* r;
    std::string_view key;
    std::string data;  // the value as stored (a sealed one: the envelope)
    std::uint32_t flags = 0;
    std::int64_t ttl = 0;
    bool has_ttl = false;
};

void take_meta(void* vctx, const proto::MetaEvent& ev) {
    auto& m = *static_cast<MetaRead*>(vctx);
    const engine::ValueView v{m.key, ev.data, ev.flags, ev.cas, ev.has(proto::MetaFlag::cas)};
    m.r->fn(m.r->ctx, v);
    m.data.assign(ev.data.data(), ev.data.size());
    m.flags = ev.flags;
    m.has_ttl = ev.has(proto::MetaFlag::ttl);
    m.ttl = ev.ttl;
}

}  // namespace

apr_status_t replicated_read(apr_memcache_t* mc, std::string_view k, const ReplicaRead& r) {
    apr_memcache_server_t* servers[kMaxKeyServers];
    const std::size_t n = key_servers(mc, k, servers);
    const bool repair = !mc->no_replica_repair;
    apr_status_t answer = AP_MEMCACHE_ENOSERVER;
    bool missed = false;          // some server said the key is not there
    bool primary_missed = false;  // the primary did (it did not fail)
    bool asked = false;
    engine::Clock::time_point deadline{};
    for (std::size_t i = 0; i < n; ++i) {
        apr_memcache_server_t* ms = servers[i];
        engine::Server& server = engine_of(ms);
        const bool usable = server.usable();
        publish_status(ms);
        if (!usable) continue;  // dead: skipped, never waited for
        const auto now = engine::Clock::now();
        if (asked && now >= deadline) break;
        if (!asked) {
            const auto& t = server.options().timeouts;
            deadline = now + t.acquire + t.connect + t.io;
            asked = true;
        }
        if (r.asking) r.asking(r.ctx, server);
        engine::Outcome o;
        MetaRead meta{&r, k, {}, 0, 0, false};
        const bool with_ttl = i > 0 && primary_missed && repair && server.options().protocol == engine::Protocol::meta;
        if (with_ttl) {
            proto::MetaGetRequest req;
            req.key = k;
            req.value = true;
            req.return_flags = true;
            req.return_ttl = true;
            req.return_cas = r.with_cas || r.touch;
            if (r.touch) req.touch_ttl = proto::capped_time(r.exptime);
            o = engine::meta_get(server, req, take_meta, &meta);
        } else if (r.touch) {
            o = engine::get_and_touch(server, k, r.exptime, r.fn, r.ctx);
        } else {
            o = engine::get(server, k, r.fn, r.ctx, r.with_cas);
        }
        if (o.ok() && r.refused && r.refused(r.ctx)) o = engine::Outcome{engine::Result::not_found};
        publish_status(ms);
        if (o.ok()) {
            if (i == 0) return APR_SUCCESS;
            server.count_replica_hit();
            if (with_ttl && meta.has_ttl && meta.ttl != 0) {
                // add, never set: a value written to the primary since then is newer.
                engine::Server& primary = engine_of(servers[0]);
                const std::uint32_t exptime = meta.ttl < 0 ? 0u : static_cast<std::uint32_t>(meta.ttl);
                // Sent, not waited for (add_unanswered): the caller has its value.
                const engine::UnansweredAdd add{k, meta.data, meta.flags, exptime};
                const engine::Outcome added = engine::add_unanswered(primary, &add, 1, deadline);
                publish_status(servers[0]);
                if (added.ok()) primary.count_repair();
            }
            return APR_SUCCESS;
        }
        if (o.result == engine::Result::not_found) {
            missed = true;
            if (i == 0) primary_missed = true;
        } else {
            answer = to_apr_status(o);
        }
    }
    if (!asked) return no_server(mc, k, engine::MetricOp::get);
    return missed ? APR_NOTFOUND : answer;
}

apr_status_t replicated_op_read(apr_memcache_t* mc, std::string_view k,
                                engine::Outcome (*op)(void* ctx, engine::Server& server), void* ctx) {
    apr_memcache_server_t* servers[kMaxKeyServers];
    const std::size_t n = key_servers(mc, k, servers);
    apr_status_t answer = AP_MEMCACHE_ENOSERVER;
    bool missed = false;
    bool asked = false;
    engine::Clock::time_point deadline{};
    for (std::size_t i = 0; i < n; ++i) {
        engine::Server& server = engine_of(servers[i]);
        const bool usable = server.usable();
        publish_status(servers[i]);
        if (!usable) continue;
        const auto now = engine::Clock::now();
        if (asked && now >= deadline) break;
        if (!asked) {
            const auto& t = server.options().timeouts;
            deadline = now + t.acquire + t.connect + t.io;
            asked = true;
        }
        const engine::Outcome o = op(ctx, server);
        publish_status(servers[i]);
        if (o.ok()) {
            if (i > 0) server.count_replica_hit();
            return APR_SUCCESS;
        }
        if (o.result == engine::Result::not_found) {
            missed = true;
        } else {
            answer = to_apr_status(o);
        }
    }
    return missed ? APR_NOTFOUND : answer;
}

void repair_multi_get(apr_memcache_t* mc, const std::string_view* keys, const std::uint8_t* pos,
                      const std::uint32_t* found, std::size_t m, engine::Clock::time_point deadline) {
    // (primary's index in mc's list, key) for the keys a meta replica had, by primary.
    std::vector<std::pair<std::size_t, std::uint32_t>> todo;
    todo.reserve(m);
    for (std::size_t j = 0; j < m; ++j) {
        const std::uint32_t i = found[j];
        apr_memcache_server_t* servers[kMaxKeyServers];
        if (key_servers(mc, keys[i], servers) <= pos[i]) continue;
        if (engine_of(servers[pos[i]]).options().protocol != engine::Protocol::meta) continue;
        todo.emplace_back(primary_index(mc, keys[i]), i);
    }
    std::stable_sort(todo.begin(), todo.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    const ReplicaRead none{[](void*, const engine::ValueView&) {}, nullptr, false, false, 0, nullptr, nullptr};
    std::vector<MetaRead> reads;
    std::vector<engine::UnansweredAdd> adds;
    for (std::size_t g = 0; g < todo.size();) {
        std::size_t end = g;
        while (end < todo.size() && todo[end].first == todo[g].first) ++end;
        reads.clear();
        reads.reserve(end - g);  // adds point into these: no reallocation below
        adds.clear();
        for (std::size_t j = g; j < end; ++j) {
            if (engine::Clock::now() >= deadline) break;
            const std::uint32_t i = todo[j].second;
            apr_memcache_server_t* servers[kMaxKeyServers];
            key_servers(mc, keys[i], servers);
            proto::MetaGetRequest req;
            req.key = keys[i];
            req.value = true;
            req.return_flags = true;
            req.return_ttl = true;
            reads.push_back(MetaRead{&none, keys[i], {}, 0, 0, false});
            MetaRead& got = reads.back();
            const engine::Outcome o = engine::meta_get(engine_of(servers[pos[i]]), req, take_meta, &got);
            publish_status(servers[pos[i]]);
            // Gone or about to expire on the replica since the round: nothing to put back.
            if (!o.ok() || !got.has_ttl || got.ttl == 0) continue;
            const std::uint32_t exptime = got.ttl < 0 ? 0u : static_cast<std::uint32_t>(got.ttl);
            adds.push_back(engine::UnansweredAdd{keys[i], got.data, got.flags, exptime});
        }
        if (!adds.empty()) {
            apr_memcache_server_t* primary = mc->live_servers[todo[g].first];
            std::size_t sent = 0;
            engine::add_unanswered(engine_of(primary), adds.data(), adds.size(), deadline, &sent);
            publish_status(primary);
            for (std::size_t k = 0; k < sent; ++k) engine_of(primary).count_repair();
        }
        g = end;
    }
}

void place_first_usable(apr_memcache_t* mc, const std::string_view* keys, std::size_t n,
                        apr_memcache_server_t** where, std::uint8_t* pos) {
    enum : signed char { unknown = -1, no = 0, yes = 1 };
    std::vector<signed char> usable(mc->ntotal, unknown);
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t primary = primary_index(mc, keys[i]);
        where[i] = nullptr;
        pos[i] = kNone;
        if (primary == kNoPrimary) continue;
        const std::size_t m = 1 + replicas_of(mc);
        for (std::size_t p = 0; p < m; ++p) {
            const std::size_t at = (primary + p) % mc->ntotal;
            if (usable[at] == unknown) {
                apr_memcache_server_t* ms = mc->live_servers[at];
                usable[at] = engine_of(ms).usable() ? yes : no;
                publish_status(ms);
            }
            if (usable[at] == yes) {
                where[i] = mc->live_servers[at];
                pos[i] = static_cast<std::uint8_t>(p);
                break;
            }
        }
    }
}

}  // namespace mmc::compat

extern "C" {

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_set_replicas(apr_memcache_t* mc, apr_uint16_t n) {
    if (!mc || n >= mmc::compat::kMaxKeyServers || (n > 0 && n >= mc->ntotal)) return APR_EINVAL;
    mc->replicas = n;
    return APR_SUCCESS;
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_set_replica_repair(apr_memcache_t* mc, int on) {
    if (!mc) return APR_EINVAL;
    mc->no_replica_repair = on ? 0 : 1;
    return APR_SUCCESS;
}

}  // extern "C"
