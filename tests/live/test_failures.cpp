// Failures cost a bounded delay: refused connects, silent servers, a server killed
// under load and restarted.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "live_fixture.h"
#include "silent_server.h"

namespace mmc::test {
namespace {

using Failures = Live;

apr_memcache_t* client_for(apr_pool_t* pool, unsigned short port, apr_uint32_t max = 4) {
    apr_memcache_t* mc = nullptr;
    apr_memcache_server_t* ms = nullptr;
    apr_memcache_create(pool, 1, 0, &mc);
    apr_memcache_server_create(pool, "127.0.0.1", port, 0, max, max, 60000000, &ms);
    use_test_protocol(ms);
    apr_memcache_add_server(mc, ms);
    return mc;
}

TEST_F(Failures, RefusedConnectFailsFastAndMarksServerDeadAtTheFailureLimit) {
    apr_memcache_t* mc = client_for(pool_, free_loopback_port());
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(apr_memcache_set(mc, "k", const_cast<char*>("v"), 1, 0, 0), APR_ECONNREFUSED);
    EXPECT_EQ(mc->live_servers[0]->status, APR_MC_SERVER_LIVE);  // one failure of two
    EXPECT_EQ(apr_memcache_set(mc, "k", const_cast<char*>("v"), 1, 0, 0), APR_ECONNREFUSED);
    EXPECT_LT(elapsed_ms(t0), 200);
    EXPECT_EQ(mc->live_servers[0]->status, APR_MC_SERVER_DEAD);
    EXPECT_NE(mc->live_servers[0]->btime, 0);
    // While dead (retry period), calls fail at once without touching the network.
    t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(apr_memcache_set(mc, "k", const_cast<char*>("v"), 1, 0, 0), AP_MEMCACHE_ENOSERVER);
    EXPECT_LT(elapsed_ms(t0), 5);
}

TEST_F(Failures, SilentServerTimesOutWithinTheDeadline) {
    SilentServer silent;
    apr_memcache_t* mc = client_for(pool_, silent.port());
    char* d = nullptr;
    apr_size_t len = 0;
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(apr_memcache_getp(mc, pool_, "k", &d, &len, nullptr), APR_TIMEUP);
    long long ms = elapsed_ms(t0);
    EXPECT_GE(ms, 900);
    EXPECT_LE(ms, 1000 + 100);
}

TEST_F(Failures, SixteenThreadsOnASilentServerAllReturnInTime) {
    SilentServer silent;
    apr_memcache_t* mc = client_for(pool_, silent.port(), 16);
    std::atomic<long long> slowest{0};
    std::atomic<int> timeups{0}, others{0};
    std::vector<std::thread> threads;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 16; ++i) {
        threads.emplace_back([&] {
            apr_pool_t* p = nullptr;
            apr_pool_create(&p, nullptr);
            char* d = nullptr;
            apr_size_t len = 0;
            apr_status_t rv = apr_memcache_getp(mc, p, "k", &d, &len, nullptr);
            if (rv == APR_TIMEUP) ++timeups;
            else if (rv != AP_MEMCACHE_ENOSERVER) ++others;
            long long e = elapsed_ms(t0);
            if (e > slowest) slowest = e;
            apr_pool_destroy(p);
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_GT(timeups.load(), 0);
    EXPECT_EQ(others.load(), 0);
    // The default 1 s operation timeout, and scheduling: 16 threads connecting and
    // timing out together. ThreadSanitizer slows every one of those steps several times
    // (it has missed 2 s there on a loaded 2-core machine): the bound is still finite.
#if defined(__SANITIZE_THREAD__)
    EXPECT_LE(slowest.load(), 4000);
#else
    EXPECT_LE(slowest.load(), 2000);
#endif
}

TEST_F(Failures, ReadAfterRestartSucceedsOnStalePooledConnection) {
    ASSERT_EQ(set("before", "x"), APR_SUCCESS);
    ASSERT_TRUE(server().restart()) << server().error();
    apr_status_t rv;
    get("before", &rv);
    EXPECT_EQ(rv, APR_NOTFOUND);  // a miss (the restart lost the data), not an error
    EXPECT_EQ(mc_->live_servers[0]->status, APR_MC_SERVER_LIVE);
}

TEST_F(Failures, MultiGetAfterRestartSucceedsOnStalePooledConnection) {
    // Straight after the restart, before the idle check would look at the connection:
    // the batch fails on the old connection before any reply byte and is tried again
    // on a new one, as a single get is.
    ASSERT_EQ(set("before", "x"), APR_SUCCESS);
    for (int round = 0; round < 3; ++round) {
        ASSERT_TRUE(server().restart()) << server().error();
        apr_status_t rv = APR_EGENERAL;
        for (const auto& [k, got] : multiget({"before", "other"}, &rv)) {
            EXPECT_EQ(got.status, APR_NOTFOUND) << "round " << round << " key " << k;  // lost, not an error
        }
        EXPECT_EQ(rv, APR_SUCCESS);
        EXPECT_EQ(mc_->live_servers[0]->status, APR_MC_SERVER_LIVE);
    }
}

TEST_F(Failures, WriteAfterRestartOnIdleConnectionSucceeds) {
    ASSERT_EQ(set("before", "x"), APR_SUCCESS);
    ASSERT_TRUE(server().restart()) << server().error();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(set("after", "y"), APR_SUCCESS);
    EXPECT_EQ(get("after"), "y");
}

TEST_F(Failures, KilledServerUnderSixteenThreadsFailsBoundedThenRecoversWithoutLeaks) {
    using Clock = std::chrono::steady_clock;
    const int sockets_before = open_sockets();
    std::atomic<bool> stop{false};
    std::atomic<long long> slowest_call{0};
    std::atomic<int> ok_after_restart{0};
    std::atomic<Clock::rep> restart_at{0}, last_failure_at{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t) {
        threads.emplace_back([&, t] {
            apr_pool_t* p = nullptr;
            apr_pool_create(&p, nullptr);
            int i = 0;
            while (!stop) {
                std::string k = "kill" + std::to_string(t) + "-" + std::to_string(i++ % 10);
                auto c0 = Clock::now();
                apr_status_t rv = (i % 3 == 0)
                    ? apr_memcache_set(mc_, k.c_str(), const_cast<char*>("v"), 1, 0, 0)
                    : [&] { char* d; apr_size_t len; apr_status_t r = apr_memcache_getp(mc_, p, k.c_str(), &d, &len, nullptr); return r == APR_NOTFOUND ? APR_SUCCESS : r; }();
                long long e = elapsed_ms(c0);
                if (e > slowest_call) slowest_call = e;
                if (rv == APR_SUCCESS) {
                    if (restart_at.load() != 0) ++ok_after_restart;
                } else {
                    last_failure_at = Clock::now().time_since_epoch().count();
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                }
                apr_pool_clear(p);
            }
            apr_pool_destroy(p);
        });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto killed = Clock::now();
    server().stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ASSERT_TRUE(server().restart()) << server().error();
    const auto restarted = Clock::now();
    restart_at = restarted.time_since_epoch().count();
    // Calls fail from the kill until at most one retry period (5 s) after the restart.
    while (elapsed_ms(restarted) < 6000) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const int ok_before_stop = ok_after_restart;
    stop = true;
    for (auto& th : threads) th.join();

    const auto last_failure = Clock::time_point(Clock::duration(last_failure_at.load()));
    const long long failing_ms = std::chrono::duration_cast<std::chrono::milliseconds>(last_failure - killed).count();
    const long long after_restart_ms = std::chrono::duration_cast<std::chrono::milliseconds>(last_failure - restarted).count();
    EXPECT_LE(after_restart_ms, 5000 + 300) << "failures went on past the retry period";
    EXPECT_GT(ok_before_stop, 1000);
    EXPECT_LE(slowest_call.load(), 1000 + 1000 + 100);  // I/O + acquire deadline
    EXPECT_EQ(mc_->live_servers[0]->status, APR_MC_SERVER_LIVE);
    const int sockets_after = open_sockets();
    EXPECT_LE(sockets_after - sockets_before, 4) << "more sockets than the pool's max";
    std::printf("[ measured ] 16 threads: failures for %lld ms from the kill (%lld ms after the restart); "
                "slowest call %lld ms; %d calls ok after recovery; sockets %d -> %d\n",
                failing_ms, after_restart_ms, slowest_call.load(), ok_before_stop, sockets_before, sockets_after);
}

}  // namespace
}  // namespace mmc::test
