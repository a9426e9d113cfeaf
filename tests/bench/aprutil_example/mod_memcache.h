/*
 * Stand-in for mod_memcache.h when examples/mod_memcache_example.c is built against
 * apr-util's apr_memcache for the end-to-end benchmark (mod_memcache_example_aprutil.so).
 *
 * The example's handler source is compiled unchanged; this header, found first on the
 * include path, gives it apr-util's apr_memcache.h and the few mod_memcache functions it
 * calls, backed by one apr-util client per child process. That client is built in
 * child_init from the environment, with the pool settings our MemcacheServer directive
 * gives (min 0, smax = max, ttl 15 s):
 *   MMC_BENCH_APRUTIL_SERVER  host:port
 *   MMC_BENCH_APRUTIL_MAX     connections per child (default 16)
 * The child_init hook is registered by wrapping ap_hook_handler, the one hook the
 * example registers.
 */
#ifndef MMC_BENCH_APRUTIL_SHIM_H
#define MMC_BENCH_APRUTIL_SHIM_H

#include <stdlib.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

#include "apr_memcache.h"
#include "apr_strings.h"

static apr_memcache_t *bench_mc;
static apr_hash_t *bench_servers;

static void bench_child_init(apr_pool_t *p, server_rec *s)
{
    const char *spec = getenv("MMC_BENCH_APRUTIL_SERVER");
    const char *max_env = getenv("MMC_BENCH_APRUTIL_MAX");
    apr_uint32_t max = max_env ? (apr_uint32_t)atoi(max_env) : 16;
    char *host, *colon;
    apr_memcache_server_t *ms;
    apr_status_t rv;

    if (!spec || !(colon = strrchr(spec, ':'))) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "MMC_BENCH_APRUTIL_SERVER is not set to host:port");
        return;
    }
    host = apr_pstrndup(p, spec, (apr_size_t)(colon - spec));
    rv = apr_memcache_create(p, 1, 0, &bench_mc);
    if (rv == APR_SUCCESS) {
        rv = apr_memcache_server_create(p, host, (apr_port_t)atoi(colon + 1), 0, max, max,
                                        15 * 1000 * 1000, &ms);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_memcache_add_server(bench_mc, ms);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "apr-util memcache client for %s", spec);
        bench_mc = NULL;
        return;
    }
    bench_servers = apr_hash_make(p);
    apr_hash_set(bench_servers, apr_pstrdup(p, spec), APR_HASH_KEY_STRING, ms);
}

static apr_memcache_t *ap_memcache_client(server_rec *s)
{
    (void)s;
    return bench_mc;
}

static apr_hash_t *ap_memcache_serverhash(server_rec *s)
{
    (void)s;
    return bench_servers;
}

static const char *ap_memcache_strerror(apr_status_t status, char *buf, apr_size_t bufsize)
{
    return apr_strerror(status, buf, bufsize);
}

static void bench_hook_handler(ap_HOOK_handler_t *pf, const char *const *pre,
                               const char *const *succ, int order)
{
    ap_hook_child_init(bench_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(pf, pre, succ, order);
}
#define ap_hook_handler bench_hook_handler

#endif
