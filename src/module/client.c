/*
 * client.c - per-child clients and the functions that hand them to other modules.
 *
 * Clients are built in child_init, never in the parent: connections opened before the
 * fork would be shared by every child, and their replies interleaved.
 */
#include "client.h"
#include "config.h"

#include "http_log.h"

APLOG_USE_MODULE(memcache);

/* True for the AP_MEMCACHE_* codes, which apr_strerror() (and so httpd's log) does not
 * know: logged as their number, they would read "APR does not understand this error
 * code". */
static int is_own_status(apr_status_t status)
{
    return status >= AP_MEMCACHE_ENOSERVER && status <= AP_MEMCACHE_EAUTH;
}

void mmc_log_engine_line(const server_rec *s, int level, apr_status_t status,
                         const char *prefix, const char *msg)
{
    if (is_own_status(status)) {
        char text[128];
        ap_log_error(APLOG_MARK, level & APLOG_LEVELMASK, 0, s, "%s%s (%s)", prefix, msg,
                     ap_memcache_strerror(status, text, sizeof text));
        return;
    }
    ap_log_error(APLOG_MARK, level & APLOG_LEVELMASK, status, s, "%s%s", prefix, msg);
}

/* The engine reports with syslog levels, which are httpd's APLOG_* levels. */
static void log_to_httpd(void *baton, int level, apr_status_t status, const char *msg)
{
    mmc_log_engine_line(baton, level, status, "", msg);
}

static const char *describe_server(apr_pool_t *p, const server_rec *s)
{
    if (s->is_virtual) {
        return apr_psprintf(p, "virtual host %s (%s:%d)",
                            s->server_hostname ? s->server_hostname : "(no name)",
                            s->defn_name ? s->defn_name : "?", (int)s->defn_line_number);
    }
    return "main server";
}

/* A server that cannot be created is left out and logged: better a client with the
 * other servers than a child that refuses to start. */
static void add_server(apr_pool_t *pchild, server_rec *s, mmc_server_conf *conf,
                       const mmc_server_spec *spec)
{
    const mmc_pool_limits *lim = &spec->limits;
    apr_memcache_server_t *ms = NULL;
    apr_status_t rv;
    ap_memcache_server_options_t opts;

    mmc_server_options(conf, spec, &opts);
    rv = ap_memcache_server_create(pchild, spec->host, spec->port, lim->min, lim->smax,
                                   lim->max, lim->ttl_us, &ms);
    if (rv == APR_SUCCESS) {
        ap_memcache_server_set_logger(ms, log_to_httpd, s);
        rv = ap_memcache_server_set_options(ms, &opts);
    }
    if (rv == APR_SUCCESS && spec->tls_context) {
        rv = ap_memcache_server_use_tls(ms, spec->tls_context);
    }
    if (rv == APR_SUCCESS && spec->user) {
        rv = ap_memcache_server_set_auth(ms, spec->user, spec->password);
    }
    if (rv == APR_SUCCESS) {
        rv = ap_memcache_add_server(conf->client, ms);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "MemcacheServer %s: cannot create the server for %s", spec->name,
                     describe_server(pchild, s));
        return;
    }
    apr_hash_set(conf->serverhash, spec->name, APR_HASH_KEY_STRING, ms);

    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                 "MemcacheServer %s for %s: min=%u smax=%u max=%u ttl=%ums weight=%u "
                 "protocol=%s max_value_size=%" APR_SIZE_T_FMT, spec->name,
                 describe_server(pchild, s), lim->min, lim->smax, lim->max,
                 lim->ttl_us / 1000, opts.weight,
                 mmc_protocol_name(opts.protocol),
                 opts.max_value_size);

    /* Opening min connections now keeps that latency out of the first requests; a
     * server that is down must not stop the child, the client retries it later. */
    rv = ap_memcache_server_warm(ms);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s,
                     "MemcacheServer %s: could not open its %u connection(s) at child "
                     "start; will connect on demand", spec->name, lim->min);
    }
}

/* After the servers: the count was checked against them (mmc_replicas_check_config). */
static void set_replicas(apr_pool_t *pchild, server_rec *s, mmc_server_conf *conf)
{
    apr_status_t rv = ap_memcache_set_replicas(conf->client, (apr_uint16_t)mmc_replicas(conf));

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "cannot keep %d replica(s) for %s",
                     mmc_replicas(conf), describe_server(pchild, s));
    }
    ap_memcache_set_replica_repair(conf->client, mmc_replica_repair(conf));
}

