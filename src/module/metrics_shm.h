/*
 * metrics_shm.h - every child's per-server metrics, summed: one slot per child process
 * in a shared memory segment made in post_config (docs/operations.md).
 */
#ifndef MMC_MODULE_METRICS_SHM_H
#define MMC_MODULE_METRICS_SHM_H

#include "httpd.h"
#include "ap_socache.h"

#include "ap_memcache.h"

/** One client's server, as the metrics name it. */
typedef struct {
    const char *client;   /* the virtual host ("server_hostname:port") or the socache
                             instance ("mcpool:<consumer>") */
    const char *server;   /* the address as written */
    server_rec *s;        /* whose client it is, or NULL: */
    const ap_socache_instance_t *inst;  /* the socache instance's own server list */
} mmc_metrics_entry;

/** post_config: lays out the entries and makes (or keeps, across a restart with the
 *  same layout) the segment. */
int mmc_metrics_post_config(apr_pool_t *pconf, server_rec *s);

/** child_init: claims a slot for this child and flushes into it at exit. */
void mmc_metrics_child_init(apr_pool_t *pchild, server_rec *s);

/** Writes this child's figures into its slot (cheap: no lock, no system call). */
void mmc_metrics_flush(void);

/** The entries, and their figures summed over every slot (the current and past
 *  children of this segment). NULL / 0 without a segment. `sums` is allocated from p. */
int mmc_metrics_sum(apr_pool_t *p, const mmc_metrics_entry **entries,
                    ap_memcache_server_metrics_t **sums);

#endif
