/*
 * socache_mcpool.c - the "mcpool" socache provider (ap_socache.h) on the engine.
 *
 * Lifecycle: create (directive or post_config, in the parent) parses the argument;
 * init (post_config, in the parent) checks it and fixes the key tag; neither opens a
 * connection nor starts a thread. Connections belong to the child processes: an
 * instance without its own list uses the per-child client of ap_memcache_client(s),
 * one with "mcpool:host:port,..." gets its own client, built in child_init from the
 * list of instances this configuration created. Every instance lives in the
 * configuration pool, so a graceful restart drops them with the old configuration.
 */
#include "socache_mcpool.h"
#include "config.h"
#include "socache_codec.h"

#include "ap_mpm.h"
#include "ap_provider.h"
#include "ap_socache.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "mod_status.h"

#include "apr_optional_hooks.h"

#include "apr_atomic.h"
#include "apr_strings.h"

#include <string.h>

APLOG_USE_MODULE(memcache);

#define PROVIDER_NAME "mcpool"
/* A run of failures is reported once per this many seconds per instance and process;
 * the rest go to debug. A memcached outage must not flood the error log. */
#define WARN_INTERVAL_S 10

struct ap_socache_instance_t {
    const char *arg;               /* as configured, for messages; NULL: no list */
    apr_array_header_t *servers;   /* mmc_server_spec; NULL: the client of server s */
    server_rec *s;                 /* given to init */
    const char *cname;
    char *tag;                     /* [prefix]cname":" */
    apr_size_t taglen;
    /* In each child: the client of an own server list. */
    apr_memcache_t *client;
    apr_hash_t *serverhash;
    /* This process's figures for the status page (atomics: threads share them). */
    apr_uint32_t hits;
    apr_uint32_t misses;
    apr_uint32_t stores;
    apr_uint32_t errors;
    apr_uint32_t foreign;          /* hashed key holding another id's entry */
    apr_uint32_t last_warning_s;
    ap_socache_instance_t *next;   /* the instances of this configuration */
};

/* The instances the current configuration created; rebuilt with each configuration
 * (entries remove themselves when their pool is cleared). */
static ap_socache_instance_t *instances;

static apr_status_t forget_instance(void *data)
{
    ap_socache_instance_t **at;

    for (at = &instances; *at; at = &(*at)->next) {
        if (*at == data) {
            *at = (*at)->next;
            break;
        }
    }
    return APR_SUCCESS;
}

/* "host" and "[v6]" get mod_socache_memcache's default port; a bare IPv6 address gets
 * brackets. Everything else is for the MemcacheServer parser to judge. */
static const char *with_port(apr_pool_t *p, const char *item)
{
    const char *colon = strchr(item, ':');

    if (*item == '/' || *item == '\0') {
        return item;
    }
    if (*item == '[') {
        return item[strlen(item) - 1] == ']' ? apr_pstrcat(p, item, ":11211", NULL) : item;
    }
    if (colon == NULL) {
        return apr_pstrcat(p, item, ":11211", NULL);
    }
    if (strchr(colon + 1, ':') != NULL) {
        return apr_pstrcat(p, "[", item, "]:11211", NULL);
    }
    return item;
}

static const char *parse_server_list(apr_pool_t *p, ap_socache_instance_t *inst)
{
    char *list = apr_pstrdup(p, inst->arg);
    char *state = NULL;
    char *item;

    inst->servers = apr_array_make(p, 2, sizeof(mmc_server_spec));
    /* Empty items are errors (apr_strtok would skip them silently). */
    if (*list == ',' || list[strlen(list) - 1] == ',' || strstr(list, ",,")) {
        return apr_psprintf(p, PROVIDER_NAME ": empty server in '%s'", inst->arg);
    }
    for (item = apr_strtok(list, ",", &state); item; item = apr_strtok(NULL, ",", &state)) {
        char *argv[1];
        mmc_server_spec spec;
        const char *err;
        int i;

        argv[0] = (char *)with_port(p, item);
        err = mmc_server_spec_parse(p, PROVIDER_NAME, 1, argv, &spec);
        if (err) {
            return err;
        }
        for (i = 0; i < inst->servers->nelts; ++i) {
            if (mmc_server_spec_same_server(&APR_ARRAY_IDX(inst->servers, i, mmc_server_spec),
                                            &spec)) {
                return apr_psprintf(p, PROVIDER_NAME ": '%s' is listed twice", item);
            }
        }
        APR_ARRAY_PUSH(inst->servers, mmc_server_spec) = spec;
    }
    return NULL;
}

