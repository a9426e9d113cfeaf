#include "engine/metrics.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace mmc::engine {

namespace tick_detail {

namespace {

bool invariant_tsc() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_max(0x80000000u, nullptr) < 0x80000007u) return false;
    __cpuid(0x80000007u, a, b, c, d);
    return (d & (1u << 8)) != 0;
#else
    return false;
#endif
}

// How far apart the two pairs of the measurement must be. Each pair is a tick stamp
// between two clock readings at most kPairSpread apart (a pair the scheduler cut in two
// is taken again), so each is known to within kPairSpread: over kCalibrationSpan that is
// under a part in a hundred, far finer than the buckets (a factor of two) need.
constexpr auto kCalibrationSpan = std::chrono::milliseconds(10);
constexpr auto kPairSpread = std::chrono::microseconds(50);

std::atomic<Clock::rep> first_steady{0};
std::atomic<std::uint64_t> first_ticks{0};

// A stamp and the steady-clock time it was taken at; false when no pair came out tight
// enough in a few tries (the next call tries again).
bool tight_pair(Clock::rep& steady, std::uint64_t& ticks) noexcept {
    for (int attempt = 0; attempt < 4; ++attempt) {
        const auto before = Clock::now();
        const std::uint64_t t = tick_stamp();
        const auto after = Clock::now();
        if (after - before <= kPairSpread) {
            steady = (before + (after - before) / 2).time_since_epoch().count();
            ticks = t;
            return true;
        }
    }
    return false;
}

}  // namespace

const bool kUseTsc = invariant_tsc();
std::atomic<std::uint64_t> scale_q32{0};

std::uint64_t calibrate() noexcept {
    if (!kUseTsc) return 0;
    Clock::rep now = 0;
    std::uint64_t ticks = 0;
    if (!tight_pair(now, ticks)) return 0;
    Clock::rep first = first_steady.load(std::memory_order_acquire);
    if (first == 0) {
        // The first pair: kept by whoever stores it first. The ticks go in before the
        // time that publishes them.
        std::uint64_t none = 0;
        if (first_ticks.compare_exchange_strong(none, ticks, std::memory_order_acq_rel)) {
            first_steady.store(now, std::memory_order_release);
        }
        return 0;
    }
    const Clock::duration span(now - first);
    const std::uint64_t first_t = first_ticks.load(std::memory_order_relaxed);
    if (span < kCalibrationSpan || ticks <= first_t) return 0;
    const auto ns = static_cast<unsigned __int128>(std::chrono::duration_cast<std::chrono::nanoseconds>(span).count());
    const auto scale = static_cast<std::uint64_t>((ns << 32) / (ticks - first_t));
    scale_q32.store(scale, std::memory_order_relaxed);
    return scale;
}

}  // namespace tick_detail

const char* to_string(MetricOp op) noexcept {
    switch (op) {
        case MetricOp::get: return "get";
        case MetricOp::multiget_key: return "multiget_key";
        case MetricOp::store: return "store";
        case MetricOp::remove: return "delete";
        case MetricOp::arith: return "arith";
        case MetricOp::touch: return "touch";
        case MetricOp::other: return "other";
    }
    return "other";
}

const char* to_string(MetricResult r) noexcept {
    switch (r) {
        case MetricResult::hit: return "hit";
        case MetricResult::miss: return "miss";
        case MetricResult::ok: return "ok";
        case MetricResult::not_stored: return "not_stored";
        case MetricResult::error: return "error";
    }
    return "error";
}

const char* to_string(MetricError e) noexcept {
    switch (e) {
        case MetricError::timeout: return "timeout";
        case MetricError::connect_failed: return "connect_failed";
        case MetricError::connect_timeout: return "connect_timeout";
        case MetricError::server_error: return "server_error";
        case MetricError::protocol_error: return "protocol_error";
        case MetricError::tls_failed: return "tls_failed";
        case MetricError::auth_failed: return "auth_failed";
        case MetricError::no_server: return "no_server";
        case MetricError::closed: return "closed";
        case MetricError::pool_timeout: return "pool_timeout";
        case MetricError::client_error: return "client_error";
        case MetricError::refused: return "refused";
    }
    return "other";
}

ServerMetrics::ServerMetrics() : shards_(new Shard[kShards]) {
    // The first pair of the tick scale's measurement, so that it is done by the time the
    // server's first calls are.
    if (tick_detail::scale_q32.load(std::memory_order_relaxed) == 0) {
        tick_detail::calibrate();
    }
    for (std::size_t s = 0; s < kShards; ++s) {
        Shard& sh = shards_[s];
        for (auto& row : sh.requests)
            for (auto& v : row) v.store(0, std::memory_order_relaxed);
        for (auto& v : sh.errors) v.store(0, std::memory_order_relaxed);
        for (auto& v : sh.latency) v.store(0, std::memory_order_relaxed);
        for (auto& v : sh.counters) v.store(0, std::memory_order_relaxed);
    }
}

MetricsSnapshot ServerMetrics::snapshot() const noexcept {
    MetricsSnapshot out;
    // Only the blocks given out so far: block 0 and one per connection opened, up to
    // all of them (a prefork child's server has one or two).
    const std::uint32_t given = next_.load(std::memory_order_relaxed);
    const std::size_t used = given >= kShards ? kShards : given;
    for (std::size_t s = 0; s < used; ++s) {
        const Shard& sh = shards_[s];
        for (std::size_t o = 0; o < kMetricOps; ++o)
            for (std::size_t r = 0; r < kMetricResults; ++r)
                out.requests[o][r] += sh.requests[o][r].load(std::memory_order_relaxed);
        for (std::size_t i = 0; i < kMetricErrorSlots; ++i) out.errors[i] += sh.errors[i].load(std::memory_order_relaxed);
        for (std::size_t i = 0; i < kLatencyBuckets; ++i) out.latency[i] += sh.latency[i].load(std::memory_order_relaxed);
        for (std::size_t i = 0; i < kCounters; ++i) out.counters[i] += sh.counters[i].load(std::memory_order_relaxed);
    }
    return out;
}

}  // namespace mmc::engine
