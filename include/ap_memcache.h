/*
 * ap_memcache.h - the client API of mod_memcache's memcached engine, for any program:
 * httpd modules (through mod_memcache.h, which adds the module functions) and programs
 * outside httpd that link libap_memcache (pkg-config ap_memcache).
 *
 * An API compatible with apr-util 1.6's apr_memcache.h: the same type names, struct
 * fields, function names (through macros) and return codes, so code written for
 * apr_memcache compiles unchanged against this header, plus extensions (ap_memcache_*).
 *
 * Why the macros: httpd links libaprutil, which exports every apr_memcache_* symbol. A
 * module exporting the same names would never be reached (the dynamic linker binds the
 * first definition), so our functions are really called ap_memcache_*; the macros below
 * map the apr names onto them. This header defines apr-util's include guard, so that
 * apr_memcache.h and this header cannot both be used in one translation unit.
 *
 * Return codes differ from apr-util only where apr-util is wrong; see docs/api.md.
 * The header is C89, C99 and C++ (tests/install checks all three).
 */
#ifndef AP_MEMCACHE_H
#define AP_MEMCACHE_H

#ifdef APR_MEMCACHE_H
#error "apr_memcache.h is already included: use mod_memcache.h instead of it, not both"
#endif
#define APR_MEMCACHE_H 1

#include "apr.h"
#include "apr_pools.h"
#include "apr_time.h"
#include "apr_strings.h"
#include "apr_network_io.h"
#include "apr_ring.h"
#include "apr_hash.h"
/* apr_memcache.h brings these in too; consumers may rely on them */
#include "apr_buckets.h"
#include "apr_reslist.h"
#include "apr_optional.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define AP_MEMCACHE_DECLARE(type) __attribute__((visibility("default"))) type
#else
#define AP_MEMCACHE_DECLARE(type) type
#endif

/* ---- status codes beyond apr_errno.h ------------------------------------------ */

/** No live server is left for this key (all are marked dead). apr-util returns
 *  APR_NOTFOUND here, which looks like a cache miss; we do not. */
#define AP_MEMCACHE_ENOSERVER (APR_OS_START_USERERR + 4200)
/** The server answered with a protocol error (ERROR, CLIENT_ERROR, SERVER_ERROR) or
 *  something that is not a valid reply; the connection was discarded. */
#define AP_MEMCACHE_EPROTO (APR_OS_START_USERERR + 4201)
/** The value is longer than the server's max_value_size (see
 *  ap_memcache_server_options_t), or than the protocol can carry; nothing was sent,
 *  the connection and the server's health are untouched. apr-util sends such a value
 *  and gets a SERVER_ERROR back. */
#define AP_MEMCACHE_ETOOBIG (APR_OS_START_USERERR + 4202)
/** The TLS handshake with the server failed (an untrusted or expired certificate, a
 *  name that does not match, no common protocol version); the server is marked dead
 *  and the reason logged once. Never followed by a plain-text attempt. */
#define AP_MEMCACHE_ETLS (APR_OS_START_USERERR + 4203)
/** The server refused the configured user and password; the connection was dropped,
 *  the server is marked dead and the refusal logged. */
#define AP_MEMCACHE_EAUTH (APR_OS_START_USERERR + 4204)

/** Like apr_strerror(), and also knows the AP_MEMCACHE_* codes above. */
AP_MEMCACHE_DECLARE(const char *) ap_memcache_strerror(apr_status_t status, char *buf,
                                                       apr_size_t bufsize);

/* ---- apr_memcache-compatible types -------------------------------------------- */

typedef enum {
    APR_MC_SERVER_LIVE, /**< Server is alive and responding to requests */
    APR_MC_SERVER_DEAD  /**< Server is marked dead and skipped until retried */
} apr_memcache_server_status_t;

typedef struct apr_memcache_server_t apr_memcache_server_t;
typedef struct apr_memcache_t apr_memcache_t;

/** Engine state behind a server; opaque to consumers. */
typedef struct ap_memcache_server_impl ap_memcache_server_impl;

struct apr_memcache_server_t {
    const char *host;                    /**< host name, address, or /path of a unix socket */
    apr_port_t port;                     /**< TCP port (0 for a unix socket) */
    apr_memcache_server_status_t status; /**< LIVE or DEAD, updated by the client */
    apr_pool_t *p;                       /**< pool the server was created from */
    apr_time_t btime;                    /**< when the server was last marked dead */
    ap_memcache_server_impl *impl;       /**< engine state; do not touch */
};

typedef apr_uint32_t (*apr_memcache_hash_func)(void *baton, const char *data,
                                               const apr_size_t data_len);
typedef apr_memcache_server_t *(*apr_memcache_server_func)(void *baton, apr_memcache_t *mc,
                                                           const apr_uint32_t hash);

struct apr_memcache_t {
    apr_uint32_t flags;                  /**< not used */
    apr_uint16_t nalloc;                 /**< size of live_servers */
    apr_uint16_t ntotal;                 /**< servers added */
    apr_memcache_server_t **live_servers;/**< servers in the order they were added */
    apr_pool_t *p;                       /**< pool the client was created from */
    void *hash_baton;
    apr_memcache_hash_func hash_func;    /**< key hash; NULL means apr_memcache_hash_default */
    void *server_baton;
    apr_memcache_server_func server_func;/**< server choice; NULL means the default */
    /* Beyond apr-util's fields (the struct is only ever allocated by
     * apr_memcache_create, so a field at the end changes nothing for consumers). */
    struct ap_memcache_seal_t *seal;     /**< set by ap_memcache_set_seal; do not touch */
    apr_uint16_t replicas;               /**< set by ap_memcache_set_replicas; do not touch */
    apr_uint16_t no_replica_repair;      /**< set by ap_memcache_set_replica_repair; do not touch */
};

typedef struct {
    apr_status_t status; /**< APR_SUCCESS, APR_NOTFOUND, or the error for this key */
    const char *key;
    apr_size_t len;
    char *data;          /**< NUL-terminated at data[len] */
    apr_uint16_t flags;
} apr_memcache_value_t;

