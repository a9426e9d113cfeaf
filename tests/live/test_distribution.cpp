// Key placement through the compatible API, checked against the libraries whose
// placement we promise to reproduce: libmemcached's weighted ketama and apr-util's
// modula. The oracles are linked into this test only.
#include <libmemcached/memcached.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "aprutil_oracle.h"
#include "live_fixture.h"

namespace mmc::test {
namespace {

constexpr int kKeys = 10000;

std::string key_of(int i) { return "dist:" + std::to_string(i) + ":" + std::to_string(i * 7919 % 104729); }

class Distribution : public Live {
protected:
    // Four servers; mc_ uses ketama with the given weights.
    void start_ketama(const std::vector<apr_uint32_t>& weights) {
        start_servers(weights.size());
        for (std::size_t i = 0; i < weights.size(); ++i) {
            ap_memcache_server_options_t o;
            ASSERT_EQ(ap_memcache_server_get_options(mc_->live_servers[i], &o), APR_SUCCESS);
            o.weight = weights[i];
            ASSERT_EQ(ap_memcache_server_set_options(mc_->live_servers[i], &o), APR_SUCCESS);
        }
        ASSERT_EQ(ap_memcache_set_distribution(mc_, AP_MEMCACHE_DIST_KETAMA), APR_SUCCESS);
    }

    std::size_t index_of_port(unsigned short port) {
        for (std::size_t i = 0; i < servers_.size(); ++i) {
            if (servers_[i]->port() == port) return i;
        }
        return static_cast<std::size_t>(-1);
    }

