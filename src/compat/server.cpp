// Servers: creation (no connection is opened here), their health as consumers read it
// (ms->status), logging, warm-up, version, stats.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>

#include "apr_time.h"
#include "compat/facade.h"
#include "engine/operations.h"
#include "engine/value_limits.h"

using mmc::compat::engine_of;
using mmc::compat::guarded;
using mmc::compat::publish_status;
using mmc::compat::to_apr_status;

namespace {

apr_status_t destroy_impl(void* data) {
    // Takes back ownership that server_create handed to the pool, and leaves no
    // pointer to it behind: a cleanup that runs later in the same pool (or a consumer
    // holding ms in a longer-lived structure) then sees impl == NULL and gets
    // APR_EINVAL instead of using freed memory.
    auto* ms = static_cast<apr_memcache_server_t*>(data);
    std::unique_ptr<ap_memcache_server_impl> impl(ms->impl);
    ms->impl = nullptr;
    return APR_SUCCESS;
}

// "[::1]" -> "::1": accept the bracketed form users write in URLs and configs.
std::string bare_host(const char* host) {
    std::size_t n = std::strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') return std::string(host + 1, n - 2);
    return host;
}

// The server's figures are input like any other: a value that is not a number counts
// as 0, and one too large for its field saturates rather than overflowing (a hostile
// "STAT time 9223372036854775807" once made the seconds-to-microseconds product
// overflow).
apr_uint64_t stat_u64(std::string_view v) {
    apr_uint64_t n = 0;
    auto r = std::from_chars(v.data(), v.data() + v.size(), n);
    if (r.ec == std::errc::result_out_of_range) return UINT64_MAX;
    return r.ec == std::errc() ? n : 0;
}

apr_uint32_t stat_u32(std::string_view v) {
    return static_cast<apr_uint32_t>(std::min<apr_uint64_t>(stat_u64(v), UINT32_MAX));
}

// Seconds as apr_time_t (microseconds), saturating where the product would overflow.
apr_time_t stat_seconds(apr_uint64_t sec) {
    constexpr apr_uint64_t kMax = static_cast<apr_uint64_t>(INT64_MAX / APR_USEC_PER_SEC) - 1;
    return apr_time_from_sec(static_cast<apr_time_t>(std::min(sec, kMax)));
}

// "seconds.microseconds" as memcached prints rusage.
apr_time_t stat_time(std::string_view v) {
    std::size_t dot = v.find('.');
    apr_time_t t = stat_seconds(stat_u64(v.substr(0, dot)));
    if (dot != std::string_view::npos) {
        // The first six digits of the fraction are the microseconds.
        apr_time_t usec = 0;
        std::string_view frac = v.substr(dot + 1, 6);
        for (std::size_t i = 0; i < 6; ++i) {
            char c = i < frac.size() ? frac[i] : '0';
            usec = usec * 10 + (c >= '0' && c <= '9' ? c - '0' : 0);
        }
        t += usec;
    }
    return t;
}

struct StatsCtx {
    apr_pool_t* p;
    apr_memcache_stats_t* st;
};

void on_stat(void* vctx, std::string_view name, std::string_view value) {
    auto& c = *static_cast<StatsCtx*>(vctx);
    apr_memcache_stats_t& st = *c.st;
    if (name == "version") st.version = apr_pstrmemdup(c.p, value.data(), value.size());
    else if (name == "pid") st.pid = stat_u32(value);
    else if (name == "uptime") st.uptime = stat_u32(value);
    else if (name == "time") st.time = stat_seconds(stat_u64(value));
    else if (name == "pointer_size") st.pointer_size = stat_u32(value);
    else if (name == "rusage_user") st.rusage_user = stat_time(value);
    else if (name == "rusage_system") st.rusage_system = stat_time(value);
    else if (name == "curr_items") st.curr_items = stat_u32(value);
    else if (name == "total_items") st.total_items = stat_u32(value);
    else if (name == "bytes") st.bytes = stat_u64(value);
    else if (name == "curr_connections") st.curr_connections = stat_u32(value);
    else if (name == "total_connections") st.total_connections = stat_u32(value);
    else if (name == "connection_structures") st.connection_structures = stat_u32(value);
    else if (name == "cmd_get") st.cmd_get = stat_u32(value);
    else if (name == "cmd_set") st.cmd_set = stat_u32(value);
    else if (name == "get_hits") st.get_hits = stat_u32(value);
    else if (name == "get_misses") st.get_misses = stat_u32(value);
    else if (name == "evictions") st.evictions = stat_u64(value);
    else if (name == "bytes_read") st.bytes_read = stat_u64(value);
    else if (name == "bytes_written") st.bytes_written = stat_u64(value);
    else if (name == "limit_maxbytes") st.limit_maxbytes = stat_u32(value);
    else if (name == "threads") st.threads = stat_u32(value);
}

apr_interval_time_t to_usec(mmc::engine::Duration d) {
    return static_cast<apr_interval_time_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

int protocol_number(mmc::engine::Protocol p) noexcept {
    switch (p) {
        case mmc::engine::Protocol::binary: return AP_MEMCACHE_PROTOCOL_BINARY;
        case mmc::engine::Protocol::meta: return AP_MEMCACHE_PROTOCOL_META;
        case mmc::engine::Protocol::text: break;
    }
    return AP_MEMCACHE_PROTOCOL_TEXT;
}

// False for a number that names no protocol.
bool protocol_of(int number, mmc::engine::Protocol& p) noexcept {
    switch (number) {
        case AP_MEMCACHE_PROTOCOL_TEXT: p = mmc::engine::Protocol::text; return true;
        case AP_MEMCACHE_PROTOCOL_BINARY: p = mmc::engine::Protocol::binary; return true;
        case AP_MEMCACHE_PROTOCOL_META: p = mmc::engine::Protocol::meta; return true;
        default: return false;
    }
}

void export_options(const mmc::engine::ServerOptions& o, ap_memcache_server_options_t& out) {
    out.weight = o.weight;
    out.connect_timeout = to_usec(o.timeouts.connect);
    out.io_timeout = to_usec(o.timeouts.io);
    out.acquire_timeout = to_usec(o.timeouts.acquire);
    out.retry_period = to_usec(o.timeouts.retry);
    out.failure_limit = o.health.failure_limit;
    out.protocol = protocol_number(o.protocol);
    out.max_value_size = o.max_store_size;
}

}  // namespace

namespace mmc::compat {

void publish_status(apr_memcache_server_t* ms) noexcept {
    auto status = engine_of(ms).live() ? APR_MC_SERVER_LIVE : APR_MC_SERVER_DEAD;
    auto before = __atomic_load_n(&ms->status, __ATOMIC_RELAXED);
    if (before == status) return;
    if (status == APR_MC_SERVER_DEAD) __atomic_store_n(&ms->btime, apr_time_now(), __ATOMIC_RELAXED);
    __atomic_store_n(&ms->status, status, __ATOMIC_RELAXED);
}

}  // namespace mmc::compat

extern "C" {

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_server_create(
    apr_pool_t* p, const char* host, apr_port_t port, apr_uint32_t min, apr_uint32_t smax,
    apr_uint32_t max, apr_uint32_t ttl, apr_memcache_server_t** ns) {
    if (!p || !host || !*host || !ns) return APR_EINVAL;
    if (max == 0 || min > smax || smax > max) return APR_EINVAL;
    return guarded([&]() -> apr_status_t {
        mmc::engine::ServerOptions opt;
        if (host[0] == '/') {
            opt.endpoint.socket_path = host;
        } else {
            opt.endpoint.host = bare_host(host);
            if (opt.endpoint.host.empty()) return APR_EINVAL;
            opt.endpoint.port = port;
        }
        opt.limits.min = min;
        opt.limits.smax = smax;
        opt.limits.max = max;
        opt.limits.ttl = std::chrono::microseconds(ttl);

        auto impl = std::make_unique<ap_memcache_server_impl>();
        impl->server = std::make_unique<mmc::engine::Server>(std::move(opt));

        auto* ms = static_cast<apr_memcache_server_t*>(apr_pcalloc(p, sizeof(apr_memcache_server_t)));
        ms->host = apr_pstrdup(p, host);
        ms->port = port;
        ms->status = APR_MC_SERVER_LIVE;
        ms->p = p;
        ms->btime = 0;
        ms->impl = impl.release();
        apr_pool_cleanup_register(p, ms, destroy_impl, apr_pool_cleanup_null);
        *ns = ms;
        return APR_SUCCESS;
    });
}

// The engine's levels are handed to the callback as they are, so they must be the
// public numbers.
static_assert(static_cast<int>(mmc::engine::LogLevel::err) == AP_MEMCACHE_LOG_ERR &&
                  static_cast<int>(mmc::engine::LogLevel::warning) == AP_MEMCACHE_LOG_WARNING &&
                  static_cast<int>(mmc::engine::LogLevel::info) == AP_MEMCACHE_LOG_INFO &&
                  static_cast<int>(mmc::engine::LogLevel::debug) == AP_MEMCACHE_LOG_DEBUG,
              "engine log levels are the public AP_MEMCACHE_LOG_* numbers");

AP_MEMCACHE_DECLARE(void) ap_memcache_server_set_logger(apr_memcache_server_t* ms,
                                                        ap_memcache_log_func fn, void* baton) {
    if (!ms || !ms->impl) return;
    guarded([&]() -> apr_status_t {
        if (!fn) {
            engine_of(ms).set_logger(nullptr);
        } else {
            engine_of(ms).set_logger([fn, baton](int level, const mmc::engine::Outcome& o,
                                                 const std::string& msg) {
                fn(baton, level, to_apr_status(o), msg.c_str());
            });
        }
        return APR_SUCCESS;
    });
}

AP_MEMCACHE_DECLARE(void) ap_memcache_server_options_init(ap_memcache_server_options_t* opts) {
    if (opts) export_options(mmc::engine::ServerOptions{}, *opts);
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_server_get_options(apr_memcache_server_t* ms,
                                                                 ap_memcache_server_options_t* opts) {
    if (!ms || !ms->impl || !opts) return APR_EINVAL;
    export_options(engine_of(ms).options(), *opts);
    return APR_SUCCESS;
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_server_set_options(
    apr_memcache_server_t* ms, const ap_memcache_server_options_t* opts) {
    if (!ms || !ms->impl || !opts) return APR_EINVAL;
    mmc::engine::Protocol protocol = mmc::engine::Protocol::text;
    if (opts->weight == 0 || opts->failure_limit == 0 || opts->connect_timeout <= 0 ||
        opts->io_timeout <= 0 || opts->acquire_timeout <= 0 || opts->retry_period <= 0 ||
        !protocol_of(opts->protocol, protocol) ||
        opts->max_value_size == 0 || opts->max_value_size > AP_MEMCACHE_MAX_VALUE_SIZE_LIMIT) {
        return APR_EINVAL;
    }
    auto& o = engine_of(ms).mutable_options();
    o.weight = opts->weight;
    o.timeouts.connect = std::chrono::microseconds(opts->connect_timeout);
    o.timeouts.io = std::chrono::microseconds(opts->io_timeout);
    o.timeouts.acquire = std::chrono::microseconds(opts->acquire_timeout);
    o.timeouts.retry = std::chrono::microseconds(opts->retry_period);
    o.health.failure_limit = opts->failure_limit;
    engine_of(ms).set_protocol(protocol);
    mmc::engine::set_max_store_size(o, opts->max_value_size);
    return APR_SUCCESS;
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_server_state(apr_memcache_server_t* ms,
                                                           ap_memcache_server_state_t* state) {
    if (!ms || !ms->impl || !state) return APR_EINVAL;
    return guarded([&] {
        mmc::engine::Server& server = engine_of(ms);
        auto counts = server.pool().counts();
        state->live = server.live() ? 1 : 0;
        state->open = counts.open;
        state->idle = counts.idle;
        state->failures = server.consecutive_failures();
        return APR_SUCCESS;
    });
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_server_replica_stats(apr_memcache_server_t* ms,
                                                                   ap_memcache_replica_stats_t* stats) {
    if (!ms || !ms->impl || !stats) return APR_EINVAL;
    // The same counters as ap_memcache_server_metrics' replica_* fields.
    const mmc::engine::MetricsSnapshot snap = engine_of(ms).metrics().snapshot();
    stats->writes = snap[mmc::engine::Counter::replica_writes];
    stats->hits = snap[mmc::engine::Counter::replica_hits];
    stats->repairs = snap[mmc::engine::Counter::replica_repairs];
    stats->failures = snap[mmc::engine::Counter::replica_failures];
    return APR_SUCCESS;
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_server_warm(apr_memcache_server_t* ms) {
    if (!ms || !ms->impl) return APR_EINVAL;
    return guarded([&] {
        apr_status_t rv = to_apr_status(engine_of(ms).warm());
        publish_status(ms);
        return rv;
    });
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_version(apr_memcache_server_t* ms, apr_pool_t* p,
                                                      char** baton) {
    if (!ms || !ms->impl || !p || !baton) return APR_EINVAL;
    return guarded([&]() -> apr_status_t {
        std::string v;
        auto o = mmc::engine::version(engine_of(ms), v);
        publish_status(ms);
        if (!o.ok()) return to_apr_status(o);
        *baton = apr_pstrmemdup(p, v.data(), v.size());
        return APR_SUCCESS;
    });
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_stats(apr_memcache_server_t* ms, apr_pool_t* p,
                                                    apr_memcache_stats_t** stats) {
    if (!ms || !ms->impl || !p || !stats) return APR_EINVAL;
    return guarded([&]() -> apr_status_t {
        auto* st = static_cast<apr_memcache_stats_t*>(apr_pcalloc(p, sizeof(apr_memcache_stats_t)));
        StatsCtx ctx{p, st};
        auto o = mmc::engine::stats(engine_of(ms), on_stat, &ctx);
        publish_status(ms);
        if (!o.ok()) return to_apr_status(o);
        *stats = st;
        return APR_SUCCESS;
    });
}

}  // extern "C"