typedef struct {
    const char *version;
    apr_uint32_t pid;
    apr_uint32_t uptime;
    apr_time_t time;
    apr_uint32_t pointer_size;
    apr_time_t rusage_user;
    apr_time_t rusage_system;
    apr_uint32_t curr_items;
    apr_uint32_t total_items;
    apr_uint64_t bytes;
    apr_uint32_t curr_connections;
    apr_uint32_t total_connections;
    apr_uint32_t connection_structures;
    apr_uint32_t cmd_get;
    apr_uint32_t cmd_set;
    apr_uint32_t get_hits;
    apr_uint32_t get_misses;
    apr_uint64_t evictions;
    apr_uint64_t bytes_read;
    apr_uint64_t bytes_written;
    apr_uint32_t limit_maxbytes;
    apr_uint32_t threads;
} apr_memcache_stats_t;

/* ---- name mapping: apr_memcache_* -> ap_memcache_* ----------------------------- */

#define apr_memcache_hash                     ap_memcache_hash
#define apr_memcache_hash_crc32               ap_memcache_hash_crc32
#define apr_memcache_hash_default             ap_memcache_hash_default
#define apr_memcache_find_server_hash         ap_memcache_find_server_hash
#define apr_memcache_find_server_hash_default ap_memcache_find_server_hash_default
#define apr_memcache_add_server               ap_memcache_add_server
#define apr_memcache_find_server              ap_memcache_find_server
#define apr_memcache_enable_server            ap_memcache_enable_server
#define apr_memcache_disable_server           ap_memcache_disable_server
#define apr_memcache_server_create            ap_memcache_server_create
#define apr_memcache_create                   ap_memcache_create
#define apr_memcache_getp                     ap_memcache_getp
#define apr_memcache_add_multget_key          ap_memcache_add_multget_key
#define apr_memcache_multgetp                 ap_memcache_multgetp
#define apr_memcache_set                      ap_memcache_set
#define apr_memcache_add                      ap_memcache_add
#define apr_memcache_replace                  ap_memcache_replace
#define apr_memcache_delete                   ap_memcache_delete
#define apr_memcache_incr                     ap_memcache_incr
#define apr_memcache_decr                     ap_memcache_decr
#define apr_memcache_version                  ap_memcache_version
#define apr_memcache_stats                    ap_memcache_stats

/* ---- the apr_memcache-compatible functions ------------------------------------- */

/** Hashes a key with mc->hash_func when set, else with apr_memcache_hash_default. */
AP_MEMCACHE_DECLARE(apr_uint32_t) ap_memcache_hash(apr_memcache_t *mc, const char *data,
                                                   const apr_size_t data_len);

/** Standard CRC-32 (IEEE, as zlib's crc32) of data; baton is ignored. */
AP_MEMCACHE_DECLARE(apr_uint32_t) ap_memcache_hash_crc32(void *baton, const char *data,
                                                         const apr_size_t data_len);

/** Perl Cache::Memcached-compatible hash, (crc32 >> 16) & 0x7fff; baton is ignored. */
AP_MEMCACHE_DECLARE(apr_uint32_t) ap_memcache_hash_default(void *baton, const char *data,
                                                           const apr_size_t data_len);

/** Picks the server for a hash with mc->server_func when set, else with
 *  apr_memcache_find_server_hash_default. NULL when no server is usable. */
AP_MEMCACHE_DECLARE(apr_memcache_server_t *) ap_memcache_find_server_hash(
    apr_memcache_t *mc, const apr_uint32_t hash);

/** apr-util's server choice: live_servers[hash % ntotal] (hash 0 counts as 1), moving
 *  to the next server while the chosen one is dead. A dead server whose retry period
 *  has passed is handed to exactly one caller, which probes it; NULL if all are dead. */
AP_MEMCACHE_DECLARE(apr_memcache_server_t *) ap_memcache_find_server_hash_default(
    void *baton, apr_memcache_t *mc, const apr_uint32_t hash);

/** Adds a server to the client. APR_ENOMEM when the table (max_servers) is full,
 *  APR_EINVAL for NULL arguments or a server already added. Not thread-safe: add
 *  servers before the client is shared. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_add_server(apr_memcache_t *mc,
                                                         apr_memcache_server_t *server);

/** Finds an added server by host and port (exact string match on host); NULL if none. */
AP_MEMCACHE_DECLARE(apr_memcache_server_t *) ap_memcache_find_server(apr_memcache_t *mc,
                                                                     const char *host,
                                                                     apr_port_t port);

/** Marks a server live; its pooled connections are kept. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_enable_server(apr_memcache_t *mc,
                                                            apr_memcache_server_t *ms);

/** Marks a server dead: it is skipped until its retry period has passed. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_disable_server(apr_memcache_t *mc,
                                                             apr_memcache_server_t *ms);

/** Creates a server with a connection pool of at most max connections: min are kept
 *  open once opened, idle connections above smax are closed after ttl microseconds.
 *  No connection is opened here (they open on first use, in the process that uses
 *  them). host may be a name, an IPv4/IPv6 address, or "/path" of a unix socket (port
 *  ignored). APR_EINVAL when max == 0, min > smax, smax > max, or host is empty. The
 *  server's memory and connections are released with pool p. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_server_create(
    apr_pool_t *p, const char *host, apr_port_t port, apr_uint32_t min, apr_uint32_t smax,
    apr_uint32_t max, apr_uint32_t ttl, apr_memcache_server_t **ns);

/** Creates a client with room for max_servers servers (0 is rejected with APR_EINVAL).
 *  flags is stored, not used. Key placement is apr-util's (modula, Perl-compatible). */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_create(apr_pool_t *p, apr_uint16_t max_servers,
                                                     apr_uint32_t flags, apr_memcache_t **mc);

/** Gets one key. On APR_SUCCESS *baton holds *len bytes from pool p, NUL-terminated at
 *  (*baton)[*len], and *flags the item's flags (flags may be NULL). APR_NOTFOUND on a
 *  miss, APR_EINVAL for an invalid key (nothing is sent), AP_MEMCACHE_ENOSERVER when
 *  no server is live, APR_TIMEUP when a deadline passed, another error otherwise. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_getp(apr_memcache_t *mc, apr_pool_t *p,
                                                   const char *key, char **baton,
                                                   apr_size_t *len, apr_uint16_t *flags);

/** Adds key to *values (created from data_pool when NULL) with status APR_NOTFOUND. */
AP_MEMCACHE_DECLARE(void) ap_memcache_add_multget_key(apr_pool_t *data_pool, const char *key,
                                                      apr_hash_t **values);

