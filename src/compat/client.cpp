// The client object and server choice: apr_memcache_create, add/find/enable/disable
// server, the hashes and apr-util's modula placement.
#include <cstring>

#include "compat/facade.h"
#include "engine/hash.h"

using mmc::compat::engine_of;
using mmc::compat::publish_status;

extern "C" {

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_create(apr_pool_t* p, apr_uint16_t max_servers,
                                                     apr_uint32_t flags, apr_memcache_t** mc) {
    if (!p || !mc || max_servers == 0) return APR_EINVAL;
    auto* c = static_cast<apr_memcache_t*>(apr_pcalloc(p, sizeof(apr_memcache_t)));
    c->flags = flags;
    c->nalloc = max_servers;
    c->ntotal = 0;
    c->live_servers = static_cast<apr_memcache_server_t**>(
        apr_pcalloc(p, max_servers * sizeof(apr_memcache_server_t*)));
    c->p = p;
    *mc = c;
    return APR_SUCCESS;
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_add_server(apr_memcache_t* mc,
                                                         apr_memcache_server_t* ms) {
    if (!mc || !ms || !ms->impl) return APR_EINVAL;
    for (apr_uint16_t i = 0; i < mc->ntotal; ++i) {
        if (mc->live_servers[i] == ms) return APR_EINVAL;
    }
    if (mc->ntotal >= mc->nalloc) return APR_ENOMEM;
    mc->live_servers[mc->ntotal++] = ms;
    if (mmc::compat::uses_ketama(mc)) {
        return mmc::compat::guarded([&] { return mmc::compat::build_ketama(mc); });
    }
    return APR_SUCCESS;
}

AP_MEMCACHE_DECLARE(apr_memcache_server_t*) ap_memcache_find_server(apr_memcache_t* mc,
                                                                    const char* host,
                                                                    apr_port_t port) {
    if (!mc || !host) return nullptr;
    for (apr_uint16_t i = 0; i < mc->ntotal; ++i) {
        apr_memcache_server_t* ms = mc->live_servers[i];
        if (ms->port == port && std::strcmp(ms->host, host) == 0) return ms;
    }
    return nullptr;
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_enable_server(apr_memcache_t* mc,
                                                            apr_memcache_server_t* ms) {
    if (!mc || !ms || !ms->impl) return APR_EINVAL;
    engine_of(ms).mark_live();
    publish_status(ms);
    return APR_SUCCESS;
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_disable_server(apr_memcache_t* mc,
                                                             apr_memcache_server_t* ms) {
    if (!mc || !ms || !ms->impl) return APR_EINVAL;
    engine_of(ms).mark_dead(mmc::engine::Outcome{});
    publish_status(ms);
    return APR_SUCCESS;
}

AP_MEMCACHE_DECLARE(apr_uint32_t) ap_memcache_hash_crc32(void*, const char* data,
                                                         const apr_size_t data_len) {
    return mmc::engine::crc32(data, data_len);
}

AP_MEMCACHE_DECLARE(apr_uint32_t) ap_memcache_hash_default(void*, const char* data,
                                                           const apr_size_t data_len) {
    return mmc::engine::perl_hash(data, data_len);
}

AP_MEMCACHE_DECLARE(apr_uint32_t) ap_memcache_hash(apr_memcache_t* mc, const char* data,
                                                   const apr_size_t data_len) {
    if (mc && mc->hash_func) return mc->hash_func(mc->hash_baton, data, data_len);
    return mmc::engine::perl_hash(data, data_len);
}

AP_MEMCACHE_DECLARE(apr_memcache_server_t*) ap_memcache_find_server_hash_default(
    void*, apr_memcache_t* mc, const apr_uint32_t hash) {
    if (!mc || mc->ntotal == 0) return nullptr;
    // apr-util's walk: start at hash % ntotal (hash 0 counts as 1), step to the next
    // server while the chosen one is dead, so a dead server's keys land on its successor.
    apr_uint32_t h = hash ? hash : 1;
    for (apr_uint16_t n = 0; n < mc->ntotal; ++n, ++h) {
        apr_memcache_server_t* ms = mc->live_servers[h % mc->ntotal];
        bool usable = engine_of(ms).usable();
        publish_status(ms);
        if (usable) return ms;
    }
    return nullptr;
}

AP_MEMCACHE_DECLARE(apr_memcache_server_t*) ap_memcache_find_server_hash(apr_memcache_t* mc,
                                                                         const apr_uint32_t hash) {
    if (!mc) return nullptr;
    if (mc->server_func) return mc->server_func(mc->server_baton, mc, hash);
    return ap_memcache_find_server_hash_default(nullptr, mc, hash);
}

}  // extern "C"