    std::vector<std::unique_ptr<RawClient>> raw_clients() {
        std::vector<std::unique_ptr<RawClient>> raws;
        for (auto& s : servers_) raws.push_back(std::make_unique<RawClient>(s->port()));
        return raws;
    }
};

// libmemcached, weighted ketama with MD5, the same servers in the same order.
struct Libmemcached {
    memcached_st* m = memcached_create(nullptr);
    Libmemcached(const std::vector<std::unique_ptr<MemcachedProcess>>& servers,
                 const std::vector<apr_uint32_t>& weights) {
        memcached_behavior_set(m, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1);
        for (std::size_t i = 0; i < servers.size(); ++i) {
            memcached_server_add_with_weight(m, "127.0.0.1", servers[i]->port(), weights[i]);
        }
    }
    ~Libmemcached() { memcached_free(m); }
    unsigned short owner_port(const std::string& key) {
        memcached_return_t rc;
        const memcached_instance_st* inst = memcached_server_by_key(m, key.data(), key.size(), &rc);
        return inst ? static_cast<unsigned short>(memcached_server_port(inst)) : 0;
    }
};

TEST_F(Distribution, KetamaPlacesEveryKeyWhereLibmemcachedDoes) {
    const std::vector<apr_uint32_t> weights = {1, 1, 2, 3};
    start_ketama(weights);
    for (int i = 0; i < kKeys; ++i) ASSERT_EQ(set(key_of(i), std::to_string(i)), APR_SUCCESS) << i;

    Libmemcached oracle(servers_, weights);
    auto raws = raw_clients();
    int agree = 0;
    std::vector<int> per_server(servers_.size());
    for (int i = 0; i < kKeys; ++i) {
        std::size_t owner = index_of_port(oracle.owner_port(key_of(i)));
        ASSERT_LT(owner, servers_.size());
        if (raws[owner]->get(key_of(i)) == std::optional<std::string>(std::to_string(i))) ++agree;
        ++per_server[owner];
    }
    EXPECT_EQ(agree, kKeys);
    std::printf("[ measured ] ketama 1,1,2,3: %d of %d keys on libmemcached's server; shares %d %d %d %d\n",
                agree, kKeys, per_server[0], per_server[1], per_server[2], per_server[3]);
    // Nothing stored twice: the servers hold exactly the keys.
    long long items = 0;
    for (auto& r : raws) items += r->number("curr_items");
    EXPECT_EQ(items, kKeys);
}

TEST_F(Distribution, ModulaPlacesEveryKeyWhereAprUtilDoes) {
    start_servers(4);
    std::vector<unsigned short> ports;
    for (auto& s : servers_) ports.push_back(s->port());
    AprUtilOracle oracle(ports);
    for (int i = 0; i < kKeys; ++i) ASSERT_EQ(set(key_of(i), std::to_string(i)), APR_SUCCESS) << i;
    auto raws = raw_clients();
    int agree = 0;
    for (int i = 0; i < kKeys; ++i) {
        std::size_t owner = oracle.owner(key_of(i));
        ASSERT_LT(owner, servers_.size());
        if (raws[owner]->get(key_of(i)) == std::optional<std::string>(std::to_string(i))) ++agree;
    }
    EXPECT_EQ(agree, kKeys);
    std::printf("[ measured ] modula: %d of %d keys on apr-util's server\n", agree, kKeys);
}

TEST_F(Distribution, KetamaDeadServerKeysFailOverAndComeBack) {
    start_ketama({1, 1, 1});
    ap_memcache_server_options_t o;
    for (int i = 0; i < 3; ++i) {
        ap_memcache_server_get_options(mc_->live_servers[i], &o);
        o.retry_period = 300 * 1000;
        o.failure_limit = 1;
        ASSERT_EQ(ap_memcache_server_set_options(mc_->live_servers[i], &o), APR_SUCCESS);
    }
    // Keys owned by server 1 while all are live.
    std::vector<std::string> keys;
    for (int i = 0; keys.size() < 50; ++i) {
        std::string k = key_of(i);
        if (apr_memcache_find_server_hash(mc_, apr_memcache_hash(mc_, k.data(), k.size())) == mc_->live_servers[1]) {
            keys.push_back(k);
        }
    }
    server(1).stop();
    apr_status_t first = set(keys[0], "x");
    EXPECT_NE(first, APR_SUCCESS);  // the failure that marks it dead
    auto t0 = std::chrono::steady_clock::now();
    for (auto& k : keys) ASSERT_EQ(set(k, "moved"), APR_SUCCESS) << k;
    std::printf("[ measured ] ketama failover: %zu keys of a dead server stored elsewhere in %lld ms\n",
                keys.size(), elapsed_ms(t0));
    EXPECT_EQ(mc_->live_servers[1]->status, APR_MC_SERVER_DEAD);

    ASSERT_TRUE(server(1).restart()) << server(1).error();
    std::this_thread::sleep_for(std::chrono::milliseconds(350));
    t0 = std::chrono::steady_clock::now();
    for (auto& k : keys) ASSERT_EQ(set(k, "home"), APR_SUCCESS) << k;
    RawClient raw(server(1).port());
    for (auto& k : keys) EXPECT_EQ(raw.get(k), std::optional<std::string>("home")) << k;
    EXPECT_EQ(mc_->live_servers[1]->status, APR_MC_SERVER_LIVE);
}

TEST_F(Distribution, RemovingOneOfFourServersMovesOnlyItsKeys) {
    start_ketama({1, 1, 1, 1});
    std::vector<apr_memcache_server_t*> before(kKeys);
    for (int i = 0; i < kKeys; ++i) {
        std::string k = key_of(i);
        before[i] = apr_memcache_find_server_hash(mc_, apr_memcache_hash(mc_, k.data(), k.size()));
    }
    // The same servers without the third one, as an operator removing its line would.
    apr_memcache_t* three = nullptr;
    ASSERT_EQ(apr_memcache_create(pool_, 4, 0, &three), APR_SUCCESS);
    ASSERT_EQ(ap_memcache_set_distribution(three, AP_MEMCACHE_DIST_KETAMA), APR_SUCCESS);
    for (int s : {0, 1, 3}) ASSERT_EQ(apr_memcache_add_server(three, mc_->live_servers[s]), APR_SUCCESS);
    int moved = 0, moved_wrongly = 0;
    for (int i = 0; i < kKeys; ++i) {
        std::string k = key_of(i);
        apr_memcache_server_t* now = apr_memcache_find_server_hash(three, apr_memcache_hash(three, k.data(), k.size()));
        if (now != before[i]) {
            ++moved;
            if (before[i] != mc_->live_servers[2]) ++moved_wrongly;
        }
    }
    EXPECT_EQ(moved_wrongly, 0);
    EXPECT_GT(moved, kKeys * 15 / 100);
    EXPECT_LT(moved, kKeys * 35 / 100);
    std::printf("[ measured ] removing 1 of 4 servers moved %d of %d keys (%.1f%%), all from that server\n",
                moved, kKeys, 100.0 * moved / kKeys);
}

TEST_F(Distribution, SwitchingBackToModulaRestoresAprUtilPlacement) {
    start_ketama({1, 1});
    ASSERT_EQ(ap_memcache_set_distribution(mc_, AP_MEMCACHE_DIST_MODULA), APR_SUCCESS);
    EXPECT_EQ(mc_->hash_func, nullptr);
    EXPECT_EQ(mc_->server_func, nullptr);
    EXPECT_EQ(apr_memcache_hash(mc_, "foo", 3), 3187u);
}

TEST_F(Distribution, ServerOptionsRejectNonsense) {
    ap_memcache_server_options_t o;
    ap_memcache_server_options_init(&o);
    EXPECT_EQ(o.weight, 1u);
    EXPECT_EQ(o.io_timeout, 1000000);
    EXPECT_EQ(o.retry_period, 5000000);
    o.weight = 0;
    EXPECT_EQ(ap_memcache_server_set_options(mc_->live_servers[0], &o), APR_EINVAL);
    ap_memcache_server_options_init(&o);
    o.io_timeout = 0;
    EXPECT_EQ(ap_memcache_server_set_options(mc_->live_servers[0], &o), APR_EINVAL);
    ap_memcache_server_options_t now;
    ap_memcache_server_get_options(mc_->live_servers[0], &now);
    EXPECT_EQ(now.io_timeout, 1000000);
}

}  // namespace
}  // namespace mmc::test
