// ap_memcache_server_metrics: the engine's per-server counters (engine/metrics.h) as the
// extensible C struct of ap_memcache.h.
#include <algorithm>
#include <cstddef>
#include <cstring>

#include "compat/facade.h"
#include "engine/metrics.h"

using mmc::compat::engine_of;
using mmc::compat::guarded;
using mmc::engine::Counter;
using mmc::engine::MetricsSnapshot;

namespace {

// The C struct's indexes are the engine's.
static_assert(AP_MEMCACHE_METRIC_OPS == mmc::engine::kMetricOps);
static_assert(AP_MEMCACHE_METRIC_RESULTS == mmc::engine::kMetricResults);
static_assert(AP_MEMCACHE_METRIC_ERRORS == mmc::engine::kMetricErrors);
static_assert(AP_MEMCACHE_METRIC_ERROR_SLOTS == mmc::engine::kMetricErrorSlots);
static_assert(AP_MEMCACHE_LATENCY_BUCKETS == mmc::engine::kLatencyBuckets);
static_assert(AP_MEMCACHE_METRIC_OP_DELETE == static_cast<int>(mmc::engine::MetricOp::remove));
static_assert(AP_MEMCACHE_METRIC_ERROR == static_cast<int>(mmc::engine::MetricResult::error));
static_assert(AP_MEMCACHE_METRIC_ERR_REFUSED == static_cast<int>(mmc::engine::MetricError::refused));

void fill(ap_memcache_server_metrics_t& m, const MetricsSnapshot& s) {
    for (std::size_t o = 0; o < mmc::engine::kMetricOps; ++o)
        for (std::size_t r = 0; r < mmc::engine::kMetricResults; ++r) m.requests[o][r] = s.requests[o][r];
    std::copy(std::begin(s.errors), std::end(s.errors), m.errors);
    std::copy(std::begin(s.latency), std::end(s.latency), m.latency);
    // One line per counter of MMC_SERVER_COUNTERS, by name.
#define MMC_FILL_COUNTER(name) m.name = s[Counter::name];
    MMC_SERVER_COUNTERS(MMC_FILL_COUNTER)
#undef MMC_FILL_COUNTER
}

}  // namespace

extern "C" {

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_server_metrics(apr_memcache_server_t* ms,
                                                             ap_memcache_server_metrics_t* out) {
    constexpr apr_size_t kMinimum = offsetof(ap_memcache_server_metrics_t, errors);
    if (!ms || !ms->impl || !out || out->size < kMinimum) return APR_EINVAL;
    return guarded([&]() -> apr_status_t {
        mmc::engine::Server& server = engine_of(ms);
        ap_memcache_server_metrics_t full{};
        const MetricsSnapshot snap = server.metrics().snapshot();
        fill(full, snap);
        full.live = server.live() ? 1 : 0;
        if (snap[Counter::marked_dead] != 0) {
            // The steady clock's instant as wall-clock time.
            const auto ago = mmc::engine::Clock::now() - server.dead_since();
            full.dead_since =
                apr_time_now() - std::chrono::duration_cast<std::chrono::microseconds>(ago).count();
        }
        const apr_size_t n = std::min<apr_size_t>(out->size, sizeof full);
        full.size = n;
        std::memcpy(out, &full, n);
        return APR_SUCCESS;
    });
}

AP_MEMCACHE_DECLARE(const char*) ap_memcache_metric_op_name(int op) {
    if (op < 0 || op >= AP_MEMCACHE_METRIC_OPS) return nullptr;
    return to_string(static_cast<mmc::engine::MetricOp>(op));
}

AP_MEMCACHE_DECLARE(const char*) ap_memcache_metric_result_name(int result) {
    if (result < 0 || result >= AP_MEMCACHE_METRIC_RESULTS) return nullptr;
    return to_string(static_cast<mmc::engine::MetricResult>(result));
}

AP_MEMCACHE_DECLARE(const char*) ap_memcache_metric_error_name(int error_class) {
    if (error_class < 0 || error_class >= AP_MEMCACHE_METRIC_ERRORS) return nullptr;
    return to_string(static_cast<mmc::engine::MetricError>(error_class));
}

}  // extern "C"
