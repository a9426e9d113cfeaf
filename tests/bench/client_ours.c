/* The benchmark client over our engine, through the apr_memcache-compatible API of
 * ap_memcache.h (linked from libap_memcache.so). */
#include "ap_memcache.h"

#define BENCH_OPS bench_ours_ops
#include "apr_api_client.inc"
