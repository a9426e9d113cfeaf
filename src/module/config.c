/*
 * config.c - per-server configuration: creation, merge, the MemcacheServer directive
 * and the defaults that depend on the MPM.
 */
#include "config.h"
#include "socache_codec.h"
#include "tls_check.h"

#include "ap_mpm.h"
#include "http_core.h"
#include "http_log.h"

#include "apr_lib.h"
#include "apr_strings.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

APLOG_USE_MODULE(memcache);

mmc_server_conf *mmc_get_server_conf(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &memcache_module);
}

void *mmc_create_server_conf(apr_pool_t *p, server_rec *s)
{
    mmc_server_conf *conf = apr_pcalloc(p, sizeof *conf);

    (void)s;
    conf->distribution = MMC_UNSET;
    conf->protocol = MMC_UNSET;
    conf->connect_timeout_us = MMC_UNSET;
    conf->io_timeout_us = MMC_UNSET;
    conf->acquire_timeout_us = MMC_UNSET;
    conf->retry_period_us = MMC_UNSET;
    conf->failure_limit = MMC_UNSET;
    conf->max_value_size = MMC_UNSET;
    conf->replicas = MMC_UNSET;
    conf->replica_repair = MMC_UNSET;
    conf->tls_verify = MMC_UNSET;
    conf->tls_protocol = MMC_UNSET;
    return conf;
}

#define MERGED(field) (add->field != MMC_UNSET ? add->field : base->field)

void *mmc_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    const mmc_server_conf *base = basev;
    const mmc_server_conf *add = addv;
    mmc_server_conf *conf = apr_pcalloc(p, sizeof *conf);

    /* A list replaces, never extends, the main server's: a virtual host naming its own
     * servers should not also spread its keys over the main server's. */
    conf->servers = add->servers ? add->servers : base->servers;
    conf->distribution = MERGED(distribution);
    conf->protocol = MERGED(protocol);
    conf->connect_timeout_us = MERGED(connect_timeout_us);
    conf->io_timeout_us = MERGED(io_timeout_us);
    conf->acquire_timeout_us = MERGED(acquire_timeout_us);
    conf->retry_period_us = MERGED(retry_period_us);
    conf->failure_limit = MERGED(failure_limit);
    conf->max_value_size = MERGED(max_value_size);
    conf->replicas = MERGED(replicas);
    conf->replica_repair = MERGED(replica_repair);
    conf->socache_prefix = add->socache_prefix ? add->socache_prefix : base->socache_prefix;
    if (add->seal) {
        conf->seal = add->seal;
        conf->seal_key_file = add->seal_key_file;
    }
    else {
        conf->seal = base->seal;
        conf->seal_key_file = base->seal_key_file;
    }
    conf->tls_ca_file = add->tls_ca_file ? add->tls_ca_file : base->tls_ca_file;
    conf->tls_cert_file = add->tls_cert_file ? add->tls_cert_file : base->tls_cert_file;
    conf->tls_key_file = add->tls_key_file ? add->tls_key_file : base->tls_key_file;
    conf->tls_server_name = add->tls_server_name ? add->tls_server_name : base->tls_server_name;
    conf->tls_verify = MERGED(tls_verify);
    conf->tls_protocol = MERGED(tls_protocol);
    return conf;
}

const char *mmc_cmd_distribution(cmd_parms *cmd, void *dconf, const char *arg)
{
    mmc_server_conf *conf = mmc_get_server_conf(cmd->server);

    (void)dconf;
    if (strcasecmp(arg, "ketama") == 0) {
        conf->distribution = AP_MEMCACHE_DIST_KETAMA;
    }
    else if (strcasecmp(arg, "modula") == 0) {
        conf->distribution = AP_MEMCACHE_DIST_MODULA;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s': expected ketama or modula", cmd->cmd->name,
                            arg);
    }
    return NULL;
}

const char *mmc_cmd_protocol(cmd_parms *cmd, void *dconf, const char *arg)
{
    mmc_server_conf *conf = mmc_get_server_conf(cmd->server);

    (void)dconf;
    conf->protocol = mmc_parse_protocol(arg);
    if (conf->protocol < 0) {
        return apr_psprintf(cmd->pool, "%s: '%s': expected text, binary or meta", cmd->cmd->name,
                            arg);
    }
    return NULL;
}

/* An hour: far beyond any sensible network wait, and a typo guard. */
#define MMC_DEADLINE_MAX_US ((apr_int64_t)3600 * 1000 * 1000)

