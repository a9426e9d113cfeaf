/*
 * mod_socache_probe.c - a test consumer of ap_socache.h: calls any socache provider's
 * functions as a request asks, so tests and the benchmark reach the provider API
 * itself (buffer sizes, expiry times, binary ids) and compare providers in one process.
 *
 *   SOCacheProbe NAME PROVIDER[:ARGS]      create at the directive, init in post_config
 *                                          (NAME is the cname, at most 16 characters)
 *   <Location /probe> SetHandler socache-probe </Location>
 *
 *   GET /probe?c=NAME&op=store&id=HEX&data=TEXT&ttl=SECONDS   (ttl may be negative)
 *   GET /probe?c=NAME&op=retrieve&id=HEX&buf=BYTES
 *   GET /probe?c=NAME&op=remove&id=HEX
 *   GET /probe?c=NAME&op=iterate
 *   GET /probe?c=NAME&op=bench&n=OPS&size=BYTES[&callgrind=1]  n store+retrieve pairs;
 *       under callgrind (--instr-atstart=no), callgrind=1 counts the loop alone and
 *       dumps it as "bench-NAME"
 *
 * The answer is text: "status=<apr_status_t>" and what the call returned.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "ap_provider.h"
#include "ap_socache.h"

#include "apr_strings.h"
#include "apr_tables.h"

#include <linux/perf_event.h>
#include <valgrind/callgrind.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

module AP_MODULE_DECLARE_DATA socache_probe_module;

typedef struct {
    const char *name;
    const ap_socache_provider_t *provider;
    ap_socache_instance_t *instance;
} probe_cache;

/* Global, as the socache consumers' caches are: one table for the configuration. */
static apr_array_header_t *caches;

static const char *cmd_probe(cmd_parms *cmd, void *dconf, const char *name, const char *spec)
{
    const char *sep = strchr(spec, ':');
    const char *pname = sep ? apr_pstrmemdup(cmd->pool, spec, (apr_size_t)(sep - spec)) : spec;
    probe_cache *c;
    const char *err;

    (void)dconf;
    if (caches == NULL) {
        caches = apr_array_make(cmd->pool, 4, sizeof(probe_cache));
    }
    c = apr_array_push(caches);
    c->name = name;
    c->provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, pname, AP_SOCACHE_PROVIDER_VERSION);
    if (c->provider == NULL) {
        return apr_psprintf(cmd->pool, "SOCacheProbe: no socache provider '%s'", pname);
    }
    err = c->provider->create(&c->instance, sep ? sep + 1 : NULL, cmd->temp_pool, cmd->pool);
    return err ? apr_psprintf(cmd->pool, "SOCacheProbe: %s", err) : NULL;
}

static apr_status_t forget_caches(void *data)
{
    (void)data;
    caches = NULL;
    return APR_SUCCESS;
}

