/*
 * Stand-in for mod_memcache.h when examples/mod_memcache_example.c is built against
 * apr-util's apr_memcache for the end-to-end benchmark (mod_memcache_example_aprutil.so).
 *
 * The example's handler source is compiled unchanged; this header, found first on the
 * include path, gives it apr-util's apr_memcache.h and the few mod_memcache functions it
 * calls, backed by one apr-util client per child process. That client is built in
 * child_init from the environment, with the pool settings our MemcacheServer directive
 * gives (min 0, smax = max, ttl 15 s):
 *   MMC_BENCH_APRUTIL_SERVER  host:port, or several separated by commas
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

/* Adds the server of one "host:port" entry to bench_mc and bench_servers. */
static apr_status_t bench_add_server(apr_pool_t *p, const char *spec, apr_uint32_t max)
{
    const char *colon = strrchr(spec, ':');
    char *end;
    long port;
    apr_memcache_server_t *ms;
    apr_status_t rv;

    if (!colon || colon == spec) {
        return APR_EINVAL;
    }
    port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535) {
        return APR_EINVAL;
    }
    rv = apr_memcache_server_create(p, apr_pstrndup(p, spec, (apr_size_t)(colon - spec)),
                                    (apr_port_t)port, 0, max, max, 15 * 1000 * 1000, &ms);
    if (rv == APR_SUCCESS) {
        rv = apr_memcache_add_server(bench_mc, ms);
    }
    if (rv == APR_SUCCESS) {
        apr_hash_set(bench_servers, spec, APR_HASH_KEY_STRING, ms);
    }
    return rv;
}

static void bench_child_init(apr_pool_t *p, server_rec *s)
{
    const char *env = getenv("MMC_BENCH_APRUTIL_SERVER");
    const char *max_env = getenv("MMC_BENCH_APRUTIL_MAX");
    apr_uint32_t max = max_env ? (apr_uint32_t)atoi(max_env) : 16;
    apr_uint16_t n = 1;
    char *list, *spec, *last;
    const char *c;
    apr_status_t rv;

    if (!env || !*env) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "MMC_BENCH_APRUTIL_SERVER is not set to host:port[,host:port...]");
        return;
    }
    for (c = env; *c; ++c) {
        n += *c == ',';
    }
    rv = apr_memcache_create(p, n, 0, &bench_mc);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "apr-util memcache client for %s", env);
        bench_mc = NULL;
        return;
    }
    bench_servers = apr_hash_make(p);
    list = apr_pstrdup(p, env);
    for (spec = apr_strtok(list, ",", &last); spec; spec = apr_strtok(NULL, ",", &last)) {
        rv = bench_add_server(p, spec, max);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                         "MMC_BENCH_APRUTIL_SERVER: bad entry \"%s\" (host:port)", spec);
            bench_mc = NULL;
            bench_servers = NULL;
            return;
        }
    }
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
