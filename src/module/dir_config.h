/*
 * dir_config.h - per-directory configuration of mod_memcache (<Location>, <Directory>,
 * .htaccess). Each feature keeps its settings in a sub-struct of its own, with its own
 * create and merge functions, so that features do not share fields.
 */
#ifndef MMC_MODULE_DIR_CONFIG_H
#define MMC_MODULE_DIR_CONFIG_H

#include "httpd.h"
#include "http_config.h"

#include "pass_handler.h"
#include "session_store.h"

typedef struct {
    mmc_pass_conf pass;              /* SetHandler memcache-pass and MemcacheStore (pass_handler.h) */
    mmc_session_dir_conf session;    /* SessionMemcache* (session_store.c) */
} mmc_dir_conf;

void *mmc_create_dir_conf(apr_pool_t *p, char *dir);
void *mmc_merge_dir_conf(apr_pool_t *p, void *basev, void *addv);

/** The merged per-directory configuration of r. */
const mmc_dir_conf *mmc_get_dir_conf(const request_rec *r);

#endif
