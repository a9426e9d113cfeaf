/*
 * session_store.h - a mod_session store in memcached: SessionMemcache and
 * SessionMemcacheCookieName (docs/directives.md, "Sessions").
 *
 * The browser's cookie holds only a random 128-bit id; the session's encoded data is
 * the value of session:<id>, stored through the per-host client (ap_memcache_client),
 * so its timeouts, sealing and any server failover apply to sessions as to any value.
 */
#ifndef MMC_MODULE_SESSION_STORE_H
#define MMC_MODULE_SESSION_STORE_H

#include "httpd.h"
#include "http_config.h"

/** The per-directory part of the configuration that belongs to the session store; one
 *  member of mmc_dir_conf (dir_config.h). */
typedef struct {
    int enabled;              /* SessionMemcache: 1 on, 0 off, MMC_UNSET unless given */
    const char *cookie_name;  /* SessionMemcacheCookieName: NULL unless given */
    const char *cookie_attrs; /* its attributes: NULL unless given */
} mmc_session_dir_conf;

/** The defaults used when nothing is given. */
#define MMC_SESSION_COOKIE_NAME "session"
#define MMC_SESSION_COOKIE_ATTRS "HttpOnly;Secure;SameSite=Lax;Path=/"

/** Fills conf with "not given here". */
void mmc_session_dir_init(mmc_session_dir_conf *conf);
/** conf = add merged over base: what add gives wins. */
void mmc_session_dir_merge(mmc_session_dir_conf *conf, const mmc_session_dir_conf *base,
                           const mmc_session_dir_conf *add);

const char *mmc_session_cmd_enable(cmd_parms *cmd, void *dconf, const char *arg);
const char *mmc_session_cmd_cookie_name(cmd_parms *cmd, void *dconf, const char *name,
                                        const char *attrs);

/** The directives, as one entry list of the module's command table. */
#define MMC_SESSION_COMMANDS                                                              \
    AP_INIT_TAKE1("SessionMemcache", mmc_session_cmd_enable, NULL, RSRC_CONF | OR_AUTHCFG, \
                  "On: keep this directory's mod_session sessions in memcached (default "  \
                  "Off)"),                                                                 \
    AP_INIT_TAKE12("SessionMemcacheCookieName", mmc_session_cmd_cookie_name, NULL,         \
                   RSRC_CONF | OR_AUTHCFG,                                                 \
                   "the name of the cookie that carries the session id, then optionally "  \
                   "its attributes (default: session HttpOnly;Secure;SameSite=Lax;Path=/)")

/** register_hooks: hooks itself into mod_session's session_load and session_save when
 *  mod_session is loaded (looked up at pre_config, so that the module loads, in any
 *  order, with or without mod_session). */
void mmc_session_register_hooks(apr_pool_t *p);

#endif
