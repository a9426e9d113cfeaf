// The extended command set: 32-bit flags, CAS, append/prepend, touch, get-and-touch,
// flush and 64-bit counters, in the style of the compatible API.
#include "compat/facade.h"
#include "compat/replicas.h"
#include "engine/operations.h"

using mmc::compat::on_owner;
using mmc::compat::run_on;
using mmc::engine::MetricOp;
using mmc::engine::Outcome;
using mmc::engine::Result;

namespace {

struct ItemCtx {
    apr_pool_t* p;
    ap_memcache_item_t* item;
    // Set for a sealed client (see read_item).
    apr_memcache_t* sealed_by = nullptr;
    mmc::engine::Server* from = nullptr;
    std::string_view key;
    bool refused = false;
};

void take_item(void* vctx, const mmc::engine::ValueView& v) {
    auto& c = *static_cast<ItemCtx*>(vctx);
    if (c.sealed_by) {
        std::size_t len = 0;
        char* plain = mmc::compat::unseal_value(c.sealed_by, *c.from, c.p, c.key, v, len);
        // The last value delivered decides, as for a plain client (a read retried on a
        // new connection delivers again).
        c.refused = plain == nullptr;
        if (!plain) return;
        c.item->data = plain;
        c.item->len = len;
    } else {
        c.item->data = mmc::compat::copy_value(c.p, v.data);
        c.item->len = v.data.size();
    }
    c.item->key = apr_pstrmemdup(c.p, v.key.data(), v.key.size());
    c.item->flags = v.flags;
    c.item->cas = v.cas;
}

// Runs a read that fills an item (get(s) or gat) on the owner of key, opening the value
// on a sealed client; a value that does not open is a miss.
void asking_item(void* vctx, mmc::engine::Server& server) {
    auto& c = *static_cast<ItemCtx*>(vctx);
    c.from = &server;
    c.refused = false;
}

bool refused_item(void* vctx) { return static_cast<ItemCtx*>(vctx)->refused; }

// The same read under replicas (replicas.h): the key's servers in order.
apr_status_t read_item_replicated(apr_memcache_t* mc, const char* key, ItemCtx& ctx, bool touch,
                                  apr_uint32_t exptime) {
    if (!key) return APR_EINVAL;
    const std::string_view k(key);
    if (!mmc::proto::valid_key(k)) return APR_EINVAL;
    if (mmc::compat::keyring_of(mc)) {
        ctx.sealed_by = mc;
        ctx.key = k;
    }
    return mmc::compat::guarded([&] {
        return mmc::compat::replicated_read(mc, k, {take_item, &ctx, true, touch, exptime, asking_item, refused_item});
    });
}

template <class Read>
apr_status_t read_item(apr_memcache_t* mc, const char* key, ItemCtx& ctx, Read&& read) {
    apr_status_t rv = on_owner(mc, key, MetricOp::get, [&](mmc::engine::Server& s, std::string_view k) {
        if (mmc::compat::keyring_of(mc)) {
            ctx.sealed_by = mc;
            ctx.from = &s;
            ctx.key = k;
        }
        return read(s, k);
    });
    return rv == APR_SUCCESS && ctx.refused ? APR_NOTFOUND : rv;
}

// Seals value for key on a sealed client (else leaves it), then runs the store.
template <class Store>
apr_status_t sealed_store(apr_memcache_t* mc, const char* key, std::string_view value,
                          apr_uint32_t flags, Store&& store) {
    apr_status_t seal_rv = APR_SUCCESS;
    apr_status_t rv = on_owner(mc, key, MetricOp::store, [&](mmc::engine::Server& s, std::string_view k) {
        mmc::compat::SealedValue sealed;
        if (const auto* ring = mmc::compat::keyring_of(mc)) {
            // Only OpenSSL failing (no randomness) ends here; nothing is sent.
            seal_rv = sealed.seal(*ring, k, flags, value);
            if (seal_rv != APR_SUCCESS) return Outcome{Result::invalid_argument};
            value = sealed.view();
        }
        return store(s, k, value);
    });
    return seal_rv != APR_SUCCESS ? seal_rv : rv;
}

bool store_command(ap_memcache_store_e op, mmc::proto::StoreCommand& cmd) {
    switch (op) {
        case AP_MEMCACHE_SET: cmd = mmc::proto::StoreCommand::set; return true;
        case AP_MEMCACHE_ADD: cmd = mmc::proto::StoreCommand::add; return true;
        case AP_MEMCACHE_REPLACE: cmd = mmc::proto::StoreCommand::replace; return true;
        case AP_MEMCACHE_APPEND: cmd = mmc::proto::StoreCommand::append; return true;
        case AP_MEMCACHE_PREPEND: cmd = mmc::proto::StoreCommand::prepend; return true;
    }
    return false;
}

apr_status_t arith64(mmc::proto::ArithCommand cmd, apr_memcache_t* mc, const char* key,
                     apr_uint64_t delta, const apr_uint64_t* initial, apr_uint32_t exptime,
                     apr_uint64_t* nv) {
    // A counter cannot be sealed: memcached computes on the stored bytes.
    if (mmc::compat::keyring_of(mc)) return APR_ENOTIMPL;
    std::uint64_t value = 0;
    apr_status_t rv = on_owner(mc, key, MetricOp::arith, [&](mmc::engine::Server& s, std::string_view k) {
        return initial ? mmc::engine::arith_create(s, cmd, k, delta, *initial, exptime, value)
                       : mmc::engine::arith(s, cmd, k, delta, value);
    });
    if (rv == APR_SUCCESS && nv) *nv = value;
    return rv;
}

}  // namespace

