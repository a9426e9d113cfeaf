/*
 * session_store.c - mod_session's sessions kept in memcached.
 *
 * The cookie carries only a 128-bit id from the system's random source, as 32 lowercase
 * hex digits; the session's encoded data is stored at session:<id> through the host's
 * client, with memcached's expiry set from the session's. Security rules:
 * - an id that is malformed, or that memcached does not know, starts a new empty
 *   session, and nothing is stored for it: ids are only ever made here;
 * - when the session's user changes (login, or another user), the data moves to a new
 *   id and the old item is deleted, so an id planted before login is worthless after;
 * - a session left empty (logout) deletes its item and its cookie.
 * A server that fails or times out gives an empty session (the request goes on logged
 * out) and a warning at most once a minute; nothing here fails a request. Under
 * MemcacheReplicas, a save or delete that failed, or whose primary came back empty, is
 * read back once, since its replicas may have taken it (replicas_hold).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_DEFAULT */
#endif
#include "session_store.h"
#include "client.h"
#include "dir_config.h"
#include "mod_memcache.h"
#include "server_spec.h"

#include "http_log.h"
#include "mod_session.h"
#include "util_cookies.h"

#include "apr_atomic.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include <dlfcn.h>
#include <string.h>
#include <strings.h>

APLOG_USE_MODULE(memcache);

#define ID_BYTES 16
#define ID_CHARS (2 * ID_BYTES)
#define KEY_PREFIX "session:"
/* mod_session's encoding adds the expiry as an entry of its own. */
#define EXPIRY_ENTRY "expiry"
/* memcached reads a relative expiry above 30 days as a unix time. */
#define RELATIVE_EXPIRY_MAX (30 * 24 * 3600)
#define REPORT_INTERVAL_S 60

/* ---- configuration ------------------------------------------------------------ */

void mmc_session_dir_init(mmc_session_dir_conf *conf)
{
    conf->enabled = MMC_UNSET;
    conf->cookie_name = NULL;
    conf->cookie_attrs = NULL;
}

void mmc_session_dir_merge(mmc_session_dir_conf *conf, const mmc_session_dir_conf *base,
                           const mmc_session_dir_conf *add)
{
    conf->enabled = add->enabled != MMC_UNSET ? add->enabled : base->enabled;
    if (add->cookie_name) {
        conf->cookie_name = add->cookie_name;
        conf->cookie_attrs = add->cookie_attrs;
    }
    else {
        conf->cookie_name = base->cookie_name;
        conf->cookie_attrs = base->cookie_attrs;
    }
}

const char *mmc_session_cmd_enable(cmd_parms *cmd, void *dconf, const char *arg)
{
    mmc_session_dir_conf *conf = &((mmc_dir_conf *)dconf)->session;

    if (strcasecmp(arg, "on") == 0) {
        /* Checked here so that `apachectl -t` says what is missing. */
        if (ap_find_linked_module("mod_session.c") == NULL) {
            return apr_psprintf(cmd->pool, "%s: '%s': mod_session is not loaded (LoadModule "
                                "session_module before this line)", cmd->cmd->name, arg);
        }
        conf->enabled = 1;
    }
    else if (strcasecmp(arg, "off") == 0) {
        conf->enabled = 0;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s': expected On or Off", cmd->cmd->name, arg);
    }
    return NULL;
}

/* RFC 6265's cookie-name is a token: visible ASCII but separators. */
static int is_cookie_name(const char *s)
{
    if (*s == '\0') {
        return 0;
    }
    for (; *s; ++s) {
        if (*s <= 0x20 || *s >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", *s)) {
            return 0;
        }
    }
    return 1;
}

/* Attributes go into the Set-Cookie line as they are: visible ASCII and spaces, no
 * comma (which would split the header for some clients). */
static int is_cookie_attrs(const char *s)
{
    for (; *s; ++s) {
        if (*s < 0x20 || *s >= 0x7f || *s == ',') {
            return 0;
        }
    }
    return 1;
}

const char *mmc_session_cmd_cookie_name(cmd_parms *cmd, void *dconf, const char *name,
                                        const char *attrs)
{
    mmc_session_dir_conf *conf = &((mmc_dir_conf *)dconf)->session;

    if (!is_cookie_name(name)) {
        return apr_psprintf(cmd->pool, "%s: '%s': expected a cookie name (letters, digits "
                            "and !#$%%&'*+-.^_`|~)", cmd->cmd->name, name);
    }
    if (attrs && (*attrs == '\0' || !is_cookie_attrs(attrs))) {
        return apr_psprintf(cmd->pool, "%s: '%s': expected cookie attributes separated by "
                            "';', such as %s (no commas or control characters)",
                            cmd->cmd->name, attrs, MMC_SESSION_COOKIE_ATTRS);
    }
    conf->cookie_name = name;
    conf->cookie_attrs = attrs ? attrs : MMC_SESSION_COOKIE_ATTRS;
    return NULL;
}