const char *mmc_cmd_duration(cmd_parms *cmd, void *dconf, const char *arg)
{
    mmc_server_conf *conf = mmc_get_server_conf(cmd->server);
    apr_int64_t *field = (apr_int64_t *)((char *)conf + (apr_size_t)cmd->info);

    (void)dconf;
    return mmc_parse_duration(cmd->pool, cmd->cmd->name, arg, arg, MMC_DEADLINE_MAX_US, 0,
                              field);
}

const char *mmc_cmd_failure_limit(cmd_parms *cmd, void *dconf, const char *arg)
{
    mmc_server_conf *conf = mmc_get_server_conf(cmd->server);
    char *end = NULL;
    long v;

    (void)dconf;
    v = strtol(arg, &end, 10);
    if (!apr_isdigit(*arg) || *end != '\0' || v < 1 || v > 1000) {
        return apr_psprintf(cmd->pool, "%s: '%s': expected a number of failures from 1 to "
                            "1000", cmd->cmd->name, arg);
    }
    conf->failure_limit = (int)v;
    return NULL;
}

/* The most the client keeps: a key on its primary and up to 7 servers after it. */
#define MMC_MAX_REPLICAS 7

const char *mmc_cmd_replicas(cmd_parms *cmd, void *dconf, const char *arg)
{
    mmc_server_conf *conf = mmc_get_server_conf(cmd->server);
    char *end = NULL;
    long v;

    (void)dconf;
    v = strtol(arg, &end, 10);
    if (!apr_isdigit(*arg) || *end != '\0' || v < 0 || v > MMC_MAX_REPLICAS) {
        return apr_psprintf(cmd->pool, "%s: '%s': expected a number of replicas from 0 to %d",
                            cmd->cmd->name, arg, MMC_MAX_REPLICAS);
    }
    conf->replicas = (int)v;
    return NULL;
}

const char *mmc_cmd_replica_repair(cmd_parms *cmd, void *dconf, int flag)
{
    mmc_server_conf *conf = mmc_get_server_conf(cmd->server);

    (void)dconf;
    conf->replica_repair = flag ? 1 : 0;
    return NULL;
}

int mmc_replicas(const mmc_server_conf *conf)
{
    return conf->replicas == MMC_UNSET ? 0 : conf->replicas;
}

int mmc_replica_repair(const mmc_server_conf *conf)
{
    return conf->replica_repair == MMC_UNSET ? 1 : conf->replica_repair;
}

int mmc_replicas_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                              server_rec *s)
{
    server_rec *vs;

    (void)pconf;
    (void)ptemp;
    for (vs = s; vs; vs = vs->next) {
        const mmc_server_conf *conf = mmc_get_server_conf(vs);
        const int servers = conf->servers ? conf->servers->nelts : 0;

        /* Without MemcacheServer lines only mcpool's own lists use the setting, each
         * keeping as many replicas as it can hold. */
        if (mmc_replicas(conf) == 0 || servers == 0 || mmc_replicas(conf) < servers) {
            continue;
        }
        ap_log_perror(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, plog,
                      "MemcacheReplicas: '%d': at most the number of servers minus one "
                      "(%d MemcacheServer line(s) for %s:%u)", mmc_replicas(conf), servers,
                      vs->server_hostname ? vs->server_hostname : "the main server",
                      (unsigned)vs->port);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

const char *mmc_cmd_max_value_size(cmd_parms *cmd, void *dconf, const char *arg)
{
    mmc_server_conf *conf = mmc_get_server_conf(cmd->server);

    (void)dconf;
    return mmc_parse_size(cmd->pool, cmd->cmd->name, arg,
                          (apr_int64_t)AP_MEMCACHE_MAX_VALUE_SIZE_LIMIT, &conf->max_value_size);
}

const char *mmc_cmd_tls_file(cmd_parms *cmd, void *dconf, const char *arg)
{
    mmc_server_conf *conf = mmc_get_server_conf(cmd->server);
    const char **field = (const char **)((char *)conf + (apr_size_t)cmd->info);
    const char *path = ap_server_root_relative(cmd->pool, arg);
    apr_file_t *f = NULL;
    apr_status_t rv;

    (void)dconf;
    if (path == NULL) {
        return apr_psprintf(cmd->pool, "%s: bad path '%s'", cmd->cmd->name, arg);
    }
    /* Checked now so that `apachectl -t` reports it; the contents are loaded (and
     * checked again) in post_config. */
    rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, cmd->temp_pool);
    if (rv != APR_SUCCESS) {
        char err[128];
        return apr_psprintf(cmd->pool, "%s: cannot read '%s': %s", cmd->cmd->name, path,
                            apr_strerror(rv, err, sizeof err));
    }
    apr_file_close(f);
    *field = path;
    return NULL;
}

const char *mmc_cmd_tls_verify(cmd_parms *cmd, void *dconf, int flag)
{
    (void)dconf;
    mmc_get_server_conf(cmd->server)->tls_verify = flag ? 1 : 0;
    return NULL;
}

const char *mmc_cmd_tls_server_name(cmd_parms *cmd, void *dconf, const char *arg)
{
    (void)dconf;
    if (!mmc_tls_name_valid(arg)) {
        return apr_psprintf(cmd->pool, "%s: '%s': expected a host name (letters, digits, "
                            "'-' and '.') or an address", cmd->cmd->name, arg);
    }
    mmc_get_server_conf(cmd->server)->tls_server_name = arg;
    return NULL;
}

const char *mmc_cmd_tls_protocol(cmd_parms *cmd, void *dconf, const char *arg)
{
    mmc_server_conf *conf = mmc_get_server_conf(cmd->server);

    (void)dconf;
    if (strcasecmp(arg, "TLSv1.2") == 0) {
        conf->tls_protocol = AP_MEMCACHE_TLS_1_2;
    }
    else if (strcasecmp(arg, "TLSv1.3") == 0) {
        conf->tls_protocol = AP_MEMCACHE_TLS_1_3;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s': expected TLSv1.2 (TLS 1.2 or later) or "
                            "TLSv1.3 (TLS 1.3 only)", cmd->cmd->name, arg);
    }
    return NULL;
}

