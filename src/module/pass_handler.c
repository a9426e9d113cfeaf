/*
 * pass_handler.c - the memcache-pass handler: a page read from memcached under a key
 * made from the request, as nginx's memcached_pass. Its store side is store_filter.c.
 */
#include "pass_handler.h"
#include "config.h"
#include "dir_config.h"
#include "server_spec.h"
#include "store_filter.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"

#include "apr_date.h"
#include "apr_lib.h"
#include "apr_sha1.h"
#include "apr_strings.h"

#include <string.h>
#include <strings.h>

APLOG_USE_MODULE(memcache);

#define DEFAULT_TYPE "text/html"
/* memcached's longest key. */
#define MAX_KEY_LEN 250
#define HASHED_KEY_PREFIX "mmc-sha1:"
/* In the notes of a request that a miss redirected (MemcachePassFallback). */
#define FALLBACK_NOTE "memcache-pass-fallback"

/* ---- configuration ------------------------------------------------------------- */

void mmc_pass_conf_init(mmc_pass_conf *conf)
{
    conf->gzip_flag = MMC_UNSET;
    conf->header_flag = MMC_UNSET;
    conf->miss = MMC_UNSET;
    conf->store = MMC_UNSET;
    conf->store_ttl_s = MMC_UNSET;
    conf->store_max = MMC_UNSET;
}

#define MERGED(field) (add->field != MMC_UNSET ? add->field : base->field)

void mmc_pass_conf_merge(mmc_pass_conf *conf, const mmc_pass_conf *base,
                         const mmc_pass_conf *add)
{
    conf->key = add->key ? add->key : base->key;
    conf->type = add->type ? add->type : base->type;
    conf->gzip_flag = MERGED(gzip_flag);
    conf->header_flag = MERGED(header_flag);
    conf->miss = MERGED(miss);
    conf->fallback_set = add->fallback_set || base->fallback_set;
    conf->fallback = add->fallback_set ? add->fallback : base->fallback;
    conf->store = MERGED(store);
    conf->store_ttl_s = MERGED(store_ttl_s);
    conf->store_max = MERGED(store_max);
}

static mmc_pass_conf *pass_conf(void *dconf)
{
    return &((mmc_dir_conf *)dconf)->pass;
}

static const char *parse_string_expr(cmd_parms *cmd, const char *arg, ap_expr_info_t **out)
{
    const char *err = NULL;

    *out = ap_expr_parse_cmd(cmd, arg, AP_EXPR_FLAG_STRING_RESULT, &err, NULL);
    if (err) {
        return apr_psprintf(cmd->pool, "%s: '%s': not an expression string: %s",
                            cmd->cmd->name, arg, err);
    }
    return NULL;
}

const char *mmc_cmd_pass_key(cmd_parms *cmd, void *dconf, const char *arg)
{
    return parse_string_expr(cmd, arg, &pass_conf(dconf)->key);
}

const char *mmc_cmd_pass_type(cmd_parms *cmd, void *dconf, const char *arg)
{
    const char *p;

    for (p = arg; *p; ++p) {
        if (apr_iscntrl(*p)) {
            break;
        }
    }
    if (*arg == '\0' || *p || !strchr(arg, '/')) {
        return apr_psprintf(cmd->pool, "%s: '%s': expected a media type such as "
                            "text/html or \"text/html; charset=utf-8\"", cmd->cmd->name, arg);
    }
    pass_conf(dconf)->type = arg;
    return NULL;
}

const char *mmc_cmd_pass_flag(cmd_parms *cmd, void *dconf, const char *arg)
{
    apr_int64_t *field = (apr_int64_t *)((char *)pass_conf(dconf) + (apr_size_t)cmd->info);
    char *end = NULL;
    apr_int64_t v;

    v = apr_strtoi64(arg, &end, 10);
    if (!apr_isdigit(*arg) || *end != '\0' || v < 0 || v > 0xffffffffLL) {
        return apr_psprintf(cmd->pool, "%s: '%s': expected an item flags value from 0 "
                            "to 4294967295", cmd->cmd->name, arg);
    }
    *field = v;
    return NULL;
}