/** Gets every key of values in one round trip per server, all servers at once, under
 *  one total deadline. Each value gets its own status: APR_SUCCESS with data (from
 *  data_pool, NUL-terminated), APR_NOTFOUND, APR_EINVAL for an invalid key, or the
 *  error of its server. temp_pool is cleared before returning. Returns APR_SUCCESS
 *  unless the arguments are unusable. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_multgetp(apr_memcache_t *mc,
                                                       apr_pool_t *temp_pool,
                                                       apr_pool_t *data_pool,
                                                       apr_hash_t *values);

/** Stores data_size bytes under key with expiry timeout (seconds, or a unix time) and
 *  flags. APR_SUCCESS when stored; for add and replace APR_EEXIST when not stored
 *  (add of an existing key, replace of a missing one). AP_MEMCACHE_ETOOBIG, with
 *  nothing sent, when data_size exceeds the server's max_value_size (1 MiB unless
 *  raised). */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_set(apr_memcache_t *mc, const char *key,
                                                  char *baton, const apr_size_t data_size,
                                                  apr_uint32_t timeout, apr_uint16_t flags);
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_add(apr_memcache_t *mc, const char *key,
                                                  char *baton, const apr_size_t data_size,
                                                  apr_uint32_t timeout, apr_uint16_t flags);
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_replace(apr_memcache_t *mc, const char *key,
                                                      char *baton, const apr_size_t data_size,
                                                      apr_uint32_t timeout,
                                                      apr_uint16_t flags);

/** Deletes key. APR_SUCCESS when deleted, APR_NOTFOUND when absent. timeout is accepted
 *  for compatibility and ignored: memcached >= 1.4 rejects a delete time. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_delete(apr_memcache_t *mc, const char *key,
                                                     apr_uint32_t timeout);

/** Adds n to the counter at key; *nv (may be NULL) gets the new value, truncated to 32
 *  bits as the signature demands. A negative n is applied as the opposite operation.
 *  APR_NOTFOUND when absent (*nv untouched); AP_MEMCACHE_EPROTO when the value is not
 *  a number (apr-util wrongly reports success with 0). */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_incr(apr_memcache_t *mc, const char *key,
                                                   apr_int32_t n, apr_uint32_t *nv);
/** Subtracts n from the counter at key (memcached stops at 0); as ap_memcache_incr. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_decr(apr_memcache_t *mc, const char *key,
                                                   apr_int32_t n, apr_uint32_t *new_value);

/** Asks one server for its version; *baton is a string from p without a trailing CR. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_version(apr_memcache_server_t *ms,
                                                      apr_pool_t *p, char **baton);

/** Reads one server's statistics into a struct allocated from p. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_stats(apr_memcache_server_t *ms, apr_pool_t *p,
                                                    apr_memcache_stats_t **stats);

/* ---- extensions beyond apr_memcache -------------------------------------------- */

/** Log levels passed to an ap_memcache_log_func; the same numbers as syslog and
 *  httpd's APLOG_* levels, so a module can hand them to ap_log_error() as they are. */
#define AP_MEMCACHE_LOG_ERR     3
#define AP_MEMCACHE_LOG_WARNING 4
#define AP_MEMCACHE_LOG_INFO    6
#define AP_MEMCACHE_LOG_DEBUG   7

/** Receives the client's diagnostics (a server marked dead or back, a connect that
 *  failed, a reply that could not be parsed, a sealed value refused). status is the APR status involved or
 *  APR_SUCCESS; msg names the server. Called from the thread doing the operation, with
 *  no lock held; it must be thread-safe. */
typedef void (*ap_memcache_log_func)(void *baton, int level, apr_status_t status,
                                     const char *msg);

/** Sends the diagnostics of one server to fn (NULL: none, the default). */
AP_MEMCACHE_DECLARE(void) ap_memcache_server_set_logger(apr_memcache_server_t *ms,
                                                        ap_memcache_log_func fn, void *baton);

/** Opens connections until the server's pool holds its min, each bounded by the connect
 *  timeout, stopping at the first failure (returned). For httpd's child_init: never
 *  call it in a process that will fork afterwards. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_server_warm(apr_memcache_server_t *ms);

/** The wire protocols a server can be spoken to in. */
#define AP_MEMCACHE_PROTOCOL_TEXT   0 /**< memcached's text (ASCII) protocol: the default */
#define AP_MEMCACHE_PROTOCOL_BINARY 1 /**< memcached's binary protocol (deprecated by
                                           memcached since 1.6) */
#define AP_MEMCACHE_PROTOCOL_META   2 /**< memcached's meta protocol (mg, ms, md, ma;
                                           memcached 1.6 or later): recommended for new
                                           deployments, and needed by the lease,
                                           invalidate and metadata calls */

/** Settings of a server beyond those of apr_memcache_server_create. Times are in
 *  microseconds (apr_interval_time_t). */
typedef struct {
    apr_uint32_t weight;                 /**< share of keys under ketama; default 1 */
    apr_interval_time_t connect_timeout; /**< opening a connection; default 1 s */
    apr_interval_time_t io_timeout;      /**< one operation's whole exchange; default 1 s */
    apr_interval_time_t acquire_timeout; /**< waiting while all max connections are busy;
                                              default 1 s */
    apr_interval_time_t retry_period;    /**< how long a dead server is skipped before one
                                              caller probes it; default 5 s */
    apr_uint32_t failure_limit;          /**< consecutive transport failures (refused,
                                              reset, timed out) that mark a server dead;
                                              default 2 */
    int protocol;                        /**< AP_MEMCACHE_PROTOCOL_TEXT (default),
                                              AP_MEMCACHE_PROTOCOL_BINARY or
                                              AP_MEMCACHE_PROTOCOL_META */
    apr_size_t max_value_size;           /**< longest value a store may send, in bytes;
                                              longer ones get AP_MEMCACHE_ETOOBIG and
                                              nothing is sent. Replies may carry values
                                              up to the larger of this and 64 MiB.
                                              Default 1 MiB (memcached's -I 1m), at most
                                              AP_MEMCACHE_MAX_VALUE_SIZE_LIMIT */
} ap_memcache_server_options_t;

/** The largest max_value_size accepted: 1 GiB, memcached's own ceiling for -I. */
#define AP_MEMCACHE_MAX_VALUE_SIZE_LIMIT ((apr_size_t)1024 * 1024 * 1024)

/** Fills opts with the defaults above. */
AP_MEMCACHE_DECLARE(void) ap_memcache_server_options_init(ap_memcache_server_options_t *opts);