const char *mmc_cmd_socache_prefix(cmd_parms *cmd, void *dconf, const char *arg)
{
    mmc_server_conf *conf = mmc_get_server_conf(cmd->server);
    const char *err;

    (void)dconf;
    if (*arg == '\0' || strlen(arg) > MMC_SOCACHE_PREFIX_MAX) {
        return apr_psprintf(cmd->pool, "%s: '%s': expected 1 to %d characters",
                            cmd->cmd->name, arg, MMC_SOCACHE_PREFIX_MAX);
    }
    err = mmc_socache_check_key_part(cmd->pool, "prefix", arg);
    if (err) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
    }
    conf->socache_prefix = arg;
    return NULL;
}

const char *mmc_cmd_seal_key_file(cmd_parms *cmd, void *dconf, const char *arg)
{
    mmc_server_conf *conf = mmc_get_server_conf(cmd->server);
    const char *path = ap_server_root_relative(cmd->pool, arg);
    const char *why = NULL;
    ap_memcache_seal_t *seal = NULL;
    apr_status_t rv;

    (void)dconf;
    if (path == NULL) {
        return apr_psprintf(cmd->pool, "%s: '%s': not a valid path", cmd->cmd->name, arg);
    }
    /* Read now, in the parent: the children never need to open the file. The keys live
     * in the configuration pool and are wiped when it is cleared. */
    rv = ap_memcache_seal_load(cmd->pool, path, &seal, &why);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: '%s': %s", cmd->cmd->name, path,
                            why ? why : "cannot be read");
    }
    conf->seal = seal;
    conf->seal_key_file = path;
    return NULL;
}

int mmc_distribution(const mmc_server_conf *conf)
{
    /* Ketama for clients built from httpd.conf: adding or removing a server moves only
     * its share of the keys. (apr_memcache_create keeps apr-util's modula.) */
    return conf->distribution == MMC_UNSET ? AP_MEMCACHE_DIST_KETAMA : conf->distribution;
}

void mmc_server_options(const mmc_server_conf *conf, const mmc_server_spec *spec,
                        ap_memcache_server_options_t *opts)
{
    ap_memcache_server_options_init(opts);
    if (spec->weight != MMC_UNSET) {
        opts->weight = (apr_uint32_t)spec->weight;
    }
    if (spec->protocol != MMC_UNSET) {
        opts->protocol = spec->protocol;
    }
    else if (conf->protocol != MMC_UNSET) {
        opts->protocol = conf->protocol;
    }
    if (conf->connect_timeout_us != MMC_UNSET) {
        opts->connect_timeout = conf->connect_timeout_us;
    }
    if (conf->io_timeout_us != MMC_UNSET) {
        opts->io_timeout = conf->io_timeout_us;
    }
    if (conf->acquire_timeout_us != MMC_UNSET) {
        opts->acquire_timeout = conf->acquire_timeout_us;
    }
    if (conf->retry_period_us != MMC_UNSET) {
        opts->retry_period = conf->retry_period_us;
    }
    if (conf->failure_limit != MMC_UNSET) {
        opts->failure_limit = (apr_uint32_t)conf->failure_limit;
    }
    if (conf->max_value_size != MMC_UNSET) {
        opts->max_value_size = (apr_size_t)conf->max_value_size;
    }
}