const char *mmc_cmd_pass_miss(cmd_parms *cmd, void *dconf, const char *arg)
{
    if (strcasecmp(arg, "next") == 0) {
        pass_conf(dconf)->miss = MMC_PASS_MISS_NEXT;
    }
    else if (strcmp(arg, "404") == 0) {
        pass_conf(dconf)->miss = MMC_PASS_MISS_404;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s': expected next or 404", cmd->cmd->name, arg);
    }
    return NULL;
}

const char *mmc_cmd_pass_fallback(cmd_parms *cmd, void *dconf, const char *arg)
{
    mmc_pass_conf *conf = pass_conf(dconf);

    conf->fallback_set = 1;
    if (strcasecmp(arg, "none") == 0) {
        conf->fallback = NULL;
        return NULL;
    }
    if (arg[0] != '/' && arg[0] != '%') {
        return apr_psprintf(cmd->pool, "%s: '%s': expected a local URL path (starting "
                            "with /) or none", cmd->cmd->name, arg);
    }
    return parse_string_expr(cmd, arg, &conf->fallback);
}

const char *mmc_cmd_store(cmd_parms *cmd, void *dconf, int flag)
{
    (void)cmd;
    pass_conf(dconf)->store = flag ? 1 : 0;
    return NULL;
}

const char *mmc_cmd_store_ttl(cmd_parms *cmd, void *dconf, const char *arg)
{
    apr_int64_t us = 0;
    const char *err;

    /* memcached reads an expiry above 30 days as a unix time. */
    err = mmc_parse_duration(cmd->pool, cmd->cmd->name, arg, arg,
                             (apr_int64_t)30 * 24 * 3600 * APR_USEC_PER_SEC, 0, &us);
    if (err) {
        return err;
    }
    if (us < APR_USEC_PER_SEC) {
        return apr_psprintf(cmd->pool, "%s: '%s': expected at least 1s", cmd->cmd->name, arg);
    }
    pass_conf(dconf)->store_ttl_s = us / APR_USEC_PER_SEC;
    return NULL;
}

const char *mmc_cmd_store_max_size(cmd_parms *cmd, void *dconf, const char *arg)
{
    return mmc_parse_size(cmd->pool, cmd->cmd->name, arg, (apr_int64_t)1024 * 1024 * 1024,
                          &pass_conf(dconf)->store_max);
}

/* ---- the key ------------------------------------------------------------------- */

/* nginx's escaping of memcached keys: space, '%' and the control characters 0x00-0x1f
 * become %XX, so that the same request gives the same key in both servers. */
static int needs_escape(unsigned char c)
{
    return c <= 0x20 || c == '%';
}

static const char *escape_key(apr_pool_t *p, const char *raw, apr_size_t len,
                              apr_size_t *out_len, int *has_del)
{
    static const char hex[] = "0123456789ABCDEF";
    apr_size_t n = 0, i;
    char *out, *q;

    *has_del = 0;
    for (i = 0; i < len; ++i) {
        n += needs_escape((unsigned char)raw[i]);
        *has_del |= raw[i] == 0x7f;
    }
    *out_len = len + 2 * n;
    if (n == 0) {
        return raw;
    }
    out = q = apr_palloc(p, *out_len + 1);
    for (i = 0; i < len; ++i) {
        unsigned char c = (unsigned char)raw[i];

        if (needs_escape(c)) {
            *q++ = '%';
            *q++ = hex[c >> 4];
            *q++ = hex[c & 15];
        }
        else {
            *q++ = (char)c;
        }
    }
    *q = '\0';
    return out;
}