static const char *mcpool_create(ap_socache_instance_t **instance, const char *arg,
                                 apr_pool_t *tmp, apr_pool_t *p)
{
    ap_socache_instance_t *inst = apr_pcalloc(p, sizeof *inst);
    const char *err;

    (void)tmp;
    *instance = inst;
    if (arg && *arg) {
        inst->arg = apr_pstrdup(p, arg);
        err = parse_server_list(p, inst);
        if (err) {
            return err;
        }
    }
    inst->next = instances;
    instances = inst;
    apr_pool_cleanup_register(p, inst, forget_instance, apr_pool_cleanup_null);
    return NULL;
}

static const char *no_servers_message(void)
{
    return PROVIDER_NAME ": no memcached servers: '" PROVIDER_NAME "' without a list uses "
           "the MemcacheServer lines of the main server and there are none; add "
           "MemcacheServer lines or write " PROVIDER_NAME ":host:port[,host:port...]";
}

static int mpm_threads(void)
{
    int threads = 0;

    if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS || threads < 1) {
        threads = 1;
    }
    return threads;
}

static apr_status_t mcpool_init(ap_socache_instance_t *inst, const char *cname,
                                const struct ap_socache_hints *hints, server_rec *s,
                                apr_pool_t *p)
{
    const mmc_server_conf *conf = mmc_get_server_conf(s);
    const char *prefix = conf->socache_prefix ? conf->socache_prefix : "";
    const char *err;
    int threads = mpm_threads();
    int i;

    (void)hints;
    if (inst->servers == NULL && conf->servers == NULL) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "%s", no_servers_message());
        return APR_EINVAL;
    }
    err = mmc_socache_check_key_part(p, "socache consumer name", cname);
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, PROVIDER_NAME ": %s", err);
        return APR_EINVAL;
    }
    inst->s = s;
    inst->cname = apr_pstrdup(p, cname);
    inst->tag = apr_pstrcat(p, prefix, cname, ":", NULL);
    inst->taglen = strlen(inst->tag);
    /* A hashed key is the tag, '#' and 40 hex digits. */
    if (inst->taglen + 41 > MMC_SOCACHE_KEY_MAX) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, PROVIDER_NAME ": key prefix '%s' is too "
                     "long for memcached keys", inst->tag);
        return APR_EINVAL;
    }
    if (inst->servers) {
        for (i = 0; i < inst->servers->nelts; ++i) {
            mmc_server_spec *spec = &APR_ARRAY_IDX(inst->servers, i, mmc_server_spec);

            spec->limits = mmc_server_spec_resolve(spec, threads);
        }
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, PROVIDER_NAME " for %s: keys '%s...', "
                 "servers %s", cname, inst->tag,
                 inst->arg ? inst->arg : "of MemcacheServer");
    return APR_SUCCESS;
}

static void mcpool_destroy(ap_socache_instance_t *inst, server_rec *s)
{
    /* Everything belongs to the configuration pool (the instance) or to the child's
     * pool (its client and connections), and goes with them. */
    (void)inst;
    (void)s;
}

static apr_memcache_t *instance_client(const ap_socache_instance_t *inst)
{
    return inst->servers ? inst->client : ap_memcache_client(inst->s);
}

static void count(apr_uint32_t *counter)
{
    apr_atomic_inc32(counter);
}

/* Failures are the engine's to handle (deadlines, dead servers); here they are only
 * reported, at most once per WARN_INTERVAL_S, below error level. */