static int probe_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                             server_rec *s)
{
    int i;

    (void)plog;
    (void)ptemp;
    if (caches == NULL) {
        return OK;
    }
    apr_pool_cleanup_register(pconf, NULL, forget_caches, apr_pool_cleanup_null);
    for (i = 0; i < caches->nelts; ++i) {
        probe_cache *c = &APR_ARRAY_IDX(caches, i, probe_cache);
        apr_status_t rv = c->provider->init(c->instance, c->name, NULL, s, pconf);

        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "SOCacheProbe %s: init failed", c->name);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

static const char *arg(apr_table_t *args, const char *name, const char *dflt)
{
    const char *v = apr_table_get(args, name);

    return v ? v : dflt;
}

static apr_table_t *parse_args(request_rec *r)
{
    apr_table_t *t = apr_table_make(r->pool, 8);
    char *rest = r->args ? apr_pstrdup(r->pool, r->args) : NULL;
    char *state = NULL;
    char *pair;

    for (pair = rest ? apr_strtok(rest, "&", &state) : NULL; pair;
         pair = apr_strtok(NULL, "&", &state)) {
        char *eq = strchr(pair, '=');

        if (eq) {
            *eq = '\0';
            ap_unescape_url(eq + 1);
            apr_table_setn(t, pair, eq + 1);
        }
    }
    return t;
}

/* "00ff41" -> bytes; NULL for odd length or a non-hex digit. */
static unsigned char *from_hex(apr_pool_t *p, const char *hex, unsigned int *len)
{
    apr_size_t n = strlen(hex);
    unsigned char *out;
    apr_size_t i;

    if (n % 2) {
        return NULL;
    }
    out = apr_palloc(p, n / 2 + 1);
    for (i = 0; i < n / 2; ++i) {
        char byte[3] = {hex[2 * i], hex[2 * i + 1], 0};
        char *end = NULL;

        out[i] = (unsigned char)strtoul(byte, &end, 16);
        if (*end != '\0') {
            return NULL;
        }
    }
    *len = (unsigned int)(n / 2);
    return out;
}

/* Instructions retired in user space by this thread, or -1 where the kernel or the
 * machine does not count them. */
static int open_instruction_counter(void)
{
    struct perf_event_attr attr;

    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_HARDWARE;
    attr.config = PERF_COUNT_HW_INSTRUCTIONS;
    attr.disabled = 1;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    return (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
}

static apr_int64_t read_counter(int fd)
{
    apr_int64_t v = -1;

    if (fd < 0 || read(fd, &v, sizeof v) != (ssize_t)sizeof v) {
        return -1;
    }
    return v;
}

static void bench(request_rec *r, probe_cache *c, int n, int size, int callgrind)
{
    unsigned char *value = apr_palloc(r->pool, (apr_size_t)size);
    unsigned char *buf = apr_palloc(r->pool, (apr_size_t)size + 1);
    unsigned char id[32];
    apr_pool_t *scratch;
    apr_time_t t0, t1;
    int counter = open_instruction_counter();
    apr_int64_t instructions;
    int failures = 0;
    int i;

    memset(value, 'v', (apr_size_t)size);
    memset(id, 0x5a, sizeof id);
    apr_pool_create(&scratch, r->pool);
    if (counter >= 0) {
        ioctl(counter, PERF_EVENT_IOC_RESET, 0);
        ioctl(counter, PERF_EVENT_IOC_ENABLE, 0);
    }
    if (callgrind) {
        CALLGRIND_START_INSTRUMENTATION;
        CALLGRIND_ZERO_STATS;
    }
    t0 = apr_time_now();
    for (i = 0; i < n; ++i) {
        unsigned int len = (unsigned int)size + 1;

        /* A new session id per pair, as every full handshake makes one. */
        memcpy(id, &i, sizeof i);
        if (c->provider->store(c->instance, r->server, id, sizeof id,
                               apr_time_now() + apr_time_from_sec(300), value,
                               (unsigned int)size, scratch) != APR_SUCCESS
            || c->provider->retrieve(c->instance, r->server, id, sizeof id, buf, &len,
                                     scratch) != APR_SUCCESS
            || len != (unsigned int)size) {
            ++failures;
        }
        apr_pool_clear(scratch);
    }
    t1 = apr_time_now();
    if (callgrind) {
        CALLGRIND_DUMP_STATS_AT(apr_pstrcat(r->pool, "bench-", c->name, NULL));
        CALLGRIND_STOP_INSTRUMENTATION;
    }
    if (counter >= 0) {
        ioctl(counter, PERF_EVENT_IOC_DISABLE, 0);
    }
    instructions = read_counter(counter);
    if (counter >= 0) {
        close(counter);
    }
    ap_rprintf(r, "provider=%s pairs=%d size=%d failures=%d usec=%" APR_TIME_T_FMT
               " instructions=%" APR_INT64_T_FMT "\n", c->provider->name, n, size, failures, t1 - t0,
               instructions);
}

static int probe_handler(request_rec *r)
{
    apr_table_t *args;
    probe_cache *c = NULL;
    const char *op;
    unsigned char *id = NULL;
    unsigned int idlen = 0;
    apr_status_t rv;
    int i;

    if (r->handler == NULL || strcmp(r->handler, "socache-probe") != 0) {
        return DECLINED;
    }
    args = parse_args(r);
    for (i = 0; caches && i < caches->nelts; ++i) {
        if (strcmp(APR_ARRAY_IDX(caches, i, probe_cache).name, arg(args, "c", "")) == 0) {
            c = &APR_ARRAY_IDX(caches, i, probe_cache);
        }
    }
    op = arg(args, "op", "");
    if (c == NULL) {
        return HTTP_NOT_FOUND;
    }
    if (apr_table_get(args, "id") && !(id = from_hex(r->pool, arg(args, "id", ""), &idlen))) {
        return HTTP_BAD_REQUEST;
    }
    ap_set_content_type(r, "text/plain");
    if (strcmp(op, "store") == 0 && id) {
        const char *data = arg(args, "data", "");
        apr_time_t expiry = apr_time_now() + apr_time_from_sec(apr_atoi64(arg(args, "ttl", "60")));

        rv = c->provider->store(c->instance, r->server, id, idlen, expiry,
                                (unsigned char *)apr_pstrdup(r->pool, data),
                                (unsigned int)strlen(data), r->pool);
        ap_rprintf(r, "status=%d\n", rv);
    }
    else if (strcmp(op, "retrieve") == 0 && id) {
        unsigned int size = (unsigned int)apr_atoi64(arg(args, "buf", "1024"));
        unsigned int len = size;
        /* A canary after the buffer: a provider that writes past *datalen shows here. */
        unsigned char *buf = apr_palloc(r->pool, size + 8);

        memset(buf, '#', size + 8);
        rv = c->provider->retrieve(c->instance, r->server, id, idlen, buf, &len, r->pool);
        ap_rprintf(r, "status=%d len=%u canary=%s\n", rv, len,
                   memcmp(buf + size, "########", 8) == 0 ? "intact" : "overwritten");
        if (rv == APR_SUCCESS && len <= size) {
            ap_rwrite(buf, (int)len, r);
        }
    }
    else if (strcmp(op, "remove") == 0 && id) {
        rv = c->provider->remove(c->instance, r->server, id, idlen, r->pool);
        ap_rprintf(r, "status=%d\n", rv);
    }
    else if (strcmp(op, "iterate") == 0) {
        rv = c->provider->iterate(c->instance, r->server, NULL, NULL, r->pool);
        ap_rprintf(r, "status=%d\n", rv);
    }
    else if (strcmp(op, "bench") == 0) {
        bench(r, c, (int)apr_atoi64(arg(args, "n", "1000")),
              (int)apr_atoi64(arg(args, "size", "150")), apr_atoi64(arg(args, "callgrind", "0")) != 0);
    }
    else {
        return HTTP_BAD_REQUEST;
    }
    return OK;
}

static const command_rec probe_cmds[] = {
    AP_INIT_TAKE2("SOCacheProbe", cmd_probe, NULL, RSRC_CONF,
                  "a name (the cname) and a socache provider with its arguments"),
    { NULL }
};

static void probe_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_config(probe_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(probe_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA socache_probe_module = {
    STANDARD20_MODULE_STUFF,
    NULL, NULL, NULL, NULL,
    probe_cmds,
    probe_register_hooks,
    AP_MODULE_FLAG_NONE
};