/** Reads a server's settings. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_server_get_options(
    apr_memcache_server_t *ms, ap_memcache_server_options_t *opts);

/** Changes a server's settings. Call it before the server is used and before it is
 *  added to a client that uses ketama (weights are read when the ring is built); it is
 *  not thread-safe. APR_EINVAL for a zero or negative time, a zero weight, a zero
 *  failure_limit, an unknown protocol, or a max_value_size of 0 or above
 *  AP_MEMCACHE_MAX_VALUE_SIZE_LIMIT; nothing is changed then. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_server_set_options(
    apr_memcache_server_t *ms, const ap_memcache_server_options_t *opts);

/* ---- metrics ------------------------------------------------------------------- */

/** Kinds of call (the first index of requests[][]). A get-and-touch and a meta mg count
 *  as get, a meta ms as store, a meta md as delete; flush, version and stats as other. */
#define AP_MEMCACHE_METRIC_OP_GET          0
#define AP_MEMCACHE_METRIC_OP_MULTIGET_KEY 1 /**< one key of a multi-get */
#define AP_MEMCACHE_METRIC_OP_STORE        2 /**< set, add, replace, cas, append, prepend */
#define AP_MEMCACHE_METRIC_OP_DELETE       3
#define AP_MEMCACHE_METRIC_OP_ARITH        4 /**< incr, decr */
#define AP_MEMCACHE_METRIC_OP_TOUCH        5
#define AP_MEMCACHE_METRIC_OP_OTHER        6
#define AP_MEMCACHE_METRIC_OPS             7

/** What a call came to (the second index of requests[][]). */
#define AP_MEMCACHE_METRIC_HIT        0 /**< a get or multi-get key that found its value */
#define AP_MEMCACHE_METRIC_MISS       1 /**< not found (a get's miss, a delete or touch of
                                             a missing key) */
#define AP_MEMCACHE_METRIC_OK         2
#define AP_MEMCACHE_METRIC_NOT_STORED 3 /**< an add, replace or cas that did not apply */
#define AP_MEMCACHE_METRIC_ERROR      4 /**< counted again in errors[] by class */
#define AP_MEMCACHE_METRIC_RESULTS    5

/** Error classes (the index of errors[]); ap_memcache_metric_error_name() names them. */
#define AP_MEMCACHE_METRIC_ERR_TIMEOUT         0
#define AP_MEMCACHE_METRIC_ERR_CONNECT_FAILED  1
#define AP_MEMCACHE_METRIC_ERR_CONNECT_TIMEOUT 2
#define AP_MEMCACHE_METRIC_ERR_SERVER_ERROR    3
#define AP_MEMCACHE_METRIC_ERR_PROTOCOL_ERROR  4
#define AP_MEMCACHE_METRIC_ERR_TLS_FAILED      5
#define AP_MEMCACHE_METRIC_ERR_AUTH_FAILED     6
#define AP_MEMCACHE_METRIC_ERR_NO_SERVER       7
#define AP_MEMCACHE_METRIC_ERR_CLOSED          8 /**< closed or reset by the server, or
                                                      a socket error */
#define AP_MEMCACHE_METRIC_ERR_POOL_TIMEOUT    9
#define AP_MEMCACHE_METRIC_ERR_CLIENT_ERROR    10
#define AP_MEMCACHE_METRIC_ERR_REFUSED         11 /**< not sent: invalid, too large, or
                                                       not in the server's protocol */
#define AP_MEMCACHE_METRIC_ERRORS              12 /**< classes defined so far */
#define AP_MEMCACHE_METRIC_ERROR_SLOTS         16 /**< room in errors[] */

/** Latency buckets: bucket i counts calls that took at most 2^(14+i) ns (16.384 us,
 *  32.768 us, ... 4.294967296 s for i = 18); the last one counts the rest. */
#define AP_MEMCACHE_LATENCY_BUCKETS 20

/** What one server has done for this process since it was created: every counter only
 *  grows. A call is counted once it ends, and timed from its start (waiting for a
 *  pooled connection and connecting included) to its end.
 *
 *  Extensible: set size to sizeof(ap_memcache_server_metrics_t) before the call. The
 *  library fills as much of the struct as both it and the caller know of and sets size
 *  to that; fields are only ever added at the end. */
typedef struct {
    apr_size_t size;
    apr_uint64_t requests[AP_MEMCACHE_METRIC_OPS][AP_MEMCACHE_METRIC_RESULTS];
    apr_uint64_t errors[AP_MEMCACHE_METRIC_ERROR_SLOTS];
    apr_uint64_t latency[AP_MEMCACHE_LATENCY_BUCKETS]; /**< calls per bucket */
    apr_uint64_t latency_sum_ns;      /**< the time of every call counted in latency[] */
    apr_uint64_t bytes_sent;          /**< request bytes written */
    apr_uint64_t bytes_received;      /**< reply bytes read */
    apr_uint64_t connections_opened;  /**< connected (TLS handshake and authentication
                                           included) */
    apr_uint64_t connections_closed;
    apr_uint64_t connections_resumed; /**< TLS connections that resumed a session */
    apr_uint64_t marked_dead;         /**< live to dead */
    apr_uint64_t marked_live;         /**< dead to live */
    apr_uint64_t pool_waits;          /**< calls that found every connection busy and
                                           waited for one */
    apr_uint64_t pool_wait_ns;        /**< the time they waited */
    int live;                         /**< 1 live, 0 marked dead */
    apr_time_t dead_since;            /**< when it was last marked dead (0: never) */
    /* Replicas (ap_memcache_set_replicas); the same counts as
     * ap_memcache_server_replica_stats(). A caller whose size ends before them gets
     * none of them. */
    apr_uint64_t replica_writes;      /**< writes sent to it as a key's replica */
    apr_uint64_t replica_hits;        /**< reads it answered as a replica after the
                                           servers before it did not */
    apr_uint64_t replica_repairs;     /**< values written back to it, the key's primary,
                                           by read repair */
    apr_uint64_t replica_failures;    /**< writes to it as a replica that failed (never
                                           the call's status) */
} ap_memcache_server_metrics_t;

/** Fills *out (whose size the caller set) with ms's counters: a sum over the blocks
 *  the counting threads write, each counter exact; counters read at once may be a few
 *  calls apart. APR_EINVAL for a NULL argument or a size smaller than the size field
 *  and the request counts. Costs no lock on the calls being counted. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_server_metrics(apr_memcache_server_t *ms,
                                                             ap_memcache_server_metrics_t *out);

/** The names the metrics use (the Prometheus labels of mod_memcache's metrics handler):
 *  "get", "multiget_key", ...; "hit", "miss", ...; "timeout", "connect_failed", ...
 *  NULL for an index out of range. */
