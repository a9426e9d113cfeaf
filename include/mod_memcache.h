/*
 * mod_memcache.h - what an httpd module includes to use mod_memcache.
 *
 * The client API (ap_memcache.h, apr_memcache-compatible) and the two functions the
 * module itself defines: ap_memcache_client() and ap_memcache_serverhash(), which give
 * other httpd modules the client configured with MemcacheServer for a server_rec.
 * Programs outside httpd include ap_memcache.h alone: libap_memcache does not define
 * the module functions.
 *
 * Installed in apxs's INCLUDEDIR, so `apxs -c` finds it with no extra flag.
 */
#ifndef MOD_MEMCACHE_H
#define MOD_MEMCACHE_H

#include "ap_memcache.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the module API ------------------------------------------------------------- */

struct server_rec;

/** The client built from the MemcacheServer lines of s (or of the main server when s
 *  declares none), one per httpd child process. NULL before child_init has run, and
 *  when no MemcacheServer is configured for s. Thread-safe; do not destroy it. */
AP_MEMCACHE_DECLARE(apr_memcache_t *) ap_memcache_client(struct server_rec *s);

/** The servers of ap_memcache_client(s), keyed by "host:port" exactly as written in
 *  the MemcacheServer line (a unix socket by its path), values apr_memcache_server_t*.
 *  NULL when ap_memcache_client(s) is NULL. */
AP_MEMCACHE_DECLARE(apr_hash_t *) ap_memcache_serverhash(struct server_rec *s);

/** The same as ap_memcache_serverhash; the name the original module's README used. */
AP_MEMCACHE_DECLARE(apr_hash_t *) ap_memcace_serverhash(struct server_rec *s);

APR_DECLARE_OPTIONAL_FN(apr_memcache_t *, ap_memcache_client, (struct server_rec *s));
APR_DECLARE_OPTIONAL_FN(apr_hash_t *, ap_memcache_serverhash, (struct server_rec *s));

#ifdef __cplusplus
}
#endif

#endif /* MOD_MEMCACHE_H */
