/*
 * server_spec.h - one MemcacheServer line, parsed and validated.
 *
 * Only APR here, no httpd: the parser knows nothing of cmd_parms, so every rule about
 * what a MemcacheServer line may say lives in one place that a test could call alone.
 */
#ifndef MMC_MODULE_SERVER_SPEC_H
#define MMC_MODULE_SERVER_SPEC_H

#include "apr.h"
#include "apr_pools.h"
#include "apr_network_io.h"

#include "ap_memcache.h"

/** Marks a value the directive did not give; resolved in post_config. */
#define MMC_UNSET (-1)

/** apr_memcache_server_create takes the TTL as apr_uint32_t microseconds. */
#define MMC_TTL_MAX_US ((apr_int64_t)0xFFFFFFFF)
/** Used when the line has no ttl=, as httpd's mod_socache_memcache does. */
#define MMC_TTL_DEFAULT_US ((apr_int64_t)15 * 1000 * 1000)
/** Upper bound for min, smax and max: more connections than ports makes no sense. */
#define MMC_CONNS_LIMIT 65535
/** Upper bound for weight=: shares are relative, so large numbers add nothing. */
#define MMC_WEIGHT_LIMIT 65535

/** Pool sizes and TTL ready for ap_memcache_server_create. */
typedef struct {
    apr_uint32_t min;
    apr_uint32_t smax;
    apr_uint32_t max;
    apr_uint32_t ttl_us;
    int max_raised;     /* max was raised above the MPM's threads to fit min or smax */
} mmc_pool_limits;

typedef struct {
    const char *name;   /* as written in the directive; the ap_memcache_serverhash key */
    const char *host;   /* name or address without brackets, or the unix socket path */
    apr_port_t port;    /* 0 for a unix socket */
    int min;            /* as given, or MMC_UNSET */
    int smax;           /* as given, or MMC_UNSET */
    int max;            /* as given, or MMC_UNSET */
    apr_int64_t ttl_us; /* as given, or MMC_UNSET */
    int weight;         /* as given, or MMC_UNSET (1) */
    int protocol;       /* AP_MEMCACHE_PROTOCOL_*, or MMC_UNSET (the context's default) */
    int tls;            /* tls=on: 1; tls=off or not given: 0 */
    const char *tls_name; /* tls-name=: the name verification checks for this line (over
                             MemcacheTLSServerName), or NULL */
    const char *user;           /* user=, or NULL: no authentication */
    const char *password_file;  /* password-file= as written (for messages) */
    const char *password;       /* its first line, read when the line is parsed */
    mmc_pool_limits limits; /* what the server is created with; set in post_config */
    ap_memcache_tls_t *tls_context; /* built in post_config when tls is 1 */
} mmc_server_spec;

/**
 * Parses the arguments of one line: argv[0] is "host:port", "[v6addr]:port" or
 * "/path/to/socket", the rest are min=N smax=N max=N ttl=TIME weight=N
 * protocol=text|binary tls=on|off tls-name=NAME user=NAME password-file=PATH (names and the
 * protocol and tls values case-insensitive). The password file is read here: a file
 * that cannot be read, or that holds no usable password, is an error.
 * Returns NULL on success, else a message from p naming directive and the offending
 * argument, ready to be returned from a directive handler.
 */
const char *mmc_server_spec_parse(apr_pool_t *p, const char *directive, int argc,
                                  char *const argv[], mmc_server_spec *spec);

/**
 * Fills in what the line left out: max = mpm_threads (raised to min or smax when one
 * of them was given larger), smax = max, min = 0, ttl = 15 s.
 */
mmc_pool_limits mmc_server_spec_resolve(const mmc_server_spec *spec, int mpm_threads);

/**
 * Parses a time with an optional unit (a plain number is seconds; ms, s, min, h) into
 * microseconds, at most max_us and at least 1 ms unless allow_zero. Returns NULL, or a
 * message from p naming directive and what (the argument as written).
 */
const char *mmc_parse_duration(apr_pool_t *p, const char *directive, const char *what,
                               const char *value, apr_int64_t max_us, int allow_zero,
                               apr_int64_t *us);

/**
 * Parses a size in bytes with an optional unit k, m or g (any case; 1024-based):
 * "1048576", "512k", "1m". At least 1 byte and at most max_bytes. Returns NULL, or a
 * message from p naming directive and the argument as written.
 */
const char *mmc_parse_size(apr_pool_t *p, const char *directive, const char *value,
                           apr_int64_t max_bytes, apr_int64_t *bytes);

/** "text", "binary" or "meta" (any case) as AP_MEMCACHE_PROTOCOL_*; -1 for anything else. */
int mmc_parse_protocol(const char *value);
/** "text", "binary" or "meta", for logs and mod_status. */
const char *mmc_protocol_name(int protocol);

/** True when name is a host name or an address that TLS can check a certificate against
 *  (letters, digits, '-', '.' and ':', 1 to 253 characters): MemcacheTLSServerName and
 *  tls-name= take the same. */
int mmc_tls_name_valid(const char *name);

/** True when a and b name the same server (host compared case-insensitively). */
int mmc_server_spec_same_server(const mmc_server_spec *a, const mmc_server_spec *b);

#endif
