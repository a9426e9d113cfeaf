/*
 * metrics.c - `SetHandler memcache-metrics`: every child's per-server metrics, summed
 * (metrics_shm.c), in Prometheus' text exposition format (docs/operations.md).
 */
#include "metrics.h"
#include "metrics_shm.h"

#include "http_config.h"
#include "ap_mpm.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"
#include "apr_date.h"
#include "httpd.h"

#include <string.h>

/* Label values: backslash, double quote and line feed escaped. */
static const char *label(apr_pool_t *p, const char *v)
{
    char *out, *o;

    if (!strpbrk(v, "\\\"\n")) {
        return v;
    }
    out = o = apr_palloc(p, strlen(v) * 2 + 1);
    for (; *v; ++v) {
        if (*v == '\\' || *v == '"') {
            *o++ = '\\';
            *o++ = *v;
        }
        else if (*v == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        }
        else {
            *o++ = *v;
        }
    }
    *o = '\0';
    return out;
}

/* Nanoseconds as exact decimal seconds ("0.000016384", "4.294967296", "2"). */
static const char *seconds(apr_pool_t *p, apr_uint64_t ns)
{
    char *out = apr_psprintf(p, "%" APR_UINT64_T_FMT ".%09" APR_UINT64_T_FMT, ns / 1000000000U,
                             ns % 1000000000U);
    char *end = out + strlen(out) - 1;

    while (*end == '0') {
        *end-- = '\0';
    }
    if (*end == '.') {
        *end = '\0';
    }
    return out;
}

