/*
 * metrics_shm.c - every child's per-server metrics in one anonymous shared memory
 * segment, so that whichever child serves a scrape reports all of them.
 *
 * Layout: a header, then nslots slots, each a 64-byte slot header (the pid of the child
 * that owns it, 0 when free) and one record per entry (an ap_memcache_server_metrics_t
 * taken as 64-bit words). nslots is twice the MPM's hard limit of child processes: during
 * a graceful restart the old generation's children run beside the new one's.
 *
 * A child claims a free slot in child_init (compare-and-swap on the owner), or the slot
 * of a child that died without giving its own back. It keeps what the slot holds as its
 * base and from then on writes base + its own counters there, word by word with relaxed
 * atomic stores: only the owner writes a slot, any child reads. So a slot carries the
 * counts of every child that ever held it, and the sum over slots never goes backwards.
 * A child writes its slot at the end of every request, before the metrics handler sums,
 * and in a cleanup of its pool when it exits (MaxConnectionsPerChild, a graceful stop or
 * restart); then it gives the slot up. A child killed outright (SIGKILL, a crash) leaves
 * its counts as of its last request.
 *
 * The segment lives in the process pool: a graceful restart keeps it, and the counts,
 * when the clients and servers are the same; when they changed it is replaced (the old
 * one destroyed, so none leaks) and the counts start again from zero.
 */
#include "metrics_shm.h"
#include "config.h"
#include "socache_instance.h"

#include "ap_listen.h"
#include "ap_mpm.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_shm.h"
#include "apr_strings.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

APLOG_USE_MODULE(memcache);

#define SHM_KEY "mod_memcache-metrics-shm"
#define SHM_MAGIC 0x6d6d636dU
#define SLOT_HEADER 64
#define WORDS (sizeof(ap_memcache_server_metrics_t) / sizeof(apr_uint64_t))
#define FIRST_COUNTER_WORD (APR_OFFSETOF(ap_memcache_server_metrics_t, requests) / sizeof(apr_uint64_t))
/* The two words of state (live, dead_since): this child's view, not counts. Every other
 * word after the size is a counter, fields added at the struct's end included. */
#define LIVE_WORD (APR_OFFSETOF(ap_memcache_server_metrics_t, live) / sizeof(apr_uint64_t))
#define DEAD_SINCE_WORD (APR_OFFSETOF(ap_memcache_server_metrics_t, dead_since) / sizeof(apr_uint64_t))
#define IS_STATE_WORD(w) ((w) == LIVE_WORD || (w) == DEAD_SINCE_WORD)

typedef struct {
    apr_uint32_t magic;
    apr_uint32_t nslots;
    apr_uint32_t nentries;
    apr_uint32_t record_size;
    apr_uint64_t layout;  /* a hash of the entries' names */
} shm_header;

typedef struct {
    apr_uint32_t owner;   /* pid, 0: free */
} slot_header;

/* Set in post_config (the parent; children inherit them). */
static apr_shm_t *segment;
static char *base_addr;
static const mmc_metrics_entry *entries;
static int nentries;
static apr_uint32_t nslots;

/* This child's. */
static apr_uint32_t my_slot = (apr_uint32_t)-1;
static apr_memcache_server_t **my_servers;
static apr_uint64_t *my_base;  /* nentries * WORDS */

static apr_size_t slot_size(void)
{
    return SLOT_HEADER + (apr_size_t)nentries * sizeof(ap_memcache_server_metrics_t);
}

static slot_header *slot_at(apr_uint32_t i)
{
    return (slot_header *)(base_addr + APR_ALIGN(sizeof(shm_header), 64) + (apr_size_t)i * slot_size());
}

static apr_uint64_t *record_at(apr_uint32_t slot, int entry)
{
    return (apr_uint64_t *)((char *)slot_at(slot) + SLOT_HEADER
                            + (apr_size_t)entry * sizeof(ap_memcache_server_metrics_t));
}

static apr_size_t segment_size(void)
{
    return APR_ALIGN(sizeof(shm_header), 64) + (apr_size_t)nslots * slot_size();
}

static const char *client_label(apr_pool_t *p, const server_rec *s)
{
    apr_port_t port = s->port;

    if (port == 0 && s->addrs) {
        port = s->addrs->host_port;
    }
    /* The main server without a port of its own: the first one httpd listens on. */
    if (port == 0 && ap_listeners && ap_listeners->bind_addr) {
        port = ap_listeners->bind_addr->port;
    }
    return apr_psprintf(p, "%s:%u", s->server_hostname ? s->server_hostname : "localhost",
                        (unsigned)port);
}

static apr_uint64_t fnv1a(apr_uint64_t h, const char *str)
{
    for (; *str; ++str) {
        h = (h ^ (unsigned char)*str) * 1099511628211ULL;
    }
    return (h ^ 0xff) * 1099511628211ULL;
}

