/*
 * metrics.h - the memcache-metrics handler (Prometheus) and the hooks that keep every
 * child's figures in shared memory (metrics_shm.h).
 */
#ifndef MMC_MODULE_METRICS_H
#define MMC_MODULE_METRICS_H

/** register_hooks: post_config, child_init, the handler, and the per-request flush. */
void mmc_metrics_register_hooks(void);

#include "httpd.h"

/** mod_status: the summed figures per client and server (HTML with a latency chart per
 *  server, or Key: value lines for ?auto). */
void mmc_metrics_status(request_rec *r, int short_report);

#endif