const char *mmc_pass_page_key(request_rec *r, const mmc_pass_conf *conf)
{
    const char *raw;
    apr_size_t raw_len, len;
    int has_del;
    const char *key;

    if (conf->key) {
        const char *err = NULL;

        raw = ap_expr_str_exec(r, conf->key, &err);
        if (err || raw == NULL) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "MemcachePassKey: cannot evaluate the key: %s",
                          err ? err : "no result");
            return NULL;
        }
        raw_len = strlen(raw);
    }
    else {
        /* nginx's "$uri?$args": the decoded path, '?', and the query string as sent
         * (nothing after the '?' when there is none). */
        apr_size_t ulen = strlen(r->uri);
        apr_size_t alen = r->args ? strlen(r->args) : 0;
        char *k = apr_palloc(r->pool, ulen + alen + 2);

        memcpy(k, r->uri, ulen);
        k[ulen] = '?';
        memcpy(k + ulen + 1, r->args ? r->args : "", alen);
        k[ulen + 1 + alen] = '\0';
        raw = k;
        raw_len = ulen + 1 + alen;
    }
    key = escape_key(r->pool, raw, raw_len, &len, &has_del);
    /* Not a memcached key still: too long, empty, or with a DEL byte (which nginx
     * sends as it is, but which the client refuses as a control character). */
    if (len == 0 || len > MAX_KEY_LEN || has_del) {
        unsigned char digest[APR_SHA1_DIGESTSIZE];
        apr_sha1_ctx_t sha;
        char *hashed = apr_palloc(r->pool, sizeof HASHED_KEY_PREFIX + 2 * sizeof digest);
        int i;

        apr_sha1_init(&sha);
        apr_sha1_update_binary(&sha, (const unsigned char *)key, (unsigned int)len);
        apr_sha1_final(digest, &sha);
        memcpy(hashed, HASHED_KEY_PREFIX, sizeof HASHED_KEY_PREFIX - 1);
        for (i = 0; i < APR_SHA1_DIGESTSIZE; ++i) {
            static const char hex[] = "0123456789abcdef";

            hashed[sizeof HASHED_KEY_PREFIX - 1 + 2 * i] = hex[digest[i] >> 4];
            hashed[sizeof HASHED_KEY_PREFIX - 1 + 2 * i + 1] = hex[digest[i] & 15];
        }
        hashed[sizeof HASHED_KEY_PREFIX - 1 + 2 * sizeof digest] = '\0';
        key = hashed;
    }
    return key;
}

/* ---- the header envelope ------------------------------------------------------- */

