// The extended command set: 32-bit flags, CAS, append/prepend, touch, get-and-touch,
// flush and 64-bit counters, in the style of the compatible API.
#include "compat/facade.h"
#include "engine/operations.h"

using mmc::compat::on_owner;
using mmc::compat::run_on;
using mmc::engine::Result;

namespace {

struct ItemCtx {
    apr_pool_t* p;
    ap_memcache_item_t* item;
};

void take_item(void* vctx, const mmc::engine::ValueView& v) {
    auto& c = *static_cast<ItemCtx*>(vctx);
    c.item->key = apr_pstrmemdup(c.p, v.key.data(), v.key.size());
    c.item->data = mmc::compat::copy_value(c.p, v.data);
    c.item->len = v.data.size();
    c.item->flags = v.flags;
    c.item->cas = v.cas;
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
    std::uint64_t value = 0;
    apr_status_t rv = on_owner(mc, key, [&](mmc::engine::Server& s, std::string_view k) {
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
    apr_status_t rv = on_owner(mc, key, [&](mmc::engine::Server& s, std::string_view k) {
        return mmc::engine::store(s, cmd, k, std::string_view(data ? data : "", len), flags, exptime);
    });
    // Appending to nothing: the key is missing, which is what the caller needs to know.
    if (rv == APR_EEXIST && (op == AP_MEMCACHE_APPEND || op == AP_MEMCACHE_PREPEND)) return APR_NOTFOUND;
    return rv;
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_gets(apr_memcache_t* mc, apr_pool_t* p,
                                                   const char* key, ap_memcache_item_t* item) {
    if (!p || !item) return APR_EINVAL;
    ItemCtx ctx{p, item};
    item->status = on_owner(mc, key, [&](mmc::engine::Server& s, std::string_view k) {
        return mmc::engine::get(s, k, take_item, &ctx, true);
    });
    return item->status;
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_cas(apr_memcache_t* mc, const char* key,
                                                  const char* data, apr_size_t len,
                                                  apr_uint32_t exptime, apr_uint32_t flags,
                                                  apr_uint64_t cas) {
    if (len > 0 && !data) return APR_EINVAL;
    return on_owner(mc, key, [&](mmc::engine::Server& s, std::string_view k) {
        return mmc::engine::store(s, mmc::proto::StoreCommand::cas, k,
                                  std::string_view(data ? data : "", len), flags, exptime, cas);
    });
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_touch(apr_memcache_t* mc, const char* key,
                                                    apr_uint32_t exptime) {
    return on_owner(mc, key, [&](mmc::engine::Server& s, std::string_view k) {
        return mmc::engine::touch(s, k, exptime);
    });
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_gat(apr_memcache_t* mc, apr_pool_t* p,
                                                  const char* key, apr_uint32_t exptime,
                                                  ap_memcache_item_t* item) {
    if (!p || !item) return APR_EINVAL;
    ItemCtx ctx{p, item};
    item->status = on_owner(mc, key, [&](mmc::engine::Server& s, std::string_view k) {
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
