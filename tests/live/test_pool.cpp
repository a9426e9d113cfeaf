// Pool semantics: nothing opened at creation, min on warm-up, at most max, idle above
// smax closed after ttl, bounded wait when all are busy, failed connections discarded.
#include <atomic>
#include <thread>

#include "live_fixture.h"

namespace mmc::test {
namespace {

class Pool : public Live {
protected:
    // Connections the server sees from us: its count minus the raw client's own one.
    long long ours() { return raw().settled_number("curr_connections") - baseline_; }
    void take_baseline() { baseline_ = raw().settled_number("curr_connections"); }
    RawClient& raw() {
        if (!raw_) raw_ = std::make_unique<RawClient>(server().port());
        return *raw_;
    }
    apr_memcache_t* client(PoolSpec spec) { return make_client(spec); }

    // Makes n requests overlap on the server: it is paused while they are sent.
    // in_flight: how many of them can be on the wire at once (the pool's max when that
    // is smaller than n); the others wait for a connection.
    void overlap(apr_memcache_t* mc, int n, int in_flight = -1) {
        if (in_flight < 0) in_flight = n;
        const int sockets_before = open_sockets();
        server().pause();
        std::vector<std::thread> threads;
        for (int i = 0; i < n; ++i) {
            threads.emplace_back([mc, this] {
                apr_pool_t* p = nullptr;
                apr_pool_create(&p, nullptr);
                char* d = nullptr;
                apr_size_t len = 0;
                apr_memcache_getp(mc, p, "overlap", &d, &len, nullptr);
                apr_pool_destroy(p);
            });
        }
        // Wait until every request that can be is in flight, each on its own connection,
        // however slowly the threads start. (Waiting for more would let the requests
        // reach their deadline while the server is paused.)
        for (int i = 0; i < 200 && open_sockets() - sockets_before < in_flight; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        server().resume();
        for (auto& t : threads) t.join();
    }

    long long baseline_ = 0;
    std::unique_ptr<RawClient> raw_;
};

TEST_F(Pool, CreatingServersOpensNoConnection) {
    take_baseline();
    PoolSpec spec;
    spec.min = 3;
    spec.smax = 3;
    client(spec);
    EXPECT_EQ(ours(), 0);
}

TEST_F(Pool, WarmOpensMinConnections) {
    take_baseline();
    PoolSpec spec;
    spec.min = 3;
    spec.smax = 4;
    apr_memcache_t* mc = client(spec);
    EXPECT_EQ(ap_memcache_server_warm(mc->live_servers[0]), APR_SUCCESS);
    EXPECT_EQ(ours(), 3);
    EXPECT_EQ(ap_memcache_server_warm(mc->live_servers[0]), APR_SUCCESS);
    EXPECT_EQ(ours(), 3);
}

TEST_F(Pool, WarmOfDeadServerFailsQuickly) {
    apr_memcache_server_t* ms = nullptr;
    ASSERT_EQ(apr_memcache_server_create(pool_, "127.0.0.1", free_loopback_port(), 2, 2, 2, 0, &ms),
              APR_SUCCESS);
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(ap_memcache_server_warm(ms), APR_ECONNREFUSED);
    EXPECT_LT(elapsed_ms(t0), 500);
}

TEST_F(Pool, SequentialCallsReuseOneConnection) {
    take_baseline();
    apr_memcache_t* mc = client(PoolSpec{});
    for (int i = 0; i < 50; ++i) {
        ASSERT_EQ(apr_memcache_set(mc, "seq", const_cast<char*>("v"), 1, 0, 0), APR_SUCCESS);
    }
    EXPECT_EQ(ours(), 1);
}

TEST_F(Pool, NeverMoreThanMaxConnections) {
    take_baseline();
    PoolSpec spec;
    spec.smax = 2;
    spec.max = 2;
    apr_memcache_t* mc = client(spec);
    long long before = raw().number("total_connections");
    overlap(mc, 6, 2);
    EXPECT_LE(ours(), 2);
    EXPECT_LE(raw().number("total_connections") - before, 2 + 1);  // + the stats look
}

TEST_F(Pool, IdleConnectionsAboveSmaxCloseAfterTtl) {
    take_baseline();
    PoolSpec spec;
    spec.smax = 1;
    spec.max = 4;
    spec.ttl_us = 100 * 1000;
    apr_memcache_t* mc = client(spec);
    overlap(mc, 4);
    EXPECT_EQ(ours(), 4);
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    ASSERT_EQ(apr_memcache_set(mc, "trim", const_cast<char*>("v"), 1, 0, 0), APR_SUCCESS);
    EXPECT_EQ(ours(), 1);
}

TEST_F(Pool, IdleConnectionsWithinSmaxStayOpen) {
    take_baseline();
    PoolSpec spec;
    spec.smax = 4;
    spec.max = 4;
    spec.ttl_us = 10 * 1000;
    apr_memcache_t* mc = client(spec);
    overlap(mc, 4);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_EQ(apr_memcache_set(mc, "keep", const_cast<char*>("v"), 1, 0, 0), APR_SUCCESS);
    EXPECT_EQ(ours(), 4);
}

TEST_F(Pool, TrimmingNeverGoesBelowMin) {
    take_baseline();
    PoolSpec spec;
    spec.min = 2;
    spec.smax = 2;
    spec.max = 4;
    spec.ttl_us = 0;  // as apr-util: excess idle connections close at once
    apr_memcache_t* mc = client(spec);
    overlap(mc, 4);
    ASSERT_EQ(apr_memcache_set(mc, "min", const_cast<char*>("v"), 1, 0, 0), APR_SUCCESS);
    EXPECT_EQ(ours(), 2);
}

TEST_F(Pool, CallerWaitsForABusyPoolThenTimesOut) {
    PoolSpec spec;
    spec.smax = 1;
    spec.max = 1;
    apr_memcache_t* mc = client(spec);
    ASSERT_EQ(apr_memcache_set(mc, "k", const_cast<char*>("v"), 1, 0, 0), APR_SUCCESS);
    server().pause();
    std::atomic<apr_status_t> first{APR_SUCCESS};
    std::thread holder([&] {
        apr_pool_t* p = nullptr;
        apr_pool_create(&p, nullptr);
        char* d = nullptr;
        apr_size_t len = 0;
        first = apr_memcache_getp(mc, p, "k", &d, &len, nullptr);
        apr_pool_destroy(p);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto t0 = std::chrono::steady_clock::now();
    char* d = nullptr;
    apr_size_t len = 0;
    apr_status_t second = apr_memcache_getp(mc, pool_, "k", &d, &len, nullptr);
    long long waited = elapsed_ms(t0);
    holder.join();
    server().resume();
    EXPECT_EQ(first.load(), APR_TIMEUP);
    // The queued caller waits at most its acquire deadline for a connection; when the
    // holder's timeout frees one first, its own exchange has its own I/O deadline. So
    // the bound is acquire + I/O, and the call fails rather than hangs.
    EXPECT_TRUE(second == APR_TIMEUP || second == AP_MEMCACHE_ENOSERVER) << second;
    EXPECT_LE(waited, 1000 + 1000 + 100);
}

TEST_F(Pool, TimedOutConnectionIsNeverReused) {
    ASSERT_EQ(set("a", "value-of-a"), APR_SUCCESS);
    ASSERT_EQ(set("b", "value-of-b"), APR_SUCCESS);
    server().pause();
    apr_status_t rv;
    get("a", &rv);
    EXPECT_EQ(rv, APR_TIMEUP);
    server().resume();  // the late reply to "get a" is now on that socket
    ASSERT_EQ(apr_memcache_enable_server(mc_, mc_->live_servers[0]), APR_SUCCESS);
    EXPECT_EQ(get("b", &rv), "value-of-b");
    EXPECT_EQ(rv, APR_SUCCESS);
}

}  // namespace
}  // namespace mmc::test