AP_MEMCACHE_DECLARE(const char *) ap_memcache_metric_op_name(int op);
AP_MEMCACHE_DECLARE(const char *) ap_memcache_metric_result_name(int result);
AP_MEMCACHE_DECLARE(const char *) ap_memcache_metric_error_name(int error_class);

/* ---- TLS and authentication ---------------------------------------------------- */

/** Minimum protocol versions for ap_memcache_tls_options_t.min_protocol. */
#define AP_MEMCACHE_TLS_1_2 12 /**< TLS 1.2 or later: the default */
#define AP_MEMCACHE_TLS_1_3 13 /**< TLS 1.3 only */

/** How a server is reached over TLS. Strings are copied or read at once; they need not
 *  outlive the call. */
typedef struct {
    const char *ca_file;     /**< PEM file of the CAs trusted for the server's certificate;
                                  NULL: the system's default store */
    const char *cert_file;   /**< PEM client certificate (chain) to present; NULL: none */
    const char *key_file;    /**< PEM private key of cert_file; NULL: in cert_file */
    int verify;              /**< 1 (default): check the certificate chain and that it
                                  names the server; 0: check neither (encryption
                                  only, open to an active attacker) */
    const char *server_name; /**< name sent as SNI and checked against the certificate;
                                  NULL: the server's host when it is a name (an address
                                  is checked as an IP address and sends no SNI) */
    int min_protocol;        /**< AP_MEMCACHE_TLS_1_2 (default) or AP_MEMCACHE_TLS_1_3 */
} ap_memcache_tls_options_t;

/** Fills opts with the defaults above. */
AP_MEMCACHE_DECLARE(void) ap_memcache_tls_options_init(ap_memcache_tls_options_t *opts);

/** Makes every connection to ms speak TLS, from its first byte: there is no plain-text
 *  fallback. The files are read now and one TLS context is built, shared by the
 *  server's connections (and across fork). Call it before the server is used; it is not
 *  thread-safe. With verify on, there must be a name to check the server's certificate
 *  against: a server on a unix socket has no host name, so it needs server_name (a
 *  certificate any trusted CA signed for anybody would pass otherwise). APR_EINVAL for
 *  settings that break a rule: an unknown min_protocol or verify, a key without a
 *  certificate, verify on with no name; AP_MEMCACHE_ETLS when OpenSSL or a file cannot be
 *  loaded or the key does not match. Either way *error (if error is not NULL) is set to
 *  the reason, naming the file and saying which option to set where one would settle
 *  it, allocated from p (required; the server keeps its own reference to the context).
 *  ap_memcache_tls_check() gives the same answer with the option at fault. Nothing is
 *  changed on failure. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_server_set_tls(apr_memcache_server_t *ms,
                                                             const ap_memcache_tls_options_t *opts,
                                                             apr_pool_t *p, const char **error);

/** A TLS context built from options for a server at host (its name or address, which
 *  verification checks unless opts->server_name is set; a unix socket's path, or "",
 *  gives no name to check), before the server itself
 *  exists: httpd builds it in post_config, while the files are still readable by the
 *  user httpd starts as, and hands it to the server in each child
 *  (ap_memcache_server_use_tls). Lives until p is cleared. Errors as
 *  ap_memcache_server_set_tls. */
typedef struct ap_memcache_tls_t ap_memcache_tls_t;
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_tls_create(apr_pool_t *p,
                                                         const ap_memcache_tls_options_t *opts,
                                                         const char *host,
                                                         ap_memcache_tls_t **tls,
                                                         const char **error);

/** The options of ap_memcache_tls_options_t, to say which one a refusal is about. */
#define AP_MEMCACHE_TLS_OPT_NONE 0         /**< none in particular (OpenSSL missing, ...) */
#define AP_MEMCACHE_TLS_OPT_CA_FILE 1      /**< ca_file (or the system's store) */
#define AP_MEMCACHE_TLS_OPT_CERT_FILE 2    /**< cert_file */
#define AP_MEMCACHE_TLS_OPT_KEY_FILE 3     /**< key_file */
#define AP_MEMCACHE_TLS_OPT_VERIFY 4       /**< verify */
#define AP_MEMCACHE_TLS_OPT_SERVER_NAME 5  /**< server_name (the name verification checks) */
#define AP_MEMCACHE_TLS_OPT_MIN_PROTOCOL 6 /**< min_protocol */

/** Why ap_memcache_tls_check() refused a set of options. */
typedef struct {
    int option;         /**< AP_MEMCACHE_TLS_OPT_* at fault */
    int missing;        /**< AP_MEMCACHE_TLS_OPT_* that, set, would settle it (a certificate
                             for a key, a name to check, a key for a certificate whose
                             file holds none), or AP_MEMCACHE_TLS_OPT_NONE */
    const char *reason; /**< what is wrong, naming the file where there is one, without
                             option names (the caller knows how it spells them) */
} ap_memcache_tls_problem_t;

/** Checks options for a server at host (as ap_memcache_tls_create takes it) by doing
 *  all that ap_memcache_tls_create does, loading OpenSSL and the files, and dropping
 *  the context: the check behind every TLS setting, for a caller that names the
 *  settings its own way (httpd checks its MemcacheTLS* directives with it while the
 *  configuration is tested). APR_SUCCESS, or the status ap_memcache_tls_create would
 *  give with *problem filled (strings from p). APR_EINVAL with problem->reason NULL for
 *  a NULL argument. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_tls_check(apr_pool_t *p,
                                                        const ap_memcache_tls_options_t *opts,
                                                        const char *host,
                                                        ap_memcache_tls_problem_t *problem);

/** Makes every connection to ms speak TLS with a context from ap_memcache_tls_create
 *  (ms keeps its own reference). Use one context per server: it keeps that server's
 *  session for resumption and its handshake counts. Before the server is used. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_server_use_tls(apr_memcache_server_t *ms,
                                                             ap_memcache_tls_t *tls);

/** Authenticates every new connection to ms, before it is used or pooled: memcached's
 *  -Y for the text and meta protocols (a set of "user password"), SASL PLAIN for
 *  binary. The credentials go out only after the server has asked for them: a probe
 *  ("version", or the SASL mechanism list) comes first, and a server that answers it
 *  as a server without authentication is never sent the password. user NULL or empty
 *  turns authentication off. The password is copied (and wiped when replaced or when
 *  the server is destroyed). A refusal, or a server that does not ask, drops the
 *  connection, marks the server dead and gives AP_MEMCACHE_EAUTH; any other failure
 *  during the exchange (an error line, a closed connection, a timeout) gives the
 *  status it gives elsewhere. APR_EINVAL for a user or password with a space, a
 *  control character or a NUL byte (which neither mechanism can carry). Call it before
 *  the server is used. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_server_set_auth(apr_memcache_server_t *ms,
                                                              const char *user,
                                                              const char *password);

/** Handshakes a TLS server's connections have made in this process. */
typedef struct {
    apr_uint64_t full;    /**< complete handshakes */
    apr_uint64_t resumed; /**< handshakes that resumed an earlier session */
} ap_memcache_tls_stats_t;