int mmc_metrics_post_config(apr_pool_t *pconf, server_rec *s)
{
    const mmc_server_conf *main_conf = mmc_get_server_conf(s);
    apr_array_header_t *list = apr_array_make(pconf, 8, sizeof(mmc_metrics_entry));
    apr_pool_t *keep = s->process->pool;
    apr_uint64_t layout = 14695981039346656037ULL;
    int limit = 0;
    server_rec *vs;
    apr_status_t rv;
    void *data = NULL;

    for (vs = s; vs; vs = vs->next) {
        const mmc_server_conf *conf = mmc_get_server_conf(vs);
        int i;

        /* A virtual host that inherits the main server's list shares its client. */
        if (!conf->servers || (vs != s && conf->servers == main_conf->servers)) {
            continue;
        }
        for (i = 0; i < conf->servers->nelts; ++i) {
            mmc_metrics_entry *e = apr_array_push(list);

            e->client = client_label(pconf, vs);
            e->server = APR_ARRAY_IDX(conf->servers, i, mmc_server_spec).name;
            e->s = vs;
            e->inst = NULL;
            layout = fnv1a(fnv1a(layout, e->client), e->server);
        }
    }
    /* The mcpool instances with a server list of their own (initialised by their
     * consumers' post_config, before this one); the others use a client above. */
    {
        const ap_socache_instance_t *inst;

        for (inst = mmc_socache_instances(); inst; inst = inst->next) {
            int i;

            if (!inst->servers || !inst->s) {
                continue;
            }
            for (i = 0; i < inst->servers->nelts; ++i) {
                mmc_metrics_entry *e = apr_array_push(list);

                e->client = apr_pstrcat(pconf, MMC_SOCACHE_NAME ":", inst->cname, NULL);
                e->server = APR_ARRAY_IDX(inst->servers, i, mmc_server_spec).name;
                e->s = NULL;
                e->inst = inst;
                layout = fnv1a(fnv1a(layout, e->client), e->server);
            }
        }
    }
    entries = (const mmc_metrics_entry *)list->elts;
    nentries = list->nelts;
    if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &limit) != APR_SUCCESS || limit < 1) {
        limit = 1;
    }
    nslots = (apr_uint32_t)limit * 2;
    layout = fnv1a(layout, apr_psprintf(pconf, "%u/%u", nslots, (unsigned)sizeof(ap_memcache_server_metrics_t)));

    apr_pool_userdata_get(&data, SHM_KEY, keep);
    segment = data;
    if (segment) {
        const shm_header *h = apr_shm_baseaddr_get(segment);

        if (h->layout == layout && h->nslots == nslots && h->nentries == (apr_uint32_t)nentries) {
            base_addr = (char *)h;
            return OK;
        }
        /* Other clients or servers: the old counts would be misread. */
        apr_shm_destroy(segment);
        segment = NULL;
        apr_pool_userdata_set(NULL, SHM_KEY, apr_pool_cleanup_null, keep);
    }
    if (nentries == 0) {
        base_addr = NULL;
        return OK;
    }
    rv = apr_shm_create(&segment, segment_size(), NULL, keep);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "cannot create the shared memory of the memcache metrics (%" APR_SIZE_T_FMT
                     " bytes): each child's figures are its own", segment_size());
        segment = NULL;
        base_addr = NULL;
        return OK;
    }
    base_addr = apr_shm_baseaddr_get(segment);
    memset(base_addr, 0, segment_size());
    {
        shm_header *h = (shm_header *)base_addr;

        h->magic = SHM_MAGIC;
        h->nslots = nslots;
        h->nentries = (apr_uint32_t)nentries;
        h->record_size = (apr_uint32_t)sizeof(ap_memcache_server_metrics_t);
        h->layout = layout;
    }
    apr_pool_userdata_set(segment, SHM_KEY, apr_pool_cleanup_null, keep);
    return OK;
}

