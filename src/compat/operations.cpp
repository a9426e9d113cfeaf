// Single-key calls: getp, set/add/replace, delete, incr/decr. Every key is checked
// before a server is even chosen, so a bad key never reaches the wire.
#include <cstring>

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
                   apr_memcache_server_t*& ms, engine::MetricOp op) {
    if (!mc || !key) return APR_EINVAL;
    k = std::string_view(key);
    if (!mmc::proto::valid_key(k)) return APR_EINVAL;
    if (mc->replicas) {
        ms = first_usable_server(mc, k);
    } else {
        place_keys(mc, &k, 1, &ms);
    }
    if (!ms || !ms->impl) return no_server(mc, k, op);
    return APR_SUCCESS;
}

}  // namespace mmc::compat

using mmc::compat::route;

namespace {

// route() for a caller that has already taken the replicated path when mc keeps
// replicas (a non-null mc without replicas): the get and the stores, whose hot path
// then tests mc->replicas once. Inlined: its caller keeps mc at hand anyway, which the
// no-server count needs.
[[gnu::always_inline]] inline apr_status_t route_unreplicated(apr_memcache_t* mc, const char* key,
                                                              std::string_view& k, apr_memcache_server_t*& ms,
                                                              mmc::engine::MetricOp op) {
    if (!key) return APR_EINVAL;
    k = std::string_view(key);
    if (!mmc::proto::valid_key(k)) return APR_EINVAL;
    mmc::compat::place_keys(mc, &k, 1, &ms);
    if (!ms || !ms->impl) return mmc::compat::no_server(mc, k, op);
    return APR_SUCCESS;
}

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

// A get under replicas (replicas.h): the sealed reader notes which server it asks.
void asking_sealed(void* vctx, mmc::engine::Server& server) {
    auto& c = *static_cast<SealedGetCtx*>(vctx);
    c.from = &server;
    c.refused = false;
}

bool refused_sealed(void* vctx) { return static_cast<SealedGetCtx*>(vctx)->refused; }

apr_status_t getp_replicated(apr_memcache_t* mc, apr_pool_t* p, const char* key, char** baton,
                             apr_size_t* len, apr_uint16_t* flags) {
    if (!key) return APR_EINVAL;
    const std::string_view k(key);
    if (!mmc::proto::valid_key(k)) return APR_EINVAL;
    return guarded([&]() -> apr_status_t {
        if (mmc::compat::keyring_of(mc)) {
            SealedGetCtx ctx{{p, baton, len, flags}, mc, nullptr, k, false};
            return mmc::compat::replicated_read(
                mc, k, {take_sealed_value, &ctx, false, false, 0, asking_sealed, refused_sealed});
        }
        GetCtx ctx{p, baton, len, flags};
        return mmc::compat::replicated_read(mc, k, {take_value, &ctx, false, false, 0, nullptr, nullptr});
    });
}

apr_status_t store(mmc::proto::StoreCommand cmd, apr_memcache_t* mc, const char* key,
                   const char* data, apr_size_t size, apr_uint32_t exptime, apr_uint16_t flags) {
    if (!mc) return APR_EINVAL;
    if (mc->replicas) return mmc::compat::replicated_store(mc, key, cmd, data, size, exptime, flags);
    std::string_view k;
    apr_memcache_server_t* ms = nullptr;
    if (apr_status_t rv = route_unreplicated(mc, key, k, ms, mmc::engine::MetricOp::store)) return rv;
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
    if (apr_status_t rv = route(mc, key, k, ms, mmc::engine::MetricOp::arith)) return rv;
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
    if (!mc || !p || !baton) return APR_EINVAL;
    if (mc->replicas) return getp_replicated(mc, p, key, baton, len, flags);
    std::string_view k;
    apr_memcache_server_t* ms = nullptr;
    if (apr_status_t rv = route_unreplicated(mc, key, k, ms, mmc::engine::MetricOp::get)) return rv;
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
    if (mc && mc->replicas) {
        return mmc::compat::replicated_key_write(mc, key, mmc::engine::WriteRequest::Kind::remove, 0);
    }
    std::string_view k;
    apr_memcache_server_t* ms = nullptr;
    if (apr_status_t rv = route(mc, key, k, ms, mmc::engine::MetricOp::remove)) return rv;
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
