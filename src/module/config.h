/*
 * config.h - per-server configuration of mod_memcache: the MemcacheServer lines of a
 * server (main or <VirtualHost>) and, in each child, the client built from them.
 */
#ifndef MMC_MODULE_CONFIG_H
#define MMC_MODULE_CONFIG_H

#include "httpd.h"
#include "http_config.h"

#include "mod_memcache.h"
#include "server_spec.h"

typedef struct {
    /* mmc_server_spec, in directive order; NULL when this server declares none. After
     * the merge a virtual host that declares none points at the main server's array,
     * which is how child_init knows to share the main server's client. */
    apr_array_header_t *servers;
    /* Client settings of this context, each MMC_UNSET unless given here; merged per
     * field, so a virtual host overrides only what it names. */
    int distribution;                    /* AP_MEMCACHE_DIST_* */
    int protocol;                        /* AP_MEMCACHE_PROTOCOL_*, for lines without one */
    apr_int64_t connect_timeout_us;
    apr_int64_t io_timeout_us;
    apr_int64_t acquire_timeout_us;
    apr_int64_t retry_period_us;
    int failure_limit;
    apr_int64_t max_value_size;          /* bytes */
    int replicas;                        /* MemcacheReplicas: servers after the primary */
    int replica_repair;                  /* MemcacheReplicaRepair: 1 on, 0 off */
    /* TLS for the lines with tls=on (MemcacheTLS*): NULL / MMC_UNSET unless given. */
    const char *tls_ca_file;
    const char *tls_cert_file;
    const char *tls_key_file;
    const char *tls_server_name;
    int tls_verify;                      /* 1 on, 0 off */
    int tls_protocol;                    /* AP_MEMCACHE_TLS_1_2 or _1_3 */
    /* MemcacheSOCachePrefix: put before every key of the mcpool socache provider;
     * NULL unless given here. */
    const char *socache_prefix;
    /* MemcacheSealKeyFile: the keys read at configuration time (so that a bad file fails
     * apachectl -t, and the file may be readable by root only); NULL unless given here
     * or, after the merge, in the main server. */
    const char *seal_key_file;
    ap_memcache_seal_t *seal;
    /* Filled from the pool of the child process (child_init); NULL in the parent. */
    apr_memcache_t *client;
    apr_hash_t *serverhash;
} mmc_server_conf;

mmc_server_conf *mmc_get_server_conf(const server_rec *s);

void *mmc_create_server_conf(apr_pool_t *p, server_rec *s);
void *mmc_merge_server_conf(apr_pool_t *p, void *basev, void *addv);

/** The MemcacheServer directive (TAKE_ARGV). */
const char *mmc_cmd_memcache_server(cmd_parms *cmd, void *dconf, int argc,
                                    char *const argv[]);

/** MemcacheDistribution ketama|modula */
const char *mmc_cmd_distribution(cmd_parms *cmd, void *dconf, const char *arg);
/** MemcacheProtocol text|binary */
const char *mmc_cmd_protocol(cmd_parms *cmd, void *dconf, const char *arg);
/** MemcacheConnectTimeout, MemcacheTimeout, MemcacheAcquireTimeout, MemcacheRetryPeriod:
 *  a time; cmd->info is the offset of the field in mmc_server_conf. */
const char *mmc_cmd_duration(cmd_parms *cmd, void *dconf, const char *arg);
/** MemcacheFailureLimit N */
const char *mmc_cmd_failure_limit(cmd_parms *cmd, void *dconf, const char *arg);
/** MemcacheMaxValueSize SIZE (1048576, 512k, 1m; at most 1g) */
const char *mmc_cmd_max_value_size(cmd_parms *cmd, void *dconf, const char *arg);

/** MemcacheReplicas N (0 to 7; at most the servers minus one, checked by
 *  mmc_replicas_check_config) */
const char *mmc_cmd_replicas(cmd_parms *cmd, void *dconf, const char *arg);
/** MemcacheReplicaRepair on|off */
const char *mmc_cmd_replica_repair(cmd_parms *cmd, void *dconf, int flag);
/** The replicas and read repair of conf, defaults filled in (0; on). */
int mmc_replicas(const mmc_server_conf *conf);
int mmc_replica_repair(const mmc_server_conf *conf);
/** check_config: every context's MemcacheReplicas leaves at least one server for the
 *  primary, so that `apachectl -t` fails on a count the servers cannot hold. */
int mmc_replicas_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                              server_rec *s);

/** MemcacheTLSCACertificateFile, MemcacheTLSCertificateFile,
 *  MemcacheTLSCertificateKeyFile: a file that must be readable now; cmd->info is the
 *  offset of the field in mmc_server_conf. */
const char *mmc_cmd_tls_file(cmd_parms *cmd, void *dconf, const char *arg);
/** MemcacheTLSVerify on|off */
const char *mmc_cmd_tls_verify(cmd_parms *cmd, void *dconf, int flag);
/** MemcacheTLSServerName NAME */
const char *mmc_cmd_tls_server_name(cmd_parms *cmd, void *dconf, const char *arg);
/** MemcacheTLSProtocol TLSv1.2|TLSv1.3 (the lowest version accepted) */
const char *mmc_cmd_tls_protocol(cmd_parms *cmd, void *dconf, const char *arg);

/** MemcacheSOCachePrefix PREFIX */
const char *mmc_cmd_socache_prefix(cmd_parms *cmd, void *dconf, const char *arg);

/** MemcacheSealKeyFile PATH (relative to ServerRoot) */
const char *mmc_cmd_seal_key_file(cmd_parms *cmd, void *dconf, const char *arg);

/** The settings of conf with the defaults filled in, ready for the client. */
void mmc_server_options(const mmc_server_conf *conf, const mmc_server_spec *spec,
                        ap_memcache_server_options_t *opts);
int mmc_distribution(const mmc_server_conf *conf);

/** post_config: fits the defaults of every MemcacheServer line to the MPM (the MPM's
 *  directives are known only now) and builds the TLS context of each tls=on line (the
 *  certificate and key files are read here, with the rights httpd starts with). Opens
 *  nothing: sockets belong to the children. */
int mmc_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s);

#endif
