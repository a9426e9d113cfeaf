/*
 * dir_config.h - per-directory configuration of mod_memcache: one member per feature
 * that is configured by directory, each with its own init and merge.
 */
#ifndef MMC_MODULE_DIR_CONFIG_H
#define MMC_MODULE_DIR_CONFIG_H

#include "httpd.h"
#include "http_config.h"

#include "session_store.h"

typedef struct {
    mmc_session_dir_conf session;    /* SessionMemcache* (session_store.c) */
} mmc_dir_conf;

void *mmc_create_dir_conf(apr_pool_t *p, char *dir);
void *mmc_merge_dir_conf(apr_pool_t *p, void *basev, void *addv);

/** The merged per-directory configuration of r. */
const mmc_dir_conf *mmc_get_dir_conf(const request_rec *r);

#endif
