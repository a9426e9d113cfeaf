/*
 * socache_instance.c - create, init and the per-child clients of the mcpool provider.
 *
 * Lifecycle: create (directive or post_config, in the parent) parses the argument;
 * init (post_config, in the parent) checks it and fixes the key tag; neither opens a
 * connection nor starts a thread. Connections belong to the child processes: an
 * instance without its own list uses the per-child client of ap_memcache_client(s),
 * one with "mcpool:host:port,..." gets its own client, built in child_init from the
 * list of instances this configuration created. Every instance lives in the
 * configuration pool, so a graceful restart drops them with the old configuration.
 */
#include "socache_instance.h"
#include "client.h"
#include "config.h"
#include "socache_codec.h"

#include "ap_mpm.h"
#include "http_config.h"
#include "http_log.h"

#include "apr_strings.h"

#include <string.h>

APLOG_USE_MODULE(memcache);

#define PROVIDER_NAME MMC_SOCACHE_NAME

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


const char *mmc_socache_create(ap_socache_instance_t **instance, const char *arg,
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

apr_status_t mmc_socache_init(ap_socache_instance_t *inst, const char *cname,
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


apr_memcache_t *mmc_socache_client(const ap_socache_instance_t *inst)
{
    return inst->servers ? inst->client : ap_memcache_client(inst->s);
}

apr_hash_t *mmc_socache_servers(const ap_socache_instance_t *inst)
{
    return inst->servers ? inst->serverhash : ap_memcache_serverhash(inst->s);
}

/* mod_ssl and mod_authn_socache create their instance while the configuration is read,
 * so a missing server list fails `apachectl -t` here. (mod_cache_socache creates its
 * instance in post_config; init refuses it there and httpd does not start.) */
int mmc_socache_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
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
    mmc_log_engine_line((const server_rec *)baton, level, status, PROVIDER_NAME ": ", msg);
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
    /* The server's MemcacheSealKeyFile applies to its own list as to MemcacheServer's. */
    if (conf->seal) {
        ap_memcache_set_seal(inst->client, conf->seal);
    }
    for (i = 0; i < inst->servers->nelts; ++i) {
        add_own_server(pchild, inst, &APR_ARRAY_IDX(inst->servers, i, mmc_server_spec));
    }
    /* After the servers: the ketama ring is built once, with all of them. */
    ap_memcache_set_distribution(inst->client, mmc_distribution(conf));
    /* The server's MemcacheReplicas too, as many as the list can hold. */
    if (mmc_replicas(conf) > 0 && inst->client->ntotal > 1) {
        int replicas = mmc_replicas(conf);

        if (replicas >= inst->client->ntotal) {
            replicas = inst->client->ntotal - 1;
        }
        ap_memcache_set_replicas(inst->client, (apr_uint16_t)replicas);
        ap_memcache_set_replica_repair(inst->client, mmc_replica_repair(conf));
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, inst->s, PROVIDER_NAME " %s: client for %s",
                 inst->cname, inst->arg);
}

const ap_socache_instance_t *mmc_socache_instances(void)
{
    return instances;
}

void mmc_socache_child_init(apr_pool_t *pchild, server_rec *s)
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