static void build_client(apr_pool_t *pchild, server_rec *s, mmc_server_conf *conf)
{
    const apr_array_header_t *specs = conf->servers;
    apr_status_t rv;
    int i;

    rv = ap_memcache_create(pchild, (apr_uint16_t)specs->nelts, 0, &conf->client);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "cannot create the memcache client for %s",
                     describe_server(pchild, s));
        conf->client = NULL;
        return;
    }
    conf->serverhash = apr_hash_make(pchild);
    if (conf->seal) {
        ap_memcache_set_seal(conf->client, conf->seal);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                     "memcache client for %s seals values with key '%s' of %s",
                     describe_server(pchild, s), ap_memcache_seal_key_id(conf->seal),
                     conf->seal_key_file);
    }
    for (i = 0; i < specs->nelts; ++i) {
        add_server(pchild, s, conf, &APR_ARRAY_IDX(specs, i, mmc_server_spec));
    }
    /* After the servers, so that a ketama ring is built once, with all their weights. */
    rv = ap_memcache_set_distribution(conf->client, mmc_distribution(conf));
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "cannot set up key distribution for %s",
                     describe_server(pchild, s));
    }
    set_replicas(pchild, s, conf);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, "memcache client for %s: %d server(s), %s, "
                 "%d replica(s)", describe_server(pchild, s), conf->client->ntotal,
                 mmc_distribution(conf) == AP_MEMCACHE_DIST_KETAMA ? "ketama" : "modula",
                 mmc_replicas(conf));
}

/* A virtual host that inherits the main server's servers but seals with other keys, or
 * keeps another number of replicas: a client of its own over the main server's server
 * objects, so the process still keeps one pool of connections per memcached server. */
static void build_sealed_view(apr_pool_t *pchild, server_rec *vs, mmc_server_conf *conf,
                              const mmc_server_conf *main_conf)
{
    const apr_memcache_t *shared = main_conf->client;
    apr_status_t rv;
    int i;

    rv = ap_memcache_create(pchild, shared->nalloc, 0, &conf->client);
    for (i = 0; rv == APR_SUCCESS && i < shared->ntotal; ++i) {
        rv = ap_memcache_add_server(conf->client, shared->live_servers[i]);
    }
    if (rv == APR_SUCCESS) {
        rv = ap_memcache_set_distribution(conf->client, mmc_distribution(conf));
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, vs, "cannot create the memcache client for %s",
                     describe_server(pchild, vs));
        conf->client = NULL;
        return;
    }
    ap_memcache_set_seal(conf->client, conf->seal);
    set_replicas(pchild, vs, conf);
    conf->serverhash = main_conf->serverhash;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, vs,
                 "memcache client for %s: the main server's servers, values sealed with "
                 "key '%s' of %s", describe_server(pchild, vs),
                 conf->seal ? ap_memcache_seal_key_id(conf->seal) : "(none)",
                 conf->seal_key_file ? conf->seal_key_file : "(none)");
}

void mmc_child_init(apr_pool_t *pchild, server_rec *s)
{
    mmc_server_conf *main_conf = mmc_get_server_conf(s);
    server_rec *vs;

    if (main_conf->servers) {
        build_client(pchild, s, main_conf);
    }
    for (vs = s->next; vs; vs = vs->next) {
        mmc_server_conf *conf = mmc_get_server_conf(vs);

        if (conf->servers == NULL) {
            continue;
        }
        if (conf->servers == main_conf->servers) {
            /* Inherited: one pool of connections per process, not one per vhost. */
            if (conf->seal == main_conf->seal && mmc_replicas(conf) == mmc_replicas(main_conf)
                && mmc_replica_repair(conf) == mmc_replica_repair(main_conf)) {
                conf->client = main_conf->client;
                conf->serverhash = main_conf->serverhash;
            }
            else if (main_conf->client) {
                build_sealed_view(pchild, vs, conf, main_conf);
            }
            continue;
        }
        build_client(pchild, vs, conf);
    }
}

AP_MEMCACHE_DECLARE(apr_memcache_t *) ap_memcache_client(server_rec *s)
{
    const mmc_server_conf *conf = s ? mmc_get_server_conf(s) : NULL;

    return conf ? conf->client : NULL;
}

AP_MEMCACHE_DECLARE(apr_hash_t *) ap_memcache_serverhash(server_rec *s)
{
    const mmc_server_conf *conf = s ? mmc_get_server_conf(s) : NULL;

    return conf && conf->client ? conf->serverhash : NULL;
}

AP_MEMCACHE_DECLARE(apr_hash_t *) ap_memcace_serverhash(server_rec *s)
{
    return ap_memcache_serverhash(s);
}

void mmc_register_optional_functions(void)
{
    APR_REGISTER_OPTIONAL_FN(ap_memcache_client);
    APR_REGISTER_OPTIONAL_FN(ap_memcache_serverhash);
}
