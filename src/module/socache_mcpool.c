/*
 * socache_mcpool.c - the "mcpool" socache provider (ap_socache.h) on the engine: the
 * provider functions. Instances (create, init, per-child clients) are in
 * socache_instance.c.
 */
#include "socache_mcpool.h"
#include "socache_codec.h"
#include "socache_instance.h"

#include "ap_provider.h"
#include "ap_socache.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "mod_status.h"

#include "apr_optional_hooks.h"

#include "apr_atomic.h"

#include <string.h>

APLOG_USE_MODULE(memcache);

#define PROVIDER_NAME MMC_SOCACHE_NAME
/* A run of failures is reported once per this many seconds per instance and process;
 * the rest go to debug. A memcached outage must not flood the error log. */
#define WARN_INTERVAL_S 10

static void mcpool_destroy(ap_socache_instance_t *inst, server_rec *s)
{
    /* Everything belongs to the configuration pool (the instance) or to the child's
     * pool (its client and connections), and goes with them. */
    (void)inst;
    (void)s;
}

static void count(apr_uint32_t *counter)
{
    apr_atomic_inc32(counter);
}

/* Failures are the engine's to handle (deadlines, dead servers); here they are only
 * reported, at most once per WARN_INTERVAL_S, below error level. */
static void report_failure(ap_socache_instance_t *inst, server_rec *s, apr_status_t rv,
                           const char *what)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    apr_uint32_t last = apr_atomic_read32(&inst->last_warning_s);
    char buf[120];
    int level = APLOG_DEBUG;

    count(&inst->errors);
    if (now - last >= WARN_INTERVAL_S
        && apr_atomic_cas32(&inst->last_warning_s, now, last) == last) {
        level = APLOG_WARNING;
    }
    ap_log_error(APLOG_MARK, level, 0, s, PROVIDER_NAME " %s: %s failed: %s (further failures "
                 "within %d s are logged at debug level)", inst->cname, what,
                 ap_memcache_strerror(rv, buf, sizeof buf), WARN_INTERVAL_S);
}

static apr_status_t mcpool_store(ap_socache_instance_t *inst, server_rec *s,
                                 const unsigned char *id, unsigned int idlen,
                                 apr_time_t expiry, unsigned char *data,
                                 unsigned int datalen, apr_pool_t *pool)
{
    apr_memcache_t *mc = mmc_socache_client(inst);
    char key[MMC_SOCACHE_KEY_MAX + 1];
    apr_uint32_t exptime;
    int hashed;
    apr_status_t rv;

    if (mc == NULL) {
        /* Only before child_init (the parent): no connection may be opened there. */
        return AP_MEMCACHE_ENOSERVER;
    }
    hashed = mmc_socache_key(inst->tag, inst->taglen, id, idlen, mmc_socache_sha1, key);
    if (!mmc_socache_exptime(expiry, apr_time_now(), &exptime)) {
        /* Nothing to store; an older entry of the id must not outlive this store. */
        rv = ap_memcache_delete(mc, key, 0);
        if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
            report_failure(inst, s, rv, "remove (store with a past expiry)");
        }
        return APR_EINVAL;
    }
    if (hashed) {
        apr_size_t len = mmc_socache_envelope_size(idlen, datalen);
        unsigned char *envelope = apr_palloc(pool, len);

        mmc_socache_envelope_write(envelope, id, idlen, data, datalen);
        rv = ap_memcache_store(mc, AP_MEMCACHE_SET, key, (const char *)envelope, len, exptime,
                               MMC_SOCACHE_FLAG_ENVELOPE);
    }
    else {
        rv = ap_memcache_store(mc, AP_MEMCACHE_SET, key, (const char *)data, datalen, exptime,
                               0);
    }
    if (rv != APR_SUCCESS) {
        report_failure(inst, s, rv, "store");
        return rv;
    }
    count(&inst->stores);
    return APR_SUCCESS;
}

static apr_status_t mcpool_retrieve(ap_socache_instance_t *inst, server_rec *s,
                                    const unsigned char *id, unsigned int idlen,
                                    unsigned char *dest, unsigned int *destlen,
                                    apr_pool_t *pool)
{
    apr_memcache_t *mc = mmc_socache_client(inst);
    char key[MMC_SOCACHE_KEY_MAX + 1];
    ap_memcache_item_t item;
    const unsigned char *data;
    apr_size_t len;
    int hashed;
    apr_status_t rv;

    if (mc == NULL) {
        return APR_NOTFOUND;
    }
    hashed = mmc_socache_key(inst->tag, inst->taglen, id, idlen, mmc_socache_sha1, key);
    rv = ap_memcache_gets(mc, pool, key, &item);
    if (rv == APR_NOTFOUND) {
        count(&inst->misses);
        return APR_NOTFOUND;
    }
    if (rv != APR_SUCCESS) {
        /* A dead or silent server is a miss to the consumer (a TLS handshake then goes
         * on without resumption); consumers log other statuses as errors, per request. */
        report_failure(inst, s, rv, "retrieve");
        return APR_NOTFOUND;
    }
    data = (const unsigned char *)item.data;
    len = item.len;
    if (hashed) {
        if (item.flags != MMC_SOCACHE_FLAG_ENVELOPE
            || !mmc_socache_envelope_open(data, item.len, id, idlen, &data, &len)) {
            /* Another id with the same hash, or a foreign entry: never its data. */
            count(&inst->foreign);
            count(&inst->misses);
            return APR_NOTFOUND;
        }
    }
    else if (item.flags != 0) {
        count(&inst->foreign);
        count(&inst->misses);
        return APR_NOTFOUND;
    }
    if (len > *destlen) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, PROVIDER_NAME " %s: an entry of %"
                     APR_SIZE_T_FMT " bytes does not fit the caller's %u", inst->cname, len,
                     *destlen);
        count(&inst->misses);
        return APR_ENOSPC;
    }
    memcpy(dest, data, len);
    *destlen = (unsigned int)len;
    count(&inst->hits);
    return APR_SUCCESS;
}