static void family(request_rec *r, const char *name, const char *type, const char *help)
{
    ap_rprintf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The labels every series has, with the entry's names. */
static const char *who(apr_pool_t *p, const mmc_metrics_entry *e)
{
    return apr_pstrcat(p, "client=\"", label(p, e->client), "\",server=\"", label(p, e->server), "\"",
                       NULL);
}

typedef apr_uint64_t (*field_fn)(const ap_memcache_server_metrics_t *m);

#define FIELD(name) \
    static apr_uint64_t field_##name(const ap_memcache_server_metrics_t *m) { return m->name; }
FIELD(pool_waits)
FIELD(connections_opened)
FIELD(connections_closed)
FIELD(connections_resumed)
FIELD(bytes_sent)
FIELD(bytes_received)
FIELD(marked_dead)
FIELD(marked_live)
FIELD(replica_writes)
FIELD(replica_hits)
FIELD(replica_repairs)
FIELD(replica_failures)
#undef FIELD

static void per_server(request_rec *r, const mmc_metrics_entry *entries,
                       const ap_memcache_server_metrics_t *sums, int n, const char *name,
                       const char *help, field_fn get)
{
    int e;

    family(r, name, "counter", help);
    for (e = 0; e < n; ++e) {
        ap_rprintf(r, "%s{%s} %" APR_UINT64_T_FMT "\n", name, who(r->pool, &entries[e]), get(&sums[e]));
    }
}

static void report(request_rec *r, const mmc_metrics_entry *entries,
                   const ap_memcache_server_metrics_t *sums, int n)
{
    int e, op, res, i;

    family(r, "memcache_client_requests_total", "counter",
           "Calls to a memcached server by kind (op) and result, summed over every child.");
    for (e = 0; e < n; ++e) {
        const char *w = who(r->pool, &entries[e]);

        for (op = 0; op < AP_MEMCACHE_METRIC_OPS; ++op) {
            const int lookup = op == AP_MEMCACHE_METRIC_OP_GET || op == AP_MEMCACHE_METRIC_OP_MULTIGET_KEY;

            for (res = 0; res < AP_MEMCACHE_METRIC_RESULTS; ++res) {
                /* Lookups hit or miss; other calls are ok, miss (not found) or not stored. */
                if ((lookup && (res == AP_MEMCACHE_METRIC_OK || res == AP_MEMCACHE_METRIC_NOT_STORED))
                    || (!lookup && res == AP_MEMCACHE_METRIC_HIT)) {
                    continue;
                }
                ap_rprintf(r, "memcache_client_requests_total{%s,op=\"%s\",result=\"%s\"} %" APR_UINT64_T_FMT "\n",
                           w, ap_memcache_metric_op_name(op), ap_memcache_metric_result_name(res),
                           sums[e].requests[op][res]);
            }
        }
    }
    family(r, "memcache_client_errors_total", "counter",
           "Failed calls to a memcached server by class, summed over every child.");
    for (e = 0; e < n; ++e) {
        const char *w = who(r->pool, &entries[e]);

        for (i = 0; i < AP_MEMCACHE_METRIC_ERRORS; ++i) {
            ap_rprintf(r, "memcache_client_errors_total{%s,class=\"%s\"} %" APR_UINT64_T_FMT "\n", w,
                       ap_memcache_metric_error_name(i), sums[e].errors[i]);
        }
    }
    family(r, "memcache_client_request_duration_seconds", "histogram",
           "How long calls to a memcached server took, from their start (waiting for a "
           "connection included) to their outcome.");
    for (e = 0; e < n; ++e) {
        const char *w = who(r->pool, &entries[e]);
        apr_uint64_t cumulative = 0;

        for (i = 0; i < AP_MEMCACHE_LATENCY_BUCKETS; ++i) {
            cumulative += sums[e].latency[i];
            if (i + 1 < AP_MEMCACHE_LATENCY_BUCKETS) {
                ap_rprintf(r, "memcache_client_request_duration_seconds_bucket{%s,le=\"%s\"} %" APR_UINT64_T_FMT "\n",
                           w, seconds(r->pool, (apr_uint64_t)1 << (14 + i)), cumulative);
            }
            else {
                ap_rprintf(r, "memcache_client_request_duration_seconds_bucket{%s,le=\"+Inf\"} %" APR_UINT64_T_FMT "\n",
                           w, cumulative);
            }
        }
        ap_rprintf(r, "memcache_client_request_duration_seconds_sum{%s} %s\n", w,
                   seconds(r->pool, sums[e].latency_sum_ns));
        ap_rprintf(r, "memcache_client_request_duration_seconds_count{%s} %" APR_UINT64_T_FMT "\n", w, cumulative);
    }
    per_server(r, entries, sums, n, "memcache_client_pool_waits_total",
               "Calls that found every pooled connection to the server busy and waited.", field_pool_waits);
    family(r, "memcache_client_pool_wait_seconds_total", "counter",
           "The time calls waited for a pooled connection to the server.");
    for (e = 0; e < n; ++e) {
        ap_rprintf(r, "memcache_client_pool_wait_seconds_total{%s} %s\n", who(r->pool, &entries[e]),
                   seconds(r->pool, sums[e].pool_wait_ns));
    }
    per_server(r, entries, sums, n, "memcache_client_connections_opened_total",
               "Connections opened to the server (TLS handshake and authentication included).",
               field_connections_opened);
    per_server(r, entries, sums, n, "memcache_client_connections_closed_total",
               "Connections to the server closed again.", field_connections_closed);
    per_server(r, entries, sums, n, "memcache_client_connections_resumed_total",
               "TLS connections to the server that resumed a session.", field_connections_resumed);
    per_server(r, entries, sums, n, "memcache_client_bytes_sent_total", "Request bytes sent to the server.",
               field_bytes_sent);
    per_server(r, entries, sums, n, "memcache_client_bytes_received_total",
               "Reply bytes received from the server.", field_bytes_received);
    per_server(r, entries, sums, n, "memcache_client_marked_dead_total",
               "Times a child marked the server dead.", field_marked_dead);
    per_server(r, entries, sums, n, "memcache_client_marked_live_total",
               "Times a child found a dead server back.", field_marked_live);
    per_server(r, entries, sums, n, "memcache_client_replica_writes_total",
               "Writes sent to the server as a key's replica (MemcacheReplicas).", field_replica_writes);
    per_server(r, entries, sums, n, "memcache_client_replica_hits_total",
               "Reads the server answered as a key's replica after the servers before it did not.",
               field_replica_hits);
    per_server(r, entries, sums, n, "memcache_client_replica_repairs_total",
               "Values written back to the server, the key's primary, by read repair.", field_replica_repairs);
    per_server(r, entries, sums, n, "memcache_client_replica_failures_total",
               "Writes to the server as a key's replica that failed (never the call's status).",
               field_replica_failures);
    family(r, "memcache_client_server_up", "gauge",
           "1 when no running child has the server marked dead, else 0.");
    for (e = 0; e < n; ++e) {
        ap_rprintf(r, "memcache_client_server_up{%s} %d\n", who(r->pool, &entries[e]), sums[e].live ? 1 : 0);
    }
    family(r, "memcache_client_server_dead_since_seconds", "gauge",
           "When a running child last marked the server dead (Unix time), 0 while it is up.");
    for (e = 0; e < n; ++e) {
        ap_rprintf(r, "memcache_client_server_dead_since_seconds{%s} %s\n", who(r->pool, &entries[e]),
                   seconds(r->pool, sums[e].live || sums[e].dead_since < 0
                                        ? 0 : (apr_uint64_t)sums[e].dead_since * 1000U));
    }
}

/* ---- the mod_status section ---------------------------------------------------- */

static apr_uint64_t bucket_bound_ns(int i)
{
    return i + 1 < AP_MEMCACHE_LATENCY_BUCKETS ? (apr_uint64_t)1 << (14 + i) : 0;
}

/* The q-quantile of the histogram in nanoseconds, interpolated within its bucket as
 * Prometheus' histogram_quantile does; -1 without calls. */
static double quantile_ns(const ap_memcache_server_metrics_t *m, double q)
{
    apr_uint64_t count = 0, cumulative = 0;
    double rank;
    int i;

    for (i = 0; i < AP_MEMCACHE_LATENCY_BUCKETS; ++i) {
        count += m->latency[i];
    }
    if (count == 0) {
        return -1;
    }
    rank = q * (double)count;
    for (i = 0; i < AP_MEMCACHE_LATENCY_BUCKETS; ++i) {
        const apr_uint64_t in = m->latency[i];

        if (in > 0 && (double)(cumulative + in) >= rank) {
            const double lower = i == 0 ? 0.0 : (double)bucket_bound_ns(i - 1);

            if (i + 1 == AP_MEMCACHE_LATENCY_BUCKETS) {
                return lower;  /* beyond the last bound: the bound */
            }
            return lower + ((double)bucket_bound_ns(i) - lower) * (rank - (double)cumulative) / (double)in;
        }
        cumulative += in;
    }
    return (double)bucket_bound_ns(AP_MEMCACHE_LATENCY_BUCKETS - 2);
}

static const char *duration_text(apr_pool_t *p, double ns)
{
    if (ns < 0) {
        return "-";
    }
    if (ns < 1e6) {
        return apr_psprintf(p, "%.0f us", ns / 1e3);
    }
    if (ns < 1e9) {
        return apr_psprintf(p, "%.1f ms", ns / 1e6);
    }
    return apr_psprintf(p, "%.2f s", ns / 1e9);
}

static apr_uint64_t lookups(const ap_memcache_server_metrics_t *m, int result)
{
    return m->requests[AP_MEMCACHE_METRIC_OP_GET][result] + m->requests[AP_MEMCACHE_METRIC_OP_MULTIGET_KEY][result];
}

/* "timeout=3 closed=1", or "none". */
static const char *errors_text(apr_pool_t *p, const ap_memcache_server_metrics_t *m, const char *sep)
{
    const char *out = NULL;
    int i;

    for (i = 0; i < AP_MEMCACHE_METRIC_ERRORS; ++i) {
        if (m->errors[i]) {
            const char *one = apr_psprintf(p, "%s=%" APR_UINT64_T_FMT, ap_memcache_metric_error_name(i), m->errors[i]);

            out = out ? apr_pstrcat(p, out, sep, one, NULL) : one;
        }
    }
    return out ? out : "none";
}

/* A bar per latency bucket, as tall as its share of the largest one. */
static const char *histogram_svg(apr_pool_t *p, const ap_memcache_server_metrics_t *m)
{
    const int bar = 9, gap = 1, height = 48;
    apr_uint64_t most = 0;
    const char *out;
    int i;

    for (i = 0; i < AP_MEMCACHE_LATENCY_BUCKETS; ++i) {
        if (m->latency[i] > most) {
            most = m->latency[i];
        }
    }
    out = apr_psprintf(p, "<svg class=\"mmc-histogram\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                          "height=\"%d\" role=\"img\"><title>calls per latency bucket</title>"
                          "<rect width=\"100%%\" height=\"100%%\" fill=\"#f4f4f4\"/>",
                       AP_MEMCACHE_LATENCY_BUCKETS * (bar + gap), height + 12);
    for (i = 0; i < AP_MEMCACHE_LATENCY_BUCKETS; ++i) {
        const int h = most ? (int)((double)m->latency[i] * height / (double)most + 0.5) : 0;
        const char *upto = i + 1 < AP_MEMCACHE_LATENCY_BUCKETS
                               ? apr_pstrcat(p, "up to ", duration_text(p, (double)bucket_bound_ns(i)), NULL)
                               : "over 4.29 s";

        out = apr_psprintf(p, "%s<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#3572b0\">"
                              "<title>%s: %" APR_UINT64_T_FMT "</title></rect>",
                           out, i * (bar + gap), height - h, bar, h > 0 || !m->latency[i] ? h : 1, upto,
                           m->latency[i]);
    }
    return apr_pstrcat(p, out,
                       "<text x=\"0\" y=\"58\" font-size=\"9\">16us</text>"
                       "<text x=\"92\" y=\"58\" font-size=\"9\">17ms</text>"
                       "<text x=\"178\" y=\"58\" font-size=\"9\">4s</text></svg>", NULL);
}

void mmc_metrics_status(request_rec *r, int short_report)
{
    const mmc_metrics_entry *entries;
    ap_memcache_server_metrics_t *sums;
    int n, e;

    mmc_metrics_flush();
    n = mmc_metrics_sum(r->pool, &entries, &sums);
    if (n == 0) {
        return;
    }
    if (!short_report) {
        ap_rputs("<h3>Every child, summed</h3>\n<table border=\"0\" class=\"mmc-metrics\"><tr><th>client</th>"
                 "<th>server</th><th>state</th><th>calls</th><th>hit ratio</th><th>p50</th><th>p99</th>"
                 "<th>errors</th><th>pool waits</th><th>replica writes / hits / repairs / failures</th>"
                 "<th>latency</th></tr>\n", r);
    }
    for (e = 0; e < n; ++e) {
        const ap_memcache_server_metrics_t *m = &sums[e];
        const apr_uint64_t hits = lookups(m, AP_MEMCACHE_METRIC_HIT);
        const apr_uint64_t misses = lookups(m, AP_MEMCACHE_METRIC_MISS);
        apr_uint64_t calls = 0;
        const char *ratio;
        const char *state;
        int op, res;

        for (op = 0; op < AP_MEMCACHE_METRIC_OPS; ++op) {
            for (res = 0; res < AP_MEMCACHE_METRIC_RESULTS; ++res) {
                calls += m->requests[op][res];
            }
        }
        ratio = hits + misses ? apr_psprintf(r->pool, "%.3f", (double)hits / (double)(hits + misses)) : "-";
        if (m->live) {
            state = "live";
        }
        else {
            char when[APR_RFC822_DATE_LEN];

            apr_rfc822_date(when, m->dead_since);
            state = apr_pstrcat(r->pool, short_report ? "dead since " : "<b>dead</b> since ", when, NULL);
        }
        if (short_report) {
            ap_rprintf(r, "MemcacheMetrics %s %s: %s calls=%" APR_UINT64_T_FMT " hit_ratio=%s p50=%s p99=%s "
                          "errors=%s pool_waits=%" APR_UINT64_T_FMT " pool_wait_seconds=%s"
                          " replica_writes=%" APR_UINT64_T_FMT " replica_hits=%" APR_UINT64_T_FMT
                          " replica_repairs=%" APR_UINT64_T_FMT " replica_failures=%" APR_UINT64_T_FMT "\n",
                       entries[e].client, entries[e].server, state, calls, ratio,
                       seconds(r->pool, (apr_uint64_t)(quantile_ns(m, 0.5) < 0 ? 0 : quantile_ns(m, 0.5))),
                       seconds(r->pool, (apr_uint64_t)(quantile_ns(m, 0.99) < 0 ? 0 : quantile_ns(m, 0.99))),
                       errors_text(r->pool, m, ","), m->pool_waits, seconds(r->pool, m->pool_wait_ns),
                       m->replica_writes, m->replica_hits, m->replica_repairs, m->replica_failures);
        }
        else {
            ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%" APR_UINT64_T_FMT "</td><td>%s</td>"
                          "<td>%s</td><td>%s</td><td>%s</td><td>%" APR_UINT64_T_FMT " (%s)</td>"
                          "<td>%" APR_UINT64_T_FMT " / %" APR_UINT64_T_FMT " / %" APR_UINT64_T_FMT
                          " / %" APR_UINT64_T_FMT "</td><td>%s</td></tr>\n",
                       ap_escape_html(r->pool, entries[e].client), ap_escape_html(r->pool, entries[e].server), state,
                       calls, ratio, duration_text(r->pool, quantile_ns(m, 0.5)),
                       duration_text(r->pool, quantile_ns(m, 0.99)), errors_text(r->pool, m, " "), m->pool_waits,
                       duration_text(r->pool, (double)m->pool_wait_ns), m->replica_writes, m->replica_hits,
                       m->replica_repairs, m->replica_failures, histogram_svg(r->pool, m));
        }
    }
    if (!short_report) {
        ap_rputs("</table>\n", r);
    }
}

