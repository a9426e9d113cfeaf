/*
 * pass_handler.h - serving pages from memcached: the memcache-pass handler, the
 * page's key, and the per-directory settings of the handler and of the MEMCACHE_STORE
 * filter (store_filter.h) (docs/directives.md, "Serving pages from memcached").
 */
#ifndef MMC_MODULE_PASS_HANDLER_H
#define MMC_MODULE_PASS_HANDLER_H

#include "httpd.h"
#include "http_config.h"
#include "ap_expr.h"

/* The name of the handler, for SetHandler. */
#define MMC_PASS_HANDLER "memcache-pass"

/* What a miss, a dead server or a timeout gives (MemcachePassMiss). */
#define MMC_PASS_MISS_NEXT 0   /* DECLINED, or MemcachePassFallback's redirect */
#define MMC_PASS_MISS_404  404

/* Settings of one directory; each field unset (NULL / MMC_UNSET) unless given here, and
 * merged field by field. */
typedef struct {
    ap_expr_info_t *key;          /* MemcachePassKey; NULL: nginx's "$uri?$args" */
    const char *type;             /* MemcachePassType; NULL: mod_mime's, else text/html */
    apr_int64_t gzip_flag;        /* MemcachePassGzipFlag; 0: off */
    apr_int64_t header_flag;      /* MemcachePassHeaderFlag; 0: no envelope */
    int miss;                     /* MemcachePassMiss: MMC_PASS_MISS_* */
    ap_expr_info_t *fallback;     /* MemcachePassFallback; NULL: DECLINED */
    int fallback_set;             /* MemcachePassFallback given here ("none" clears) */
    int store;                    /* MemcacheStore on|off */
    apr_int64_t store_ttl_s;      /* MemcacheStoreTTL, seconds */
    apr_int64_t store_max;        /* MemcacheStoreMaxSize, bytes */
} mmc_pass_conf;

void mmc_pass_conf_init(mmc_pass_conf *conf);
void mmc_pass_conf_merge(mmc_pass_conf *conf, const mmc_pass_conf *base,
                         const mmc_pass_conf *add);

const char *mmc_cmd_pass_key(cmd_parms *cmd, void *dconf, const char *arg);
const char *mmc_cmd_pass_type(cmd_parms *cmd, void *dconf, const char *arg);
const char *mmc_cmd_pass_flag(cmd_parms *cmd, void *dconf, const char *arg);
const char *mmc_cmd_pass_miss(cmd_parms *cmd, void *dconf, const char *arg);
const char *mmc_cmd_pass_fallback(cmd_parms *cmd, void *dconf, const char *arg);
const char *mmc_cmd_store(cmd_parms *cmd, void *dconf, int flag);
const char *mmc_cmd_store_ttl(cmd_parms *cmd, void *dconf, const char *arg);
const char *mmc_cmd_store_max_size(cmd_parms *cmd, void *dconf, const char *arg);

/* The directives, for memcache_cmds in mod_memcache.c. */
#define MMC_PASS_COMMANDS                                                                  \
    AP_INIT_TAKE1("MemcachePassKey", mmc_cmd_pass_key, NULL, OR_FILEINFO,                 \
                  "ap_expr string: the key of the page (default: nginx's \"$uri?$args\")"), \
    AP_INIT_TAKE1("MemcachePassType", mmc_cmd_pass_type, NULL, OR_FILEINFO,               \
                  "Content-Type of the pages served (default: mod_mime's, "  \
                  "else text/html)"),                \
    AP_INIT_TAKE1("MemcachePassGzipFlag", mmc_cmd_pass_flag,                              \
                  (void *)APR_OFFSETOF(mmc_pass_conf, gzip_flag), OR_FILEINFO,            \
                  "item flags value: a page whose flags have these bits is gzip "         \
                  "(default 0: none)"),                                                   \
    AP_INIT_TAKE1("MemcachePassHeaderFlag", mmc_cmd_pass_flag,                            \
                  (void *)APR_OFFSETOF(mmc_pass_conf, header_flag), OR_FILEINFO,          \
                  "item flags value: a page whose flags have these bits starts with "    \
                  "header lines (default 0: none)"),                                      \
    AP_INIT_TAKE1("MemcachePassMiss", mmc_cmd_pass_miss, NULL, OR_FILEINFO,               \
                  "next (default: the next handler, or MemcachePassFallback) or 404"),    \
    AP_INIT_TAKE1("MemcachePassFallback", mmc_cmd_pass_fallback, NULL, OR_FILEINFO,       \
                  "ap_expr string: URL a miss is internally redirected to, the query "   \
                  "string kept (default none: the next handler)"),                        \
    AP_INIT_FLAG("MemcacheStore", mmc_cmd_store, NULL, OR_FILEINFO,                       \
                 "on: store 200 responses' bodies in memcached under the page's key "    \
                 "(default off)"),                                                        \
    AP_INIT_TAKE1("MemcacheStoreTTL", mmc_cmd_store_ttl, NULL, OR_FILEINFO,               \
                  "expiry of stored pages: 60, 500ms, 2min, 1h (default 60s)"),          \
    AP_INIT_TAKE1("MemcacheStoreMaxSize", mmc_cmd_store_max_size, NULL, OR_FILEINFO,      \
                  "largest body stored: bytes, or with unit k or m (default 1m)")

/** The key of r's page under conf (nginx's escaping; hashed when still not a memcached
 *  key), from r's pool; NULL, logged, when MemcachePassKey's expression fails. */
const char *mmc_pass_page_key(request_rec *r, const mmc_pass_conf *conf);

/** register_hooks: the handler, and the store filter's hooks (store_filter.h). */
void mmc_pass_register_hooks(apr_pool_t *p);

#endif
