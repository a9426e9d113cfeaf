/*
 * client.h - the per-child clients behind ap_memcache_client() / ap_memcache_serverhash().
 */
#ifndef MMC_MODULE_CLIENT_H
#define MMC_MODULE_CLIENT_H

#include "httpd.h"

/** child_init: builds one client per server that declares MemcacheServer lines (the
 *  virtual hosts that declare none share the main server's), from pchild. */
void mmc_child_init(apr_pool_t *pchild, server_rec *s);

/** register_hooks: publishes ap_memcache_client / ap_memcache_serverhash as APR
 *  optional functions, for modules that must not depend on this one being loaded. */
void mmc_register_optional_functions(void);

/** Logs one line the engine reports (level: an APLOG_* level) for s, prefix first. An
 *  AP_MEMCACHE_* status, which httpd's log cannot describe, is written out in words
 *  after the message instead of as a number. */
void mmc_log_engine_line(const server_rec *s, int level, apr_status_t status,
                         const char *prefix, const char *msg);

#endif
