/*
 * tls_check.h - the MemcacheTLS* settings of a context as the C API's TLS options, and
 * their check against every tls=on line while the configuration is tested.
 */
#ifndef MMC_MODULE_TLS_CHECK_H
#define MMC_MODULE_TLS_CHECK_H

#include "httpd.h"

#include "config.h"

/** The TLS options of the line spec in conf's context: the line's tls-name=, the
 *  context's MemcacheTLS* settings, defaults for the rest. */
void mmc_tls_options(const mmc_server_conf *conf, const mmc_server_spec *spec,
                     ap_memcache_tls_options_t *o);

/** Checks the TLS settings of conf for the tls=on line spec with
 *  ap_memcache_tls_check() (the C API's own rules, files loaded). NULL when they pass;
 *  otherwise a message from p naming the line, the directive at fault, the file or
 *  value, and the directive to set where one would settle it. */
const char *mmc_tls_check_line(apr_pool_t *p, const mmc_server_conf *conf,
                               const mmc_server_spec *spec);

/** check_config: every tls=on line of every context, with the context's settings after
 *  the merge, so that `apachectl -t` fails on a setting the start would refuse. */
int mmc_tls_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                         server_rec *s);

#endif
