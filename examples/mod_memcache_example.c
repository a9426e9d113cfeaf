/*
 * mod_memcache_example - a module that uses the memcached servers of mod_memcache.
 *
 *   LoadModule memcache_module         modules/mod_memcache.so
 *   LoadModule memcache_example_module modules/mod_memcache_example.so
 *   MemcacheServer 127.0.0.1:11211
 *   <Location /mc>
 *       SetHandler memcache-example
 *   </Location>
 *
 *   /mc?op=set&key=cow&value=moo   STORED
 *   /mc?op=get&key=cow             moo               (404 NOT_FOUND on a miss)
 *   /mc?op=delete&key=cow          DELETED           (404 NOT_FOUND)
 *   /mc?op=incr&key=hits&n=1       the new value     (404 NOT_FOUND)
 *   /mc?op=getset&key=k&value=v    HIT or MISS       a get, then a set of value
 *                                                    (what tests/soak/ runs)
 *   /mc?op=mget&key=a,b,c          a page assembled from fragments: one line per key,
 *                                  its value, or "(a: NOT_FOUND)" and the like; all
 *                                  keys in one multi-get (at most 64)
 *   /mc?op=servers                 one "host:port live|dead" line per server
 *
 * On servers speaking the meta protocol (MemcacheProtocol meta), a page cached with a
 * lease, so that only one request recomputes it when it expires or is invalidated:
 *
 *   /mc?op=page&key=k&ms=50        COMPUTED <value>  this request won the lease and
 *                                                    recomputed the value (taking ms)
 *                                  HIT <value>       served from memcached
 *                                  STALE <value>     the old value, while another
 *                                                    request recomputes it
 *                                  503 BUSY          another request is computing a
 *                                                    value that was never there
 *   /mc?op=invalidate&key=k        INVALIDATED       the value goes stale: the next
 *                                                    page request recomputes it
 *
 * It calls ap_memcache_* directly, so mod_memcache must be loaded first.
 */
#include <stdlib.h>

#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"

#include "mod_memcache.h"

static int reply(request_rec *r, int status, const char *body)
{
    r->status = status;
    ap_set_content_type(r, "text/plain");
    ap_rputs(body, r);
    return OK;
}

static int reply_error(request_rec *r, apr_status_t rv)
{
    char buf[256];

    if (rv == APR_NOTFOUND) {
        return reply(r, HTTP_NOT_FOUND, "NOT_FOUND\n");
    }
    if (rv == APR_EINVAL) {  /* a key memcached would not accept */
        return reply(r, HTTP_BAD_REQUEST, "invalid key\n");
    }
    if (rv == APR_ENOTIMPL) {  /* a meta call on a text or binary server */
        return reply(r, HTTP_NOT_IMPLEMENTED, "needs a server with protocol=meta\n");
    }
    ap_memcache_strerror(rv, buf, sizeof buf);
    /* For the access log: LogFormat "... %{memcache-error}n" */
    apr_table_set(r->notes, "memcache-error", buf);
    return reply(r, HTTP_SERVICE_UNAVAILABLE, apr_pstrcat(r->pool, buf, "\n", NULL));
}

/* The URL-decoded value of name in the query string, or NULL. */
static char *query_arg(request_rec *r, const char *name)
{
    char *args = apr_pstrdup(r->pool, r->args ? r->args : "");
    char *last, *pair;

    for (pair = apr_strtok(args, "&", &last); pair; pair = apr_strtok(NULL, "&", &last)) {
        char *value = strchr(pair, '=');

        if (value) {
            *value++ = '\0';
        }
        if (value && strcmp(pair, name) == 0 && ap_unescape_urlencoded(value) == OK) {
            return value;
        }
    }
    return NULL;
}

static int list_servers(request_rec *r)
{
    apr_hash_index_t *hi;

    ap_set_content_type(r, "text/plain");
    for (hi = apr_hash_first(r->pool, ap_memcache_serverhash(r->server)); hi;
         hi = apr_hash_next(hi)) {
        const char *name = apr_hash_this_key(hi);
        apr_memcache_server_t *ms = apr_hash_this_val(hi);

        ap_rprintf(r, "%s %s\n", name, ms->status == APR_MC_SERVER_LIVE ? "live" : "dead");
    }
    return OK;
}

#define MAX_FRAGMENTS 64

/* One line per key of the comma-separated list, in the order given. With mod_memcache
 * the keys go in an array and come back in one (ap_memcache_multiget_array: no hash,
 * values packed into r->pool); the same source built against apr-util's apr_memcache
 * (the end-to-end benchmark's comparison) uses its hash-based multgetp. */
