/*
 * inherit_check.c - warns about client settings of a virtual host that has no
 * MemcacheServer lines of its own. Such a host shares the main server's client, built
 * once with the main server's settings, so its own would be ignored without a word.
 *
 * After the merge a setting differs from the main server's only if the virtual host
 * named it (with another value); one named with the main server's value changes nothing
 * and is not reported.
 */
#include "inherit_check.h"
#include "config.h"

#include "http_log.h"

#include <string.h>

APLOG_USE_MODULE(memcache);

static int differs(const char *a, const char *b)
{
    if (!a || !b) {
        return a != b;
    }
    return strcmp(a, b) != 0;
}

static void warn(apr_pool_t *plog, const server_rec *vs, const char *directive)
{
    /* Before the virtual hosts are initialised only the address line knows the port. */
    unsigned port = vs->port ? vs->port : (vs->addrs ? vs->addrs->host_port : 0);

    ap_log_perror(APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, 0, plog,
                  "%s in <VirtualHost> %s:%u has no effect: that virtual host has no "
                  "MemcacheServer lines of its own and uses the main server's client "
                  "with the main server's settings; give it MemcacheServer lines, or "
                  "set %s in the main server",
                  directive, vs->server_hostname ? vs->server_hostname : "(unnamed)",
                  port, directive);
}

int mmc_inherit_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                             server_rec *s)
{
    const mmc_server_conf *m = mmc_get_server_conf(s);
    server_rec *vs;

    (void)pconf;
    (void)ptemp;
    if (!m->servers) {
        /* Nothing is built for hosts without servers; nothing can be ignored. */
        return OK;
    }
    for (vs = s->next; vs; vs = vs->next) {
        const mmc_server_conf *v = mmc_get_server_conf(vs);

        if (v->servers != m->servers) {
            continue;
        }
#define MMC_CHECK_INT(field, directive) \
    if (v->field != m->field) warn(plog, vs, directive)
#define MMC_CHECK_STR(field, directive) \
    if (differs(v->field, m->field)) warn(plog, vs, directive)
        MMC_CHECK_INT(distribution, "MemcacheDistribution");
        MMC_CHECK_INT(protocol, "MemcacheProtocol");
        MMC_CHECK_INT(connect_timeout_us, "MemcacheConnectTimeout");
        MMC_CHECK_INT(io_timeout_us, "MemcacheTimeout");
        MMC_CHECK_INT(acquire_timeout_us, "MemcacheAcquireTimeout");
        MMC_CHECK_INT(retry_period_us, "MemcacheRetryPeriod");
        MMC_CHECK_INT(failure_limit, "MemcacheFailureLimit");
        MMC_CHECK_INT(max_value_size, "MemcacheMaxValueSize");
        MMC_CHECK_STR(tls_ca_file, "MemcacheTLSCACertificateFile");
        MMC_CHECK_STR(tls_cert_file, "MemcacheTLSCertificateFile");
        MMC_CHECK_STR(tls_key_file, "MemcacheTLSCertificateKeyFile");
        MMC_CHECK_STR(tls_server_name, "MemcacheTLSServerName");
        MMC_CHECK_INT(tls_verify, "MemcacheTLSVerify");
        MMC_CHECK_INT(tls_protocol, "MemcacheTLSProtocol");
#undef MMC_CHECK_INT
#undef MMC_CHECK_STR
    }
    return OK;
}
