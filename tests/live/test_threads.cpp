// One client shared by many threads: every call correct, the pool bound respected.
#include <atomic>
#include <thread>

#include "live_fixture.h"

namespace mmc::test {
namespace {

using Threads = Live;

TEST_F(Threads, SixteenThreadsShareOneClientWithFourConnections) {
    PoolSpec spec;
    spec.min = 0;
    spec.smax = 4;
    spec.max = 4;
    start_servers(1, spec);
    RawClient raw(server().port());
    long long base = raw.number("curr_connections");
    long long total_before = raw.number("total_connections");

    constexpr int kThreads = 16, kOps = 500;
    std::atomic<int> failures{0}, wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            apr_pool_t* p = nullptr;
            apr_pool_create(&p, nullptr);
            for (int i = 0; i < kOps; ++i) {
                std::string key = "t" + std::to_string(t) + ":" + std::to_string(i % 20);
                std::string val = "v" + std::to_string(t * 100000 + i);
                if (apr_memcache_set(mc_, key.c_str(), val.data(), val.size(), 0, 0) != APR_SUCCESS) {
                    ++failures;
                    continue;
                }
                char* d = nullptr;
                apr_size_t len = 0;
                if (apr_memcache_getp(mc_, p, key.c_str(), &d, &len, nullptr) != APR_SUCCESS) {
                    ++failures;
                } else if (std::string(d, len) != val) {
                    ++wrong;
                }
                if (i % 50 == 0) apr_pool_clear(p);
            }
            apr_pool_destroy(p);
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(wrong.load(), 0);
    EXPECT_LE(raw.number("curr_connections") - base, 4);
    // No churn: the pool opened at most max connections (plus the stats look itself).
    EXPECT_LE(raw.number("total_connections") - total_before, 4 + 2);
}

TEST_F(Threads, MultiGetFromManyThreadsAtOnce) {
    start_servers(3);
    for (int i = 0; i < 60; ++i) ASSERT_EQ(set("m" + std::to_string(i), std::to_string(i)), APR_SUCCESS);
    std::atomic<int> bad{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            apr_pool_t* p = nullptr;
            apr_pool_create(&p, nullptr);
            for (int round = 0; round < 50; ++round) {
                apr_pool_t* temp = nullptr;
                apr_pool_create(&temp, p);
                apr_hash_t* values = nullptr;
                for (int i = 0; i < 60; ++i) apr_memcache_add_multget_key(p, ("m" + std::to_string(i)).c_str(), &values);
                if (apr_memcache_multgetp(mc_, temp, p, values) != APR_SUCCESS) ++bad;
                for (int i = 0; i < 60; ++i) {
                    auto* v = static_cast<apr_memcache_value_t*>(
                        apr_hash_get(values, ("m" + std::to_string(i)).c_str(), APR_HASH_KEY_STRING));
                    if (!v || v->status != APR_SUCCESS || std::string(v->data, v->len) != std::to_string(i)) ++bad;
                }
                apr_pool_clear(p);
            }
            apr_pool_destroy(p);
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace mmc::test