static int multi_get(request_rec *r, apr_memcache_t *mc, char *list)
{
    const char *names[MAX_FRAGMENTS];
    apr_size_t lens[MAX_FRAGMENTS];
    const char *data[MAX_FRAGMENTS];
    apr_size_t sizes[MAX_FRAGMENTS];
    apr_status_t status[MAX_FRAGMENTS];
    char *last, *k;
    apr_size_t i, n = 0;
    apr_status_t rv;
    char buf[120];
#ifdef AP_MEMCACHE_H
    ap_memcache_key_t keys[MAX_FRAGMENTS];
    ap_memcache_result_t results[MAX_FRAGMENTS];
#else
    apr_hash_t *values = NULL;
    apr_pool_t *temp;
#endif

    for (k = apr_strtok(list, ",", &last); k; k = apr_strtok(NULL, ",", &last)) {
        if (n == MAX_FRAGMENTS) {
            return reply(r, HTTP_BAD_REQUEST, "at most 64 keys\n");
        }
        names[n] = k;
        lens[n] = strlen(k);
        ++n;
    }
#ifdef AP_MEMCACHE_H
    for (i = 0; i < n; ++i) {
        keys[i].key = names[i];
        keys[i].len = lens[i];
    }
    rv = ap_memcache_multiget_array(mc, r->pool, keys, n, results, 0);
    if (rv != APR_SUCCESS) {
        return reply_error(r, rv);
    }
    for (i = 0; i < n; ++i) {
        status[i] = results[i].status;
        data[i] = results[i].data;
        sizes[i] = results[i].len;
    }
#else
    for (i = 0; i < n; ++i) {
        apr_memcache_add_multget_key(r->pool, names[i], &values);
    }
    if (n > 0) {
        apr_pool_create(&temp, r->pool);
        rv = apr_memcache_multgetp(mc, temp, r->pool, values);
        if (rv != APR_SUCCESS) {
            return reply_error(r, rv);
        }
    }
    for (i = 0; i < n; ++i) {
        apr_memcache_value_t *v = apr_hash_get(values, names[i], (apr_ssize_t)lens[i]);

        status[i] = v ? v->status : APR_EINVAL;
        data[i] = v ? v->data : NULL;
        sizes[i] = v ? v->len : 0;
    }
#endif
    ap_set_content_type(r, "text/plain");
    for (i = 0; i < n; ++i) {
        if (status[i] == APR_SUCCESS) {
            ap_rwrite(data[i], (int)sizes[i], r);
            ap_rputs("\n", r);
        } else {
            ap_rprintf(r, "(%s: %s)\n", names[i],
                       status[i] == APR_NOTFOUND ? "NOT_FOUND"
                                                 : ap_memcache_strerror(status[i], buf, sizeof buf));
        }
    }
    return OK;
}

/* The lease calls come with mod_memcache's meta protocol support; a build against
 * another apr_memcache (the benchmark's apr-util build) leaves the page out. */
#ifdef AP_MEMCACHE_PROTOCOL_META

/* How long a lease on a missing page is held before another request may try; and the
 * page's lifetime in memcached. */
#define PAGE_LEASE_SECONDS 10
#define PAGE_TTL_SECONDS 300

/* The lease pattern (docs/api.md): on a miss or a stale value exactly one request
 * recomputes the page and stores it; the others serve the stale value, or, when there
 * is none yet, wait a little for the winner and look again. */
static int serve_page(request_rec *r, apr_memcache_t *mc, const char *key)
{
    const char *ms_arg = query_arg(r, "ms");
    int compute_ms = ms_arg ? atoi(ms_arg) : 0;
    ap_memcache_lease_t lease;
    apr_status_t rv;
    char *page;
    int tries;

    for (tries = 0; tries < 20; ++tries) {
        rv = ap_memcache_lease_get(mc, r->pool, key, PAGE_LEASE_SECONDS, 0, &lease);
        if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
            return reply_error(r, rv);
        }
        if (lease.won) {
            /* Stands for the expensive work the cache saves. */
            if (compute_ms > 0) {
                apr_sleep(apr_time_from_msec(compute_ms < 5000 ? compute_ms : 5000));
            }
            page = apr_psprintf(r->pool, "page %s built at %" APR_TIME_T_FMT, key, apr_time_now());
            rv = ap_memcache_cas(mc, key, page, strlen(page), PAGE_TTL_SECONDS, 0, lease.item.cas);
            if (rv != APR_SUCCESS && rv != APR_EEXIST) {
                return reply_error(r, rv);
            }
            return reply(r, HTTP_OK, apr_pstrcat(r->pool, "COMPUTED ", page, "\n", NULL));
        }
        if (rv == APR_SUCCESS) {
            return reply(r, HTTP_OK, apr_pstrcat(r->pool, lease.stale ? "STALE " : "HIT ",
                                                 lease.item.data, "\n", NULL));
        }
        /* No value yet and another request holds the lease. */
        apr_sleep(apr_time_from_msec(25));
    }
    return reply(r, HTTP_SERVICE_UNAVAILABLE, "BUSY\n");
}

