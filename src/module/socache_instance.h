/*
 * socache_instance.h - the instances of the mcpool provider: what a consumer's create
 * and init make of its argument, and the per-child client of an own server list.
 * socache_mcpool.c has the provider functions that use them.
 */
#ifndef MMC_MODULE_SOCACHE_INSTANCE_H
#define MMC_MODULE_SOCACHE_INSTANCE_H

#include "httpd.h"
#include "ap_socache.h"

#include "mod_memcache.h"

#define MMC_SOCACHE_NAME "mcpool"

struct ap_socache_instance_t {
    const char *arg;               /* as configured, for messages; NULL: no list */
    apr_array_header_t *servers;   /* mmc_server_spec; NULL: the client of server s */
    server_rec *s;                 /* given to init */
    const char *cname;
    char *tag;                     /* [prefix]cname":" */
    apr_size_t taglen;
    /* In each child: the client of an own server list. */
    apr_memcache_t *client;
    apr_hash_t *serverhash;
    /* This process's figures for the status page (atomics: threads share them). */
    apr_uint32_t hits;
    apr_uint32_t misses;
    apr_uint32_t stores;
    apr_uint32_t errors;
    apr_uint32_t foreign;          /* hashed key holding another id's entry */
    apr_uint32_t last_warning_s;
    ap_socache_instance_t *next;   /* the instances of this configuration */
};

/** ap_socache_provider_t.create: parses "host:port,..." (or nothing: the server's
 *  MemcacheServer lines) and remembers the instance for check_config and child_init.
 *  Opens nothing. */
const char *mmc_socache_create(ap_socache_instance_t **instance, const char *arg,
                               apr_pool_t *tmp, apr_pool_t *p);

/** ap_socache_provider_t.init: checks that there are servers and fixes the key tag
 *  ([MemcacheSOCachePrefix]cname":"). Opens nothing. */
apr_status_t mmc_socache_init(ap_socache_instance_t *inst, const char *cname,
                              const struct ap_socache_hints *hints, server_rec *s,
                              apr_pool_t *p);

/** check_config: fails when an instance has no servers at all. */
int mmc_socache_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                             server_rec *s);

/** child_init: builds the client of every instance with its own server list. */
void mmc_socache_child_init(apr_pool_t *pchild, server_rec *s);

/** The client of inst in this process; NULL in the parent (before child_init). */
apr_memcache_t *mmc_socache_client(const ap_socache_instance_t *inst);

/** The instances of the current configuration (linked by next), for the metrics. */
const ap_socache_instance_t *mmc_socache_instances(void);

/** Its servers by name (apr_memcache_server_t *), for the status page; may be NULL. */
apr_hash_t *mmc_socache_servers(const ap_socache_instance_t *inst);

#endif