static void report_failure(ap_socache_instance_t *inst, server_rec *s, apr_status_t rv,
                           const char *what)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    apr_uint32_t last = apr_atomic_read32(&inst->last_warning_s);
    char buf[120];
    int level = APLOG_DEBUG;

    count(&inst->errors);
    if (now - last >= WARN_INTERVAL_S
        && apr_atomic_cas32(&inst->last_warning_s, now, last) == last) {
        level = APLOG_WARNING;
    }
    ap_log_error(APLOG_MARK, level, 0, s, PROVIDER_NAME " %s: %s failed: %s (further failures "
                 "within %d s are logged at debug level)", inst->cname, what,
                 ap_memcache_strerror(rv, buf, sizeof buf), WARN_INTERVAL_S);
}

static apr_status_t mcpool_store(ap_socache_instance_t *inst, server_rec *s,
                                 const unsigned char *id, unsigned int idlen,
                                 apr_time_t expiry, unsigned char *data,
                                 unsigned int datalen, apr_pool_t *pool)
{
    apr_memcache_t *mc = instance_client(inst);
    char key[MMC_SOCACHE_KEY_MAX + 1];
    apr_uint32_t exptime;
    int hashed;
    apr_status_t rv;

    if (mc == NULL) {
        /* Only before child_init (the parent): no connection may be opened there. */
        return AP_MEMCACHE_ENOSERVER;
    }
    hashed = mmc_socache_key(inst->tag, inst->taglen, id, idlen, mmc_socache_sha1, key);
    if (!mmc_socache_exptime(expiry, apr_time_now(), &exptime)) {
        /* Nothing to store; an older entry of the id must not outlive this store. */
        rv = ap_memcache_delete(mc, key, 0);
        if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
            report_failure(inst, s, rv, "remove (store with a past expiry)");
        }
        return APR_EINVAL;
    }
    if (hashed) {
        apr_size_t len = mmc_socache_envelope_size(idlen, datalen);
        unsigned char *envelope = apr_palloc(pool, len);

        mmc_socache_envelope_write(envelope, id, idlen, data, datalen);
        rv = ap_memcache_store(mc, AP_MEMCACHE_SET, key, (const char *)envelope, len, exptime,
                               MMC_SOCACHE_FLAG_ENVELOPE);
    }
    else {
        rv = ap_memcache_store(mc, AP_MEMCACHE_SET, key, (const char *)data, datalen, exptime,
                               0);
    }
    if (rv != APR_SUCCESS) {
        report_failure(inst, s, rv, "store");
        return rv;
    }
    count(&inst->stores);
    return APR_SUCCESS;
}

static apr_status_t mcpool_retrieve(ap_socache_instance_t *inst, server_rec *s,
                                    const unsigned char *id, unsigned int idlen,
                                    unsigned char *dest, unsigned int *destlen,
                                    apr_pool_t *pool)
{
    apr_memcache_t *mc = instance_client(inst);
    char key[MMC_SOCACHE_KEY_MAX + 1];
    ap_memcache_item_t item;
    const unsigned char *data;
    apr_size_t len;
    int hashed;
    apr_status_t rv;

    if (mc == NULL) {
        return APR_NOTFOUND;
    }
    hashed = mmc_socache_key(inst->tag, inst->taglen, id, idlen, mmc_socache_sha1, key);
    rv = ap_memcache_gets(mc, pool, key, &item);
    if (rv == APR_NOTFOUND) {
        count(&inst->misses);
        return APR_NOTFOUND;
    }
    if (rv != APR_SUCCESS) {
        /* A dead or silent server is a miss to the consumer (a TLS handshake then goes
         * on without resumption); consumers log other statuses as errors, per request. */
        report_failure(inst, s, rv, "retrieve");
        return APR_NOTFOUND;
    }
    data = (const unsigned char *)item.data;
    len = item.len;
    if (hashed) {
        if (item.flags != MMC_SOCACHE_FLAG_ENVELOPE
            || !mmc_socache_envelope_open(data, item.len, id, idlen, &data, &len)) {
            /* Another id with the same hash, or a foreign entry: never its data. */
            count(&inst->foreign);
            count(&inst->misses);
            return APR_NOTFOUND;
        }
    }
    else if (item.flags != 0) {
        count(&inst->foreign);
        count(&inst->misses);
        return APR_NOTFOUND;
    }
    if (len > *destlen) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, PROVIDER_NAME " %s: an entry of %"
                     APR_SIZE_T_FMT " bytes does not fit the caller's %u", inst->cname, len,
                     *destlen);
        count(&inst->misses);
        return APR_ENOSPC;
    }
    memcpy(dest, data, len);
    *destlen = (unsigned int)len;
    count(&inst->hits);
    return APR_SUCCESS;
}

