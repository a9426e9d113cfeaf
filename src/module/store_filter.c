/*
 * store_filter.c - the MEMCACHE_STORE output filter (MemcacheStore on): the body of a
 * 200 response stored in memcached under the page's key, for memcache-pass to serve.
 */
#include "store_filter.h"
#include "config.h"
#include "dir_config.h"
#include "pass_handler.h"
#include "server_spec.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"

#include "apr_strings.h"

#include <string.h>
#include <strings.h>

APLOG_USE_MODULE(memcache);

#define DEFAULT_TYPE "text/html"
#define DEFAULT_STORE_TTL_S 60
#define DEFAULT_STORE_MAX (1024 * 1024)

static ap_filter_rec_t *store_filter_handle;

typedef struct {
    const mmc_pass_conf *conf;  /* the store's settings (r's directory) */
    const mmc_pass_conf *page;  /* the key's settings (the initial request's) */
    request_rec *initial;
    apr_uint32_t flags;
    char *buf;
    apr_size_t len;
    apr_size_t cap;
    apr_size_t max;
} store_ctx;

static int has_token(const char *value, const char *token)
{
    return value && ap_find_token(NULL, value, token);
}

/* The envelope's header lines for r's response, or "" when there are none to keep. */
static const char *envelope_of(request_rec *r)
{
    static const char *const names[] = { "Last-Modified", "ETag", NULL };
    const char *lines = apr_psprintf(r->pool, "Content-Type: %s\r\n",
                                     r->content_type ? r->content_type : DEFAULT_TYPE);
    int i;

    for (i = 0; names[i]; ++i) {
        const char *v = apr_table_get(r->headers_out, names[i]);

        if (v && !strpbrk(v, "\r\n")) {
            lines = apr_pstrcat(r->pool, lines, names[i], ": ", v, "\r\n", NULL);
        }
    }
    return apr_pstrcat(r->pool, lines, "\r\n", NULL);
}

/* NULL when r's response is not to be stored; else a new context. */
static store_ctx *start_store(ap_filter_t *f)
{
    request_rec *r = f->r;
    const mmc_pass_conf *conf = &mmc_get_dir_conf(r)->pass;
    request_rec *initial = r;
    const char *enc;
    store_ctx *ctx;

    while (initial->prev) {
        initial = initial->prev;
    }
    if (r->status != HTTP_OK || r->method_number != M_GET || r->header_only ||
        initial->method_number != M_GET || r->main) {
        return NULL;
    }
    if (has_token(apr_table_get(r->headers_out, "Cache-Control"), "no-store") ||
        has_token(apr_table_get(r->headers_out, "Cache-Control"), "private") ||
        has_token(apr_table_get(r->err_headers_out, "Cache-Control"), "no-store") ||
        has_token(apr_table_get(r->err_headers_out, "Cache-Control"), "private")) {
        return NULL;
    }
    ctx = apr_pcalloc(r->pool, sizeof *ctx);
    ctx->conf = conf;
    ctx->initial = initial;
    ctx->page = &mmc_get_dir_conf(initial)->pass;
    ctx->max = (apr_size_t)(conf->store_max != MMC_UNSET ? conf->store_max : DEFAULT_STORE_MAX);
    enc = apr_table_get(r->headers_out, "Content-Encoding");
    if (enc && strcasecmp(enc, "identity") != 0) {
        if (strcasecmp(enc, "gzip") != 0 || ctx->page->gzip_flag <= 0) {
            return NULL;
        }
        ctx->flags |= (apr_uint32_t)ctx->page->gzip_flag;
    }
    if (ctx->page->header_flag > 0) {
        const char *lines = envelope_of(r);

        ctx->flags |= (apr_uint32_t)ctx->page->header_flag;
        ctx->len = strlen(lines);
        ctx->cap = ctx->len + 4096;
        ctx->buf = apr_palloc(r->pool, ctx->cap);
        memcpy(ctx->buf, lines, ctx->len);
        ctx->max += ctx->len;
    }
    return ctx;
}

