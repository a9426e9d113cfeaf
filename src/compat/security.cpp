// TLS and authentication settings of a server (the engine's tls.h and Credentials).
#include <string>

#include "compat/facade.h"
#include "engine/tls.h"

using mmc::compat::engine_of;
using mmc::compat::guarded;

struct ap_memcache_tls_t {
    std::shared_ptr<mmc::engine::TlsContext> context;
};

namespace {

apr_status_t destroy_tls(void* data) {
    delete static_cast<ap_memcache_tls_t*>(data);
    return APR_SUCCESS;
}

// "[::1]" -> "::1", as server creation does.
std::string bare_host(const char* host) {
    std::string h = host;
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') return h.substr(1, h.size() - 2);
    return h;
}

// -Y sends "user password" as a set's data and SASL PLAIN separates with NUL bytes: a
// space or a control character in either would be read as something else.
bool clean_credential(const char* s) {
    for (; *s; ++s) {
        auto c = static_cast<unsigned char>(*s);
        if (c <= ' ' || c == 0x7f) return false;
    }
    return true;
}

}  // namespace

extern "C" {

AP_MEMCACHE_DECLARE(void) ap_memcache_tls_options_init(ap_memcache_tls_options_t* opts) {
    if (!opts) return;
    *opts = ap_memcache_tls_options_t{};
    opts->verify = 1;
    opts->min_protocol = AP_MEMCACHE_TLS_1_2;
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_tls_create(apr_pool_t* p, const ap_memcache_tls_options_t* opts,
                                                         const char* host, ap_memcache_tls_t** tls,
                                                         const char** error) {
    if (error) *error = nullptr;
    if (!p || !opts || !host || !tls) return APR_EINVAL;
    if (opts->min_protocol != AP_MEMCACHE_TLS_1_2 && opts->min_protocol != AP_MEMCACHE_TLS_1_3) return APR_EINVAL;
    if (opts->verify != 0 && opts->verify != 1) return APR_EINVAL;
    if (opts->key_file && *opts->key_file && !(opts->cert_file && *opts->cert_file)) return APR_EINVAL;
    return guarded([&]() -> apr_status_t {
        mmc::engine::TlsConfig config;
        if (opts->ca_file) config.ca_file = opts->ca_file;
        if (opts->cert_file) config.cert_file = opts->cert_file;
        if (opts->key_file) config.key_file = opts->key_file;
        if (opts->server_name) config.server_name = opts->server_name;
        config.verify = opts->verify == 1;
        config.min_version = opts->min_protocol == AP_MEMCACHE_TLS_1_3 ? mmc::engine::TlsVersion::tls1_3
                                                                       : mmc::engine::TlsVersion::tls1_2;
        std::string why;
        auto context = mmc::engine::TlsContext::create(config, bare_host(host), why);
        if (!context) {
            if (error) *error = apr_pstrdup(p, why.c_str());
            return AP_MEMCACHE_ETLS;
        }
        auto holder = std::make_unique<ap_memcache_tls_t>();
        holder->context = std::move(context);
        *tls = holder.release();
        apr_pool_cleanup_register(p, *tls, destroy_tls, apr_pool_cleanup_null);
        return APR_SUCCESS;
    });
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_server_use_tls(apr_memcache_server_t* ms, ap_memcache_tls_t* tls) {
    if (!ms || !ms->impl || !tls || !tls->context) return APR_EINVAL;
    engine_of(ms).mutable_options().tls = tls->context;
    return APR_SUCCESS;
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_server_set_tls(apr_memcache_server_t* ms,
                                                             const ap_memcache_tls_options_t* opts,
                                                             apr_pool_t* p, const char** error) {
    if (error) *error = nullptr;
    if (!ms || !ms->impl || !opts || !p) return APR_EINVAL;
    ap_memcache_tls_t* tls = nullptr;
    const std::string host = engine_of(ms).options().endpoint.host;
    apr_status_t rv = ap_memcache_tls_create(p, opts, host.c_str(), &tls, error);
    if (rv != APR_SUCCESS) return rv;
    return ap_memcache_server_use_tls(ms, tls);
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_server_set_auth(apr_memcache_server_t* ms, const char* user,
                                                              const char* password) {
    if (!ms || !ms->impl) return APR_EINVAL;
    if (user && *user && (!password || !clean_credential(user) || !clean_credential(password))) {
        return APR_EINVAL;
    }
    return guarded([&]() -> apr_status_t {
        mmc::engine::Credentials c;
        if (user && *user) {
            c.user = user;
            // Straight from the caller's string into wiped memory: no std::string copy.
            c.password = mmc::engine::Secret(std::string_view(password));
        }
        engine_of(ms).mutable_options().auth = std::move(c);
        return APR_SUCCESS;
    });
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_server_tls_stats(apr_memcache_server_t* ms,
                                                               ap_memcache_tls_stats_t* stats) {
    if (!ms || !ms->impl || !stats) return APR_EINVAL;
    const auto& tls = engine_of(ms).options().tls;
    if (!tls) return APR_EINVAL;
    stats->full = tls->full_handshakes();
    stats->resumed = tls->resumed_handshakes();
    return APR_SUCCESS;
}

}  // extern "C"
