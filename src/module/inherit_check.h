/*
 * inherit_check.h - a virtual host without MemcacheServer lines uses the main server's
 * client as it is: client settings it names itself have no effect, and apachectl -t
 * says so.
 */
#ifndef MMC_MODULE_INHERIT_CHECK_H
#define MMC_MODULE_INHERIT_CHECK_H

#include "httpd.h"

/** check_config hook: one warning per setting a virtual host names in vain. */
int mmc_inherit_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                             server_rec *s);

#endif
