// The value hash add_multget_key builds is the caller's to read with the plain apr_hash
// API: it uses a hash function of its own, which must never show.
#include <gtest/gtest.h>

#include <string>

#include "apr_hash.h"
#include "apr_strings.h"
#include "ap_memcache.h"

namespace {

class MultiGetValues : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_EQ(apr_pool_create(&pool_, nullptr), APR_SUCCESS); }
    void TearDown() override { apr_pool_destroy(pool_); }

    static apr_memcache_value_t* get(apr_hash_t* h, const char* key) {
        return static_cast<apr_memcache_value_t*>(apr_hash_get(h, key, APR_HASH_KEY_STRING));
    }

    apr_pool_t* pool_ = nullptr;
};

TEST_F(MultiGetValues, EveryKeyIsFoundByStringAndByLength) {
    apr_hash_t* values = nullptr;
    for (int i = 0; i < 1000; ++i) {
        // Lengths 1 to 40, so every tail length of the key hash is met.
        const std::string key = std::string(static_cast<std::size_t>(i % 40), 'k') + std::to_string(i);
        apr_memcache_add_multget_key(pool_, key.c_str(), &values);
    }
    ASSERT_EQ(apr_hash_count(values), 1000u);
    for (int i = 0; i < 1000; ++i) {
        const std::string key = std::string(static_cast<std::size_t>(i % 40), 'k') + std::to_string(i);
        apr_memcache_value_t* v = get(values, key.c_str());
        ASSERT_NE(v, nullptr) << key;
        EXPECT_EQ(std::string(v->key), key);
        EXPECT_EQ(v->status, APR_NOTFOUND);
        EXPECT_EQ(v->data, nullptr);
        EXPECT_EQ(v->len, 0u);
        EXPECT_EQ(apr_hash_get(values, key.data(), static_cast<apr_ssize_t>(key.size())), v);
    }
    EXPECT_EQ(get(values, "k-never-added"), nullptr);
}

TEST_F(MultiGetValues, KeyIsCopied) {
    apr_hash_t* values = nullptr;
    char key[] = "copied";
    apr_memcache_add_multget_key(pool_, key, &values);
    key[0] = 'X';
    ASSERT_NE(get(values, "copied"), nullptr);
    EXPECT_STREQ(get(values, "copied")->key, "copied");
}

TEST_F(MultiGetValues, AddingAKeyTwiceKeepsOneValue) {
    apr_hash_t* values = nullptr;
    apr_memcache_add_multget_key(pool_, "twice", &values);
    apr_memcache_add_multget_key(pool_, "twice", &values);
    EXPECT_EQ(apr_hash_count(values), 1u);
}

// apr_hash_overlay and apr_hash_merge combine tables of different hash functions: the
// result must still find every key, whichever table is the base.
TEST_F(MultiGetValues, OverlayAndMergeWithAPlainHashFindEveryKey) {
    apr_hash_t* values = nullptr;
    apr_hash_t* plain = apr_hash_make(pool_);
    for (int i = 0; i < 100; ++i) {
        apr_memcache_add_multget_key(pool_, ("ours" + std::to_string(i)).c_str(), &values);
        apr_hash_set(plain, apr_pstrdup(pool_, ("plain" + std::to_string(i)).c_str()), APR_HASH_KEY_STRING,
                     pool_);
    }
    for (apr_hash_t* h : {apr_hash_overlay(pool_, values, plain), apr_hash_overlay(pool_, plain, values),
                          apr_hash_merge(pool_, values, plain, nullptr, nullptr),
                          apr_hash_merge(pool_, plain, values, nullptr, nullptr)}) {
        ASSERT_EQ(apr_hash_count(h), 200u);
        for (int i = 0; i < 100; ++i) {
            EXPECT_NE(apr_hash_get(h, ("ours" + std::to_string(i)).c_str(), APR_HASH_KEY_STRING), nullptr) << i;
            EXPECT_NE(apr_hash_get(h, ("plain" + std::to_string(i)).c_str(), APR_HASH_KEY_STRING), nullptr) << i;
        }
    }
    apr_hash_t* copy = apr_hash_copy(pool_, values);
    for (int i = 0; i < 100; ++i) {
        EXPECT_NE(apr_hash_get(copy, ("ours" + std::to_string(i)).c_str(), APR_HASH_KEY_STRING), nullptr) << i;
    }
}

}  // namespace