#endif /* AP_MEMCACHE_PROTOCOL_META */

static int memcache_example_handler(request_rec *r)
{
    apr_memcache_t *mc;
    const char *op;
    char *key, *value, *end;
    apr_size_t len;
    apr_int64_t by;
    apr_uint32_t n;
    apr_status_t rv;

    if (!r->handler || strcmp(r->handler, "memcache-example") != 0) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    mc = ap_memcache_client(r->server);
    if (mc == NULL) {
        return reply(r, HTTP_SERVICE_UNAVAILABLE, "no MemcacheServer for this server\n");
    }

    op = query_arg(r, "op");
    key = query_arg(r, "key");
    if (op && strcmp(op, "servers") == 0) {
        return list_servers(r);
    }
    if (!op || !key) {
        return reply(r, HTTP_BAD_REQUEST, "need op and key\n");
    }

    if (strcmp(op, "set") == 0) {
        if (!(value = query_arg(r, "value"))) {
            return reply(r, HTTP_BAD_REQUEST, "need value\n");
        }
        rv = apr_memcache_set(mc, key, value, strlen(value), 0, 0);
        return rv == APR_SUCCESS ? reply(r, HTTP_OK, "STORED\n") : reply_error(r, rv);
    }
    if (strcmp(op, "get") == 0) {
        rv = apr_memcache_getp(mc, r->pool, key, &value, &len, NULL);
        if (rv != APR_SUCCESS) {
            return reply_error(r, rv);
        }
        ap_set_content_type(r, "application/octet-stream");
        ap_rwrite(value, (int)len, r);
        return OK;
    }
    if (strcmp(op, "getset") == 0) {
        /* Two operations per request, both on the key's server: a miss is a normal
         * answer, any other failure of either one is a 503. */
        const char *found;
        char *old;

        if (!(value = query_arg(r, "value"))) {
            return reply(r, HTTP_BAD_REQUEST, "need value\n");
        }
        rv = apr_memcache_getp(mc, r->pool, key, &old, &len, NULL);
        if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
            return reply_error(r, rv);
        }
        found = rv == APR_SUCCESS ? "HIT\n" : "MISS\n";
        rv = apr_memcache_set(mc, key, value, strlen(value), 0, 0);
        return rv == APR_SUCCESS ? reply(r, HTTP_OK, found) : reply_error(r, rv);
    }
    if (strcmp(op, "mget") == 0) {
        return multi_get(r, mc, key);
    }
    if (strcmp(op, "page") == 0 || strcmp(op, "invalidate") == 0) {
#ifdef AP_MEMCACHE_PROTOCOL_META
        if (strcmp(op, "page") == 0) {
            return serve_page(r, mc, key);
        }
        rv = ap_memcache_invalidate(mc, key, PAGE_LEASE_SECONDS);
        return rv == APR_SUCCESS ? reply(r, HTTP_OK, "INVALIDATED\n") : reply_error(r, rv);
#else
        return reply(r, HTTP_NOT_IMPLEMENTED, "needs mod_memcache's meta protocol\n");
#endif
    }
    if (strcmp(op, "delete") == 0) {
        rv = apr_memcache_delete(mc, key, 0);
        return rv == APR_SUCCESS ? reply(r, HTTP_OK, "DELETED\n") : reply_error(r, rv);
    }
    if (strcmp(op, "incr") == 0) {
        if (!(value = query_arg(r, "n"))) {
            return reply(r, HTTP_BAD_REQUEST, "need n\n");
        }
        by = apr_strtoi64(value, &end, 10);
        if (*value == '\0' || *end != '\0' || by < 0 || by > APR_INT32_MAX) {
            return reply(r, HTTP_BAD_REQUEST, "n must be a number from 0 to 2147483647\n");
        }
        rv = apr_memcache_incr(mc, key, (apr_int32_t)by, &n);
        return rv == APR_SUCCESS ? reply(r, HTTP_OK, apr_psprintf(r->pool, "%u\n", n))
                                 : reply_error(r, rv);
    }
    return reply(r, HTTP_BAD_REQUEST,
                 "op must be set, get, getset, mget, delete, incr, page, invalidate or servers\n");
}

static void memcache_example_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(memcache_example_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA memcache_example_module = {
    STANDARD20_MODULE_STUFF,
    NULL, NULL, NULL, NULL, NULL,
    memcache_example_register_hooks,
    AP_MODULE_FLAG_NONE
};
