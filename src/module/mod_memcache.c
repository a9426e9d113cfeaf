/*
 * mod_memcache.c - the module: its directive and its hooks. The work is done in
 * config.c (directives, merge, defaults), dir_config.c (per-directory settings),
 * session_store.c (the mod_session store), pass_handler.c and store_filter.c (serving and
 * storing pages), client.c (per-child clients, exported API) and socache_mcpool.c (the
 * "mcpool" socache provider).
 */
#include "client.h"
#include "config.h"
#include "inherit_check.h"
#include "dir_config.h"
#include "pass_handler.h"
#include "metrics.h"
#include "socache_mcpool.h"
#include "status.h"
#include "tls_check.h"

#include "http_config.h"

/* Everything is built with hidden visibility; httpd looks up the module by this name. */
#define MMC_EXPORT __attribute__((visibility("default")))

static const command_rec memcache_cmds[] = {
    AP_INIT_TAKE_ARGV("MemcacheServer", mmc_cmd_memcache_server, NULL, RSRC_CONF,
                      "host:port, [IPv6]:port or /path/to/socket, then optionally "
                      "min=N smax=N max=N ttl=TIME (60, 500ms, 2min) weight=N "
                      "protocol=text|binary|meta tls=on|off tls-name=NAME user=NAME "
                      "password-file=PATH"),
    AP_INIT_TAKE1("MemcacheDistribution", mmc_cmd_distribution, NULL, RSRC_CONF,
                  "ketama (default) or modula: how keys are placed on the servers"),
    AP_INIT_TAKE1("MemcacheReplicas", mmc_cmd_replicas, NULL, RSRC_CONF,
                  "0 (default) to 7: every key is also kept on this many servers after "
                  "its own, in the order of the MemcacheServer lines"),
    AP_INIT_FLAG("MemcacheReplicaRepair", mmc_cmd_replica_repair, NULL, RSRC_CONF,
                 "on (default): a value read from a replica after the key's server "
                 "missed it is written back there (meta servers)"),
    AP_INIT_TAKE1("MemcacheProtocol", mmc_cmd_protocol, NULL, RSRC_CONF,
                  "text (default), binary or meta: the protocol of servers without protocol="),
    AP_INIT_TAKE1("MemcacheConnectTimeout", mmc_cmd_duration,
                  (void *)APR_OFFSETOF(mmc_server_conf, connect_timeout_us), RSRC_CONF,
                  "deadline for opening a connection (default 1s)"),
    AP_INIT_TAKE1("MemcacheTimeout", mmc_cmd_duration,
                  (void *)APR_OFFSETOF(mmc_server_conf, io_timeout_us), RSRC_CONF,
                  "deadline for one operation's whole exchange (default 1s)"),
    AP_INIT_TAKE1("MemcacheAcquireTimeout", mmc_cmd_duration,
                  (void *)APR_OFFSETOF(mmc_server_conf, acquire_timeout_us), RSRC_CONF,
                  "how long to wait when all max connections are busy (default 1s)"),
    AP_INIT_TAKE1("MemcacheRetryPeriod", mmc_cmd_duration,
                  (void *)APR_OFFSETOF(mmc_server_conf, retry_period_us), RSRC_CONF,
                  "how long a dead server is skipped before it is probed (default 5s)"),
    AP_INIT_TAKE1("MemcacheFailureLimit", mmc_cmd_failure_limit, NULL, RSRC_CONF,
                  "consecutive failures that mark a server dead (default 2)"),
    AP_INIT_TAKE1("MemcacheMaxValueSize", mmc_cmd_max_value_size, NULL, RSRC_CONF,
                  "longest value a store may send: bytes, or with unit k, m or g "
                  "(default 1m, at most 1g)"),
    AP_INIT_TAKE1("MemcacheTLSCACertificateFile", mmc_cmd_tls_file,
                  (void *)APR_OFFSETOF(mmc_server_conf, tls_ca_file), RSRC_CONF,
                  "PEM file of the CAs trusted for tls=on servers (default: the "
                  "system's)"),
    AP_INIT_TAKE1("MemcacheTLSCertificateFile", mmc_cmd_tls_file,
                  (void *)APR_OFFSETOF(mmc_server_conf, tls_cert_file), RSRC_CONF,
                  "PEM client certificate presented to tls=on servers (default: none)"),
    AP_INIT_TAKE1("MemcacheTLSCertificateKeyFile", mmc_cmd_tls_file,
                  (void *)APR_OFFSETOF(mmc_server_conf, tls_key_file), RSRC_CONF,
                  "PEM private key of MemcacheTLSCertificateFile (default: in that file)"),
    AP_INIT_FLAG("MemcacheTLSVerify", mmc_cmd_tls_verify, NULL, RSRC_CONF,
                 "on (default): check tls=on servers' certificates and names; off: "
                 "encrypt only"),
    AP_INIT_TAKE1("MemcacheTLSServerName", mmc_cmd_tls_server_name, NULL, RSRC_CONF,
                  "name sent as SNI and checked against the certificate (default: the "
                  "server's host)"),
    AP_INIT_TAKE1("MemcacheTLSProtocol", mmc_cmd_tls_protocol, NULL, RSRC_CONF,
                  "TLSv1.2 (default: 1.2 or later) or TLSv1.3"),
    AP_INIT_TAKE1("MemcacheSOCachePrefix", mmc_cmd_socache_prefix, NULL, RSRC_CONF,
                  "put before every key of the mcpool socache provider, so that several "
                  "httpd fleets can share memcached servers (default: none)"),
    AP_INIT_TAKE1("MemcacheSealKeyFile", mmc_cmd_seal_key_file, NULL, RSRC_CONF,
                  "file of '<key-id> <64 hex digits>' lines: values are sealed "
                  "(AES-256-GCM) with the first key and read with any (default: none)"),
    MMC_SESSION_COMMANDS,
    MMC_PASS_COMMANDS,
    { 0 }
};

static void memcache_register_hooks(apr_pool_t *p)
{
    /* TLS settings are checked once the whole configuration (and the merge) is known,
     * early enough to fail `apachectl -t`. */
    ap_hook_check_config(mmc_tls_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(mmc_inherit_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(mmc_replicas_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(mmc_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* First, so that other modules' child_init can already use the clients. */
    ap_hook_child_init(mmc_child_init, NULL, NULL, APR_HOOK_REALLY_FIRST);
    mmc_register_optional_functions();
    mmc_register_status_hook();
    mmc_metrics_register_hooks();
    mmc_socache_register_hooks(p);
    mmc_session_register_hooks(p);
    mmc_pass_register_hooks(p);
}

MMC_EXPORT module AP_MODULE_DECLARE_DATA memcache_module = {
    STANDARD20_MODULE_STUFF,
    mmc_create_dir_conf,     /* per-directory: dir_config.h; servers are per host */
    mmc_merge_dir_conf,
    mmc_create_server_conf,
    mmc_merge_server_conf,
    memcache_cmds,
    memcache_register_hooks,
    AP_MODULE_FLAG_NONE
};
