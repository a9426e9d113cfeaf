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

int option_of(mmc::engine::TlsSetting s) {
    using mmc::engine::TlsSetting;
    switch (s) {
        case TlsSetting::none: return AP_MEMCACHE_TLS_OPT_NONE;
        case TlsSetting::ca_file: return AP_MEMCACHE_TLS_OPT_CA_FILE;
        case TlsSetting::cert_file: return AP_MEMCACHE_TLS_OPT_CERT_FILE;
        case TlsSetting::key_file: return AP_MEMCACHE_TLS_OPT_KEY_FILE;
        case TlsSetting::verify: return AP_MEMCACHE_TLS_OPT_VERIFY;
        case TlsSetting::server_name: return AP_MEMCACHE_TLS_OPT_SERVER_NAME;
        case TlsSetting::min_version: return AP_MEMCACHE_TLS_OPT_MIN_PROTOCOL;
    }
    return AP_MEMCACHE_TLS_OPT_NONE;
}

// The engine's reason, with the option of ap_memcache_tls_options_t that would settle it.
std::string with_hint(const mmc::engine::TlsError& e) {
    using mmc::engine::TlsSetting;
    switch (e.missing) {
        case TlsSetting::cert_file: return e.reason + ": set cert_file";
        case TlsSetting::key_file: return e.reason + ": set key_file";
        case TlsSetting::server_name: return e.reason + ": set server_name to the name in its certificate";
        default: return e.reason;
    }
}

// The one path from options to a context, for ap_memcache_tls_create and
// ap_memcache_tls_check: APR_EINVAL for a rule broken, AP_MEMCACHE_ETLS for what
// OpenSSL or a file refused. `out` (may be null: a check) receives the context.
apr_status_t build_context(const ap_memcache_tls_options_t* opts, const char* host, mmc::engine::TlsError& error,
                           std::shared_ptr<mmc::engine::TlsContext>* out) {
    using mmc::engine::TlsSetting;
    if (opts->min_protocol != AP_MEMCACHE_TLS_1_2 && opts->min_protocol != AP_MEMCACHE_TLS_1_3) {
        error = {TlsSetting::min_version, TlsSetting::none,
                 "unknown lowest protocol version " + std::to_string(opts->min_protocol)};
        return APR_EINVAL;
    }
    if (opts->verify != 0 && opts->verify != 1) {
        error = {TlsSetting::verify, TlsSetting::none, "verify is " + std::to_string(opts->verify) + ", not 0 or 1"};
        return APR_EINVAL;
    }
    mmc::engine::TlsConfig config;
    if (opts->ca_file) config.ca_file = opts->ca_file;
    if (opts->cert_file) config.cert_file = opts->cert_file;
    if (opts->key_file) config.key_file = opts->key_file;
    if (opts->server_name) config.server_name = opts->server_name;
    config.verify = opts->verify == 1;
    config.min_version = opts->min_protocol == AP_MEMCACHE_TLS_1_3 ? mmc::engine::TlsVersion::tls1_3
                                                                   : mmc::engine::TlsVersion::tls1_2;
    const std::string server = bare_host(host);
    // create() checks the rules too; asked first here to tell a broken rule (APR_EINVAL)
    // from what OpenSSL refused.
    if (!mmc::engine::check_tls_config(config, server, error)) return APR_EINVAL;
    auto context = mmc::engine::TlsContext::create(config, server, error);
    if (!context) return AP_MEMCACHE_ETLS;
    if (out) *out = std::move(context);
    return APR_SUCCESS;
}

}  // namespace

extern "C" {

AP_MEMCACHE_DECLARE(void) ap_memcache_tls_options_init(ap_memcache_tls_options_t* opts) {
    if (!opts) return;
    *opts = ap_memcache_tls_options_t{};
    opts->verify = 1;
    opts->min_protocol = AP_MEMCACHE_TLS_1_2;
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_tls_check(apr_pool_t* p, const ap_memcache_tls_options_t* opts,
                                                        const char* host, ap_memcache_tls_problem_t* problem) {
    if (problem) *problem = ap_memcache_tls_problem_t{};
    if (!p || !opts || !host || !problem) return APR_EINVAL;
    return guarded([&]() -> apr_status_t {
        mmc::engine::TlsError error;
        apr_status_t rv = build_context(opts, host, error, nullptr);
        if (rv != APR_SUCCESS) {
            problem->option = option_of(error.setting);
            problem->missing = option_of(error.missing);
            problem->reason = apr_pstrdup(p, error.reason.c_str());
        }
        return rv;
    });
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_tls_create(apr_pool_t* p, const ap_memcache_tls_options_t* opts,
                                                         const char* host, ap_memcache_tls_t** tls,
                                                         const char** error) {
    if (error) *error = nullptr;
    if (!p || !opts || !host || !tls) return APR_EINVAL;
    return guarded([&]() -> apr_status_t {
        mmc::engine::TlsError why;
        std::shared_ptr<mmc::engine::TlsContext> context;
        apr_status_t rv = build_context(opts, host, why, &context);
        if (rv != APR_SUCCESS) {
            if (error) *error = apr_pstrdup(p, with_hint(why).c_str());
            return rv;
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
    // A unix socket's path goes in as the host: it names no host, and messages show it.
    const auto& endpoint = engine_of(ms).options().endpoint;
    const std::string host = endpoint.is_unix() ? endpoint.socket_path : endpoint.host;
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
