// The pieces of the per-server metrics that need no server: latency buckets, the
// classes outcomes are counted in, the tick scale and the sum over blocks.
#include <gtest/gtest.h>

#include <thread>

#include "engine/metrics.h"

namespace mmc::engine {
namespace {

TEST(MetricsUnits, LatencyBucketsArePowersOfTwoOfNanosecondsUpperBoundIncluded) {
    EXPECT_EQ(latency_bucket(0), 0u);
    EXPECT_EQ(latency_bucket(1), 0u);
    EXPECT_EQ(latency_bucket(16384), 0u);
    EXPECT_EQ(latency_bucket(16385), 1u);
    EXPECT_EQ(latency_bucket(32768), 1u);
    EXPECT_EQ(latency_bucket(32769), 2u);
    EXPECT_EQ(latency_bucket(20'000'000), 11u);  // 20 ms: (16.8 ms, 33.6 ms]
    EXPECT_EQ(latency_bucket(std::uint64_t{1} << 32), 18u);
    EXPECT_EQ(latency_bucket((std::uint64_t{1} << 32) + 1), 19u);
    EXPECT_EQ(latency_bucket(~std::uint64_t{0}), 19u);
    for (std::size_t i = 0; i + 1 < kLatencyBuckets; ++i) {
        EXPECT_EQ(latency_bucket(latency_bound_ns(i)), i);
        EXPECT_EQ(latency_bucket(latency_bound_ns(i) + 1), i + 1);
    }
    EXPECT_EQ(latency_bound_ns(kLatencyBuckets - 1), 0u);
}

TEST(MetricsUnits, OutcomesAreClassified) {
    EXPECT_EQ(classify(MetricOp::get, Result::ok).result, MetricResult::hit);
    EXPECT_EQ(classify(MetricOp::multiget_key, Result::ok).result, MetricResult::hit);
    EXPECT_EQ(classify(MetricOp::store, Result::ok).result, MetricResult::ok);
    EXPECT_EQ(classify(MetricOp::get, Result::not_found).result, MetricResult::miss);
    EXPECT_EQ(classify(MetricOp::store, Result::exists).result, MetricResult::not_stored);
    EXPECT_EQ(classify(MetricOp::store, Result::not_stored).result, MetricResult::not_stored);
    const MetricClass t = classify(MetricOp::get, Result::timeout);
    EXPECT_EQ(t.result, MetricResult::error);
    EXPECT_EQ(t.error, MetricError::timeout);
    EXPECT_EQ(classify(MetricOp::get, Result::auth_not_asked).error, MetricError::auth_failed);
    EXPECT_EQ(classify(MetricOp::get, Result::io_error).error, MetricError::closed);
    EXPECT_EQ(classify(MetricOp::store, Result::value_too_large).error, MetricError::refused);
    EXPECT_STREQ(to_string(MetricOp::remove), "delete");
    EXPECT_STREQ(to_string(MetricError::pool_timeout), "pool_timeout");
}

TEST(MetricsUnits, BlocksAreSummedAndCountsGoWhereTheyBelong) {
    ServerMetrics m;
    ServerMetrics::Shard* a = m.next_shard();
    ServerMetrics::Shard* b = m.next_shard();
    EXPECT_NE(a, b);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a) % 64, 0u);
    a->count(MetricOp::get, Result::ok);
    b->count(MetricOp::get, Result::ok);
    b->count(MetricOp::get, Result::not_found);
    m.common().count(MetricOp::store, Result::pool_timeout);
    a->observe(20'000'000);
    b->add(Counter::bytes_sent, 7);
    const MetricsSnapshot s = m.snapshot();
    EXPECT_EQ(s.requests[0][0], 2u);
    EXPECT_EQ(s.requests[0][1], 1u);
    EXPECT_EQ(s.requests[static_cast<int>(MetricOp::store)][static_cast<int>(MetricResult::error)], 1u);
    EXPECT_EQ(s.errors[static_cast<int>(MetricError::pool_timeout)], 1u);
    EXPECT_EQ(s.latency[11], 1u);
    EXPECT_EQ(s.latency_count(), 1u);
    EXPECT_EQ(s[Counter::latency_sum_ns], 20'000'000u);
    EXPECT_EQ(s[Counter::bytes_sent], 7u);
}

TEST(MetricsUnits, TicksMeasureTheSteadyClock) {
    ServerMetrics m;  // starts the scale's measurement
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    const auto start = Clock::now();
    const std::uint64_t t0 = tick_stamp();
    (void)ticks_to_ns(t0, t0, start);  // measures the scale, if not done yet
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const std::uint64_t t1 = tick_stamp();
    const auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
    const std::uint64_t ns = ticks_to_ns(t0, t1, start);
    EXPECT_GE(ns, 20'000'000u);
    EXPECT_LE(ns, static_cast<std::uint64_t>(elapsed) + 1'000'000u);
}

}  // namespace
}  // namespace mmc::engine