static apr_status_t mcpool_remove(ap_socache_instance_t *inst, server_rec *s,
                                  const unsigned char *id, unsigned int idlen,
                                  apr_pool_t *pool)
{
    apr_memcache_t *mc = instance_client(inst);
    char key[MMC_SOCACHE_KEY_MAX + 1];
    apr_status_t rv;

    (void)pool;
    if (mc == NULL) {
        return AP_MEMCACHE_ENOSERVER;
    }
    mmc_socache_key(inst->tag, inst->taglen, id, idlen, mmc_socache_sha1, key);
    rv = ap_memcache_delete(mc, key, 0);
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        report_failure(inst, s, rv, "remove");
    }
    return rv;
}

/* Local state only: the engine's view of each server and this process's counters.
 * No network call, so the status page never waits for memcached. */
static void mcpool_status(ap_socache_instance_t *inst, request_rec *r, int flags)
{
    const int short_report = (flags & AP_STATUS_SHORT) != 0;
    apr_hash_t *servers = inst->servers ? inst->serverhash : ap_memcache_serverhash(inst->s);
    apr_hash_index_t *hi;

    if (inst->cname == NULL) {
        return;  /* never initialised */
    }
    if (!short_report) {
        ap_rprintf(r, "<b>" PROVIDER_NAME " %s</b> (this process): hits %u, misses %u, "
                   "stores %u, errors %u, foreign entries %u<br />\n"
                   "<table border=\"0\"><tr><th>server</th><th>state</th><th>open</th>"
                   "<th>idle</th><th>failures</th></tr>\n",
                   ap_escape_html(r->pool, inst->cname), apr_atomic_read32(&inst->hits),
                   apr_atomic_read32(&inst->misses), apr_atomic_read32(&inst->stores),
                   apr_atomic_read32(&inst->errors), apr_atomic_read32(&inst->foreign));
    }
    else {
        ap_rprintf(r, "MCPool %s: hits=%u misses=%u stores=%u errors=%u foreign=%u\n",
                   inst->cname, apr_atomic_read32(&inst->hits),
                   apr_atomic_read32(&inst->misses), apr_atomic_read32(&inst->stores),
                   apr_atomic_read32(&inst->errors), apr_atomic_read32(&inst->foreign));
    }
    for (hi = servers ? apr_hash_first(r->pool, servers) : NULL; hi; hi = apr_hash_next(hi)) {
        const void *name;
        void *ms;
        ap_memcache_server_state_t st;

        apr_hash_this(hi, &name, NULL, &ms);
        if (ap_memcache_server_state(ms, &st) != APR_SUCCESS) {
            continue;
        }
        if (short_report) {
            ap_rprintf(r, "MCPool %s %s: %s open=%u idle=%u failures=%u\n", inst->cname,
                       (const char *)name, st.live ? "live" : "dead", st.open, st.idle,
                       st.failures);
        }
        else {
            ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%u</td><td>%u</td><td>%u</td></tr>\n",
                       ap_escape_html(r->pool, name), st.live ? "live" : "<b>dead</b>",
                       st.open, st.idle, st.failures);
        }
    }
    if (!short_report) {
        ap_rputs("</table>\n", r);
    }
}

static apr_status_t mcpool_iterate(ap_socache_instance_t *inst, server_rec *s, void *userctx,
                                   ap_socache_iterator_t *iterator, apr_pool_t *pool)
{
    /* memcached cannot list its keys cheaply, and no 2.4 consumer iterates. */
    (void)inst;
    (void)s;
    (void)userctx;
    (void)iterator;
    (void)pool;
    return APR_ENOTIMPL;
}

