// What one server has done for this process, counted as it happens: calls by kind and
// result, errors by class, bytes, connections, health changes, pool waits and a latency
// histogram of the round trips. Read with ServerMetrics::snapshot().
//
// Cost on the hot path: a handful of relaxed atomic adds, no lock, no shared cache line
// in the common case. The counters of a server are split in kShards blocks, each on
// cache lines of its own; a connection is given a block when it is opened (round robin),
// and everything counted about an exchange goes to the block of the connection it ran
// on. A pool hands a connection to one thread at a time, so threads that run at the same
// time on different connections write different lines as long as a server has no more
// than kShards connections open at once; past that, two connections may share a block,
// which costs cache-line traffic but never a count (the adds are atomic). What happens
// without a connection (no connection free, no server, a refused request) goes to block
// 0: rare paths. A reader sums the blocks; each counter is exact, and counters read at
// the same time may be a few operations apart.
//
// A new counter is a line in MMC_SERVER_COUNTERS, a field of the same name at the end of
// ap_memcache_server_metrics_t (include/ap_memcache.h; filled by name in
// src/compat/metrics_api.cpp, summed over children by src/module/metrics_shm.c with no
// change there), and a per_server() line in src/module/metrics.c for its Prometheus
// family. The replica counters are such lines: counted in block 0 (common()) by the
// replicated calls only, so a call without replicas never touches them.
#ifndef MMC_ENGINE_METRICS_H
#define MMC_ENGINE_METRICS_H

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/options.h"
#include "engine/outcome.h"

namespace mmc::engine {

// Kinds of call, as the metrics name them (op label).
enum class MetricOp : std::uint8_t { get, multiget_key, store, remove, arith, touch, other };
inline constexpr std::size_t kMetricOps = 7;
// What a call came to (result label).
enum class MetricResult : std::uint8_t { hit, miss, ok, not_stored, error };
inline constexpr std::size_t kMetricResults = 5;
// Why a call failed (class label). Room is kept for more (kMetricErrorSlots).
enum class MetricError : std::uint8_t {
    timeout,          // a network deadline passed
    connect_failed,   // refused, unreachable
    connect_timeout,  // no TCP handshake in time
    server_error,     // SERVER_ERROR or ERROR
    protocol_error,   // a reply that could not be used
    tls_failed,
    auth_failed,      // refused credentials, or a server that did not ask for them
    no_server,        // no live server for the key
    closed,           // the server closed or reset the connection, or a socket error
    pool_timeout,     // every connection stayed busy until the acquire deadline
    client_error,     // CLIENT_ERROR: the server refused the request
    refused,          // not sent: invalid, too large, not supported by the protocol
};
inline constexpr std::size_t kMetricErrors = 12;
inline constexpr std::size_t kMetricErrorSlots = 16;

const char* to_string(MetricOp op) noexcept;
const char* to_string(MetricResult r) noexcept;
const char* to_string(MetricError e) noexcept;

// Latency buckets, powers of two of nanoseconds: bucket i holds round trips of at most
// 2^(14+i) ns, for i < 19 (16.384 µs .. 4.294967296 s); the last one holds the rest.
inline constexpr std::size_t kLatencyBuckets = 20;
inline constexpr unsigned kLatencyFirstBoundLog2 = 14;
// The upper bound of bucket i in nanoseconds (the last: none, 0).
constexpr std::uint64_t latency_bound_ns(std::size_t i) noexcept {
    return i + 1 < kLatencyBuckets ? std::uint64_t{1} << (kLatencyFirstBoundLog2 + i) : 0;
}
// The bucket of a round trip of `ns` nanoseconds: bucket i > 0 covers (2^(13+i),
// 2^(14+i)] ns, that is the bit length of (ns - 1) >> 14. Branch-free.
inline std::size_t latency_bucket(std::uint64_t ns) noexcept {
    const std::uint64_t q = (ns - (ns != 0)) >> kLatencyFirstBoundLog2;
    const auto i = static_cast<std::size_t>(63 - __builtin_clzll(2 * q + 1));
    return i < kLatencyBuckets ? i : kLatencyBuckets - 1;
}

// ---- round-trip timing --------------------------------------------------------------
// A call's duration comes from the processor's time-stamp counter, read at the call's
// start and at its end: one instruction each, no system clock read (a clock read costs
// as much as the rest of the counting together). The counter must tick at a constant
// rate whatever the frequency and sleep states (CPUID's invariant TSC, on every x86-64
// processor since 2008); its rate is measured against the steady clock over the
// process's first 10 ms (tick_detail::calibrate). Where there is no such counter
// (another architecture, an older processor), each call's end reads the steady clock.

namespace tick_detail {
// Hidden: read directly, not through the GOT of the shared object the engine is in.
// Nanoseconds per tick in 32.32 fixed point; 0 until measured.
[[gnu::visibility("hidden")]] extern std::atomic<std::uint64_t> scale_q32;
// Takes a pair of a steady-clock reading and a stamp; measures the scale once the pair
// is far enough from the process's first one. Returns the scale, or 0 while there is
// none (then a call's end reads the clock instead).
[[gnu::cold, gnu::noinline]] std::uint64_t calibrate() noexcept;
}  // namespace tick_detail

// Without an invariant counter the scale is never measured, and ticks_to_ns() reads the
// clock instead (its cold path): the stamps themselves are then unused.
inline std::uint64_t tick_stamp() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_ia32_rdtsc();
#else
    return 0;
#endif
}

