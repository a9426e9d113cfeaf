/* The benchmark client over apr-util's own apr_memcache (libaprutil-1), built from the
 * same source as client_ours.c. */
#include "apr_memcache.h"

#define BENCH_OPS bench_aprutil_ops
#include "apr_api_client.inc"

void bench_apr_initialize(void)
{
    apr_initialize();
}
