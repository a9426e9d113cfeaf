// What only the meta protocol offers, in the style of the extended API: lease gets
// (anti-dogpile), invalidation (stale-while-revalidate), item metadata, and keys of any
// bytes (base64 on the wire). On a text or binary server each call returns
// APR_ENOTIMPL and sends nothing (the engine refuses meta-only requests there).
// Under replicas (docs/design.md, "Replicas"): invalidate and the bkey writes go to
// every server of the key, meta_get and bkey_get fail over to the replicas; a lease is
// one server's state and stays on the key's first usable server.
#include "compat/facade.h"
#include "compat/replicas.h"
#include "engine/operations.h"

using mmc::compat::on_owner;
using mmc::compat::place_keys;
using mmc::compat::run_on;
using mmc::engine::MetricOp;
using mmc::proto::MetaEvent;
using mmc::proto::MetaFlag;

namespace {

// Runs op(server, key) on the server that owns a key of any bytes: placed by its bytes,
// sent base64-encoded.
template <class Op>
apr_status_t on_binary_key_owner(apr_memcache_t* mc, const void* key, apr_size_t klen, MetricOp kind,
                                 Op&& op) {
    if (!mc || !key) return APR_EINVAL;
    const std::string_view k(static_cast<const char*>(key), klen);
    if (!mmc::proto::valid_meta_key(k, true)) return APR_EINVAL;
    apr_memcache_server_t* ms = nullptr;
    place_keys(mc, &k, 1, &ms);
    if (!ms || !ms->impl) return mmc::compat::no_server(mc, k, kind);
    return run_on(ms, [&](mmc::engine::Server& s) { return op(s, k); });
}

// The key of a replicated call (mc keeps replicas): checked as route() checks it.
bool replicated_key(apr_memcache_t* mc, const char* key, std::string_view& k) {
    if (!mc || !key || !mc->replicas) return false;
    k = std::string_view(key);
    return true;
}

// A meta write to every server of k (replicated_write).
apr_status_t meta_write_all(apr_memcache_t* mc, std::string_view k, const mmc::engine::MetaSetCall* set,
                            const mmc::engine::MetaDeleteCall* del) {
    using Kind = mmc::engine::WriteRequest::Kind;
    const mmc::engine::WriteRequest w{set ? Kind::meta_set : Kind::meta_delete,
                                      mmc::engine::StoreRequest{mmc::proto::StoreCommand::set, k, {}, 0, 0, 0}, set,
                                      del};
    return mmc::compat::guarded([&] { return mmc::compat::replicated_write(mc, k, w); });
}

// Times are capped as the engine's operations cap theirs (proto::capped_time): one after
// January 2038 becomes the last time memcached reads as meant.
std::uint32_t capped(apr_uint32_t t) noexcept { return mmc::proto::capped_time(t); }

struct ItemCtx {
    apr_pool_t* p;
    ap_memcache_item_t* item;
    std::string_view key;
    // Set on a sealed client: values are opened, and one that does not open is a miss.
    apr_memcache_t* sealed_by = nullptr;
    mmc::engine::Server* from = nullptr;
    bool refused = false;
};

// Remembers where a sealed client's values come from (run inside the call, where the
// server and the key are known).
void note_source(ItemCtx& c, apr_memcache_t* mc, mmc::engine::Server& s, std::string_view k) {
    c.key = k;
    if (mmc::compat::keyring_of(mc)) {
        c.sealed_by = mc;
        c.from = &s;
    }
}

void fill_item(ItemCtx& c, const MetaEvent& ev) {
    c.item->key = apr_pstrmemdup(c.p, c.key.data(), c.key.size());
    // An empty value is a lease's placeholder (or an empty value), never an envelope.
    if (c.sealed_by && !ev.data.empty()) {
        std::size_t len = 0;
        const mmc::engine::ValueView v{c.key, ev.data, ev.flags, ev.cas, ev.has(MetaFlag::cas)};
        char* plain = mmc::compat::unseal_value(c.sealed_by, *c.from, c.p, c.key, v, len);
        c.refused = plain == nullptr;
        c.item->data = plain ? plain : mmc::compat::copy_value(c.p, {});
        c.item->len = plain ? len : 0;
    } else {
        c.item->data = mmc::compat::copy_value(c.p, ev.data);
        c.item->len = ev.data.size();
    }
    c.item->flags = ev.flags;
    c.item->cas = ev.cas;
}

void take_item(void* vctx, const MetaEvent& ev) { fill_item(*static_cast<ItemCtx*>(vctx), ev); }

struct LeaseCtx {
    ItemCtx item;
    ap_memcache_lease_t* lease;
};

void take_lease(void* vctx, const MetaEvent& ev) {
    auto& c = *static_cast<LeaseCtx*>(vctx);
    fill_item(c.item, ev);
    c.lease->won = ev.has(MetaFlag::won);
    c.lease->stale = ev.has(MetaFlag::stale);
    c.lease->lease_taken = ev.has(MetaFlag::lease_taken);
    c.lease->ttl = ev.ttl;
}

void take_metadata(void* vctx, const MetaEvent& ev) {
    auto& m = *static_cast<ap_memcache_meta_t*>(vctx);
    m.ttl = ev.ttl;
    m.last_access = ev.last_access;
    m.fetched = ev.hit_before;
    m.size = ev.size;
    m.cas = ev.cas;
    m.flags = ev.flags;
}

bool set_mode(ap_memcache_store_e op, mmc::proto::MetaSetMode& mode) {
    switch (op) {
        case AP_MEMCACHE_SET: mode = mmc::proto::MetaSetMode::set; return true;
        case AP_MEMCACHE_ADD: mode = mmc::proto::MetaSetMode::add; return true;
        case AP_MEMCACHE_REPLACE: mode = mmc::proto::MetaSetMode::replace; return true;
        case AP_MEMCACHE_APPEND: mode = mmc::proto::MetaSetMode::append; return true;
        case AP_MEMCACHE_PREPEND: mode = mmc::proto::MetaSetMode::prepend; return true;
    }
    return false;
}

}  // namespace