/* Thread-safe (flags 0): consumers take no global mutex around our calls. */
static const ap_socache_provider_t mcpool_provider = {
    PROVIDER_NAME,
    0,
    mcpool_create,
    mcpool_init,
    mcpool_destroy,
    mcpool_store,
    mcpool_retrieve,
    mcpool_remove,
    mcpool_status,
    mcpool_iterate
};

/* mod_ssl and mod_authn_socache create their instance while the configuration is read,
 * so a missing server list fails `apachectl -t` here. (mod_cache_socache creates its
 * instance in post_config; init refuses it there and httpd does not start.) */
static int mcpool_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                               server_rec *s)
{
    const ap_socache_instance_t *inst;

    (void)pconf;
    (void)ptemp;
    for (inst = instances; inst; inst = inst->next) {
        if (inst->servers == NULL && mmc_get_server_conf(s)->servers == NULL) {
            ap_log_perror(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, plog, "%s",
                          no_servers_message());
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

static void log_to_httpd(void *baton, int level, apr_status_t status, const char *msg)
{
    ap_log_error(APLOG_MARK, level & APLOG_LEVELMASK, status, (const server_rec *)baton,
                 PROVIDER_NAME ": %s", msg);
}

/* A server that cannot be created is left out and logged, as for MemcacheServer. */
static void add_own_server(apr_pool_t *pchild, ap_socache_instance_t *inst,
                           const mmc_server_spec *spec)
{
    const mmc_pool_limits *lim = &spec->limits;
    apr_memcache_server_t *ms = NULL;
    ap_memcache_server_options_t opts;
    apr_status_t rv;

    mmc_server_options(mmc_get_server_conf(inst->s), spec, &opts);
    rv = ap_memcache_server_create(pchild, spec->host, spec->port, lim->min, lim->smax,
                                   lim->max, lim->ttl_us, &ms);
    if (rv == APR_SUCCESS) {
        ap_memcache_server_set_logger(ms, log_to_httpd, inst->s);
        rv = ap_memcache_server_set_options(ms, &opts);
    }
    if (rv == APR_SUCCESS) {
        rv = ap_memcache_add_server(inst->client, ms);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, inst->s, PROVIDER_NAME " %s: cannot create "
                     "the server %s", inst->cname, spec->name);
        return;
    }
    apr_hash_set(inst->serverhash, spec->name, APR_HASH_KEY_STRING, ms);
}

static void build_own_client(apr_pool_t *pchild, ap_socache_instance_t *inst)
{
    const mmc_server_conf *conf = mmc_get_server_conf(inst->s);
    apr_status_t rv;
    int i;

    rv = ap_memcache_create(pchild, (apr_uint16_t)inst->servers->nelts, 0, &inst->client);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, inst->s, PROVIDER_NAME " %s: cannot create "
                     "its client", inst->cname);
        inst->client = NULL;
        return;
    }
    inst->serverhash = apr_hash_make(pchild);
    for (i = 0; i < inst->servers->nelts; ++i) {
        add_own_server(pchild, inst, &APR_ARRAY_IDX(inst->servers, i, mmc_server_spec));
    }
    /* After the servers: the ketama ring is built once, with all of them. */
    ap_memcache_set_distribution(inst->client, mmc_distribution(conf));
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, inst->s, PROVIDER_NAME " %s: client for %s",
                 inst->cname, inst->arg);
}

static void mcpool_child_init(apr_pool_t *pchild, server_rec *s)
{
    ap_socache_instance_t *inst;

    (void)s;
    for (inst = instances; inst; inst = inst->next) {
        /* inst->s is NULL for an instance its consumer created but never initialised. */
        if (inst->servers && inst->s) {
            build_own_client(pchild, inst);
        }
    }
}

void mmc_socache_register_hooks(apr_pool_t *p)
{
    ap_register_provider(p, AP_SOCACHE_PROVIDER_GROUP, PROVIDER_NAME,
                         AP_SOCACHE_PROVIDER_VERSION, &mcpool_provider);
    ap_hook_check_config(mcpool_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* After mod_memcache's own child_init (REALLY_FIRST) and before any consumer's. */
    ap_hook_child_init(mcpool_child_init, NULL, NULL, APR_HOOK_REALLY_FIRST + 1);
}
