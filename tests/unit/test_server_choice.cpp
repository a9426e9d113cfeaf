// apr-util's server choice through the compatible API, without any network: servers
// are created (which opens nothing) and marked dead or live by hand.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ap_memcache.h"

namespace {

class ServerChoice : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_EQ(apr_pool_create(&pool_, nullptr), APR_SUCCESS);
        ASSERT_EQ(apr_memcache_create(pool_, 8, 0, &mc_), APR_SUCCESS);
        for (int i = 0; i < 4; ++i) {
            apr_memcache_server_t* ms = nullptr;
            // Port 1 on loopback: nothing is ever sent in these tests.
            ASSERT_EQ(apr_memcache_server_create(pool_, "127.0.0.1", static_cast<apr_port_t>(i + 1), 0, 1, 1, 0, &ms),
                      APR_SUCCESS);
            ASSERT_EQ(apr_memcache_add_server(mc_, ms), APR_SUCCESS);
        }
    }
    void TearDown() override { apr_pool_destroy(pool_); }

    apr_memcache_server_t* pick(const std::string& key) {
        return apr_memcache_find_server_hash(mc_, apr_memcache_hash(mc_, key.data(), key.size()));
    }

    apr_pool_t* pool_ = nullptr;
    apr_memcache_t* mc_ = nullptr;
};

TEST_F(ServerChoice, HashesAreAprUtils) {
    EXPECT_EQ(apr_memcache_hash_crc32(nullptr, "123456789", 9), 0xcbf43926u);
    EXPECT_EQ(apr_memcache_hash_default(nullptr, "a", 1), 26807u);
    EXPECT_EQ(apr_memcache_hash(mc_, "foo", 3), 3187u);
}

TEST_F(ServerChoice, KeyGoesToHashModuloServerCount) {
    for (int i = 0; i < 200; ++i) {
        std::string k = "k" + std::to_string(i);
        apr_uint32_t h = apr_memcache_hash_default(nullptr, k.data(), k.size());
        EXPECT_EQ(pick(k), mc_->live_servers[(h ? h : 1) % 4]) << k;
    }
}

TEST_F(ServerChoice, HashZeroCountsAsOne) {
    EXPECT_EQ(apr_memcache_find_server_hash(mc_, 0), mc_->live_servers[1]);
}

TEST_F(ServerChoice, DeadServerKeysMoveToTheNextServer) {
    ASSERT_EQ(apr_memcache_disable_server(mc_, mc_->live_servers[2]), APR_SUCCESS);
    EXPECT_EQ(apr_memcache_find_server_hash(mc_, 2), mc_->live_servers[3]);
    EXPECT_EQ(apr_memcache_find_server_hash(mc_, 6), mc_->live_servers[3]);
    EXPECT_EQ(apr_memcache_find_server_hash(mc_, 1), mc_->live_servers[1]);
    ASSERT_EQ(apr_memcache_disable_server(mc_, mc_->live_servers[3]), APR_SUCCESS);
    EXPECT_EQ(apr_memcache_find_server_hash(mc_, 2), mc_->live_servers[0]);
}

TEST_F(ServerChoice, AllDeadMeansNoServer) {
    for (int i = 0; i < 4; ++i) apr_memcache_disable_server(mc_, mc_->live_servers[i]);
    EXPECT_EQ(apr_memcache_find_server_hash(mc_, 5), nullptr);
    char* data = nullptr;
    apr_size_t len = 0;
    EXPECT_EQ(apr_memcache_getp(mc_, pool_, "k", &data, &len, nullptr), AP_MEMCACHE_ENOSERVER);
}

TEST_F(ServerChoice, EnabledServerTakesItsKeysBack) {
    apr_memcache_disable_server(mc_, mc_->live_servers[2]);
    apr_memcache_enable_server(mc_, mc_->live_servers[2]);
    EXPECT_EQ(apr_memcache_find_server_hash(mc_, 2), mc_->live_servers[2]);
}

TEST_F(ServerChoice, InvalidKeyIsRejectedBeforeChoosingAServer) {
    int picks = 0;
    mc_->server_baton = &picks;
    mc_->server_func = [](void* baton, apr_memcache_t* mc, const apr_uint32_t) {
        ++*static_cast<int*>(baton);
        return mc->live_servers[0];
    };
    EXPECT_EQ(apr_memcache_set(mc_, "bad key", const_cast<char*>("v"), 1, 0, 0), APR_EINVAL);
    EXPECT_EQ(apr_memcache_delete(mc_, std::string(251, 'k').c_str(), 0), APR_EINVAL);
    EXPECT_EQ(picks, 0);
}

TEST_F(ServerChoice, StrerrorKnowsOurCodes) {
    char buf[128];
    EXPECT_STREQ(ap_memcache_strerror(AP_MEMCACHE_ENOSERVER, buf, sizeof buf), "no live memcached server");
    EXPECT_NE(std::string(ap_memcache_strerror(AP_MEMCACHE_EPROTO, buf, sizeof buf)).find("memcached"),
              std::string::npos);
    EXPECT_STRNE(ap_memcache_strerror(APR_TIMEUP, buf, sizeof buf), "");
}

}  // namespace
