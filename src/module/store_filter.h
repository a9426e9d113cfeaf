/*
 * store_filter.h - the MEMCACHE_STORE output filter (MemcacheStore on).
 */
#ifndef MMC_MODULE_STORE_FILTER_H
#define MMC_MODULE_STORE_FILTER_H

#include "httpd.h"

/** Adds the filter to r (a memcache-pass miss that falls through). */
void mmc_store_filter_add(request_rec *r);

/** register_hooks: the filter and the insert_filter hook that adds it to the responses
 *  of other handlers. */
void mmc_store_register_hooks(apr_pool_t *p);

#endif