/** Fills *stats for ms; APR_EINVAL when ms does not use TLS. Thread-safe. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_server_tls_stats(apr_memcache_server_t *ms,
                                                               ap_memcache_tls_stats_t *stats);

/** What a server looks like from this process right now. */
typedef struct {
    int live;                /**< 1 live, 0 marked dead */
    apr_uint32_t open;       /**< connections open: idle, in use or being opened */
    apr_uint32_t idle;       /**< of which idle in the pool */
    apr_uint32_t failures;   /**< consecutive transport failures so far */
} ap_memcache_server_state_t;

/** Fills *state for ms (for status pages and monitoring); thread-safe. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_server_state(apr_memcache_server_t *ms,
                                                           ap_memcache_server_state_t *state);

/** What a server did for replicated keys (ap_memcache_set_replicas) in this process. */
typedef struct {
    apr_uint64_t writes;   /**< writes sent to it as a key's replica */
    apr_uint64_t hits;     /**< reads it answered as a replica after the servers before it did not */
    apr_uint64_t repairs;  /**< values written back to it, the key's primary, by read repair */
    apr_uint64_t failures; /**< writes to it as a replica that failed (never the call's status) */
} ap_memcache_replica_stats_t;

/** Fills *stats for ms; thread-safe. The counters are those of the replica_* fields
 *  of ap_memcache_server_metrics_t. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_server_replica_stats(apr_memcache_server_t *ms,
                                                                   ap_memcache_replica_stats_t *stats);

/** How keys are placed on servers. */
typedef enum {
    /** apr-util's: apr_memcache_hash_default(key) % ntotal, a dead server's keys going to
     *  the next server in the list. The default of apr_memcache_create. */
    AP_MEMCACHE_DIST_MODULA = 0,
    /** Consistent hashing exactly as libmemcached's weighted ketama (MD5): a key lands on
     *  the server libmemcached-based clients put it on; removing a server moves only its
     *  keys; a dead server's keys go to the next server on the ring and come back when it
     *  recovers. The default of clients built from httpd.conf. */
    AP_MEMCACHE_DIST_KETAMA = 1
} ap_memcache_distribution_e;

/** Chooses the key placement of mc by setting mc->hash_func / mc->server_func (ketama)
 *  or clearing them (modula). For ketama the ring is built from the servers added so
 *  far and rebuilt by each later apr_memcache_add_server. Not thread-safe: call it
 *  while setting the client up. APR_EINVAL for an unknown distribution. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_set_distribution(apr_memcache_t *mc,
                                                               ap_memcache_distribution_e d);

/** Keeps every key on n more servers: its replicas are the n servers that follow its
 *  primary (the server the distribution places it on, dead or not) in the order the
 *  servers were added, wrapping around; libmemcached's NUMBER_OF_REPLICAS places them
 *  the same. Writes go to all of them at once, and the call's status is the primary's;
 *  reads ask them in order while the key is missing or a server fails, skipping dead
 *  ones; incr/decr and cas go to the first live one only. docs/design.md ("Replicas")
 *  says what each call does. n must be less than the number of servers added so far
 *  (APR_EINVAL otherwise, or for more than 7); 0, the default, turns replication off.
 *  Not thread-safe: call it while setting the client up. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_set_replicas(apr_memcache_t *mc, apr_uint16_t n);

/** Read repair (on by default): when a key's primary missed and a replica had it, the
 *  value is written back to the primary with add (never replacing a newer value), with
 *  the time to live the replica reports. Meta servers report it; on text and binary
 *  servers nothing is repaired. 0 turns it off. Set-up time only, as
 *  ap_memcache_set_replicas. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_set_replica_repair(apr_memcache_t *mc, int on);

/* ---- the extended command set ---------------------------------------------------- */
/* What apr_memcache lacks, in its style: apr_status_t results, data from APR pools,
 * keys checked before anything is sent (APR_EINVAL), values too (AP_MEMCACHE_ETOOBIG
 * over the server's max_value_size), AP_MEMCACHE_ENOSERVER when no server is live,
 * APR_TIMEUP when a deadline passed. Flags are 32-bit here (the
 * compatible API keeps apr-util's 16 bits). The three protocols give the same results. */

/** An item as the server keeps it. */
typedef struct {
    apr_status_t status; /**< per key in ap_memcache_multigets; else as returned */
    const char *key;
    apr_size_t len;
    char *data;          /**< NUL-terminated at data[len] */
    apr_uint32_t flags;
    apr_uint64_t cas;    /**< the CAS unique, for ap_memcache_cas */
} ap_memcache_item_t;

/** The stores of ap_memcache_store. */
typedef enum {
    AP_MEMCACHE_SET,     /**< store */
    AP_MEMCACHE_ADD,     /**< store only if absent; APR_EEXIST when present */
    AP_MEMCACHE_REPLACE, /**< store only if present; APR_EEXIST when absent (as apr-util) */
    AP_MEMCACHE_APPEND,  /**< add data after the value; APR_NOTFOUND when absent */
    AP_MEMCACHE_PREPEND  /**< add data before the value; APR_NOTFOUND when absent */
} ap_memcache_store_e;

