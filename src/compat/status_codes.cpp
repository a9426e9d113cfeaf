// Status codes: the one mapping from engine outcomes to apr_status_t, and the text of
// our own codes.
#include "compat/facade.h"

namespace mmc::compat {

using engine::Result;

apr_status_t to_apr_status(const engine::Outcome& o) noexcept {
    switch (o.result) {
        case Result::ok: return APR_SUCCESS;
        case Result::not_found: return APR_NOTFOUND;
        case Result::not_stored:
        case Result::exists: return APR_EEXIST;
        case Result::client_error:
        case Result::server_error:
        case Result::protocol_error: return AP_MEMCACHE_EPROTO;
        case Result::timeout:
        case Result::connect_timeout:
        case Result::pool_timeout: return APR_TIMEUP;
        case Result::closed: return o.sys_error ? APR_FROM_OS_ERROR(o.sys_error) : APR_EOF;
        case Result::connect_failed:
        case Result::io_error: return o.sys_error ? APR_FROM_OS_ERROR(o.sys_error) : APR_EGENERAL;
        case Result::no_server: return AP_MEMCACHE_ENOSERVER;
        case Result::invalid_argument: return APR_EINVAL;
        case Result::no_memory: return APR_ENOMEM;
        case Result::value_too_large: return AP_MEMCACHE_ETOOBIG;
        case Result::not_supported: return APR_ENOTIMPL;
        case Result::tls_failed: return AP_MEMCACHE_ETLS;
        case Result::auth_failed:
        case Result::auth_not_asked: return AP_MEMCACHE_EAUTH;
    }
    return APR_EGENERAL;
}

}  // namespace mmc::compat

extern "C" AP_MEMCACHE_DECLARE(const char*) ap_memcache_strerror(apr_status_t status, char* buf,
                                                              apr_size_t bufsize) {
    switch (status) {
        case AP_MEMCACHE_ENOSERVER: apr_cpystrn(buf, "no live memcached server", bufsize); return buf;
        case AP_MEMCACHE_EPROTO:
            apr_cpystrn(buf, "memcached refused the request or sent an unusable reply", bufsize);
            return buf;
        case AP_MEMCACHE_ETOOBIG:
            apr_cpystrn(buf, "value longer than the memcached server's max_value_size; not sent",
                        bufsize);
            return buf;
        case AP_MEMCACHE_ETLS:
            apr_cpystrn(buf, "TLS handshake with the memcached server failed", bufsize);
            return buf;
        case AP_MEMCACHE_EAUTH:
            apr_cpystrn(buf, "the memcached server refused the configured credentials, or does not ask for them", bufsize);
            return buf;
        default: return apr_strerror(status, buf, bufsize);
    }
}