/* ---- per request ---------------------------------------------------------------- */

/* What a request knows of its session, kept with the outermost request (internal
 * redirects share its pool, subrequests point at it) so that memcached is asked once. */
typedef struct {
    session_rec *z;
    char id[ID_CHARS + 1];    /* "" when the session has no id (yet) */
    const char *loaded;       /* the data as read, NULL for a new session */
} session_state;

typedef struct {
    const char *name;
    const char *attrs;
} cookie_conf;

static const mmc_session_dir_conf *session_conf(const request_rec *r, cookie_conf *cookie)
{
    const mmc_dir_conf *dconf = mmc_get_dir_conf(r);

    if (dconf == NULL || dconf->session.enabled != 1) {
        return NULL;
    }
    cookie->name = dconf->session.cookie_name ? dconf->session.cookie_name
                                              : MMC_SESSION_COOKIE_NAME;
    cookie->attrs = dconf->session.cookie_attrs ? dconf->session.cookie_attrs
                                                : MMC_SESSION_COOKIE_ATTRS;
    return &dconf->session;
}

static request_rec *outermost(request_rec *r)
{
    while (r->main) {
        r = r->main;
    }
    return r;
}

static const char *state_key(request_rec *top, const cookie_conf *cookie)
{
    return apr_pstrcat(top->pool, "mod_memcache-session:", cookie->name, NULL);
}

static int is_id(const char *s)
{
    int i;

    for (i = 0; i < ID_CHARS; ++i) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return s[ID_CHARS] == '\0';
}

static const char *item_key(apr_pool_t *p, const char *id)
{
    return apr_pstrcat(p, KEY_PREFIX, id, NULL);
}

static apr_uint32_t last_report_s;
static apr_uint32_t unreported;

/* A warning at most once a minute per process, with the number of failures it did not
 * report; uses the request's time, so no clock is read. */
static void report_failure(request_rec *r, apr_status_t rv, const char *what)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(r->request_time);
    apr_uint32_t last = apr_atomic_read32(&last_report_s);
    apr_uint32_t more;

    if ((last != 0 && now - last < REPORT_INTERVAL_S)
        || apr_atomic_cas32(&last_report_s, now, last) != last) {
        apr_atomic_inc32(&unreported);
        return;
    }
    more = apr_atomic_xchg32(&unreported, 0);
    mmc_log_engine_line(r->server, APLOG_WARNING, rv, "SessionMemcache: ",
                        apr_psprintf(r->pool, "cannot %s for %s; the request goes on "
                                     "without its session%s", what,
                                     ap_escape_logitem(r->pool, r->uri),
                                     more ? apr_psprintf(r->pool, " (and %u more failure(s) "
                                                         "since the last report)", more)
                                          : ""));
}

static apr_status_t session_memcache_load(request_rec *r, session_rec **z)
{
    cookie_conf cookie;
    request_rec *top;
    const char *key;
    session_state *st = NULL;
    session_rec *zz;
    const char *id = NULL;

    if (session_conf(r, &cookie) == NULL) {
        return DECLINED;
    }
    top = outermost(r);
    key = state_key(top, &cookie);
    apr_pool_userdata_get((void **)&st, key, top->pool);
    if (st) {
        *z = st->z;
        return OK;
    }

    st = apr_pcalloc(top->pool, sizeof *st);
    zz = apr_pcalloc(top->pool, sizeof *zz);
    zz->pool = top->pool;
    zz->entries = apr_table_make(top->pool, 10);
    st->z = zz;

    /* Removed from the request: the id is kept from backends and CGI scripts. */
    if (ap_cookie_read(r, cookie.name, &id, 1) == APR_SUCCESS && id && is_id(id)) {
        apr_memcache_t *mc = ap_memcache_client(r->server);
        char *data = NULL;
        apr_size_t len = 0;
        apr_status_t rv;

        if (mc == NULL) {
            report_failure(r, AP_MEMCACHE_ENOSERVER, "load the session (no MemcacheServer "
                           "for this host)");
        }
        else if ((rv = ap_memcache_getp(mc, top->pool, item_key(r->pool, id), &data, &len,
                                        NULL)) == APR_SUCCESS) {
            if (len > 0 && memchr(data, '\0', len) == NULL) {
                memcpy(st->id, id, ID_CHARS + 1);
                st->loaded = data;
                zz->encoded = data;
            }
        }
        else if (rv != APR_NOTFOUND) {
            report_failure(r, rv, "load the session");
        }
    }
    apr_pool_userdata_setn(st, key, NULL, top->pool);
    *z = zz;
    return OK;
}

