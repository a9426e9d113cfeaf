// Single-key calls: getp, set/add/replace, delete, incr/decr. Every key is checked
// before a server is even chosen, so a bad key never reaches the wire.
#include <cstring>

#include "apr_strings.h"

#include "compat/facade.h"
#include "compat/replicas.h"
#include "engine/operations.h"
#include "proto/key.h"

using mmc::compat::engine_of;
using mmc::compat::guarded;
using mmc::compat::publish_status;
using mmc::compat::to_apr_status;
using mmc::engine::Outcome;
using mmc::engine::Result;

namespace mmc::compat {

apr_status_t route(apr_memcache_t* mc, const char* key, std::string_view& k,
                   apr_memcache_server_t*& ms) {
    if (!mc || !key) return APR_EINVAL;
    k = std::string_view(key);
    if (!mmc::proto::valid_key(k)) return APR_EINVAL;
    if (mc->replicas) {
        ms = first_usable_server(mc, k);
    } else {
        place_keys(mc, &k, 1, &ms);
    }
    if (!ms || !ms->impl) return AP_MEMCACHE_ENOSERVER;
    return APR_SUCCESS;
}

}  // namespace mmc::compat

using mmc::compat::route;

namespace {

// Where a get's value goes. The plain case is kept apart from the sealed one: a get is
// the hot path, and carrying the sealed client's fields and test through it cost about
// 25 instructions per call.
struct GetCtx {
    apr_pool_t* p;
    char** data;
    apr_size_t* len;
    apr_uint16_t* flags;
};

void deliver(const GetCtx& c, char* data, std::size_t len, std::uint32_t flags) {
    *c.data = data;
    if (c.len) *c.len = len;
    // The compatible API carries 16-bit flags; the upper bits cannot be represented.
    if (c.flags) *c.flags = static_cast<apr_uint16_t>(flags);
}

void take_value(void* vctx, const mmc::engine::ValueView& v) {
    auto& c = *static_cast<GetCtx*>(vctx);
    deliver(c, mmc::compat::copy_value(c.p, v.data), v.data.size(), v.flags);
}

// A sealed client's get: the value is opened, or refused (a miss).
struct SealedGetCtx {
    GetCtx out;
    apr_memcache_t* sealed_by;
    mmc::engine::Server* from;
    std::string_view key;
    bool refused;
};

void take_sealed_value(void* vctx, const mmc::engine::ValueView& v) {
    auto& c = *static_cast<SealedGetCtx*>(vctx);
    std::size_t len = 0;
    char* plain = mmc::compat::unseal_value(c.sealed_by, *c.from, c.out.p, c.key, v, len);
    // The last value delivered decides, as for a plain client (a read retried on a new
    // connection delivers again).
    c.refused = plain == nullptr;
    if (plain) deliver(c.out, plain, len, v.flags);
}

// A get under replicas: the key's servers in order (dead ones skipped) while it is
// missing or a server fails, within the call's deadline. A value a replica had after the
// primary missed goes back to the primary with add (read repair), when the replica told
// its time to live: meta servers are asked for it (mg ... t), the others cannot say.
struct RepairCtx {
    GetCtx* plain;
    SealedGetCtx* sealed;
    apr_pool_t* p;
    std::string_view data;  // the value as stored (sealed: the envelope), in p
    std::uint32_t flags = 0;
    std::int64_t ttl = 0;
    bool has_ttl = false;
};

void take_meta_value(void* vctx, const mmc::proto::MetaEvent& ev) {
    auto& c = *static_cast<RepairCtx*>(vctx);
    const mmc::engine::ValueView v{{}, ev.data, ev.flags, 0, false};
    if (c.sealed) {
        take_sealed_value(c.sealed, v);
    } else {
        take_value(c.plain, v);
    }
    c.data = std::string_view(apr_pstrmemdup(c.p, ev.data.data(), ev.data.size()), ev.data.size());
    c.flags = ev.flags;
    c.has_ttl = ev.has(mmc::proto::MetaFlag::ttl);
    c.ttl = ev.ttl;
}

apr_status_t getp_replicated(apr_memcache_t* mc, apr_pool_t* p, const char* key, char** baton,
                             apr_size_t* len, apr_uint16_t* flags) {
    if (!key) return APR_EINVAL;
    const std::string_view k(key);
    if (!mmc::proto::valid_key(k)) return APR_EINVAL;
    return guarded([&]() -> apr_status_t {
        apr_memcache_server_t* servers[mmc::compat::kMaxKeyServers];
        const std::size_t n = mmc::compat::key_servers(mc, k, servers);
        const bool sealed = mmc::compat::keyring_of(mc) != nullptr;
        const bool repair = !mc->no_replica_repair;
        GetCtx plain{p, baton, len, flags};
        SealedGetCtx sctx{{p, baton, len, flags}, mc, nullptr, k, false};
        apr_status_t answer = AP_MEMCACHE_ENOSERVER;
        bool missed = false;           // some server said the key is not there
        bool primary_missed = false;   // the primary did (not failed)
        bool asked = false;
        mmc::engine::Clock::time_point deadline{};
        for (std::size_t i = 0; i < n; ++i) {
            apr_memcache_server_t* ms = servers[i];
            mmc::engine::Server& server = engine_of(ms);
            const bool usable = server.usable();
            publish_status(ms);
            if (!usable) continue;  // dead: skipped, never waited for
            if (asked && mmc::engine::Clock::now() >= deadline) break;
            if (!asked) {
                const auto& t = server.options().timeouts;
                deadline = mmc::engine::Clock::now() + t.acquire + t.connect + t.io;
                asked = true;
            }
            sctx.from = &server;
            sctx.refused = false;
            Outcome o;
            RepairCtx rc{&plain, sealed ? &sctx : nullptr, p, {}, 0, 0, false};
            const bool with_ttl = i > 0 && primary_missed && repair &&
                                  server.options().protocol == mmc::engine::Protocol::meta;
            if (with_ttl) {
                mmc::proto::MetaGetRequest req;
                req.key = k;
                req.value = true;
                req.return_flags = true;
                req.return_ttl = true;
                o = mmc::engine::meta_get(server, req, take_meta_value, &rc);
            } else if (sealed) {
                o = mmc::engine::get(server, k, take_sealed_value, &sctx);
            } else {
                o = mmc::engine::get(server, k, take_value, &plain);
            }
            if (o.ok() && sealed && sctx.refused) o = Outcome{Result::not_found};
            publish_status(ms);
            if (o.ok()) {
                if (i == 0) return APR_SUCCESS;
                server.count_replica_hit();
                if (with_ttl && rc.has_ttl && rc.ttl != 0) {
                    // add, never set: a value written to the primary since is newer.
                    mmc::engine::Server& primary = engine_of(servers[0]);
                    const std::uint32_t exptime = rc.ttl < 0 ? 0u : static_cast<std::uint32_t>(rc.ttl);
                    const Outcome added = mmc::engine::store(primary, mmc::proto::StoreCommand::add, k, rc.data,
                                                             rc.flags, exptime);
                    publish_status(servers[0]);
                    if (added.ok()) primary.count_repair();
                }
                return APR_SUCCESS;
            }
            if (o.result == Result::not_found) {
                missed = true;
                if (i == 0) primary_missed = true;
            } else if (!missed) {
                answer = to_apr_status(o);
            }
        }
        return missed ? APR_NOTFOUND : answer;
    });
}

apr_status_t store(mmc::proto::StoreCommand cmd, apr_memcache_t* mc, const char* key,
                   const char* data, apr_size_t size, apr_uint32_t exptime, apr_uint16_t flags) {
    if (mc && mc->replicas) return mmc::compat::replicated_store(mc, key, cmd, data, size, exptime, flags);
    std::string_view k;
    apr_memcache_server_t* ms = nullptr;
    if (apr_status_t rv = route(mc, key, k, ms)) return rv;
    if (size > 0 && !data) return APR_EINVAL;
    return guarded([&] {
        std::string_view value(data ? data : "", size);
        mmc::compat::SealedValue sealed;
        if (const auto* ring = mmc::compat::keyring_of(mc)) {
            if (apr_status_t rv = sealed.seal(*ring, k, flags, value)) return rv;
            value = sealed.view();
        }
        Outcome o = mmc::engine::store(*ms->impl->server, cmd, k, value, flags, exptime);
        publish_status(ms);
        return to_apr_status(o);
    });
}

apr_status_t arith(mmc::proto::ArithCommand cmd, apr_memcache_t* mc, const char* key,
                   apr_int32_t n, apr_uint32_t* nv) {
    // A counter cannot be sealed: memcached computes on the stored bytes.
    if (mmc::compat::keyring_of(mc)) return APR_ENOTIMPL;
    std::string_view k;
    apr_memcache_server_t* ms = nullptr;
    if (apr_status_t rv = route(mc, key, k, ms)) return rv;
    // apr-util sent a negative n as a huge unsigned number; apply it as the opposite
    // operation instead, which is what the caller meant.
    apr_int64_t delta = n;
    if (delta < 0) {
        delta = -delta;
        cmd = cmd == mmc::proto::ArithCommand::incr ? mmc::proto::ArithCommand::decr
                                                    : mmc::proto::ArithCommand::incr;
    }
    return guarded([&] {
        std::uint64_t value = 0;
        Outcome o = mmc::engine::arith(*ms->impl->server, cmd, k,
                                       static_cast<std::uint64_t>(delta), value);
        publish_status(ms);
        if (o.ok() && nv) *nv = static_cast<apr_uint32_t>(value);
        return to_apr_status(o);
    });
}

}  // namespace

