/*
 * socache_mcpool.h - the "mcpool" socache provider: mod_ssl, mod_authn_socache and
 * mod_cache_socache (any ap_socache.h consumer) store through the engine's per-child
 * clients. docs/socache.md describes the behaviour and the decisions behind it.
 */
#ifndef MMC_MODULE_SOCACHE_MCPOOL_H
#define MMC_MODULE_SOCACHE_MCPOOL_H

#include "httpd.h"

/** register_hooks: registers the provider (group "socache", version "0") and the
 *  hooks it needs (check_config, child_init). */
void mmc_socache_register_hooks(apr_pool_t *p);

#endif
