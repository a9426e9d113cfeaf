/*
 * socache_codec.c - keys, envelopes and expiry times of the mcpool provider (see the
 * header for the layout and why).
 */
#include "socache_codec.h"

#include "apr_sha1.h"
#include "apr_strings.h"

#include <string.h>

static const char hex_digits[] = "0123456789abcdef";

static void to_hex(const unsigned char *in, apr_size_t len, char *out)
{
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        out[2 * i] = hex_digits[in[i] >> 4];
        out[2 * i + 1] = hex_digits[in[i] & 0x0f];
    }
}

void mmc_socache_sha1(const unsigned char *id, apr_size_t idlen, unsigned char digest[20])
{
    apr_sha1_ctx_t ctx;

    apr_sha1_init(&ctx);
    /* update_binary: the plain update converts from EBCDIC on such platforms. */
    while (idlen > 0) {
        unsigned int chunk = idlen > 0x10000000u ? 0x10000000u : (unsigned int)idlen;

        apr_sha1_update_binary(&ctx, id, chunk);
        id += chunk;
        idlen -= chunk;
    }
    apr_sha1_final(digest, &ctx);
}

const char *mmc_socache_check_key_part(apr_pool_t *p, const char *what, const char *part)
{
    const char *c;

    for (c = part; *c; ++c) {
        /* memcached's text protocol ends a key at a blank or a control character. */
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f) {
            return apr_psprintf(p, "%s '%s' may hold only printable ASCII without blanks",
                                what, part);
        }
    }
    return NULL;
}

int mmc_socache_key(const char *tag, apr_size_t taglen, const unsigned char *id,
                    apr_size_t idlen, mmc_socache_hash_fn hash, char *key)
{
    unsigned char digest[20];

    memcpy(key, tag, taglen);
    /* Compared without 2 * idlen, which could wrap for a huge id. */
    if (idlen <= (MMC_SOCACHE_KEY_MAX - taglen) / 2) {
        to_hex(id, idlen, key + taglen);
        key[taglen + 2 * idlen] = '\0';
        return 0;
    }
    hash(id, idlen, digest);
    key[taglen] = '#';
    to_hex(digest, sizeof digest, key + taglen + 1);
    key[taglen + 1 + 2 * sizeof digest] = '\0';
    return 1;
}

apr_size_t mmc_socache_envelope_size(apr_size_t idlen, apr_size_t datalen)
{
    return 4 + idlen + datalen;
}

void mmc_socache_envelope_write(unsigned char *out, const unsigned char *id,
                                apr_size_t idlen, const unsigned char *data,
                                apr_size_t datalen)
{
    /* ap_socache ids are unsigned int long, so 4 bytes always hold the length. */
    out[0] = (unsigned char)(idlen >> 24);
    out[1] = (unsigned char)(idlen >> 16);
    out[2] = (unsigned char)(idlen >> 8);
    out[3] = (unsigned char)idlen;
    memcpy(out + 4, id, idlen);
    if (datalen > 0) {
        memcpy(out + 4 + idlen, data, datalen);
    }
}

int mmc_socache_envelope_open(const unsigned char *value, apr_size_t len,
                              const unsigned char *id, apr_size_t idlen,
                              const unsigned char **data, apr_size_t *datalen)
{
    apr_size_t stored_idlen;

    if (len < 4) {
        return 0;
    }
    stored_idlen = ((apr_size_t)value[0] << 24) | ((apr_size_t)value[1] << 16)
                   | ((apr_size_t)value[2] << 8) | (apr_size_t)value[3];
    if (stored_idlen != idlen || len - 4 < idlen || memcmp(value + 4, id, idlen) != 0) {
        return 0;
    }
    *data = value + 4 + idlen;
    *datalen = len - 4 - idlen;
    return 1;
}

int mmc_socache_exptime(apr_time_t expiry, apr_time_t now, apr_uint32_t *exptime)
{
    const apr_int64_t usec = APR_USEC_PER_SEC;
    apr_int64_t left = expiry - now;
    apr_int64_t secs;

    if (left <= 0) {
        return 0;
    }
    /* Rounded up: 0.4 s left must not become 0, which memcached reads as "never". */
    secs = left / usec + (left % usec != 0);
    if (secs <= MMC_SOCACHE_RELATIVE_MAX) {
        *exptime = (apr_uint32_t)secs;
        return 1;
    }
    /* Beyond 30 days memcached takes the number as a Unix time: give it one. */
    secs = expiry / usec + (expiry % usec != 0);
    *exptime = (apr_uint32_t)(secs > MMC_SOCACHE_TIME_MAX ? MMC_SOCACHE_TIME_MAX : secs);
    return 1;
}