extern "C" {

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_getp(apr_memcache_t* mc, apr_pool_t* p,
                                                   const char* key, char** baton,
                                                   apr_size_t* len, apr_uint16_t* flags) {
    if (!p || !baton) return APR_EINVAL;
    if (mc && mc->replicas) return getp_replicated(mc, p, key, baton, len, flags);
    std::string_view k;
    apr_memcache_server_t* ms = nullptr;
    if (apr_status_t rv = route(mc, key, k, ms)) return rv;
    return guarded([&] {
        mmc::engine::Server& server = *ms->impl->server;
        Outcome o;
        if (mmc::compat::keyring_of(mc)) {
            SealedGetCtx ctx{{p, baton, len, flags}, mc, &server, k, false};
            o = mmc::engine::get(server, k, take_sealed_value, &ctx);
            if (o.ok() && ctx.refused) o = Outcome{Result::not_found};
        } else {
            GetCtx ctx{p, baton, len, flags};
            o = mmc::engine::get(server, k, take_value, &ctx);
        }
        publish_status(ms);
        return to_apr_status(o);
    });
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_set(apr_memcache_t* mc, const char* key,
                                                  char* baton, const apr_size_t data_size,
                                                  apr_uint32_t timeout, apr_uint16_t flags) {
    return store(mmc::proto::StoreCommand::set, mc, key, baton, data_size, timeout, flags);
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_add(apr_memcache_t* mc, const char* key,
                                                  char* baton, const apr_size_t data_size,
                                                  apr_uint32_t timeout, apr_uint16_t flags) {
    return store(mmc::proto::StoreCommand::add, mc, key, baton, data_size, timeout, flags);
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_replace(apr_memcache_t* mc, const char* key,
                                                      char* baton, const apr_size_t data_size,
                                                      apr_uint32_t timeout, apr_uint16_t flags) {
    return store(mmc::proto::StoreCommand::replace, mc, key, baton, data_size, timeout, flags);
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_delete(apr_memcache_t* mc, const char* key,
                                                     apr_uint32_t /*timeout: see header*/) {
    if (mc && mc->replicas) return mmc::compat::replicated_key_write(mc, key, mmc::engine::WriteRequest::Kind::remove, 0);
    std::string_view k;
    apr_memcache_server_t* ms = nullptr;
    if (apr_status_t rv = route(mc, key, k, ms)) return rv;
    return guarded([&] {
        Outcome o = mmc::engine::remove(*ms->impl->server, k);
        publish_status(ms);
        return to_apr_status(o);
    });
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_incr(apr_memcache_t* mc, const char* key,
                                                   apr_int32_t n, apr_uint32_t* nv) {
    return arith(mmc::proto::ArithCommand::incr, mc, key, n, nv);
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_decr(apr_memcache_t* mc, const char* key,
                                                   apr_int32_t n, apr_uint32_t* new_value) {
    return arith(mmc::proto::ArithCommand::decr, mc, key, n, new_value);
}

}  // extern "C"