static int is_user_entry(const char *key)
{
    apr_size_t len = strlen(key);

    return strcmp(key, MOD_SESSION_USER) == 0
           || (len > sizeof "-" MOD_SESSION_USER - 1
               && strcmp(key + len - (sizeof "-" MOD_SESSION_USER - 1),
                         "-" MOD_SESSION_USER) == 0);
}

/* The user entries ("user", "<realm>-user") of data in mod_session's encoding. */
static apr_table_t *loaded_users(apr_pool_t *p, const char *data)
{
    apr_table_t *users = apr_table_make(p, 2);
    char *copy = apr_pstrdup(p, data ? data : "");
    char *last = NULL;
    char *pair;

    for (pair = apr_strtok(copy, "&", &last); pair; pair = apr_strtok(NULL, "&", &last)) {
        char *eq = strchr(pair, '=');

        if (eq == NULL) {
            continue;
        }
        *eq = '\0';
        if (ap_unescape_urlencoded(pair) == OK && ap_unescape_urlencoded(eq + 1) == OK
            && is_user_entry(pair) && eq[1] != '\0') {
            apr_table_set(users, pair, eq + 1);
        }
    }
    return users;
}

typedef struct {
    apr_table_t *other;
    int differs;
} user_compare;

static int user_missing_or_other(void *v, const char *key, const char *val)
{
    user_compare *c = v;
    const char *other;

    if (!is_user_entry(key) || val == NULL || *val == '\0') {
        return 1;
    }
    other = apr_table_get(c->other, key);
    if (other == NULL || strcmp(other, val) != 0) {
        c->differs = 1;
        return 0;
    }
    return 1;
}

static int user_changed(apr_pool_t *p, const char *loaded, apr_table_t *entries)
{
    user_compare c;
    apr_table_t *before = loaded_users(p, loaded);

    c.other = entries;
    c.differs = 0;
    apr_table_do(user_missing_or_other, &c, before, NULL);
    if (!c.differs) {
        c.other = before;
        apr_table_do(user_missing_or_other, &c, entries, NULL);
    }
    return c.differs;
}

static int has_entry(void *v, const char *key, const char *val)
{
    if (strcmp(key, EXPIRY_ENTRY) != 0 && val && *val) {
        *(int *)v = 1;
        return 0;
    }
    return 1;
}

static int is_empty(const session_rec *z)
{
    int found = 0;

    if (z->entries) {
        apr_table_do(has_entry, &found, z->entries, NULL);
    }
    return !found;
}

static apr_status_t new_id(char id[ID_CHARS + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char bytes[ID_BYTES];
    apr_status_t rv = apr_generate_random_bytes(bytes, sizeof bytes);
    int i;

    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < ID_BYTES; ++i) {
        id[2 * i] = hex[bytes[i] >> 4];
        id[2 * i + 1] = hex[bytes[i] & 0x0f];
    }
    id[ID_CHARS] = '\0';
    memset(bytes, 0, sizeof bytes);
    return APR_SUCCESS;
}

/* memcached's expiry for the session's: seconds from now, a unix time past 30 days,
 * 0 (until evicted) for a session without one. */
