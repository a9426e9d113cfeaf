// Replicas (ap_memcache_set_replicas): which servers hold a key, in the order they are
// asked, and the calls that go to more than one of them. docs/design.md ("Replicas")
// states the rules; this is where they are applied.
#ifndef MMC_COMPAT_REPLICAS_H
#define MMC_COMPAT_REPLICAS_H

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "compat/facade.h"
#include "compat/key_batches.h"
#include "engine/requests.h"

namespace mmc::compat {

// At most this many servers hold a key (the primary and 7 replicas).
inline constexpr std::size_t kMaxKeyServers = 8;

// The replicas mc keeps: what ap_memcache_set_replicas asked, never more than the
// servers after the primary.
inline std::size_t replicas_of(const apr_memcache_t* mc) noexcept {
    const std::size_t want = mc->replicas;
    const std::size_t most = mc->ntotal > 0 ? mc->ntotal - 1u : 0u;
    return want < most ? want : most;
}

// key's servers in the order they are asked: its primary (primary_index), then the
// servers after it in mc's list, wrapping around; 1 + replicas_of(mc) of them, or 0 when
// no primary is known. Health is not looked at.
std::size_t key_servers(apr_memcache_t* mc, std::string_view key, apr_memcache_server_t** out);

// route() under replicas: the first of key's servers that is usable (publishing the
// health of each looked at), or nullptr when every one is dead.
apr_memcache_server_t* first_usable_server(apr_memcache_t* mc, std::string_view key);

// A write to every usable server of key at once (engine::write_all): the status is that
// of the first one asked (the primary unless it is dead); a replica's failure is counted
// and logged (Server::replica_failed), never the call's. AP_MEMCACHE_ENOSERVER when all
// are dead. A meta extension's write (Kind meta_set, meta_delete) goes to the servers
// that speak meta only: APR_ENOTIMPL, nothing sent, when the first usable one does not.
apr_status_t replicated_write(apr_memcache_t* mc, std::string_view key, const engine::WriteRequest& w);

// A read by the meta extensions (ap_memcache_meta_get, ap_memcache_bkey_get) under
// replicas: op(ctx, server) is asked of key's servers in order, under the rules of
// replicated_read (dead ones skipped, one deadline, the same status), without repair.
apr_status_t replicated_op_read(apr_memcache_t* mc, std::string_view key,
                                engine::Outcome (*op)(void* ctx, engine::Server& server), void* ctx);

// The replicated calls of the API: a store (set, add, replace, append, prepend; the
// value sealed first on a sealed client), and a touch or delete (Kind touch, remove).
// Each checks the key first (APR_EINVAL, nothing sent), then replicated_write.
apr_status_t replicated_store(apr_memcache_t* mc, const char* key, proto::StoreCommand cmd, const char* data,
                              apr_size_t size, apr_uint32_t exptime, apr_uint32_t flags);
apr_status_t replicated_key_write(apr_memcache_t* mc, const char* key, engine::WriteRequest::Kind kind,
                                  apr_uint32_t exptime);

// A single-key read under replicas (get, gets, gat): key's servers are asked in order,
// dead ones skipped without a wait, while the key is missing or a server fails, and
// only while the call's deadline (the first server's acquire + connect + I/O) has not
// passed. A value a replica has after the primary missed (not failed) is written back
// to the primary with add when the replica told its time to live: a meta replica is
// asked for it (mg ... t), text and binary cannot say, so nothing is repaired there.
// The status: APR_SUCCESS, APR_NOTFOUND when a server said the key is missing (even if
// another failed), else the last failure; AP_MEMCACHE_ENOSERVER when all are dead.
struct ReplicaRead {
    engine::ValueFn fn;  // every value, as engine::get gives it (the key in ValueView::key)
    void* ctx;
    bool with_cas;
    bool touch;               // gat: the item's expiry becomes exptime
    std::uint32_t exptime;
    // Called before each server is asked, and after a value came: whether the value
    // was refused (a sealed value that does not open: a miss). Either may be null.
    void (*asking)(void* ctx, engine::Server& server);
    bool (*refused)(void* ctx);
};
apr_status_t replicated_read(apr_memcache_t* mc, std::string_view key, const ReplicaRead& r);

// The multi-gets' placement under replicas: where[i] the first usable server of keys[i]
// and pos[i] its place among them (kNone, where[i] nullptr: every one is dead). Each
// server's health is asked once per call.
inline constexpr std::uint8_t kNone = 0xff;
void place_first_usable(apr_memcache_t* mc, const std::string_view* keys, std::size_t n,
                        apr_memcache_server_t** where, std::uint8_t* pos);

// The multi-gets' read repair (replica_rounds, after its rounds): each keys[found[j]]
// was missed by its primary (answered, not failed) and found on its server at
// pos[found[j]]. Where that replica speaks meta, it is asked for the value as stored,
// its flags and its time to live (mg, one key at a time), and the values go back to
// their primaries with add, all of a primary's in one write not waited for
// (engine::add_unanswered). Text and binary replicas cannot tell the time to live:
// their keys are not repaired, as in replicated_read. Nothing is asked or sent after
// `deadline`.
void repair_multi_get(apr_memcache_t* mc, const std::string_view* keys, const std::uint8_t* pos,
                      const std::uint32_t* found, std::size_t m, engine::Clock::time_point deadline);

// The multi-gets' further rounds: the keys that missed or failed on the server asked
// (status not APR_SUCCESS, APR_EINVAL or AP_MEMCACHE_ENOSERVER) go to their next usable
// server, grouped per server, all in one fan-out; until no key has a server left.
// keys[i] is the caller's key `owner[i]`, first asked at pos[i] (place_first_usable).
// Ctx is run_batches' (key_batches.h), plus mutable_batches() to regroup. The whole call,
// from `start` (before its first fan-out), ends by the deadline a single get has: the
// acquire, connect and I/O timeouts added up (the largest of mc's servers); a round that
// would start after it is not made, and the last one is cut short to it.
template <class Ctx>
void replica_rounds(apr_memcache_t* mc, bool with_cas, engine::BatchValueFn fn, Ctx& ctx,
                    const std::string_view* keys, const std::uint32_t* owner, std::size_t n,
                    std::uint8_t* pos, engine::Clock::time_point start) {
    engine::Duration budget = engine::Duration::zero();
    for (apr_uint16_t i = 0; i < mc->ntotal; ++i) {
        const auto& t = engine_of(mc->live_servers[i]).options().timeouts;
        budget = std::max(budget, t.acquire + t.connect + t.io);
    }
    const engine::Clock::time_point deadline = start + budget;
    KeyBatches& kb = ctx.mutable_batches();
    std::pmr::vector<std::string_view> sub_keys(kb.resource());
    std::pmr::vector<std::uint32_t> sub_index(kb.resource());
    std::pmr::vector<apr_memcache_server_t*> sub_where(kb.resource());
    const std::size_t r = replicas_of(mc);
    enum : signed char { unknown = -1, no = 0, yes = 1 };
    signed char usable[256];
    std::fill(usable, usable + (mc->ntotal < 256 ? mc->ntotal : 256), unknown);
    // The keys their primary missed (answered without them), for read repair.
    const bool repair = !mc->no_replica_repair;
    std::pmr::vector<std::uint8_t> missed(repair ? n : 0, 0, kb.resource());
    if (repair) {
        for (std::size_t i = 0; i < n; ++i) missed[i] = pos[i] == 0 && ctx.status_of(owner[i]) == APR_NOTFOUND;
    }
    // The first round's hits on a replica (its primary dead) count as the later ones do.
    for (std::size_t i = 0; i < n; ++i) {
        if (pos[i] == 0 || pos[i] == kNone || ctx.status_of(owner[i]) != APR_SUCCESS) continue;
        apr_memcache_server_t* servers[kMaxKeyServers];
        if (key_servers(mc, keys[i], servers) > pos[i]) engine_of(servers[pos[i]]).count_replica_hit();
    }
    for (std::size_t round = 0; round < r; ++round) {
        sub_keys.clear();
        sub_index.clear();
        sub_where.clear();
        for (std::size_t i = 0; i < n; ++i) {
            if (pos[i] == kNone || pos[i] >= r) continue;
            const apr_status_t s = ctx.status_of(owner[i]);
            if (s == APR_SUCCESS || s == APR_EINVAL || s == AP_MEMCACHE_ENOSERVER) continue;
            apr_memcache_server_t* servers[kMaxKeyServers];
            const std::size_t m = key_servers(mc, keys[i], servers);
            std::size_t p = pos[i] + 1u;
            for (; p < m; ++p) {
                std::size_t at = 0;
                while (mc->live_servers[at] != servers[p]) ++at;
                if (at < 256 && usable[at] == unknown) {
                    usable[at] = engine_of(servers[p]).usable() ? yes : no;
                    publish_status(servers[p]);
                }
                if (at >= 256 ? engine_of(servers[p]).live() : usable[at] == yes) break;
            }
            if (p >= m) {
                pos[i] = kNone;
                continue;
            }
            pos[i] = static_cast<std::uint8_t>(p);
            // Asked again: what the earlier server said is no answer any more, unless
            // this one says nothing either (fail_unanswered).
            ctx.status_of(owner[i]) = APR_NOTFOUND;
            sub_keys.push_back(keys[i]);
            sub_index.push_back(static_cast<std::uint32_t>(i));
            sub_where.push_back(servers[p]);
        }
        if (sub_keys.empty()) break;
        const engine::Duration left = deadline - engine::Clock::now();
        if (left <= engine::Duration::zero()) break;
        group_by_server(sub_keys.data(), sub_where.data(), sub_keys.size(), kb, [](std::size_t) {});
        for (std::uint32_t& o : kb.owner) o = owner[sub_index[o]];
        run_batches(with_cas, fn, ctx, left);
        for (std::size_t j = 0; j < sub_keys.size(); ++j) {
            if (ctx.status_of(owner[sub_index[j]]) == APR_SUCCESS) engine_of(sub_where[j]).count_replica_hit();
        }
    }
    if (!repair) return;
    sub_index.clear();
    for (std::size_t i = 0; i < n; ++i) {
        if (missed[i] && pos[i] != kNone && pos[i] > 0 && ctx.status_of(owner[i]) == APR_SUCCESS) {
            sub_index.push_back(static_cast<std::uint32_t>(i));
        }
    }
    if (!sub_index.empty()) repair_multi_get(mc, keys, pos, sub_index.data(), sub_index.size(), deadline);
}

}  // namespace mmc::compat

#endif
