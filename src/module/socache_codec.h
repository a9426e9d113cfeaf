/*
 * socache_codec.h - how the mcpool socache provider lays ids, values and expiry times
 * out in memcached. Pure functions on APR types, no httpd and no network, so every
 * rule here can be tested alone (tests/httpd/test_socache_codec.cpp).
 *
 * A key is <tag><encoded id>, the tag being [MemcacheSOCachePrefix]<cname>":".
 *   - An id whose hex encoding fits in memcached's 250-byte key is written as lowercase
 *     hex: "mod_ssl-sess:6f2a...". The key is the id, so nothing else is stored with
 *     the value (the layout of mod_socache_memcache, whose entries stay readable).
 *   - A longer id is hashed: "<tag>#<40 hex digits of SHA-1(id)>". '#' is no hex digit,
 *     so the two forms never meet. The value is then an envelope that carries the full
 *     id, and retrieve compares it: two ids whose hashes collide share a key, never
 *     their data.
 */
#ifndef MMC_MODULE_SOCACHE_CODEC_H
#define MMC_MODULE_SOCACHE_CODEC_H

#include "apr.h"
#include "apr_pools.h"
#include "apr_time.h"

/** memcached's longest key. */
#define MMC_SOCACHE_KEY_MAX 250
/** Longest MemcacheSOCachePrefix: leaves room for the cname and a hashed id. */
#define MMC_SOCACHE_PREFIX_MAX 64
/** memcached item flags of an envelope (hashed key); plain values have flags 0. */
#define MMC_SOCACHE_FLAG_ENVELOPE 0x6d63u
/** Relative expiry times above this are read by memcached as absolute Unix times. */
#define MMC_SOCACHE_RELATIVE_MAX ((apr_int64_t)30 * 24 * 3600)
/** The latest Unix time memcached 1.6 reads as meant (January 2038): it reads a larger
 *  one as a time in the past. The engine caps every time at the same value. */
#define MMC_SOCACHE_TIME_MAX ((apr_int64_t)0x7FFFFFFF)

/** Maps an id to a 20-byte digest; replaceable so that tests can force collisions. */
typedef void (*mmc_socache_hash_fn)(const unsigned char *id, apr_size_t idlen,
                                    unsigned char digest[20]);

/** SHA-1 (apr-util's), the hash of hashed keys. */
void mmc_socache_sha1(const unsigned char *id, apr_size_t idlen, unsigned char digest[20]);

/**
 * Checks a prefix or a consumer name for use in keys: printable ASCII without blanks
 * (what a memcached text key may hold). Returns NULL, or a message from p.
 */
const char *mmc_socache_check_key_part(apr_pool_t *p, const char *what, const char *part);

/**
 * Writes the key of id into key (room for MMC_SOCACHE_KEY_MAX + 1 bytes, NUL-terminated)
 * and returns 1 when it is a hashed key (the value must be an envelope), 0 when it is
 * the id in hex. tag must be shorter than MMC_SOCACHE_KEY_MAX - 41 bytes.
 */
int mmc_socache_key(const char *tag, apr_size_t taglen, const unsigned char *id,
                    apr_size_t idlen, mmc_socache_hash_fn hash, char *key);

/** Size of the envelope of id and datalen bytes of data. */
apr_size_t mmc_socache_envelope_size(apr_size_t idlen, apr_size_t datalen);

/** Writes the envelope (4-byte big-endian id length, id, data) into out, which holds
 *  mmc_socache_envelope_size(idlen, datalen) bytes. */
void mmc_socache_envelope_write(unsigned char *out, const unsigned char *id,
                                apr_size_t idlen, const unsigned char *data,
                                apr_size_t datalen);

/**
 * Opens an envelope read back from memcached: 1 with *data and *datalen pointing into value
 * when it carries exactly this id, 0 when it carries another id or is malformed.
 */
int mmc_socache_envelope_open(const unsigned char *value, apr_size_t len,
                              const unsigned char *id, apr_size_t idlen,
                              const unsigned char **data, apr_size_t *datalen);

/**
 * Converts the absolute expiry of ap_socache_provider_t.store into memcached's exptime.
 * Returns 0 when expiry is at or before now (nothing must be stored). Otherwise 1 with
 * *exptime the seconds left rounded up (never 0, which memcached reads as "never"), or,
 * beyond 30 days, the absolute Unix time rounded up (memcached reads any exptime over
 * 30 days as one), capped at MMC_SOCACHE_TIME_MAX: an entry meant to outlive January
 * 2038 is kept until then.
 */
int mmc_socache_exptime(apr_time_t expiry, apr_time_t now, apr_uint32_t *exptime);

#endif