extern "C" {

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_lease_get(apr_memcache_t* mc, apr_pool_t* p,
                                                        const char* key, apr_uint32_t lease_ttl,
                                                        apr_uint32_t recache_ttl,
                                                        ap_memcache_lease_t* lease) {
    if (!p || !lease) return APR_EINVAL;
    *lease = ap_memcache_lease_t{};
    LeaseCtx ctx{{p, &lease->item, {}}, lease};
    apr_status_t rv = on_owner(mc, key, MetricOp::get, [&](mmc::engine::Server& s, std::string_view k) {
        note_source(ctx.item, mc, s, k);
        mmc::proto::MetaGetRequest mg;
        mg.key = k;
        mg.value = mg.return_flags = mg.return_cas = mg.return_ttl = true;
        if (lease_ttl) mg.vivify_ttl = capped(lease_ttl);
        if (recache_ttl) mg.recache_ttl = capped(recache_ttl);
        return mmc::engine::meta_get(s, mg, take_lease, &ctx);
    });
    // The placeholder a lease creates on a miss is an empty item: whoever sees it (the
    // winner, or a caller finding the lease taken) has no value.
    if (rv == APR_SUCCESS && lease->item.len == 0 && !lease->stale && (lease->won || lease->lease_taken)) {
        rv = APR_NOTFOUND;
    }
    // On a sealed client a value that does not open is a miss; the lease stands.
    if (rv == APR_SUCCESS && ctx.item.refused) rv = APR_NOTFOUND;
    lease->item.status = rv;
    return rv;
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_invalidate(apr_memcache_t* mc, const char* key,
                                                         apr_uint32_t stale_ttl) {
    std::string_view rk;
    if (replicated_key(mc, key, rk)) {
        if (!mmc::proto::valid_key(rk)) return APR_EINVAL;
        mmc::proto::MetaDeleteRequest md;
        md.key = rk;
        md.invalidate = true;
        if (stale_ttl) md.ttl = capped(stale_ttl);
        const mmc::engine::MetaDeleteCall call{&md};
        return meta_write_all(mc, rk, nullptr, &call);
    }
    return on_owner(mc, key, MetricOp::remove, [&](mmc::engine::Server& s, std::string_view k) {
        mmc::proto::MetaDeleteRequest md;
        md.key = k;
        md.invalidate = true;
        if (stale_ttl) md.ttl = capped(stale_ttl);
        return mmc::engine::meta_delete(s, md);
    });
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_meta_get(apr_memcache_t* mc, const char* key,
                                                       int no_bump, ap_memcache_meta_t* meta) {
    if (!meta) return APR_EINVAL;
    *meta = ap_memcache_meta_t{};
    std::string_view rk;
    if (replicated_key(mc, key, rk)) {
        if (!mmc::proto::valid_key(rk)) return APR_EINVAL;
        struct Ctx {
            std::string_view k;
            bool no_bump;
            ap_memcache_meta_t* meta;
        } ctx{rk, no_bump != 0, meta};
        const auto op = [](void* vctx, mmc::engine::Server& s) {
            auto& c = *static_cast<Ctx*>(vctx);
            mmc::proto::MetaGetRequest mg;
            mg.key = c.k;
            mg.return_ttl = mg.return_last_access = mg.return_hit_before = mg.return_size = true;
            mg.return_cas = mg.return_flags = true;
            mg.no_lru_bump = c.no_bump;
            return mmc::engine::meta_get(s, mg, take_metadata, c.meta);
        };
        return mmc::compat::guarded([&] { return mmc::compat::replicated_op_read(mc, rk, op, &ctx); });
    }
    return on_owner(mc, key, MetricOp::get, [&](mmc::engine::Server& s, std::string_view k) {
        mmc::proto::MetaGetRequest mg;
        mg.key = k;
        mg.return_ttl = mg.return_last_access = mg.return_hit_before = mg.return_size = true;
        mg.return_cas = mg.return_flags = true;
        mg.no_lru_bump = no_bump != 0;
        return mmc::engine::meta_get(s, mg, take_metadata, meta);
    });
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_bkey_get(apr_memcache_t* mc, apr_pool_t* p,
                                                       const void* key, apr_size_t klen,
                                                       ap_memcache_item_t* item) {
    if (!p || !item) return APR_EINVAL;
    *item = ap_memcache_item_t{};
    ItemCtx ctx{p, item, {}};
    if (mc && key && mc->replicas) {
        const std::string_view rk(static_cast<const char*>(key), klen);
        if (!mmc::proto::valid_meta_key(rk, true)) return item->status = APR_EINVAL;
        struct Ctx {
            ItemCtx* item;
            apr_memcache_t* mc;
            std::string_view k;
        } rctx{&ctx, mc, rk};
        const auto op = [](void* vctx, mmc::engine::Server& s) {
            auto& c = *static_cast<Ctx*>(vctx);
            c.item->refused = false;
            note_source(*c.item, c.mc, s, c.k);
            mmc::proto::MetaGetRequest mg;
            mg.key = c.k;
            mg.base64_key = true;
            mg.value = mg.return_flags = mg.return_cas = true;
            mmc::engine::Outcome o = mmc::engine::meta_get(s, mg, take_item, c.item);
            // A sealed value that does not open is a miss: the next server is asked.
            if (o.ok() && c.item->refused) o = mmc::engine::Outcome{mmc::engine::Result::not_found};
            return o;
        };
        item->status = mmc::compat::guarded([&] { return mmc::compat::replicated_op_read(mc, rk, op, &rctx); });
        return item->status;
    }
    item->status = on_binary_key_owner(mc, key, klen, MetricOp::get, [&](mmc::engine::Server& s, std::string_view k) {
        note_source(ctx, mc, s, k);
        mmc::proto::MetaGetRequest mg;
        mg.key = k;
        mg.base64_key = true;
        mg.value = mg.return_flags = mg.return_cas = true;
        return mmc::engine::meta_get(s, mg, take_item, &ctx);
    });
    if (item->status == APR_SUCCESS && ctx.refused) item->status = APR_NOTFOUND;
    return item->status;
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_bkey_store(apr_memcache_t* mc, ap_memcache_store_e op,
                                                         const void* key, apr_size_t klen,
                                                         const char* data, apr_size_t len,
                                                         apr_uint32_t exptime, apr_uint32_t flags) {
    mmc::proto::MetaSetMode mode;
    if (!set_mode(op, mode) || (len > 0 && !data)) return APR_EINVAL;
    const bool concat = op == AP_MEMCACHE_APPEND || op == AP_MEMCACHE_PREPEND;
    // As ap_memcache_store: a sealed value cannot be added to.
    if (concat && mmc::compat::keyring_of(mc)) return APR_ENOTIMPL;
    apr_status_t seal_rv = APR_SUCCESS;
    if (mc && key && mc->replicas) {
        const std::string_view rk(static_cast<const char*>(key), klen);
        if (!mmc::proto::valid_meta_key(rk, true)) return APR_EINVAL;
        std::string_view value(data ? data : "", len);
        mmc::compat::SealedValue sealed;
        if (const auto* ring = mmc::compat::keyring_of(mc)) {
            if (apr_status_t rv = sealed.seal(*ring, rk, flags, value)) return rv;
            value = sealed.view();
        }
        mmc::proto::MetaSetRequest ms;
        ms.key = rk;
        ms.base64_key = true;
        ms.mode = mode;
        if (!concat) {
            ms.flags = flags;
            ms.ttl = capped(exptime);
        }
        const mmc::engine::MetaSetCall call{&ms, value, [](void*, const MetaEvent&) {}, nullptr};
        const apr_status_t rv = meta_write_all(mc, rk, &call, nullptr);
        return rv == APR_EEXIST && concat ? APR_NOTFOUND : rv;
    }
    const auto set = [&](mmc::engine::Server& s, std::string_view k) {
        std::string_view value(data ? data : "", len);
        mmc::compat::SealedValue sealed;
        if (const auto* ring = mmc::compat::keyring_of(mc)) {
            seal_rv = sealed.seal(*ring, k, flags, value);
            if (seal_rv != APR_SUCCESS) return mmc::engine::Outcome{mmc::engine::Result::invalid_argument};
            value = sealed.view();
        }
        mmc::proto::MetaSetRequest ms;
        ms.key = k;
        ms.base64_key = true;
        ms.mode = mode;
        if (!concat) {
            ms.flags = flags;
            ms.ttl = capped(exptime);
        }
        return mmc::engine::meta_set(s, ms, value, [](void*, const MetaEvent&) {}, nullptr);
    };
    apr_status_t rv = on_binary_key_owner(mc, key, klen, MetricOp::store, set);
    if (seal_rv != APR_SUCCESS) return seal_rv;
    // As ap_memcache_store: appending to nothing says the key is missing.
    if (rv == APR_EEXIST && concat) return APR_NOTFOUND;
    return rv;
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_bkey_delete(apr_memcache_t* mc, const void* key,
                                                          apr_size_t klen) {
    if (mc && key && mc->replicas) {
        const std::string_view rk(static_cast<const char*>(key), klen);
        if (!mmc::proto::valid_meta_key(rk, true)) return APR_EINVAL;
        mmc::proto::MetaDeleteRequest md;
        md.key = rk;
        md.base64_key = true;
        const mmc::engine::MetaDeleteCall call{&md};
        return meta_write_all(mc, rk, nullptr, &call);
    }
    return on_binary_key_owner(mc, key, klen, MetricOp::remove, [&](mmc::engine::Server& s, std::string_view k) {
        mmc::proto::MetaDeleteRequest md;
        md.key = k;
        md.base64_key = true;
        return mmc::engine::meta_delete(s, md);
    });
}

}  // extern "C"
