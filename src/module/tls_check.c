/*
 * tls_check.c - the MemcacheTLS* settings checked as the C API checks its TLS options:
 * one rule set (the engine's), with the directives named in the messages.
 */
#include "tls_check.h"

#include "http_log.h"

#include "apr_strings.h"

APLOG_USE_MODULE(memcache);

void mmc_tls_options(const mmc_server_conf *conf, const mmc_server_spec *spec,
                     ap_memcache_tls_options_t *o)
{
    ap_memcache_tls_options_init(o);
    o->ca_file = conf->tls_ca_file;
    o->cert_file = conf->tls_cert_file;
    o->key_file = conf->tls_key_file;
    /* The line's own name first: one context may hold servers with different names. */
    o->server_name = spec->tls_name ? spec->tls_name : conf->tls_server_name;
    if (conf->tls_verify != MMC_UNSET) {
        o->verify = conf->tls_verify;
    }
    if (conf->tls_protocol != MMC_UNSET) {
        o->min_protocol = conf->tls_protocol;
    }
}

static const char *directive_of(int option)
{
    switch (option) {
    case AP_MEMCACHE_TLS_OPT_CA_FILE:
        return "MemcacheTLSCACertificateFile";
    case AP_MEMCACHE_TLS_OPT_CERT_FILE:
        return "MemcacheTLSCertificateFile";
    case AP_MEMCACHE_TLS_OPT_KEY_FILE:
        return "MemcacheTLSCertificateKeyFile";
    case AP_MEMCACHE_TLS_OPT_VERIFY:
        return "MemcacheTLSVerify";
    case AP_MEMCACHE_TLS_OPT_SERVER_NAME:
        return "MemcacheTLSServerName";
    case AP_MEMCACHE_TLS_OPT_MIN_PROTOCOL:
        return "MemcacheTLSProtocol";
    default:
        return NULL;
    }
}

const char *mmc_tls_check_line(apr_pool_t *p, const mmc_server_conf *conf,
                               const mmc_server_spec *spec)
{
    ap_memcache_tls_options_t o;
    ap_memcache_tls_problem_t problem;
    const char *at;
    const char *to_set;
    const char *msg;

    mmc_tls_options(conf, spec, &o);
    if (ap_memcache_tls_check(p, &o, spec->host, &problem) == APR_SUCCESS) {
        return NULL;
    }
    at = directive_of(problem.option);
    to_set = directive_of(problem.missing);
    msg = apr_psprintf(p, "MemcacheServer '%s' tls=on: ", spec->name);
    /* A setting that is missing is not at fault itself: only the one to set is named. */
    if (at && problem.option != problem.missing) {
        msg = apr_pstrcat(p, msg, at, ": ", NULL);
    }
    msg = apr_pstrcat(p, msg, problem.reason ? problem.reason : "TLS is not available", NULL);
    if (problem.missing == AP_MEMCACHE_TLS_OPT_SERVER_NAME) {
        msg = apr_pstrcat(p, msg, ": set ", to_set, " (or tls-name= on the line) to the name "
                          "in the server's certificate", NULL);
    }
    else if (to_set) {
        msg = apr_pstrcat(p, msg, ": set ", to_set, NULL);
    }
    return msg;
}

int mmc_tls_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                         server_rec *s)
{
    const mmc_server_conf *main_conf = mmc_get_server_conf(s);
    server_rec *vs;

    (void)pconf;
    for (vs = s; vs; vs = vs->next) {
        const mmc_server_conf *conf = mmc_get_server_conf(vs);
        int i;

        /* An inherited list is the main server's, checked (and built) with its settings. */
        if (!conf->servers || (vs != s && conf->servers == main_conf->servers)) {
            continue;
        }
        for (i = 0; i < conf->servers->nelts; ++i) {
            const mmc_server_spec *spec = &APR_ARRAY_IDX(conf->servers, i, mmc_server_spec);
            const char *err;

            if (!spec->tls) {
                continue;
            }
            err = mmc_tls_check_line(ptemp, conf, spec);
            if (err) {
                ap_log_perror(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, plog, "%s", err);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }
    return OK;
}