// The duration between two stamps, in nanoseconds. `steady` and `from`: a steady-clock
// reading the caller took and the stamp taken right after it, for the measurement of
// the scale while there is none (then the duration is a clock reading's: rare).
inline std::uint64_t ticks_to_ns(std::uint64_t from, std::uint64_t to, Clock::time_point steady) noexcept {
    std::uint64_t scale = tick_detail::scale_q32.load(std::memory_order_relaxed);
    if (__builtin_expect(scale == 0, 0)) {
        scale = tick_detail::calibrate();
        if (scale == 0) {
            const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - steady).count();
            return ns > 0 ? static_cast<std::uint64_t>(ns) : 0;
        }
    }
    // A stamp before `from` (another processor's counter a little behind): 0.
    if (__builtin_expect(to < from, 0)) return 0;
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(to - from) * scale) >> 32);
}

// The plain counters: one line each.
#define MMC_SERVER_COUNTERS(X)                                                               \
    X(bytes_sent)          /* request bytes written */                                       \
    X(bytes_received)      /* reply bytes read */                                            \
    X(connections_opened)  /* connected (handshake and authentication included) */           \
    X(connections_closed)  /* of those, closed again */                                      \
    X(connections_resumed) /* TLS connections whose session was resumed */                   \
    X(marked_dead)         /* live to dead */                                                \
    X(marked_live)         /* dead to live */                                                \
    X(pool_waits)          /* acquires that found every connection busy and waited */        \
    X(pool_wait_ns)        /* the time they waited, in nanoseconds */                        \
    X(latency_sum_ns)      /* the sum of the round trips in the histogram, nanoseconds */   \
    /* Replicas (src/compat/replicas.h), counted only on the replicated paths: */            \
    X(replica_writes)      /* writes sent to it as a key's replica */                        \
    X(replica_hits)        /* reads it answered as a replica after the servers before it */ \
    X(replica_repairs)     /* values written back to it, the key's primary (read repair) */  \
    X(replica_failures)    /* writes to it as a replica that failed */

enum class Counter : std::uint8_t {
#define MMC_COUNTER_ENUM(name) name,
    MMC_SERVER_COUNTERS(MMC_COUNTER_ENUM)
#undef MMC_COUNTER_ENUM
        count_
};
inline constexpr std::size_t kCounters = static_cast<std::size_t>(Counter::count_);

// A sum over the blocks (plain numbers).
struct MetricsSnapshot {
    std::uint64_t requests[kMetricOps][kMetricResults] = {};
    std::uint64_t errors[kMetricErrorSlots] = {};
    std::uint64_t latency[kLatencyBuckets] = {};
    std::uint64_t counters[kCounters] = {};

    std::uint64_t operator[](Counter c) const noexcept { return counters[static_cast<std::size_t>(c)]; }
    std::uint64_t latency_count() const noexcept {
        std::uint64_t n = 0;
        for (auto v : latency) n += v;
        return n;
    }
};

