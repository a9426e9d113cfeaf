/* A module built with `apxs -c` against the installed mod_memcache.h only (see
 * install_test.sh): GET /consumer stores and reads a value through the client that
 * mod_memcache configured from MemcacheServer. */
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "mod_memcache.h"
#include <string.h>

static int consumer_handler(request_rec *r)
{
    apr_memcache_t *mc;
    char *value = NULL;
    apr_size_t len = 0;
    apr_status_t rv;

    if (!r->handler || strcmp(r->handler, "install-consumer") != 0) return DECLINED;
    mc = ap_memcache_client(r->server);
    if (mc == NULL) return HTTP_SERVICE_UNAVAILABLE;
    rv = apr_memcache_set(mc, "consumer", "from-apxs", 9, 0, 0);
    if (rv == APR_SUCCESS) rv = apr_memcache_getp(mc, r->pool, "consumer", &value, &len, NULL);
    if (rv != APR_SUCCESS) return HTTP_SERVICE_UNAVAILABLE;
    ap_set_content_type(r, "text/plain");
    ap_rprintf(r, "%s %.*s\n", ap_memcache_library_version(), (int)len, value);
    return OK;
}

static void consumer_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(consumer_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(install_consumer) = {
    STANDARD20_MODULE_STUFF, NULL, NULL, NULL, NULL, NULL, consumer_hooks
};
