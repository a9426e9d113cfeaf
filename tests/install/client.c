/* A program outside httpd, built by tests/install/install_test.sh against an installed
 * tree with nothing but `pkg-config --cflags --libs ap_memcache`: stores and reads one
 * value through the apr_memcache-compatible API. Usage: client HOST PORT */
#include "ap_memcache.h"
#include "apr_general.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    apr_pool_t *pool;
    apr_memcache_t *mc;
    apr_memcache_server_t *ms;
    char *value = NULL;
    apr_size_t len = 0;
    apr_status_t rv;
    char err[256];
    int ok;

    if (argc != 3) {
        fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
        return 2;
    }
    apr_initialize();
    apr_pool_create(&pool, NULL);
    if ((rv = apr_memcache_create(pool, 1, 0, &mc)) != APR_SUCCESS ||
        (rv = apr_memcache_server_create(pool, argv[1], (apr_port_t)atoi(argv[2]), 0, 1, 1,
                                         60000000, &ms)) != APR_SUCCESS ||
        (rv = apr_memcache_add_server(mc, ms)) != APR_SUCCESS ||
        (rv = apr_memcache_set(mc, "install-test", "installed", 9, 0, 0)) != APR_SUCCESS ||
        (rv = apr_memcache_getp(mc, pool, "install-test", &value, &len, NULL)) != APR_SUCCESS) {
        fprintf(stderr, "failed: %s\n", ap_memcache_strerror(rv, err, sizeof err));
        return 1;
    }
    printf("version %s: got %.*s\n", ap_memcache_library_version(), (int)len, value);
    ok = len == 9 && memcmp(value, "installed", 9) == 0;
    apr_pool_destroy(pool);
    apr_terminate();
    return ok ? 0 : 1;
}