const char *mmc_cmd_memcache_server(cmd_parms *cmd, void *dconf, int argc,
                                    char *const argv[])
{
    mmc_server_conf *conf = mmc_get_server_conf(cmd->server);
    mmc_server_spec spec;
    const char *err;
    int i;

    (void)dconf;
    err = mmc_server_spec_parse(cmd->pool, cmd->cmd->name, argc, argv, &spec);
    if (err) {
        return err;
    }
    if (conf->servers == NULL) {
        conf->servers = apr_array_make(cmd->pool, 4, sizeof(mmc_server_spec));
    }
    for (i = 0; i < conf->servers->nelts; ++i) {
        const mmc_server_spec *other = &APR_ARRAY_IDX(conf->servers, i, mmc_server_spec);

        /* Twice the same server would double its share of the keys: surely a mistake. */
        if (mmc_server_spec_same_server(other, &spec)) {
            return apr_psprintf(cmd->pool, "%s: '%s' is already declared here as '%s'",
                                cmd->cmd->name, spec.name, other->name);
        }
    }
    if (spec.tls) {
        /* OpenSSL is not linked but loaded by the first TLS context (docs/design.md,
         * "OpenSSL on demand"). A context that checks nothing, dropped with the
         * temporary pool, loads it now, so that a system without it fails apachectl -t
         * on this line and not only at start. The server's own context, with the
         * MemcacheTLS* settings of its context, is built in post_config. */
        ap_memcache_tls_options_t probe_opts;
        ap_memcache_tls_t *probe = NULL;
        const char *why = NULL;

        ap_memcache_tls_options_init(&probe_opts);
        probe_opts.verify = 0;
        if (ap_memcache_tls_create(cmd->temp_pool, &probe_opts, spec.host, &probe, &why) != APR_SUCCESS) {
            return apr_psprintf(cmd->pool, "%s: '%s' tls=on: %s", cmd->cmd->name, spec.name,
                                why ? why : "TLS is not available");
        }
    }
    /* ap_memcache_create counts servers in an apr_uint16_t. */
    if (conf->servers->nelts >= 0xFFFF) {
        return apr_psprintf(cmd->pool, "%s: '%s': too many servers in one context",
                            cmd->cmd->name, spec.name);
    }
    APR_ARRAY_PUSH(conf->servers, mmc_server_spec) = spec;
    return NULL;
}

/* The default pool size: one connection per thread of a child. Known only once the
 * MPM has read its directives, hence post_config. */
static int mpm_threads(void)
{
    int threads = 0;

    if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS || threads < 1) {
        threads = 1;
    }
    return threads;
}

static int resolve_servers(apr_pool_t *pconf, server_rec *s, mmc_server_conf *conf,
                           int threads)
{
    int i;

    for (i = 0; i < conf->servers->nelts; ++i) {
        mmc_server_spec *spec = &APR_ARRAY_IDX(conf->servers, i, mmc_server_spec);

        if (spec->tls) {
            ap_memcache_tls_options_t o;
            const char *why = NULL;
            apr_status_t rv;

            mmc_tls_options(conf, spec, &o);
            rv = ap_memcache_tls_create(pconf, &o, spec->host, &spec->tls_context, &why);
            if (rv != APR_SUCCESS) {
                /* check_config passed these settings a moment ago: a file changed since.
                 * The check says which directive, in the same words as -t would. */
                const char *err = mmc_tls_check_line(pconf, conf, spec);

                ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "%s",
                             err ? err : apr_psprintf(pconf, "MemcacheServer '%s' tls=on: %s",
                                                      spec->name, why ? why : "TLS refused"));
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
        spec->limits = mmc_server_spec_resolve(spec, threads);
        if (spec->limits.max_raised) {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                         "MemcacheServer %s: max raised from the MPM's %d threads to %u "
                         "to fit min/smax", spec->name, threads, spec->limits.max);
        }
    }
    return OK;
}

int mmc_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    const mmc_server_conf *main_conf = mmc_get_server_conf(s);
    int threads = mpm_threads();
    server_rec *vs;

    (void)plog;
    (void)ptemp;
    /* httpd reads its configuration twice at start; the first is discarded. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    for (vs = s; vs; vs = vs->next) {
        mmc_server_conf *conf = mmc_get_server_conf(vs);

        /* An inherited list is the main server's array, resolved with it. */
        if (conf->servers && (vs == s || conf->servers != main_conf->servers)) {
            int rc = resolve_servers(pconf, vs, conf, threads);

            if (rc != OK) {
                return rc;
            }
        }
    }
    return OK;
}