/** Stores with 32-bit flags (ignored by APPEND/PREPEND, which keep the item's flags and
 *  expiry). exptime: seconds, or a unix time. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_store(apr_memcache_t *mc, ap_memcache_store_e op,
                                                    const char *key, const char *data,
                                                    apr_size_t len, apr_uint32_t exptime,
                                                    apr_uint32_t flags);

/** Gets key with its flags and CAS unique into *item (data from p). APR_NOTFOUND on a
 *  miss. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_gets(apr_memcache_t *mc, apr_pool_t *p,
                                                   const char *key, ap_memcache_item_t *item);

/** Stores only if the item is unchanged since its CAS unique `cas` was read:
 *  APR_SUCCESS, APR_EEXIST when it changed since (conflict), APR_NOTFOUND when it is
 *  gone. APR_EINVAL, nothing sent, for a cas of 0: it names no version. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_cas(apr_memcache_t *mc, const char *key,
                                                  const char *data, apr_size_t len,
                                                  apr_uint32_t exptime, apr_uint32_t flags,
                                                  apr_uint64_t cas);

/** Sets a new expiry on key without fetching it; APR_NOTFOUND when absent. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_touch(apr_memcache_t *mc, const char *key,
                                                    apr_uint32_t exptime);

/** Gets key (as ap_memcache_gets) and sets its expiry to exptime in one request. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_gat(apr_memcache_t *mc, apr_pool_t *p,
                                                  const char *key, apr_uint32_t exptime,
                                                  ap_memcache_item_t *item);

/** Invalidates every item on every server of mc, after delay seconds (0: now). Every
 *  server is asked, live or not; the first error is returned. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_flush(apr_memcache_t *mc, apr_uint32_t delay);

/** 64-bit counters. Adds (incr64) or subtracts (decr64, stopping at 0) delta; incr wraps
 *  at 2^64 as memcached does. initial NULL: a missing counter is APR_NOTFOUND. initial
 *  non-NULL: a missing counter is created as *initial with expiry exptime, and *nv is
 *  *initial. *nv (may be NULL) gets the new value. AP_MEMCACHE_EPROTO when the value
 *  is not a number. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_incr64(apr_memcache_t *mc, const char *key,
                                                     apr_uint64_t delta,
                                                     const apr_uint64_t *initial,
                                                     apr_uint32_t exptime, apr_uint64_t *nv);
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_decr64(apr_memcache_t *mc, const char *key,
                                                     apr_uint64_t delta,
                                                     const apr_uint64_t *initial,
                                                     apr_uint32_t exptime, apr_uint64_t *nv);

/** Adds key to *items (created from data_pool when NULL) as an ap_memcache_item_t with
 *  status APR_NOTFOUND. */
AP_MEMCACHE_DECLARE(void) ap_memcache_add_multigets_key(apr_pool_t *data_pool, const char *key,
                                                        apr_hash_t **items);

/** As apr_memcache_multgetp, for ap_memcache_item_t values: each also gets its 32-bit
 *  flags and CAS unique. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_multigets(apr_memcache_t *mc,
                                                        apr_pool_t *temp_pool,
                                                        apr_pool_t *data_pool,
                                                        apr_hash_t *items);

/* ---- the array multi-get ----------------------------------------------------- */

/** One key of ap_memcache_multiget_array: its bytes and their number (no NUL needed). */
typedef struct {
    const char *key;
    apr_size_t len;
} ap_memcache_key_t;

/** One result of ap_memcache_multiget_array, at the index of its key. */
typedef struct {
    apr_status_t status; /**< as a value's status after apr_memcache_multgetp */
    apr_uint32_t flags;  /**< 32-bit flags; 0 unless status is APR_SUCCESS */
    apr_uint64_t cas;    /**< the CAS unique with AP_MEMCACHE_MULTIGET_CAS, else 0 */
    const char *data;    /**< NUL-terminated at data[len], in data_pool; NULL unless found */
    apr_size_t len;
} ap_memcache_result_t;

/** Option of ap_memcache_multiget_array: also fetch each value's CAS unique. */
#define AP_MEMCACHE_MULTIGET_CAS 0x1u

/** Gets nkeys keys in one round trip per server, all servers at once, under one total
 *  deadline, exactly as apr_memcache_multgetp would get the same keys (same placement,
 *  requests, deadline and per-key statuses), without a hash: results[i] answers keys[i]
 *  with status APR_SUCCESS (data, len, flags), APR_NOTFOUND, APR_EINVAL for an invalid
 *  key (NULL, empty, over 250 bytes, a space or control byte; nothing is sent for it),
 *  AP_MEMCACHE_ENOSERVER, or the error of its server (APR_TIMEUP when the deadline
 *  passed). A key given twice is asked twice and both results are filled. Values are
 *  copied into a few blocks of data_pool per call (no allocation per key) and live as
 *  long as it. options: 0 or AP_MEMCACHE_MULTIGET_CAS. nkeys 0 sends nothing. Returns
 *  APR_SUCCESS unless the arguments are unusable (APR_EINVAL: mc or data_pool NULL,
 *  keys or results NULL with nkeys > 0, an unknown option; results untouched) or memory
 *  ran out (APR_ENOMEM). */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_multiget_array(apr_memcache_t *mc,
                                                             apr_pool_t *data_pool,
                                                             const ap_memcache_key_t *keys,
                                                             apr_size_t nkeys,
                                                             ap_memcache_result_t *results,
                                                             apr_uint32_t options);

/* ---- what only the meta protocol offers -------------------------------------
 * Leases against a thundering herd, invalidation that keeps a stale value to serve,
 * item metadata, and keys of any bytes. These need servers on AP_MEMCACHE_PROTOCOL_META
 * (memcached 1.6 or later); on a text or binary server they return APR_ENOTIMPL and
 * send nothing. Times are seconds (or a unix time), at most 2^31 - 1: larger ones are
 * APR_EINVAL, nothing sent. docs/api.md shows the lease pattern; examples/ has a
 * module using it. */

/** What ap_memcache_lease_get found. */
typedef struct {
    ap_memcache_item_t item; /**< status APR_SUCCESS with the value (stale or not), or
                                  APR_NOTFOUND when there is none; item.cas is what the
                                  winner passes to ap_memcache_cas */
    int won;                 /**< this caller holds the lease: recompute the value and
                                  store it (ap_memcache_cas with item.cas, or a set) */
    int stale;               /**< the value was invalidated (ap_memcache_invalidate):
                                  serve it while the winner recomputes */
    int lease_taken;         /**< another caller holds the lease: serve the stale value,
                                  or wait and get again */
    apr_int64_t ttl;         /**< seconds the item has left; -1 when it never expires */
} ap_memcache_lease_t;