// How an outcome is counted: its result label, and its error class when it is an error.
struct MetricClass {
    MetricResult result;
    MetricError error;  // meaningful when result is error
};
constexpr MetricClass classify(MetricOp op, Result r) noexcept {
    const bool lookup = op == MetricOp::get || op == MetricOp::multiget_key;
    switch (r) {
        case Result::ok: return {lookup ? MetricResult::hit : MetricResult::ok, MetricError::timeout};
        case Result::not_found: return {MetricResult::miss, MetricError::timeout};
        case Result::not_stored:
        case Result::exists: return {MetricResult::not_stored, MetricError::timeout};
        case Result::client_error: return {MetricResult::error, MetricError::client_error};
        case Result::server_error: return {MetricResult::error, MetricError::server_error};
        case Result::protocol_error: return {MetricResult::error, MetricError::protocol_error};
        case Result::timeout: return {MetricResult::error, MetricError::timeout};
        case Result::connect_timeout: return {MetricResult::error, MetricError::connect_timeout};
        case Result::connect_failed: return {MetricResult::error, MetricError::connect_failed};
        case Result::closed:
        case Result::io_error: return {MetricResult::error, MetricError::closed};
        case Result::pool_timeout: return {MetricResult::error, MetricError::pool_timeout};
        case Result::no_server: return {MetricResult::error, MetricError::no_server};
        case Result::tls_failed: return {MetricResult::error, MetricError::tls_failed};
        case Result::auth_failed:
        case Result::auth_not_asked: return {MetricResult::error, MetricError::auth_failed};
        case Result::invalid_argument:
        case Result::no_memory:
        case Result::value_too_large:
        case Result::not_supported: return {MetricResult::error, MetricError::refused};
    }
    return {MetricResult::error, MetricError::refused};
}

// classify() for every outcome, for lookups (get, multi-get key) and for the rest: one
// load on the hot path instead of a switch.
inline constexpr std::size_t kResultValues = static_cast<std::size_t>(Result::auth_not_asked) + 1;
struct MetricClassTable {
    MetricClass of[2][kResultValues];
};
constexpr MetricClassTable make_metric_class_table() noexcept {
    MetricClassTable t{};
    for (std::size_t r = 0; r < kResultValues; ++r) {
        t.of[0][r] = classify(MetricOp::other, static_cast<Result>(r));
        t.of[1][r] = classify(MetricOp::get, static_cast<Result>(r));
    }
    return t;
}
inline constexpr MetricClassTable kMetricClass = make_metric_class_table();

class ServerMetrics {
public:
    static constexpr std::size_t kShards = 16;

    struct alignas(64) Shard {
        std::atomic<std::uint64_t> requests[kMetricOps][kMetricResults];
        std::atomic<std::uint64_t> errors[kMetricErrorSlots];
        std::atomic<std::uint64_t> latency[kLatencyBuckets];
        std::atomic<std::uint64_t> counters[kCounters];

        void add(Counter c, std::uint64_t n = 1) noexcept {
            counters[static_cast<std::size_t>(c)].fetch_add(n, std::memory_order_relaxed);
        }
        // One call of kind `op` that ended with `r`.
        void count(MetricOp op, Result r) noexcept {
            // The common case first: a plain ok, counted without the table.
            if (__builtin_expect(r == Result::ok, 1)) {
                constexpr auto kOkLookup = static_cast<std::size_t>(MetricResult::hit);
                constexpr auto kOk = static_cast<std::size_t>(MetricResult::ok);
                const bool lookup = op == MetricOp::get || op == MetricOp::multiget_key;
                requests[static_cast<std::size_t>(op)][lookup ? kOkLookup : kOk].fetch_add(1, std::memory_order_relaxed);
                return;
            }
            count_other(op, r);
        }
        [[gnu::noinline]] void count_other(MetricOp op, Result r) noexcept {
            const bool lookup = op == MetricOp::get || op == MetricOp::multiget_key;
            const MetricClass c = kMetricClass.of[lookup][static_cast<std::size_t>(r)];
            requests[static_cast<std::size_t>(op)][static_cast<std::size_t>(c.result)].fetch_add(
                1, std::memory_order_relaxed);
            if (c.result == MetricResult::error) {
                errors[static_cast<std::size_t>(c.error)].fetch_add(1, std::memory_order_relaxed);
            }
        }
        // One call of `ns` nanoseconds.
        void observe(std::uint64_t ns) noexcept {
            latency[latency_bucket(ns)].fetch_add(1, std::memory_order_relaxed);
            add(Counter::latency_sum_ns, ns);
        }
    };

    ServerMetrics();
    ServerMetrics(const ServerMetrics&) = delete;
    ServerMetrics& operator=(const ServerMetrics&) = delete;

    // The block of a connection being opened (round robin).
    Shard* next_shard() noexcept {
        return &shards_[next_.fetch_add(1, std::memory_order_relaxed) % kShards];
    }
    // The block for what happens without a connection.
    Shard& common() noexcept { return shards_[0]; }

    MetricsSnapshot snapshot() const noexcept;

private:
    std::unique_ptr<Shard[]> shards_;
    std::atomic<std::uint32_t> next_{1};
};

}  // namespace mmc::engine

#endif
