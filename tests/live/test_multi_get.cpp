// multgetp: every key its own status, all servers asked at once.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

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

// Single operations and multi-gets take turns on one connection and each gets its own
// answer. Over meta the multi-get is a text get between mg and ms lines, which memcached
// takes on any connection (docs/design.md, "Multi-get"); the .tls run does it over TLS.
TEST_F(MultiGet, MultiGetsBetweenSingleOperationsOnOneConnectionAnswerRight) {
    PoolSpec one;
    one.smax = one.max = 1;
    start_servers(1, one);
    ASSERT_EQ(set("a", "one", 5), APR_SUCCESS);
    // memcached counts every connection it accepts: the same count at the end says that
    // everything went over the one connection the set opened.
    apr_memcache_stats_t* before = nullptr;
    ASSERT_EQ(apr_memcache_stats(mc_->live_servers[0], pool_, &before), APR_SUCCESS);
    char* data = nullptr;
    apr_size_t len = 0;
    ASSERT_EQ(apr_memcache_getp(mc_, pool_, "a", &data, &len, nullptr), APR_SUCCESS);
    auto got = multiget_of(mc_, pool_, {"a", "b"});
    EXPECT_EQ(got["a"].value, "one");
    EXPECT_EQ(got["b"].status, APR_NOTFOUND);
    ASSERT_EQ(set("b", "two", 6), APR_SUCCESS);
    EXPECT_EQ(apr_memcache_getp(mc_, pool_, "c", &data, &len, nullptr), APR_NOTFOUND);
    got = multiget_of(mc_, pool_, {"a", "b", "c"});
    EXPECT_EQ(got["a"].value, "one");
    EXPECT_EQ(got["b"].value, "two");
    EXPECT_EQ(got["c"].status, APR_NOTFOUND);
    ASSERT_EQ(apr_memcache_getp(mc_, pool_, "b", &data, &len, nullptr), APR_SUCCESS);
    EXPECT_EQ(std::string(data, len), "two");
    apr_memcache_stats_t* after = nullptr;
    ASSERT_EQ(apr_memcache_stats(mc_->live_servers[0], pool_, &after), APR_SUCCESS);
    EXPECT_EQ(after->total_connections, before->total_connections);
}

// A sealed client's multi-gets open what it sealed, and a value it did not seal is a
// miss, in every protocol (and over TLS in the .tls run).
TEST_F(MultiGet, SealedValuesOpenInBothMultiGets) {
    char dir[] = "/tmp/mmc-mget-seal-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    const std::string path = std::string(dir) + "/keys";
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("k1 1111111111111111111111111111111111111111111111111111111111111111\n", f);
    std::fclose(f);
    ::chmod(path.c_str(), 0600);
    ap_memcache_seal_t* seal = nullptr;
    const char* why = nullptr;
    const apr_status_t loaded = ap_memcache_seal_load(pool_, path.c_str(), &seal, &why);
    std::remove(path.c_str());
    ::rmdir(dir);
    ASSERT_EQ(loaded, APR_SUCCESS) << (why ? why : "");
    apr_memcache_t* plain = make_client();
    ASSERT_EQ(apr_memcache_set(plain, "p", const_cast<char*>("plain"), 5, 0, 0), APR_SUCCESS);
    ASSERT_EQ(ap_memcache_set_seal(mc_, seal), APR_SUCCESS);
    ASSERT_EQ(set("s1", "first sealed", 3), APR_SUCCESS);
    ASSERT_EQ(set("s2", "second sealed"), APR_SUCCESS);

    auto got = multiget_of(mc_, pool_, {"s1", "s2", "p", "none"});
    EXPECT_EQ(got["s1"].value, "first sealed");
    EXPECT_EQ(got["s2"].value, "second sealed");
    EXPECT_EQ(got["p"].status, APR_NOTFOUND);
    EXPECT_EQ(got["none"].status, APR_NOTFOUND);

    const ap_memcache_key_t keys[] = {{"s1", 2}, {"p", 1}, {"s2", 2}};
    ap_memcache_result_t r[3];
    ASSERT_EQ(ap_memcache_multiget_array(mc_, pool_, keys, 3, r, AP_MEMCACHE_MULTIGET_CAS), APR_SUCCESS);
    ASSERT_EQ(r[0].status, APR_SUCCESS);
    EXPECT_EQ(std::string(r[0].data, r[0].len), "first sealed");
    EXPECT_EQ(r[0].flags, 3u);
    EXPECT_NE(r[0].cas, 0u);
    EXPECT_EQ(r[1].status, APR_NOTFOUND);
    ASSERT_EQ(r[2].status, APR_SUCCESS);
    EXPECT_EQ(std::string(r[2].data, r[2].len), "second sealed");
}

}  // namespace
}  // namespace mmc::test
