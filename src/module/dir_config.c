/*
 * dir_config.c - per-directory configuration: one sub-struct per feature, each created
 * and merged by that feature's own functions.
 */
#include "dir_config.h"

#include "http_log.h"

APLOG_USE_MODULE(memcache);

void *mmc_create_dir_conf(apr_pool_t *p, char *dir)
{
    mmc_dir_conf *conf = apr_pcalloc(p, sizeof *conf);

    (void)dir;
    mmc_session_dir_init(&conf->session);
    mmc_pass_conf_init(&conf->pass);
    return conf;
}

void *mmc_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    const mmc_dir_conf *base = basev;
    const mmc_dir_conf *add = addv;
    mmc_dir_conf *conf = apr_pcalloc(p, sizeof *conf);

    mmc_session_dir_merge(&conf->session, &base->session, &add->session);
    mmc_pass_conf_merge(&conf->pass, &base->pass, &add->pass);
    return conf;
}

const mmc_dir_conf *mmc_get_dir_conf(const request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &memcache_module);
}
