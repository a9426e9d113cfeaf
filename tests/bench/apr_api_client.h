/*
 * The benchmark's view of a client written against the apr_memcache API.
 *
 * apr_api_client.inc is compiled twice: once against our mod_memcache.h
 * (client_ours.c) and once against apr-util's apr_memcache.h (client_aprutil.c). The
 * two headers claim the same include guard and define the same types, so they can
 * never meet in one translation unit; each copy exports only the function table below,
 * and the C++ side (clients.cpp) sees nothing but this header. The calling code is
 * therefore the same for both libraries, down to the pools it clears.
 */
#ifndef MMC_BENCH_APR_API_CLIENT_H
#define MMC_BENCH_APR_API_CLIENT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *host;
    unsigned short port;
    const char *tls_ca_file; /* ours only: TLS, the certificate signed by this CA (NULL: plain) */
} bench_server;

typedef struct {
    const bench_server *servers;
    size_t nservers;
    unsigned max_per_server; /* apr_memcache_server_create(min 0, smax = max, max) */
    unsigned ttl_us;         /* idle connection lifetime, microseconds as in apr-util */
    int binary;              /* ours only: speak the binary protocol */
    int meta;                /* ours only: speak the meta protocol */
    int ketama;              /* ours only: ketama placement (else apr-util's modula) */
    const char *seal_key_file; /* ours only: seal values with these keys (NULL: plain) */
    unsigned replicas;       /* ours only: ap_memcache_set_replicas */
} bench_apr_config;

/* One client shared by all threads; one session per thread (its own APR pools). */
typedef struct bench_apr_client bench_apr_client;
typedef struct bench_apr_session bench_apr_session;

typedef struct {
    /* NULL with a message in err when the client cannot be built (e.g. binary asked of
     * apr-util). */
    bench_apr_client *(*create)(const bench_apr_config *cfg, char *err, size_t errlen);
    void (*destroy)(bench_apr_client *c);
    bench_apr_session *(*session_create)(bench_apr_client *c);
    void (*session_destroy)(bench_apr_session *s);
    /* 1 hit (*len = value length), 0 miss, -1 error. */
    int (*get)(bench_apr_session *s, const char *key, size_t *len);
    /* 0 stored, -1 error. */
    int (*set)(bench_apr_session *s, const char *key, const char *value, size_t len);
    /* Number of keys found, -1 when the call itself failed. */
    long (*multi_get)(bench_apr_session *s, const char *const *keys, size_t nkeys);
    /* The same through ap_memcache_multiget_array (keys with their lengths, results in
     * an array); NULL for apr-util, which has no such call. */
    long (*multi_get_array)(bench_apr_session *s, const char *const *keys, const size_t *lens,
                            size_t nkeys);
    /* The library's description of the last error status of this session. */
    const char *(*last_error)(bench_apr_session *s);
} bench_apr_ops;

extern const bench_apr_ops bench_ours_ops;
extern const bench_apr_ops bench_aprutil_ops;

/* apr_initialize() once per process, before any client. */
void bench_apr_initialize(void);

#ifdef __cplusplus
}
#endif

#endif