static apr_uint32_t item_expiry(const session_rec *z)
{
    apr_time_t left;
    apr_int64_t s;

    if (z->expiry <= 0) {
        return 0;
    }
    left = z->expiry - apr_time_now();
    s = left <= 0 ? 1 : (left + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC;
    if (s > RELATIVE_EXPIRY_MAX) {
        return (apr_uint32_t)(apr_time_sec(z->expiry) + 1);
    }
    return (apr_uint32_t)s;
}

/* Under MemcacheReplicas a write's status is its first server's that answered: a
 * primary that came back empty answers NOT_STORED to a replace, and a write may fail on
 * one server and be done on another, although the call says it failed. What the item is now
 * is read back, at the cost of one get after such a write only: the read skips a server
 * now known dead, or goes on to the replicas after the primary's failure or miss.
 * Nothing is written again, so an item deleted meanwhile stays deleted. */
typedef enum {
    ITEM_IS_GONE,   /* after a delete */
    ITEM_EXISTS,    /* after a replace: the session goes on (another request of it may
                     * have stored its own data since: the last save wins) */
    ITEM_IS_DATA    /* after the add of a new id, which no other request knows */
} item_check;

static int replicas_hold(request_rec *r, apr_memcache_t *mc, const char *key,
                         item_check check, const char *data)
{
    char *got = NULL;
    apr_size_t len = 0;
    apr_status_t rv;

    if (mc->replicas == 0) {
        return 0;
    }
    rv = ap_memcache_getp(mc, r->pool, key, &got, &len, NULL);
    switch (check) {
    case ITEM_IS_GONE:
        return rv == APR_NOTFOUND;
    case ITEM_EXISTS:
        return rv == APR_SUCCESS;
    default:
        return rv == APR_SUCCESS && len == strlen(data) && memcmp(got, data, len) == 0;
    }
}

static void forget(request_rec *r, apr_memcache_t *mc, session_state *st)
{
    const char *key = item_key(r->pool, st->id);
    apr_status_t rv = ap_memcache_delete(mc, key, 0);

    if (rv != APR_SUCCESS && rv != APR_NOTFOUND && !replicas_hold(r, mc, key, ITEM_IS_GONE, NULL)) {
        report_failure(r, rv, "delete a session");
    }
    st->id[0] = '\0';
    st->loaded = NULL;
}

static apr_status_t session_memcache_save(request_rec *r, session_rec *z)
{
    cookie_conf cookie;
    request_rec *top;
    session_state *st = NULL;
    apr_memcache_t *mc;
    apr_status_t rv;
    const char *key;
    const char *data;
    int created;

    if (session_conf(r, &cookie) == NULL) {
        return DECLINED;
    }
    top = outermost(r);
    apr_pool_userdata_get((void **)&st, state_key(top, &cookie), top->pool);
    if (st == NULL || st->z != z) {
        /* Not a session this store loaded: it has no id of ours. */
        st = apr_pcalloc(r->pool, sizeof *st);
        st->z = z;
    }
    mc = ap_memcache_client(r->server);
    if (mc == NULL) {
        report_failure(r, AP_MEMCACHE_ENOSERVER, "save the session (no MemcacheServer for "
                       "this host)");
        return OK;
    }

    if (is_empty(z)) {
        if (st->id[0]) {
            forget(r, mc, st);
            ap_cookie_remove(r, cookie.name, cookie.attrs, r->err_headers_out, NULL);
        }
        return OK;
    }
    if (st->id[0] && z->dirty && user_changed(r->pool, st->loaded, z->entries)) {
        forget(r, mc, st);
    }

    created = st->id[0] == '\0';
    if (created && (rv = new_id(st->id)) != APR_SUCCESS) {
        st->id[0] = '\0';
        report_failure(r, rv, "make a session id");
        return OK;
    }
    /* A new id is added, so it cannot overwrite anything; a known one is replaced, so a
     * request that loaded the session before a logout (or its expiry) elsewhere cannot
     * bring it back. */
    key = item_key(r->pool, st->id);
    data = z->encoded ? z->encoded : "";
    rv = (created ? ap_memcache_add : ap_memcache_replace)(mc, key, (char *)data, strlen(data),
                                                          item_expiry(z), 0);
    if (rv != APR_SUCCESS && replicas_hold(r, mc, key, created ? ITEM_IS_DATA : ITEM_EXISTS, data)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, "SessionMemcache: session %.8s... "
                      "stored on its replica(s); its primary did not take it", st->id);
        rv = APR_SUCCESS;
    }
    if (rv == APR_EEXIST && !created) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "SessionMemcache: session %.8s... "
                      "ended while this request ran; not stored", st->id);
        st->id[0] = '\0';
        ap_cookie_remove(r, cookie.name, cookie.attrs, r->err_headers_out, NULL);
        return OK;
    }
    if (rv != APR_SUCCESS) {
        if (created) {
            st->id[0] = '\0';
        }
        report_failure(r, rv, "save the session");
        return OK;
    }
    st->loaded = z->encoded;
    ap_cookie_write(r, cookie.name, st->id, cookie.attrs, z->maxage, r->err_headers_out,
                    NULL);
    return OK;
}

/* ---- hooks ---------------------------------------------------------------------- */

typedef void register_load_fn(ap_HOOK_session_load_t *pf, const char *const *pre,
                              const char *const *succ, int order);
typedef void register_save_fn(ap_HOOK_session_save_t *pf, const char *const *pre,
                              const char *const *succ, int order);

/* mod_session's hooks are plain (not optional) ones: linking to them would stop this
 * module from loading without mod_session, or before it. They are looked up once every
 * module is loaded; pre_config's hooks are sorted again after the configuration is
 * read, so these take their place as if registered with the others. */
static int session_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    register_load_fn *hook_load;
    register_save_fn *hook_save;
    void *sym;

    (void)pconf;
    (void)plog;
    (void)ptemp;
    sym = dlsym(RTLD_DEFAULT, "ap_hook_session_load");
    memcpy(&hook_load, &sym, sizeof hook_load);
    sym = dlsym(RTLD_DEFAULT, "ap_hook_session_save");
    memcpy(&hook_save, &sym, sizeof hook_save);
    if (hook_load && hook_save) {
        hook_load(session_memcache_load, NULL, NULL, APR_HOOK_MIDDLE);
        hook_save(session_memcache_save, NULL, NULL, APR_HOOK_MIDDLE);
    }
    return OK;
}

void mmc_session_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_pre_config(session_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
}