/* The headers an envelope may carry; anything else is refused. */
static int envelope_header_allowed(const char *name, apr_size_t len)
{
    static const char *const allowed[] = { "Content-Type", "Last-Modified", "ETag",
                                           "Cache-Control", "Expires", NULL };
    int i;

    for (i = 0; allowed[i]; ++i) {
        if (strlen(allowed[i]) == len && strncasecmp(allowed[i], name, len) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Reads "Name: value\r\n" lines up to an empty line into headers; *body and *len are
 * what follows. 0 when the envelope is malformed. */
static int open_envelope(apr_pool_t *p, const char **body, apr_size_t *len,
                         apr_table_t *headers)
{
    const char *s = *body, *end = *body + *len;

    while (s < end) {
        const char *eol = memchr(s, '\n', (apr_size_t)(end - s));
        const char *line_end, *colon, *v;

        if (!eol) {
            return 0;
        }
        line_end = (eol > s && eol[-1] == '\r') ? eol - 1 : eol;
        if (line_end == s) {
            *body = eol + 1;
            *len = (apr_size_t)(end - *body);
            return 1;
        }
        colon = memchr(s, ':', (apr_size_t)(line_end - s));
        if (!colon || !envelope_header_allowed(s, (apr_size_t)(colon - s))) {
            return 0;
        }
        for (v = colon + 1; v < line_end && (*v == ' ' || *v == '\t'); ++v) {
        }
        apr_table_setn(headers, apr_pstrmemdup(p, s, (apr_size_t)(colon - s)),
                       apr_pstrmemdup(p, v, (apr_size_t)(line_end - v)));
        s = eol + 1;
    }
    return 0;
}

/* ---- the handler --------------------------------------------------------------- */

/* "0", "0.0", "0.000": a q value of zero. */
static int q_is_zero(const char *v, const char *end)
{
    while (v < end && *v == ' ') {
        ++v;
    }
    if (v >= end || *v != '0') {
        return 0;
    }
    for (++v; v < end && (*v == '.' || *v == '0'); ++v) {
    }
    return v >= end || !apr_isdigit(*v);
}

/* Whether r's Accept-Encoding accepts gzip (a gzip or x-gzip token, or *, without
 * q=0). */
static int accepts_gzip(request_rec *r)
{
    const char *ae = apr_table_get(r->headers_in, "Accept-Encoding");
    const char *tok;

    if (!ae) {
        return 0;
    }
    while (*ae) {
        apr_size_t n;
        const char *params;

        while (*ae == ' ' || *ae == '\t' || *ae == ',') {
            ++ae;
        }
        tok = ae;
        while (*ae && *ae != ',') {
            ++ae;
        }
        n = strcspn(tok, ";, \t");
        if ((n == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
            (n == 6 && strncasecmp(tok, "x-gzip", 6) == 0) || (n == 1 && *tok == '*')) {
            params = tok + n;
            while (params < ae && (params = memchr(params, 'q', (apr_size_t)(ae - params)))) {
                const char *eq = params + 1;

                while (eq < ae && *eq == ' ') {
                    ++eq;
                }
                if (eq < ae && *eq == '=') {
                    return !q_is_zero(eq + 1, ae);
                }
                ++params;
            }
            return 1;
        }
    }
    return 0;
}

/* What a miss (or an error) gives: 404, the fallback's internal redirect, or DECLINED
 * for the next handler (with the store filter when MemcacheStore is on). */
static int pass_miss(request_rec *r, const mmc_pass_conf *conf)
{
    if (conf->miss == MMC_PASS_MISS_404) {
        return HTTP_NOT_FOUND;
    }
    if (conf->fallback) {
        const char *err = NULL;
        const char *url = ap_expr_str_exec(r, conf->fallback, &err);

        if (err || !url || url[0] != '/') {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "MemcachePassFallback: '%s' is not a local URL path%s%s",
                          url ? url : "", err ? ": " : "", err ? err : "");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        /* Marks the redirect: the new request is not looked up again (no loop when the
         * URL leads back to a memcache-pass location). */
        apr_table_setn(r->notes, FALLBACK_NOTE, "1");
        if (r->args && !strchr(url, '?')) {
            url = apr_pstrcat(r->pool, url, "?", r->args, NULL);
        }
        ap_internal_redirect(url, r);
        return OK;
    }
    if (conf->store == 1 && !r->header_only) {
        mmc_store_filter_add(r);
    }
    return DECLINED;
}

static int pass_handler(request_rec *r)
{
    const mmc_pass_conf *conf;
    const mmc_server_conf *sconf;
    const char *key;
    char *data = NULL;
    const char *body;
    apr_size_t len = 0;
    apr_uint32_t flags = 0;
    apr_status_t rv;
    apr_bucket_brigade *bb;
    int rc;

    if (!r->handler || strcmp(r->handler, MMC_PASS_HANDLER) != 0) {
        return DECLINED;
    }
    conf = &mmc_get_dir_conf(r)->pass;
    if (r->prev && apr_table_get(r->prev->notes, FALLBACK_NOTE)) {
        return DECLINED;
    }
    /* GET and HEAD (M_GET too); anything else is the next handler's. */
    if (r->method_number != M_GET) {
        return DECLINED;
    }
    sconf = mmc_get_server_conf(r->server);
    if (!sconf->client) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "memcache-pass: no MemcacheServer for this server");
        return pass_miss(r, conf);
    }
    key = mmc_pass_page_key(r, conf);
    if (!key) {
        return pass_miss(r, conf);
    }
    if (conf->gzip_flag > 0xffff || conf->header_flag > 0xffff) {
        ap_memcache_item_t item;

        rv = ap_memcache_gets(sconf->client, r->pool, key, &item);
        data = item.data;
        len = item.len;
        flags = item.flags;
    }
    else {
        apr_uint16_t f16 = 0;

        rv = ap_memcache_getp(sconf->client, r->pool, key, &data, &len, &f16);
        flags = f16;
    }
    if (rv != APR_SUCCESS) {
        if (rv != APR_NOTFOUND) {
            char text[128];

            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "memcache-pass: get of '%s': %s",
                          key, ap_memcache_strerror(rv, text, sizeof text));
        }
        return pass_miss(r, conf);
    }
    body = data;
    /* MemcachePassType when given; else the type mod_mime found for the URL's
     * extension, as nginx's types do; else text/html (nginx's default_type). The
     * envelope's Content-Type comes before all of them. */
    if (conf->type) {
        ap_set_content_type(r, conf->type);
    }
    else if (!r->content_type) {
        ap_set_content_type(r, DEFAULT_TYPE);
    }
    if (conf->header_flag > 0 && (flags & (apr_uint32_t)conf->header_flag)) {
        apr_table_t *stored = apr_table_make(r->pool, 4);
        const char *v;

        if (!open_envelope(r->pool, &body, &len, stored)) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          "memcache-pass: '%s' has MemcachePassHeaderFlag set but no "
                          "valid header lines; served as a miss", key);
            return pass_miss(r, conf);
        }
        if ((v = apr_table_get(stored, "Content-Type"))) {
            ap_set_content_type(r, v);
        }
        if ((v = apr_table_get(stored, "Last-Modified"))) {
            apr_time_t t = apr_date_parse_http(v);

            if (t != APR_DATE_BAD) {
                ap_update_mtime(r, t);
                ap_set_last_modified(r);
            }
        }
        if ((v = apr_table_get(stored, "ETag"))) {
            apr_table_setn(r->headers_out, "ETag", v);
        }
        if ((v = apr_table_get(stored, "Cache-Control"))) {
            apr_table_setn(r->headers_out, "Cache-Control", v);
        }
        if ((v = apr_table_get(stored, "Expires"))) {
            apr_table_setn(r->headers_out, "Expires", v);
        }
    }
    if (conf->gzip_flag > 0 && (flags & (apr_uint32_t)conf->gzip_flag)) {
        apr_table_mergen(r->headers_out, "Vary", "Accept-Encoding");
        if (!accepts_gzip(r)) {
            ap_filter_rec_t *inflate = ap_get_output_filter_handle("INFLATE");

            if (!inflate) {
                ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                              "memcache-pass: '%s' is gzip, the client does not accept "
                              "gzip and mod_deflate is not loaded: served as a miss", key);
                return pass_miss(r, conf);
            }
            ap_add_output_filter_handle(inflate, NULL, r, r->connection);
        }
        apr_table_setn(r->headers_out, "Content-Encoding", "gzip");
    }
    /* As the default handler says for a file: the byterange filter serves ranges of a
     * 200 whose whole body is in one brigade. */
    ap_set_accept_ranges(r);
    rc = ap_meets_conditions(r);
    if (rc != OK) {
        return rc;
    }
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    if (len) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_pool_create(body, len, r->pool,
                                                           r->connection->bucket_alloc));
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(r->connection->bucket_alloc));
    rv = ap_pass_brigade(r->output_filters, bb);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, "memcache-pass: sending '%s'", key);
        return AP_FILTER_ERROR;
    }
    return OK;
}

void mmc_pass_register_hooks(apr_pool_t *p)
{
    /* Before mod_proxy's handler (APR_HOOK_FIRST), so that a ProxyPass in the same
     * place is the fall-through of a miss. */
    ap_hook_handler(pass_handler, NULL, NULL, APR_HOOK_REALLY_FIRST);
    mmc_store_register_hooks(p);
}