extern "C" {

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_store(apr_memcache_t* mc, ap_memcache_store_e op,
                                                    const char* key, const char* data,
                                                    apr_size_t len, apr_uint32_t exptime,
                                                    apr_uint32_t flags) {
    mmc::proto::StoreCommand cmd;
    if (!store_command(op, cmd) || (len > 0 && !data)) return APR_EINVAL;
    // Bytes added to an envelope would break its tag: refused before anything is sent.
    if (mmc::compat::keyring_of(mc) && (op == AP_MEMCACHE_APPEND || op == AP_MEMCACHE_PREPEND)) {
        return APR_ENOTIMPL;
    }
    apr_status_t rv =
        mc && mc->replicas
            ? mmc::compat::replicated_store(mc, key, cmd, data, len, exptime, flags)
            : sealed_store(mc, key, std::string_view(data ? data : "", len), flags,
                                   [&](mmc::engine::Server& s, std::string_view k, std::string_view v) {
                                       return mmc::engine::store(s, cmd, k, v, flags, exptime);
                                   });
    // Appending to nothing: the key is missing, which is what the caller needs to know.
    if (rv == APR_EEXIST && (op == AP_MEMCACHE_APPEND || op == AP_MEMCACHE_PREPEND)) return APR_NOTFOUND;
    return rv;
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_gets(apr_memcache_t* mc, apr_pool_t* p,
                                                   const char* key, ap_memcache_item_t* item) {
    if (!p || !item) return APR_EINVAL;
    ItemCtx ctx{p, item, nullptr, nullptr, {}, false};
    if (mc && mc->replicas) {
        item->status = read_item_replicated(mc, key, ctx, false, 0);
        return item->status;
    }
    item->status = read_item(mc, key, ctx, [&](mmc::engine::Server& s, std::string_view k) {
        return mmc::engine::get(s, k, take_item, &ctx, true);
    });
    return item->status;
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_cas(apr_memcache_t* mc, const char* key,
                                                  const char* data, apr_size_t len,
                                                  apr_uint32_t exptime, apr_uint32_t flags,
                                                  apr_uint64_t cas) {
    if (len > 0 && !data) return APR_EINVAL;
    return sealed_store(mc, key, std::string_view(data ? data : "", len), flags,
                        [&](mmc::engine::Server& s, std::string_view k, std::string_view v) {
                            return mmc::engine::store(s, mmc::proto::StoreCommand::cas, k, v, flags,
                                                      exptime, cas);
                        });
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_touch(apr_memcache_t* mc, const char* key,
                                                    apr_uint32_t exptime) {
    if (mc && mc->replicas) {
        return mmc::compat::replicated_key_write(mc, key, mmc::engine::WriteRequest::Kind::touch, exptime);
    }
    return on_owner(mc, key, MetricOp::touch, [&](mmc::engine::Server& s, std::string_view k) {
        return mmc::engine::touch(s, k, exptime);
    });
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_gat(apr_memcache_t* mc, apr_pool_t* p,
                                                  const char* key, apr_uint32_t exptime,
                                                  ap_memcache_item_t* item) {
    if (!p || !item) return APR_EINVAL;
    ItemCtx ctx{p, item, nullptr, nullptr, {}, false};
    if (mc && mc->replicas) {
        item->status = read_item_replicated(mc, key, ctx, true, exptime);
        return item->status;
    }
    item->status = read_item(mc, key, ctx, [&](mmc::engine::Server& s, std::string_view k) {
        return mmc::engine::get_and_touch(s, k, exptime, take_item, &ctx);
    });
    return item->status;
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_flush(apr_memcache_t* mc, apr_uint32_t delay) {
    if (!mc) return APR_EINVAL;
    apr_status_t first_error = APR_SUCCESS;
    for (apr_uint16_t i = 0; i < mc->ntotal; ++i) {
        apr_memcache_server_t* ms = mc->live_servers[i];
        if (!ms || !ms->impl) {
            if (first_error == APR_SUCCESS) first_error = AP_MEMCACHE_ENOSERVER;
            continue;
        }
        apr_status_t rv = run_on(ms, [&](mmc::engine::Server& s) { return mmc::engine::flush(s, delay); });
        if (rv != APR_SUCCESS && first_error == APR_SUCCESS) first_error = rv;
    }
    return first_error;
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_incr64(apr_memcache_t* mc, const char* key,
                                                     apr_uint64_t delta, const apr_uint64_t* initial,
                                                     apr_uint32_t exptime, apr_uint64_t* nv) {
    return arith64(mmc::proto::ArithCommand::incr, mc, key, delta, initial, exptime, nv);
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_decr64(apr_memcache_t* mc, const char* key,
                                                     apr_uint64_t delta, const apr_uint64_t* initial,
                                                     apr_uint32_t exptime, apr_uint64_t* nv) {
    return arith64(mmc::proto::ArithCommand::decr, mc, key, delta, initial, exptime, nv);
}

}  // extern "C"
