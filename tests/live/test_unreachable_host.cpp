// A host that never answers a SYN (powered off, partitioned) among healthy servers: it
// costs a bounded delay, its keys fail, and nobody else is blamed for it.
#include <apr_hash.h>

#include <map>

#include "blackhole_server.h"
#include "live_fixture.h"

namespace mmc::test {
namespace {

using UnreachableHost = Live;

constexpr apr_interval_time_t kIoTimeout = 500 * 1000;  // the multi-get's deadline
constexpr long long kSlackMs = 100;

apr_memcache_server_t* add_server(apr_pool_t* p, apr_memcache_t* mc, unsigned short port) {
    return add_server_with(p, mc, port, 4, kIoTimeout);
}

ap_memcache_server_state_t state_of(apr_memcache_server_t* ms) {
    ap_memcache_server_state_t st{};
    EXPECT_EQ(ap_memcache_server_state(ms, &st), APR_SUCCESS);
    return st;
}

TEST_F(UnreachableHost, MultiGetReturnsEveryKeyOfTheHealthyServersWithinTheDeadline) {
    start_servers(3);
    BlackholeServer hole;
    ASSERT_TRUE(hole.dropping_syns()) << "the kernel completed every handshake; cannot simulate a silent host";

    apr_memcache_t* mc = nullptr;
    ASSERT_EQ(apr_memcache_create(pool_, 4, 0, &mc), APR_SUCCESS);
    std::vector<apr_memcache_server_t*> healthy;
    for (auto& s : servers_) healthy.push_back(add_server(pool_, mc, s->port()));
    apr_memcache_server_t* dead = add_server(pool_, mc, hole.port());

    // Each key is written straight to the memcached that owns it, so the client under
    // test has opened nothing before the multi-get.
    std::map<std::string, std::string> expected;  // keys on healthy servers
    std::vector<std::string> keys;
    int on_hole = 0;
    for (int i = 0; i < 60; ++i) {
        std::string k = "unreach" + std::to_string(i);
        keys.push_back(k);
        apr_uint32_t h = apr_memcache_hash(mc, k.c_str(), k.size());
        apr_memcache_server_t* owner = apr_memcache_find_server_hash(mc, h);
        ASSERT_NE(owner, nullptr);
        if (owner == dead) {
            ++on_hole;
            continue;
        }
        std::size_t idx = std::find(healthy.begin(), healthy.end(), owner) - healthy.begin();
        RawClient raw(servers_.at(idx)->port());
        ASSERT_TRUE(raw.set(k, "v" + std::to_string(i)));
        expected[k] = "v" + std::to_string(i);
    }
    ASSERT_GT(on_hole, 0);
    ASSERT_GT(expected.size(), 30u);

    apr_hash_t* values = nullptr;
    for (auto& k : keys) apr_memcache_add_multget_key(pool_, k.c_str(), &values);
    apr_pool_t* temp = nullptr;  // multgetp clears it, as apr-util's does
    ASSERT_EQ(apr_pool_create(&temp, pool_), APR_SUCCESS);
    const auto t0 = std::chrono::steady_clock::now();
    apr_memcache_multgetp(mc, temp, pool_, values);
    const long long ms = elapsed_ms(t0);
    EXPECT_LE(ms, kIoTimeout / 1000 + kSlackMs);

    std::size_t got = 0;
    for (auto& k : keys) {
        auto* v = static_cast<apr_memcache_value_t*>(apr_hash_get(values, k.c_str(), APR_HASH_KEY_STRING));
        ASSERT_NE(v, nullptr);
        auto it = expected.find(k);
        if (it == expected.end()) {
            EXPECT_NE(v->status, APR_SUCCESS) << k;
            continue;
        }
        EXPECT_EQ(v->status, APR_SUCCESS) << k;
        if (v->status == APR_SUCCESS) {
            EXPECT_EQ(std::string(v->data, v->len), it->second);
            ++got;
        }
    }
    EXPECT_EQ(got, expected.size());
    for (auto* ms_ : healthy) {
        EXPECT_EQ(state_of(ms_).failures, 0u);
        EXPECT_EQ(state_of(ms_).live, 1);
    }
    // The handshake that never completed takes the host out at once.
    EXPECT_EQ(state_of(dead).live, 0);

    // The next call skips it: no connect timeout paid again.
    const auto t1 = std::chrono::steady_clock::now();
    apr_memcache_multgetp(mc, temp, pool_, values);
    EXPECT_LE(elapsed_ms(t1), kSlackMs);
}

TEST_F(UnreachableHost, SingleGetCostsAtMostTheConnectTimeout) {
    BlackholeServer hole;
    ASSERT_TRUE(hole.dropping_syns()) << "the kernel completed every handshake; cannot simulate a silent host";
    apr_memcache_t* mc = nullptr;
    ASSERT_EQ(apr_memcache_create(pool_, 1, 0, &mc), APR_SUCCESS);
    apr_memcache_server_t* ms = add_server(pool_, mc, hole.port());
    ap_memcache_server_options_t o;
    ap_memcache_server_get_options(ms, &o);
    o.connect_timeout = 300 * 1000;
    ASSERT_EQ(ap_memcache_server_set_options(ms, &o), APR_SUCCESS);

    char* data = nullptr;
    apr_size_t len = 0;
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(apr_memcache_getp(mc, pool_, "k", &data, &len, nullptr), APR_TIMEUP);
    const long long ms_taken = elapsed_ms(t0);
    EXPECT_GE(ms_taken, 290);
    EXPECT_LE(ms_taken, 300 + kSlackMs);
    EXPECT_EQ(state_of(ms).live, 0);

    // Dead for the retry period: the next call fails at once.
    const auto t1 = std::chrono::steady_clock::now();
    EXPECT_NE(apr_memcache_getp(mc, pool_, "k", &data, &len, nullptr), APR_SUCCESS);
    EXPECT_LE(elapsed_ms(t1), 20);
}

}  // namespace
}  // namespace mmc::test