static int append(store_ctx *ctx, apr_pool_t *p, const char *data, apr_size_t n)
{
    if (ctx->len + n > ctx->max) {
        return 0;
    }
    if (ctx->len + n > ctx->cap) {
        apr_size_t cap = ctx->cap ? ctx->cap : 4096;
        char *buf;

        while (cap < ctx->len + n) {
            cap *= 2;
        }
        buf = apr_palloc(p, cap);
        if (ctx->len) {
            memcpy(buf, ctx->buf, ctx->len);
        }
        ctx->buf = buf;
        ctx->cap = cap;
    }
    memcpy(ctx->buf + ctx->len, data, n);
    ctx->len += n;
    return 1;
}

static void store_page(ap_filter_t *f, store_ctx *ctx)
{
    request_rec *r = f->r;
    const mmc_server_conf *sconf = mmc_get_server_conf(r->server);
    const char *key = mmc_pass_page_key(ctx->initial, ctx->page);
    apr_int64_t ttl = ctx->conf->store_ttl_s != MMC_UNSET ? ctx->conf->store_ttl_s
                                                          : DEFAULT_STORE_TTL_S;
    apr_status_t rv;

    if (!key || !sconf->client) {
        return;
    }
    rv = ap_memcache_store(sconf->client, AP_MEMCACHE_SET, key, ctx->buf ? ctx->buf : "",
                           ctx->len, (apr_uint32_t)ttl, ctx->flags);
    if (rv != APR_SUCCESS) {
        char text[128];

        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "MemcacheStore: set of '%s': %s", key,
                      ap_memcache_strerror(rv, text, sizeof text));
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                      "MemcacheStore: stored '%s' (%" APR_SIZE_T_FMT " bytes)", key, ctx->len);
    }
}

static apr_status_t store_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    store_ctx *ctx = f->ctx;
    apr_bucket *b;

    if (!ctx) {
        ctx = f->ctx = start_store(f);
        if (!ctx) {
            ap_remove_output_filter(f);
            return ap_pass_brigade(f->next, bb);
        }
    }
    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
        const char *data;
        apr_size_t n;

        if (APR_BUCKET_IS_EOS(b)) {
            store_page(f, ctx);
            ap_remove_output_filter(f);
            break;
        }
        if (APR_BUCKET_IS_METADATA(b)) {
            continue;
        }
        if (apr_bucket_read(b, &data, &n, APR_BLOCK_READ) != APR_SUCCESS ||
            !append(ctx, f->r->pool, data, n)) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, f->r,
                          "MemcacheStore: body longer than %" APR_SIZE_T_FMT
                          " bytes or unreadable: not stored", ctx->max);
            ap_remove_output_filter(f);
            break;
        }
    }
    return ap_pass_brigade(f->next, bb);
}

/* Adds the store filter to responses made by other handlers (a memcache-pass miss adds
 * it itself, a hit never does). */
static void insert_store_filter(request_rec *r)
{
    const mmc_dir_conf *dconf = mmc_get_dir_conf(r);

    if (!dconf || dconf->pass.store != 1 || r->method_number != M_GET || r->header_only ||
        r->main || (r->handler && strcmp(r->handler, MMC_PASS_HANDLER) == 0)) {
        return;
    }
    ap_add_output_filter_handle(store_filter_handle, NULL, r, r->connection);
}

void mmc_store_filter_add(request_rec *r)
{
    ap_add_output_filter_handle(store_filter_handle, NULL, r, r->connection);
}

void mmc_store_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_insert_filter(insert_store_filter, NULL, NULL, APR_HOOK_MIDDLE);
    /* After the resource filters (SSI, ...), before mod_deflate's DEFLATE: the stored
     * page is the body the application made, not what one client was sent. */
    store_filter_handle = ap_register_output_filter("MEMCACHE_STORE", store_filter, NULL,
                                                    AP_FTYPE_CONTENT_SET - 1);
}
