/*
 * status.c - mod_memcache's part of mod_status' page (/server-status): every client of
 * the child that serves the request, its distribution, and per server its health and
 * connection pool. Pools are per process, so the figures are this child's.
 */
#include "status.h"
#include "config.h"
#include "metrics.h"

#include "apr_optional_hooks.h"
#include "http_main.h"
#include "http_protocol.h"
#include "httpd.h"
#include "mod_status.h"

#include <unistd.h>

/* With replicas: what the server did for replicated keys in this child. */
static const char *replica_part(apr_pool_t *p, apr_memcache_server_t *ms, int short_report)
{
    ap_memcache_replica_stats_t rs;

    if (ap_memcache_server_replica_stats(ms, &rs) != APR_SUCCESS) {
        return "";
    }
    return apr_psprintf(p, short_report ? " replica_writes=%" APR_UINT64_T_FMT
                                          " replica_hits=%" APR_UINT64_T_FMT
                                          " repairs=%" APR_UINT64_T_FMT
                                          " replica_failures=%" APR_UINT64_T_FMT
                                        : "<td>%" APR_UINT64_T_FMT " / %" APR_UINT64_T_FMT
                                          " / %" APR_UINT64_T_FMT " / %" APR_UINT64_T_FMT
                                          "</td>",
                        rs.writes, rs.hits, rs.repairs, rs.failures);
}

static const char *server_line(apr_pool_t *p, const char *name, apr_memcache_server_t *ms,
                               int short_report, int replicas)
{
    ap_memcache_server_state_t st;
    ap_memcache_server_options_t opts;
    ap_memcache_tls_stats_t tls;
    const char *protocol;

    if (ap_memcache_server_state(ms, &st) != APR_SUCCESS
        || ap_memcache_server_get_options(ms, &opts) != APR_SUCCESS) {
        return NULL;
    }
    protocol = mmc_protocol_name(opts.protocol);
    /* TLS servers: this child's full and resumed handshakes (a reconnect resumes). */
    if (ap_memcache_server_tls_stats(ms, &tls) == APR_SUCCESS) {
        protocol = apr_psprintf(p, short_report ? "%s tls_full=%" APR_UINT64_T_FMT
                                                  " tls_resumed=%" APR_UINT64_T_FMT
                                                : "%s+TLS (%" APR_UINT64_T_FMT " full, %"
                                                  APR_UINT64_T_FMT " resumed handshakes)",
                                protocol, tls.full, tls.resumed);
    }
    if (short_report) {
        return apr_psprintf(p, "Memcache %s: %s open=%u idle=%u failures=%u protocol=%s weight=%u%s\n",
                            name, st.live ? "live" : "dead", st.open, st.idle, st.failures,
                            protocol, opts.weight, replicas ? replica_part(p, ms, 1) : "");
    }
    return apr_psprintf(p, "<tr><td>%s</td><td>%s</td><td>%u</td><td>%u</td><td>%u</td>"
                        "<td>%s</td><td>%u</td>%s</tr>\n",
                        ap_escape_html(p, name), st.live ? "live" : "<b>dead</b>", st.open,
                        st.idle, st.failures, protocol, opts.weight,
                        replicas ? replica_part(p, ms, 0) : "");
}

static void client_report(request_rec *r, const char *who, const mmc_server_conf *conf,
                          int short_report)
{
    apr_hash_index_t *hi;
    const int replicas = conf->client->replicas;

    if (short_report) {
        ap_rprintf(r, "Memcache client: %s, %d server(s), %s%s\n", who, conf->client->ntotal,
                   mmc_distribution(conf) == AP_MEMCACHE_DIST_KETAMA ? "ketama" : "modula",
                   replicas ? apr_psprintf(r->pool, ", %d replica(s)", replicas) : "");
    }
    else {
        ap_rprintf(r, "<h3>%s: %s%s</h3>\n<table border=\"0\"><tr><th>server</th><th>state</th>"
                   "<th>open</th><th>idle</th><th>failures</th><th>protocol</th>"
                   "<th>weight</th>%s</tr>\n", ap_escape_html(r->pool, who),
                   mmc_distribution(conf) == AP_MEMCACHE_DIST_KETAMA ? "ketama" : "modula",
                   replicas ? apr_psprintf(r->pool, ", %d replica(s)", replicas) : "",
                   replicas ? "<th>replica writes / hits / repairs / failures</th>" : "");
    }
    for (hi = apr_hash_first(r->pool, conf->serverhash); hi; hi = apr_hash_next(hi)) {
        const void *name;
        void *ms;
        const char *line;

        apr_hash_this(hi, &name, NULL, &ms);
        line = server_line(r->pool, name, ms, short_report, replicas);
        if (line) {
            ap_rputs(line, r);
        }
    }
    if (!short_report) {
        ap_rputs("</table>\n", r);
    }
}

static int memcache_status(request_rec *r, int flags)
{
    const int short_report = (flags & AP_STATUS_SHORT) != 0;
    const mmc_server_conf *main_conf = mmc_get_server_conf(ap_server_conf);
    server_rec *s;

    if (!short_report) {
        ap_rprintf(r, "<hr />\n<h2>mod_memcache (pid %" APR_PID_T_FMT ")</h2>\n", getpid());
    }
    /* Clients shared by virtual hosts are reported once, under the main server. */
    for (s = ap_server_conf; s; s = s->next) {
        const mmc_server_conf *conf = mmc_get_server_conf(s);

        if (!conf->client || (s != ap_server_conf && conf->client == main_conf->client)) {
            continue;
        }
        client_report(r, s == ap_server_conf ? "main server"
                                             : (s->server_hostname ? s->server_hostname : "?"),
                      conf, short_report);
    }
    mmc_metrics_status(r, short_report);
    return OK;
}

void mmc_register_status_hook(void)
{
    APR_OPTIONAL_HOOK(ap, status_hook, memcache_status, NULL, NULL, APR_HOOK_MIDDLE);
}