/** Gets key as a lease: a miss or a stale value makes exactly one caller the winner
 *  (lease->won) until it stores a new value or the lease's time runs out. lease_ttl: on
 *  a miss, hold the lease (an empty placeholder item) this many seconds (0: a miss is
 *  a plain miss, nobody wins). recache_ttl: also win when less than this time is left
 *  on a hit (0: never), so a hot item is refreshed before it expires. Returns
 *  lease->item.status. A value stored empty under a lease-managed key looks like the
 *  placeholder (APR_NOTFOUND): store values of at least one byte there. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_lease_get(apr_memcache_t *mc, apr_pool_t *p,
                                                        const char *key, apr_uint32_t lease_ttl,
                                                        apr_uint32_t recache_ttl,
                                                        ap_memcache_lease_t *lease);

/** Marks key stale instead of deleting it: the next lease get returns the old value with
 *  stale and won, later ones stale and lease_taken, until the winner stores. stale_ttl:
 *  the item's new expiry (0: unchanged). APR_NOTFOUND when absent. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_invalidate(apr_memcache_t *mc, const char *key,
                                                         apr_uint32_t stale_ttl);

/** An item's metadata, without its value. */
typedef struct {
    apr_int64_t ttl;          /**< seconds left; -1 when it never expires */
    apr_uint32_t last_access; /**< seconds since it was last fetched or stored */
    int fetched;              /**< fetched at least once since it was stored */
    apr_uint32_t size;        /**< the value's length in bytes */
    apr_uint64_t cas;         /**< the CAS unique */
    apr_uint32_t flags;       /**< the client flags */
} ap_memcache_meta_t;

/** Gets key's metadata. no_bump non-zero: the look changes nothing (no LRU bump, last
 *  access and fetched stay as they are). APR_NOTFOUND when absent. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_meta_get(apr_memcache_t *mc, const char *key,
                                                       int no_bump, ap_memcache_meta_t *meta);

/** The longest key of any bytes: memcached allows 250 characters of its base64 form. */
#define AP_MEMCACHE_MAX_BINARY_KEY 186

/** Keys of any bytes (spaces, control characters, NULs; 1 to AP_MEMCACHE_MAX_BINARY_KEY
 *  bytes), sent base64-encoded and placed by their bytes. As ap_memcache_gets (item->key
 *  is a copy of the klen key bytes, NUL-terminated after them), ap_memcache_store and
 *  apr_memcache_delete. A binary key and a text key with the same characters are the
 *  same item. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_bkey_get(apr_memcache_t *mc, apr_pool_t *p,
                                                       const void *key, apr_size_t klen,
                                                       ap_memcache_item_t *item);
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_bkey_store(apr_memcache_t *mc,
                                                         ap_memcache_store_e op,
                                                         const void *key, apr_size_t klen,
                                                         const char *data, apr_size_t len,
                                                         apr_uint32_t exptime,
                                                         apr_uint32_t flags);
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_bkey_delete(apr_memcache_t *mc, const void *key,
                                                          apr_size_t klen);

/* ---- sealed values ---------------------------------------------------------------- */
/* A sealed client encrypts and authenticates every value it stores (AES-256-GCM, with
 * the memcached key and the item's flags bound in) and checks every value it reads, so
 * memcached and the network see only ciphertext and a value that was changed, moved to
 * another key or never sealed reads as a miss. docs/security.md has the envelope, the
 * key file and key rotation. */

/** A set of sealing keys read from a key file; opaque. */
typedef struct ap_memcache_seal_t ap_memcache_seal_t;

/** Reads the key file at path into *seal, allocated from p (the keys are wiped from
 *  memory when p is cleared). The file holds lines "<key-id> <64 hex digits>" (ids of 1
 *  to 32 letters, digits, '-', '_' or '.'; '#' comments and blank lines allowed); the
 *  first key seals, every key unseals. It must be a regular file that others (neither
 *  owner nor group) can neither read nor write. On failure *seal is untouched, *errmsg
 *  (may be NULL) gets the reason from p, and the return is APR_EINVAL for a file that
 *  is not a valid key file, or the status of the failed open. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_seal_load(apr_pool_t *p, const char *path,
                                                        ap_memcache_seal_t **seal,
                                                        const char **errmsg);

/** The id of the key that seals (the first of the file), for logs. */
AP_MEMCACHE_DECLARE(const char *) ap_memcache_seal_key_id(const ap_memcache_seal_t *seal);

/** Seals the values of mc with seal from now on (NULL: stop sealing). seal must live as
 *  long as mc uses it; several clients may share one. Not thread-safe: call it while
 *  setting the client up. On a sealed client:
 *  - set, add, replace, cas and ap_memcache_store's SET/ADD/REPLACE store an envelope
 *    31 + (length of the key id) bytes longer than the value; flags are stored as given.
 *    AP_MEMCACHE_ETOOBIG applies to the envelope's length;
 *  - getp, gets, gat, multgetp and multigets return the opened value; a value that does
 *    not authenticate (not sealed, an unknown key id, tampered, stored under another key
 *    or with other flags) is APR_NOTFOUND, for that key only, and is reported through
 *    the server's logger (ap_memcache_server_set_logger) at AP_MEMCACHE_LOG_WARNING, at
 *    most once a minute per reason, with the count since the last report;
 *  - append, prepend, incr, decr, incr64 and decr64 cannot work on ciphertext and
 *    return APR_ENOTIMPL with nothing sent;
 *  - delete, touch and flush are unchanged.
 *  APR_EINVAL when mc is NULL. */
AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_set_seal(apr_memcache_t *mc,
                                                       ap_memcache_seal_t *seal);

/* ---- version ---------------------------------------------------------------- */

/* The version of these headers. The build takes the project's version from here
 * (CMakeLists.txt reads these lines), so the headers, the library, the module and the
 * packages always agree. */
#define AP_MEMCACHE_VERSION_MAJOR 0
#define AP_MEMCACHE_VERSION_MINOR 2
#define AP_MEMCACHE_VERSION_PATCH 0
#define AP_MEMCACHE_VERSION_STRING "0.2.0"

/** The version of the library (or module) in use, "MAJOR.MINOR.PATCH": what
 *  AP_MEMCACHE_VERSION_STRING was when it was built. (Not ap_memcache_version: that
 *  name is apr_memcache_version's, the memcached server's version, below.) */
AP_MEMCACHE_DECLARE(const char *) ap_memcache_library_version(void);

#ifdef __cplusplus
}
#endif

#endif /* AP_MEMCACHE_H */