static apr_status_t mcpool_remove(ap_socache_instance_t *inst, server_rec *s,
                                  const unsigned char *id, unsigned int idlen,
                                  apr_pool_t *pool)
{
    apr_memcache_t *mc = mmc_socache_client(inst);
    char key[MMC_SOCACHE_KEY_MAX + 1];
    apr_status_t rv;

    (void)pool;
    if (mc == NULL) {
        return AP_MEMCACHE_ENOSERVER;
    }
    mmc_socache_key(inst->tag, inst->taglen, id, idlen, mmc_socache_sha1, key);
    rv = ap_memcache_delete(mc, key, 0);
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        report_failure(inst, s, rv, "remove");
    }
    return rv;
}

/* Local state only: the engine's view of each server and this process's counters.
 * No network call, so the status page never waits for memcached. */
static void mcpool_status(ap_socache_instance_t *inst, request_rec *r, int flags)
{
    const int short_report = (flags & AP_STATUS_SHORT) != 0;
    apr_hash_t *servers = mmc_socache_servers(inst);
    apr_hash_index_t *hi;

    if (inst->cname == NULL) {
        return;  /* never initialised */
    }
    if (!short_report) {
        ap_rprintf(r, "<b>" PROVIDER_NAME " %s</b> (this process): hits %u, misses %u, "
                   "stores %u, errors %u, foreign entries %u<br />\n"
                   "<table border=\"0\"><tr><th>server</th><th>state</th><th>open</th>"
                   "<th>idle</th><th>failures</th></tr>\n",
                   ap_escape_html(r->pool, inst->cname), apr_atomic_read32(&inst->hits),
                   apr_atomic_read32(&inst->misses), apr_atomic_read32(&inst->stores),
                   apr_atomic_read32(&inst->errors), apr_atomic_read32(&inst->foreign));
    }
    else {
        ap_rprintf(r, "MCPool %s: hits=%u misses=%u stores=%u errors=%u foreign=%u\n",
                   inst->cname, apr_atomic_read32(&inst->hits),
                   apr_atomic_read32(&inst->misses), apr_atomic_read32(&inst->stores),
                   apr_atomic_read32(&inst->errors), apr_atomic_read32(&inst->foreign));
    }
    for (hi = servers ? apr_hash_first(r->pool, servers) : NULL; hi; hi = apr_hash_next(hi)) {
        const void *name;
        void *ms;
        ap_memcache_server_state_t st;

        apr_hash_this(hi, &name, NULL, &ms);
        if (ap_memcache_server_state(ms, &st) != APR_SUCCESS) {
            continue;
        }
        if (short_report) {
            ap_rprintf(r, "MCPool %s %s: %s open=%u idle=%u failures=%u\n", inst->cname,
                       (const char *)name, st.live ? "live" : "dead", st.open, st.idle,
                       st.failures);
        }
        else {
            ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%u</td><td>%u</td><td>%u</td></tr>\n",
                       ap_escape_html(r->pool, name), st.live ? "live" : "<b>dead</b>",
                       st.open, st.idle, st.failures);
        }
    }
    if (!short_report) {
        ap_rputs("</table>\n", r);
    }
}

static apr_status_t mcpool_iterate(ap_socache_instance_t *inst, server_rec *s, void *userctx,
                                   ap_socache_iterator_t *iterator, apr_pool_t *pool)
{
    /* memcached cannot list its keys cheaply, and no 2.4 consumer iterates. */
    (void)inst;
    (void)s;
    (void)userctx;
    (void)iterator;
    (void)pool;
    return APR_ENOTIMPL;
}

/* Thread-safe (flags 0): consumers take no global mutex around our calls. */
static const ap_socache_provider_t mcpool_provider = {
    PROVIDER_NAME,
    0,
    mmc_socache_create,
    mmc_socache_init,
    mcpool_destroy,
    mcpool_store,
    mcpool_retrieve,
    mcpool_remove,
    mcpool_status,
    mcpool_iterate
};

void mmc_socache_register_hooks(apr_pool_t *p)
{
    ap_register_provider(p, AP_SOCACHE_PROVIDER_GROUP, PROVIDER_NAME,
                         AP_SOCACHE_PROVIDER_VERSION, &mcpool_provider);
    ap_hook_check_config(mmc_socache_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* After mod_memcache's own child_init (REALLY_FIRST) and before any consumer's. */
    ap_hook_child_init(mmc_socache_child_init, NULL, NULL, APR_HOOK_REALLY_FIRST + 1);
}
