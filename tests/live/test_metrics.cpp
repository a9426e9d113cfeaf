// Per-server metrics (ap_memcache_server_metrics): exact counts of calls by kind and
// result, errors by class, connections, health changes and latency, against a real
// memcached, and from many threads at once.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "delay_proxy.h"
#include "live_fixture.h"

namespace mmc::test {
namespace {

using Metrics = Live;

ap_memcache_server_metrics_t metrics_of(apr_memcache_server_t* ms) {
    ap_memcache_server_metrics_t m{};
    m.size = sizeof m;
    EXPECT_EQ(ap_memcache_server_metrics(ms, &m), APR_SUCCESS);
    EXPECT_EQ(m.size, sizeof m);
    return m;
}

apr_uint64_t calls(const ap_memcache_server_metrics_t& m) {
    apr_uint64_t n = 0;
    for (auto& row : m.requests)
        for (auto v : row) n += v;
    return n;
}

apr_uint64_t latency_count(const ap_memcache_server_metrics_t& m) {
    apr_uint64_t n = 0;
    for (auto v : m.latency) n += v;
    return n;
}

// The bucket the q-quantile falls in, as a scraper computes it from the histogram.
std::size_t quantile_bucket(const ap_memcache_server_metrics_t& m, double q) {
    const double rank = q * static_cast<double>(latency_count(m));
    apr_uint64_t cumulative = 0;
    for (std::size_t i = 0; i < AP_MEMCACHE_LATENCY_BUCKETS; ++i) {
        cumulative += m.latency[i];
        if (static_cast<double>(cumulative) >= rank) return i;
    }
    return AP_MEMCACHE_LATENCY_BUCKETS - 1;
}

// The bucket of a duration: (2^(13+i), 2^(14+i)] ns is bucket i, the first from 0.
std::size_t bucket_of(std::uint64_t ns) {
    std::size_t i = 0;
    while (i + 1 < AP_MEMCACHE_LATENCY_BUCKETS && ns > (std::uint64_t{1} << (14 + i))) ++i;
    return i;
}

TEST_F(Metrics, TheLatencyOfADelayedServerLandsInItsBucket) {
    // 18 ms added: the bucket (2^24, 2^25] ns, that is (16.8 ms, 33.6 ms], bucket 11.
    constexpr int kCalls = 200;
    constexpr std::size_t kBucket = 25 - 14;
    DelayProxy proxy(server().port(), std::chrono::milliseconds(18));
    apr_memcache_t* mc = nullptr;
    ASSERT_EQ(apr_memcache_create(pool_, 1, 0, &mc), APR_SUCCESS);
    apr_memcache_server_t* ms = add_server_with(pool_, mc, proxy.port(), 1, 1000 * 1000);
    // Each call timed here too: what the histogram holds must agree with it.
    std::vector<std::uint64_t> own;
    auto timed = [&](auto&& call) {
        const auto start = std::chrono::steady_clock::now();
        call();
        own.push_back(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
                .count()));
    };
    timed([&] { ASSERT_EQ(apr_memcache_set(mc, "slow", const_cast<char*>("v"), 1, 0, 0), APR_SUCCESS); });
    for (int i = 0; i < kCalls - 1; ++i) {
        timed([&] {
            char* d = nullptr;
            apr_size_t len = 0;
            ASSERT_EQ(apr_memcache_getp(mc, pool_, "slow", &d, &len, nullptr), APR_SUCCESS);
        });
    }
    const auto m = metrics_of(ms);
    EXPECT_EQ(latency_count(m), static_cast<apr_uint64_t>(kCalls));
    EXPECT_GE(m.latency_sum_ns, static_cast<apr_uint64_t>(kCalls) * 18'000'000);
    EXPECT_EQ(quantile_bucket(m, 0.5), kBucket);
    // The 99th percentile is in the 18 ms bucket unless more than two calls were slowed
    // by the scheduler of a busy machine past 33.6 ms; then it is in the bucket of the
    // 99th percentile measured here, or below it (each call's own time includes the
    // histogram's).
    std::sort(own.begin(), own.end());
    const std::uint64_t own_p99 = own[(kCalls * 99 + 99) / 100 - 1];
    EXPECT_GE(quantile_bucket(m, 0.99), kBucket);
    EXPECT_LE(quantile_bucket(m, 0.99), bucket_of(own_p99)) << own_p99 << " ns measured here";
    if (bucket_of(own_p99) == kBucket) {
        EXPECT_EQ(quantile_bucket(m, 0.99), kBucket);
    }
}

TEST_F(Metrics, CountsEveryCallByKindAndResult) {
    apr_memcache_server_t* ms = mc_->live_servers[0];
    const auto before = metrics_of(ms);
    EXPECT_EQ(calls(before), 0u);

    for (int i = 0; i < 3; ++i) ASSERT_EQ(set("k" + std::to_string(i), "value"), APR_SUCCESS);
    apr_status_t rv = APR_SUCCESS;
    for (int i = 0; i < 5; ++i) get("k" + std::to_string(i % 3), &rv);  // 5 hits
    for (int i = 0; i < 4; ++i) get("missing" + std::to_string(i), &rv);  // 4 misses
    EXPECT_EQ(apr_memcache_add(mc_, "k0", const_cast<char*>("v"), 1, 0, 0), APR_EEXIST);
    EXPECT_EQ(apr_memcache_delete(mc_, "k1", 0), APR_SUCCESS);
    EXPECT_EQ(apr_memcache_delete(mc_, "k1", 0), APR_NOTFOUND);
    ASSERT_EQ(set("n", "10"), APR_SUCCESS);
    apr_uint32_t nv = 0;
    EXPECT_EQ(apr_memcache_incr(mc_, "n", 5, &nv), APR_SUCCESS);
    EXPECT_EQ(apr_memcache_incr(mc_, "nothing", 5, &nv), APR_NOTFOUND);
    // 2 hits, 1 miss as keys of one multi-get.
    auto got = multiget({"k0", "k2", "absent"});
    EXPECT_EQ(got["k0"].status, APR_SUCCESS);

    const auto m = metrics_of(ms);
    EXPECT_EQ(m.requests[AP_MEMCACHE_METRIC_OP_STORE][AP_MEMCACHE_METRIC_OK], 4u);
    EXPECT_EQ(m.requests[AP_MEMCACHE_METRIC_OP_STORE][AP_MEMCACHE_METRIC_NOT_STORED], 1u);
    EXPECT_EQ(m.requests[AP_MEMCACHE_METRIC_OP_GET][AP_MEMCACHE_METRIC_HIT], 5u);
    EXPECT_EQ(m.requests[AP_MEMCACHE_METRIC_OP_GET][AP_MEMCACHE_METRIC_MISS], 4u);
    EXPECT_EQ(m.requests[AP_MEMCACHE_METRIC_OP_DELETE][AP_MEMCACHE_METRIC_OK], 1u);
    EXPECT_EQ(m.requests[AP_MEMCACHE_METRIC_OP_DELETE][AP_MEMCACHE_METRIC_MISS], 1u);
    EXPECT_EQ(m.requests[AP_MEMCACHE_METRIC_OP_ARITH][AP_MEMCACHE_METRIC_OK], 1u);
    EXPECT_EQ(m.requests[AP_MEMCACHE_METRIC_OP_ARITH][AP_MEMCACHE_METRIC_MISS], 1u);
    EXPECT_EQ(m.requests[AP_MEMCACHE_METRIC_OP_MULTIGET_KEY][AP_MEMCACHE_METRIC_HIT], 2u);
    EXPECT_EQ(m.requests[AP_MEMCACHE_METRIC_OP_MULTIGET_KEY][AP_MEMCACHE_METRIC_MISS], 1u);
    EXPECT_EQ(calls(m), 4u + 1 + 5 + 4 + 1 + 1 + 1 + 1 + 3);
    for (auto e : m.errors) EXPECT_EQ(e, 0u);
    // One observation per call, and one per server share of a multi-get.
    EXPECT_EQ(latency_count(m), calls(m) - 3 + 1);
    EXPECT_GT(m.latency_sum_ns, 0u);
    EXPECT_GT(m.bytes_sent, 0u);
    EXPECT_GT(m.bytes_received, 0u);
    EXPECT_EQ(m.connections_opened, 1u);
    EXPECT_EQ(m.connections_closed, 0u);
    EXPECT_EQ(m.live, 1);
    EXPECT_EQ(m.dead_since, 0);
    EXPECT_EQ(m.marked_dead, 0u);
}

TEST_F(Metrics, TimeoutsAreCountedByClassAndMarkTheServerDead) {
    apr_memcache_t* mc = nullptr;
    ASSERT_EQ(apr_memcache_create(pool_, 1, 0, &mc), APR_SUCCESS);
    apr_memcache_server_t* ms = add_server_with(pool_, mc, server().port(), 1, 100 * 1000);
    ASSERT_EQ(apr_memcache_set(mc, "k", const_cast<char*>("v"), 1, 0, 0), APR_SUCCESS);
    server().pause();
    char* d = nullptr;
    apr_size_t len = 0;
    // failure_limit (2) timeouts mark it dead; the next call finds no server.
    EXPECT_EQ(apr_memcache_getp(mc, pool_, "k", &d, &len, nullptr), APR_TIMEUP);
    EXPECT_EQ(apr_memcache_getp(mc, pool_, "k", &d, &len, nullptr), APR_TIMEUP);
    EXPECT_EQ(apr_memcache_getp(mc, pool_, "k", &d, &len, nullptr), AP_MEMCACHE_ENOSERVER);
    server().resume();

    const auto m = metrics_of(ms);
    EXPECT_EQ(m.requests[AP_MEMCACHE_METRIC_OP_GET][AP_MEMCACHE_METRIC_ERROR], 3u);
    EXPECT_EQ(m.errors[AP_MEMCACHE_METRIC_ERR_TIMEOUT], 2u);
    EXPECT_EQ(m.marked_dead, 1u);
    EXPECT_EQ(m.live, 0);
    EXPECT_GT(m.dead_since, 0);
    EXPECT_LE(m.dead_since, apr_time_now());
    // The timed-out calls took the io timeout (100 ms): bucket 2^27 ns (134 ms).
    EXPECT_EQ(m.latency[27 - 14], 2u);
    // The one the client answered itself (no server) is counted on the key's primary,
    // the only server; it took no round trip, so it is not in the histogram.
    EXPECT_EQ(m.errors[AP_MEMCACHE_METRIC_ERR_NO_SERVER], 1u);
    EXPECT_EQ(latency_count(m), 3u);  // the set and the two timeouts
    // The connection of the set, then a new one for the second get: each closed after
    // its timeout.
    EXPECT_EQ(m.connections_opened, 2u);
    EXPECT_EQ(m.connections_closed, 2u);
}

// A call that ends with no server (every server dead) is counted on its key's primary,
// the server the key maps to on the full list, by kind, as error class no_server: every
// single-key call, each key of both multi-gets.
TEST_F(Metrics, CallsWithNoServerAreCountedOnTheKeysPrimary) {
    start_servers(3);
    ASSERT_EQ(ap_memcache_set_distribution(mc_, AP_MEMCACHE_DIST_KETAMA), APR_SUCCESS);
    for (std::size_t i = 0; i < 3; ++i) {
        ap_memcache_server_options_t o;
        ap_memcache_server_get_options(mc_->live_servers[i], &o);
        o.failure_limit = 1;
        o.retry_period = 60 * 1000 * 1000;
        ASSERT_EQ(ap_memcache_server_set_options(mc_->live_servers[i], &o), APR_SUCCESS);
    }
    // Each key's primary, from a client whose servers are all live.
    apr_memcache_t* plain = make_client();
    ASSERT_EQ(ap_memcache_set_distribution(plain, AP_MEMCACHE_DIST_KETAMA), APR_SUCCESS);
    const auto primary_of = [&](const std::string& k) {
        apr_memcache_server_t* ms = apr_memcache_find_server_hash(plain, apr_memcache_hash(plain, k.data(), k.size()));
        std::size_t i = 0;
        while (i < 3 && plain->live_servers[i] != ms) ++i;
        return i;
    };
    for (auto& s : servers_) s->stop();
    EXPECT_NE(ap_memcache_flush(mc_, 0), APR_SUCCESS);  // marks each dead
    ap_memcache_server_metrics_t before[3];
    for (std::size_t i = 0; i < 3; ++i) {
        ASSERT_EQ(mc_->live_servers[i]->status, APR_MC_SERVER_DEAD);
        before[i] = metrics_of(mc_->live_servers[i]);
    }

    constexpr int kKeys = 36;
    apr_uint64_t want[3][AP_MEMCACHE_METRIC_OPS] = {};
    std::vector<std::string> keys;
    for (int i = 0; i < kKeys; ++i) {
        const std::string k = "ns" + std::to_string(i);
        keys.push_back(k);
        const std::size_t p = primary_of(k);
        ASSERT_LT(p, 3u);
        apr_uint32_t nv = 0;
        ap_memcache_item_t item{};
        switch (i % 6) {
            case 0: {
                apr_status_t rv = APR_SUCCESS;
                get(k, &rv);
                EXPECT_EQ(rv, AP_MEMCACHE_ENOSERVER);
                ++want[p][AP_MEMCACHE_METRIC_OP_GET];
                break;
            }
            case 1:
                EXPECT_EQ(set(k, "v"), AP_MEMCACHE_ENOSERVER);
                ++want[p][AP_MEMCACHE_METRIC_OP_STORE];
                break;
            case 2:
                EXPECT_EQ(apr_memcache_delete(mc_, k.c_str(), 0), AP_MEMCACHE_ENOSERVER);
                ++want[p][AP_MEMCACHE_METRIC_OP_DELETE];
                break;
            case 3:
                EXPECT_EQ(apr_memcache_incr(mc_, k.c_str(), 1, &nv), AP_MEMCACHE_ENOSERVER);
                ++want[p][AP_MEMCACHE_METRIC_OP_ARITH];
                break;
            case 4:
                EXPECT_EQ(ap_memcache_touch(mc_, k.c_str(), 10), AP_MEMCACHE_ENOSERVER);
                ++want[p][AP_MEMCACHE_METRIC_OP_TOUCH];
                break;
            default:
                EXPECT_EQ(ap_memcache_gets(mc_, pool_, k.c_str(), &item), AP_MEMCACHE_ENOSERVER);
                ++want[p][AP_MEMCACHE_METRIC_OP_GET];
                break;
        }
        want[p][AP_MEMCACHE_METRIC_OP_MULTIGET_KEY] += 2;  // in both multi-gets below
    }
    for (auto& [k, g] : multiget(keys)) EXPECT_EQ(g.status, AP_MEMCACHE_ENOSERVER) << k;
    std::vector<ap_memcache_key_t> ak;
    for (auto& k : keys) ak.push_back({k.c_str(), k.size()});
    std::vector<ap_memcache_result_t> res(keys.size());
    ASSERT_EQ(ap_memcache_multiget_array(mc_, pool_, ak.data(), ak.size(), res.data(), 0), APR_SUCCESS);
    for (auto& r : res) EXPECT_EQ(r.status, AP_MEMCACHE_ENOSERVER);

    apr_uint64_t total = 0;
    for (std::size_t s = 0; s < 3; ++s) {
        SCOPED_TRACE("server " + std::to_string(s));
        const auto m = metrics_of(mc_->live_servers[s]);
        apr_uint64_t calls_here = 0;
        for (int op = 0; op < AP_MEMCACHE_METRIC_OPS; ++op) {
            EXPECT_EQ(m.requests[op][AP_MEMCACHE_METRIC_ERROR] - before[s].requests[op][AP_MEMCACHE_METRIC_ERROR],
                      want[s][op])
                << ap_memcache_metric_op_name(op);
            calls_here += want[s][op];
        }
        EXPECT_EQ(m.errors[AP_MEMCACHE_METRIC_ERR_NO_SERVER] - before[s].errors[AP_MEMCACHE_METRIC_ERR_NO_SERVER],
                  calls_here);
        EXPECT_EQ(m.errors[AP_MEMCACHE_METRIC_ERR_CONNECT_FAILED], before[s].errors[AP_MEMCACHE_METRIC_ERR_CONNECT_FAILED]);
        EXPECT_EQ(latency_count(m), latency_count(before[s]));  // no round trip
        total += calls_here;
    }
    EXPECT_EQ(total, 3u * kKeys);  // one single-key call and two multi-get keys each
}

TEST_F(Metrics, ManyThreadsCountExactly) {
    start_servers(1, PoolSpec{0, 8, 8});
    ASSERT_EQ(set("hot", "v"), APR_SUCCESS);
    constexpr int kThreads = 8, kCalls = 500;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([this] {
            apr_pool_t* p = nullptr;
            apr_pool_create(&p, nullptr);
            for (int i = 0; i < kCalls; ++i) {
                char* d = nullptr;
                apr_size_t len = 0;
                apr_memcache_getp(mc_, p, (i % 2) ? "hot" : "cold", &d, &len, nullptr);
                apr_pool_clear(p);
            }
            apr_pool_destroy(p);
        });
    }
    for (auto& t : threads) t.join();
    const auto m = metrics_of(mc_->live_servers[0]);
    EXPECT_EQ(m.requests[AP_MEMCACHE_METRIC_OP_GET][AP_MEMCACHE_METRIC_HIT], kThreads * kCalls / 2u);
    EXPECT_EQ(m.requests[AP_MEMCACHE_METRIC_OP_GET][AP_MEMCACHE_METRIC_MISS], kThreads * kCalls / 2u);
    EXPECT_EQ(latency_count(m), kThreads * kCalls + 1u);
    EXPECT_LE(m.connections_opened, 8u);
}