static int metrics_handler(request_rec *r)
{
    const mmc_metrics_entry *entries;
    ap_memcache_server_metrics_t *sums;
    int n;

    if (!r->handler || strcmp(r->handler, "memcache-metrics") != 0) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    /* This child's own figures as of now, before the sum. */
    mmc_metrics_flush();
    n = mmc_metrics_sum(r->pool, &entries, &sums);
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only) {
        return OK;
    }
    report(r, entries, sums, n);
    return OK;
}

static int metrics_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    (void)plog;
    (void)ptemp;
    /* httpd reads its configuration twice at start; the first is discarded. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    return mmc_metrics_post_config(pconf, s);
}

/* At the end of every request: this child's slot as of now (a few hundred loads and
 * stores per server, no lock, no system call). */
static int metrics_log_transaction(request_rec *r)
{
    (void)r;
    mmc_metrics_flush();
    return DECLINED;
}

void mmc_metrics_register_hooks(void)
{
    /* Last: the socache consumers (mod_ssl, ...) initialise their instances in their
     * own post_config. */
    ap_hook_post_config(metrics_post_config, NULL, NULL, APR_HOOK_REALLY_LAST);
    /* After mmc_child_init (REALLY_FIRST), which builds the clients. */
    ap_hook_child_init(mmc_metrics_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(metrics_log_transaction, NULL, NULL, APR_HOOK_REALLY_LAST);
}