static int claim(apr_uint32_t i, apr_uint32_t from)
{
    return __atomic_compare_exchange_n(&slot_at(i)->owner, &from, (apr_uint32_t)getpid(), 0,
                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

static apr_status_t child_exit(void *unused)
{
    (void)unused;
    if (my_slot == (apr_uint32_t)-1) {
        return APR_SUCCESS;
    }
    mmc_metrics_flush();
    __atomic_store_n(&slot_at(my_slot)->owner, 0, __ATOMIC_RELEASE);
    my_slot = (apr_uint32_t)-1;
    return APR_SUCCESS;
}

void mmc_metrics_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_uint32_t i;
    int e;

    if (!base_addr || nentries == 0) {
        return;
    }
    for (i = 0; i < nslots && my_slot == (apr_uint32_t)-1; ++i) {
        if (claim(i, 0)) {
            my_slot = i;
        }
    }
    /* All taken: one of a child that died without giving it back (killed) will do. */
    for (i = 0; i < nslots && my_slot == (apr_uint32_t)-1; ++i) {
        apr_uint32_t owner = __atomic_load_n(&slot_at(i)->owner, __ATOMIC_ACQUIRE);

        if (owner != 0 && kill((pid_t)owner, 0) != 0 && errno == ESRCH && claim(i, owner)) {
            my_slot = i;
        }
    }
    if (my_slot == (apr_uint32_t)-1) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "no free slot in the memcache metrics' shared memory: this child's "
                     "figures are left out of the sums");
        return;
    }
    my_servers = apr_pcalloc(pchild, sizeof(*my_servers) * (apr_size_t)nentries);
    my_base = apr_palloc(pchild, sizeof(apr_uint64_t) * WORDS * (apr_size_t)nentries);
    for (e = 0; e < nentries; ++e) {
        apr_hash_t *byname = entries[e].inst ? mmc_socache_servers(entries[e].inst)
                                             : mmc_get_server_conf(entries[e].s)->serverhash;
        const apr_uint64_t *rec = record_at(my_slot, e);
        apr_size_t w;

        if (byname) {
            my_servers[e] = apr_hash_get(byname, entries[e].server, APR_HASH_KEY_STRING);
        }
        for (w = 0; w < WORDS; ++w) {
            my_base[(apr_size_t)e * WORDS + w] = __atomic_load_n(&rec[w], __ATOMIC_RELAXED);
        }
    }
    apr_pool_cleanup_register(pchild, NULL, child_exit, apr_pool_cleanup_null);
}

void mmc_metrics_flush(void)
{
    int e;

    if (my_slot == (apr_uint32_t)-1) {
        return;
    }
    for (e = 0; e < nentries; ++e) {
        ap_memcache_server_metrics_t m;
        apr_uint64_t words[WORDS];
        apr_uint64_t *rec = record_at(my_slot, e);
        const apr_uint64_t *base = my_base + (apr_size_t)e * WORDS;
        apr_size_t w;

        if (!my_servers[e]) {
            continue;
        }
        memset(&m, 0, sizeof m);
        m.size = sizeof m;
        if (ap_memcache_server_metrics(my_servers[e], &m) != APR_SUCCESS) {
            continue;
        }
        memcpy(words, &m, sizeof words);
        for (w = FIRST_COUNTER_WORD; w < WORDS; ++w) {
            __atomic_store_n(&rec[w], IS_STATE_WORD(w) ? words[w] : base[w] + words[w], __ATOMIC_RELAXED);
        }
    }
}

int mmc_metrics_sum(apr_pool_t *p, const mmc_metrics_entry **out_entries,
                    ap_memcache_server_metrics_t **sums)
{
    int e;

    *out_entries = entries;
    *sums = NULL;
    if (!base_addr || nentries == 0) {
        return 0;
    }
    *sums = apr_pcalloc(p, sizeof(**sums) * (apr_size_t)nentries);
    for (e = 0; e < nentries; ++e) {
        apr_uint64_t total[WORDS];
        ap_memcache_server_metrics_t *m = &(*sums)[e];
        int live = 1, seen = 0;
        apr_time_t dead_since = 0;
        apr_uint32_t i;
        apr_size_t w;

        memset(total, 0, sizeof total);
        for (i = 0; i < nslots; ++i) {
            const apr_uint64_t *rec = record_at(i, e);
            apr_uint64_t words[WORDS];

            for (w = FIRST_COUNTER_WORD; w < WORDS; ++w) {
                if (!IS_STATE_WORD(w)) {
                    total[w] += __atomic_load_n(&rec[w], __ATOMIC_RELAXED);
                }
            }
            /* Up unless a running child has it marked dead; since the latest such mark. */
            if (__atomic_load_n(&slot_at(i)->owner, __ATOMIC_ACQUIRE) == 0) {
                continue;
            }
            words[LIVE_WORD] = __atomic_load_n(&rec[LIVE_WORD], __ATOMIC_RELAXED);
            words[DEAD_SINCE_WORD] = __atomic_load_n(&rec[DEAD_SINCE_WORD], __ATOMIC_RELAXED);
            memcpy((char *)m + LIVE_WORD * sizeof(apr_uint64_t), words + LIVE_WORD, sizeof(apr_uint64_t));
            memcpy((char *)m + DEAD_SINCE_WORD * sizeof(apr_uint64_t), words + DEAD_SINCE_WORD,
                   sizeof(apr_uint64_t));
            seen = 1;
            if (!m->live) {
                live = 0;
                if (m->dead_since > dead_since) {
                    dead_since = m->dead_since;
                }
            }
        }
        memcpy(m, total, sizeof total);
        m->size = sizeof *m;
        m->live = seen ? live : 1;
        m->dead_since = live ? 0 : dead_since;
    }
    return nentries;
}