TEST_F(Metrics, ASmallerStructGetsItsPrefixAndBadArgumentsAreRefused) {
    ap_memcache_server_metrics_t m{};
    m.size = 1;
    EXPECT_EQ(ap_memcache_server_metrics(mc_->live_servers[0], &m), APR_EINVAL);
    EXPECT_EQ(ap_memcache_server_metrics(nullptr, &m), APR_EINVAL);
    ASSERT_EQ(set("k", "v"), APR_SUCCESS);
    // A caller that knows only the size and the request counts.
    m = {};
    m.size = offsetof(ap_memcache_server_metrics_t, errors);
    m.bytes_sent = 12345;  // beyond its size: left alone
    EXPECT_EQ(ap_memcache_server_metrics(mc_->live_servers[0], &m), APR_SUCCESS);
    EXPECT_EQ(m.size, offsetof(ap_memcache_server_metrics_t, errors));
    EXPECT_EQ(m.requests[AP_MEMCACHE_METRIC_OP_STORE][AP_MEMCACHE_METRIC_OK], 1u);
    EXPECT_EQ(m.bytes_sent, 12345u);
    EXPECT_STREQ(ap_memcache_metric_op_name(AP_MEMCACHE_METRIC_OP_MULTIGET_KEY), "multiget_key");
    EXPECT_STREQ(ap_memcache_metric_op_name(AP_MEMCACHE_METRIC_OP_DELETE), "delete");
    EXPECT_STREQ(ap_memcache_metric_result_name(AP_MEMCACHE_METRIC_NOT_STORED), "not_stored");
    EXPECT_STREQ(ap_memcache_metric_error_name(AP_MEMCACHE_METRIC_ERR_CONNECT_TIMEOUT), "connect_timeout");
    EXPECT_EQ(ap_memcache_metric_error_name(AP_MEMCACHE_METRIC_ERRORS), nullptr);
    EXPECT_EQ(ap_memcache_metric_op_name(-1), nullptr);
}

}  // namespace
}  // namespace mmc::test
