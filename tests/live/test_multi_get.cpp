// multgetp: every key its own status, all servers asked at once.
#include "live_fixture.h"

namespace mmc::test {
namespace {

using MultiGet = Live;

apr_memcache_value_t* value_of(apr_hash_t* values, const char* key) {
    return static_cast<apr_memcache_value_t*>(apr_hash_get(values, key, APR_HASH_KEY_STRING));
}

TEST_F(MultiGet, AddMultgetKeyCreatesHashWithNotFoundEntries) {
    apr_hash_t* values = nullptr;
    apr_memcache_add_multget_key(pool_, "a", &values);
    apr_memcache_add_multget_key(pool_, "b", &values);
    ASSERT_NE(values, nullptr);
    EXPECT_EQ(apr_hash_count(values), 2u);
    EXPECT_EQ(value_of(values, "a")->status, APR_NOTFOUND);
    EXPECT_STREQ(value_of(values, "b")->key, "b");
}

TEST_F(MultiGet, EachKeyGetsItsOwnStatus) {
    ASSERT_EQ(set("hit1", "one", 1), APR_SUCCESS);
    ASSERT_EQ(set("hit2", "two", 2), APR_SUCCESS);
    apr_hash_t* values = nullptr;
    for (const char* k : {"hit1", "hit2", "miss", "bad key"}) apr_memcache_add_multget_key(pool_, k, &values);
    apr_pool_t* temp = nullptr;
    apr_pool_create(&temp, pool_);
    ASSERT_EQ(apr_memcache_multgetp(mc_, temp, pool_, values), APR_SUCCESS);
    EXPECT_EQ(value_of(values, "hit1")->status, APR_SUCCESS);
    EXPECT_EQ(std::string(value_of(values, "hit1")->data, value_of(values, "hit1")->len), "one");
    EXPECT_EQ(value_of(values, "hit1")->flags, 1);
    EXPECT_EQ(value_of(values, "hit2")->data[value_of(values, "hit2")->len], '\0');
    EXPECT_EQ(value_of(values, "hit2")->flags, 2);
    EXPECT_EQ(value_of(values, "miss")->status, APR_NOTFOUND);
    EXPECT_EQ(value_of(values, "bad key")->status, APR_EINVAL);
}

TEST_F(MultiGet, ManyKeysOverFourServersAllComeBack) {
    start_servers(4);
    constexpr int kKeys = 400;
    apr_hash_t* values = nullptr;
    for (int i = 0; i < kKeys; ++i) {
        std::string k = "mk" + std::to_string(i);
        if (i % 5 != 0) {
            ASSERT_EQ(set(k, "v" + std::to_string(i)), APR_SUCCESS);
        }
        apr_memcache_add_multget_key(pool_, k.c_str(), &values);
    }
    apr_pool_t* temp = nullptr;
    apr_pool_create(&temp, pool_);
    ASSERT_EQ(apr_memcache_multgetp(mc_, temp, pool_, values), APR_SUCCESS);
    for (int i = 0; i < kKeys; ++i) {
        std::string k = "mk" + std::to_string(i);
        apr_memcache_value_t* v = value_of(values, k.c_str());
        if (i % 5 == 0) {
            EXPECT_EQ(v->status, APR_NOTFOUND) << k;
        } else {
            ASSERT_EQ(v->status, APR_SUCCESS) << k;
            EXPECT_EQ(std::string(v->data, v->len), "v" + std::to_string(i));
        }
    }
}

TEST_F(MultiGet, KeysOfADeadServerFailWhileOthersAnswer) {
    start_servers(2);
    std::vector<std::string> keys;
    for (int i = 0; i < 40; ++i) {
        keys.push_back("f" + std::to_string(i));
        ASSERT_EQ(set(keys.back(), "v"), APR_SUCCESS);
    }
    server(1).stop();
    apr_hash_t* values = nullptr;
    for (auto& k : keys) apr_memcache_add_multget_key(pool_, k.c_str(), &values);
    apr_pool_t* temp = nullptr;
    apr_pool_create(&temp, pool_);
    ASSERT_EQ(apr_memcache_multgetp(mc_, temp, pool_, values), APR_SUCCESS);
    int ok = 0, failed = 0;
    for (auto& k : keys) {
        apr_uint32_t h = apr_memcache_hash_default(nullptr, k.data(), k.size());
        apr_memcache_value_t* v = value_of(values, k.c_str());
        if ((h ? h : 1) % 2 == 0) {
            EXPECT_EQ(v->status, APR_SUCCESS) << k;
            ++ok;
        } else {
            EXPECT_NE(v->status, APR_SUCCESS) << k;
            EXPECT_NE(v->status, APR_NOTFOUND) << k;
            ++failed;
        }
    }
    EXPECT_GT(ok, 0);
    EXPECT_GT(failed, 0);
}

TEST_F(MultiGet, ServerThatNeverAnswersCostsOneDeadline) {
    start_servers(2);
    ASSERT_EQ(set("warm-a", "1"), APR_SUCCESS);
    std::vector<std::string> keys;
    for (int i = 0; i < 20; ++i) {
        keys.push_back("t" + std::to_string(i));
        ASSERT_EQ(set(keys.back(), "v"), APR_SUCCESS);
    }
    server(1).pause();
    apr_hash_t* values = nullptr;
    for (auto& k : keys) apr_memcache_add_multget_key(pool_, k.c_str(), &values);
    apr_pool_t* temp = nullptr;
    apr_pool_create(&temp, pool_);
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(apr_memcache_multgetp(mc_, temp, pool_, values), APR_SUCCESS);
    EXPECT_LE(elapsed_ms(t0), 1000 + 150);
    int timeups = 0;
    for (auto& k : keys) {
        apr_memcache_value_t* v = value_of(values, k.c_str());
        if (v->status == APR_TIMEUP) ++timeups;
        else EXPECT_EQ(v->status, APR_SUCCESS) << k;
    }
    EXPECT_GT(timeups, 0);
    server(1).resume();
}

TEST_F(MultiGet, TempPoolIsClearedOnReturn) {
    apr_hash_t* values = nullptr;
    apr_memcache_add_multget_key(pool_, "k", &values);
    apr_pool_t* temp = nullptr;
    apr_pool_create(&temp, pool_);
    bool cleaned = false;
    apr_pool_cleanup_register(temp, &cleaned, [](void* p) -> apr_status_t {
        *static_cast<bool*>(p) = true;
        return APR_SUCCESS;
    }, apr_pool_cleanup_null);
    ASSERT_EQ(apr_memcache_multgetp(mc_, temp, pool_, values), APR_SUCCESS);
    EXPECT_TRUE(cleaned);
}

}  // namespace
}  // namespace mmc::test
