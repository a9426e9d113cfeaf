// Bad keys and arguments are refused locally with APR_EINVAL and nothing is sent.
#include "live_fixture.h"

namespace mmc::test {
namespace {

class BadInput : public Live {
protected:
    // bytes_read grows by exactly the raw client's own "stats\r\n" (7 bytes) per look
    // when nothing else reached the server.
    long long bytes_read() { return raw().number("bytes_read"); }
    RawClient& raw() {
        if (!raw_) raw_ = std::make_unique<RawClient>(server().port());
        return *raw_;
    }
    std::unique_ptr<RawClient> raw_;
};

const std::string kBadKeys[] = {
    std::string(),
    std::string(251, 'k'),
    "has space",
    "tab\there",
    "line\nfeed",
    "carriage\rreturn",
    std::string("nul\0byte", 8),
    "del\x7f",
    "victim\r\ndelete victim",
};

TEST_F(BadInput, InvalidKeysAreRejectedByEveryCallAndNothingIsSent) {
    ASSERT_EQ(set("warm", "up"), APR_SUCCESS);  // a pooled connection exists
    long long before = bytes_read();
    for (const std::string& key : kBadKeys) {
        // C strings end at the first NUL: "nul\0byte" arrives as "nul", a valid key, so
        // it is left out here and covered by the unit tests of the key rule.
        if (key.find('\0') != std::string::npos) continue;
        const char* k = key.c_str();
        char* data = nullptr;
        apr_size_t len = 0;
        apr_uint32_t nv = 0;
        EXPECT_EQ(apr_memcache_getp(mc_, pool_, k, &data, &len, nullptr), APR_EINVAL) << key;
        EXPECT_EQ(apr_memcache_set(mc_, k, const_cast<char*>("v"), 1, 0, 0), APR_EINVAL) << key;
        EXPECT_EQ(apr_memcache_add(mc_, k, const_cast<char*>("v"), 1, 0, 0), APR_EINVAL) << key;
        EXPECT_EQ(apr_memcache_replace(mc_, k, const_cast<char*>("v"), 1, 0, 0), APR_EINVAL) << key;
        EXPECT_EQ(apr_memcache_delete(mc_, k, 0), APR_EINVAL) << key;
        EXPECT_EQ(apr_memcache_incr(mc_, k, 1, &nv), APR_EINVAL) << key;
        EXPECT_EQ(apr_memcache_decr(mc_, k, 1, &nv), APR_EINVAL) << key;
    }
    EXPECT_EQ(bytes_read(), before + 7);
}

TEST_F(BadInput, InjectedDeleteDoesNotDeleteTheVictim) {
    ASSERT_EQ(set("victim", "alive"), APR_SUCCESS);
    EXPECT_EQ(apr_memcache_set(mc_, "x 0 0 1\r\nz\r\ndelete victim", const_cast<char*>("v"), 1, 0, 0),
              APR_EINVAL);
    char* data = nullptr;
    apr_size_t len = 0;
    EXPECT_EQ(apr_memcache_getp(mc_, pool_, "a\r\ndelete victim", &data, &len, nullptr), APR_EINVAL);
    EXPECT_EQ(apr_memcache_delete(mc_, "a\r\ndelete victim", 0), APR_EINVAL);
    EXPECT_EQ(get("victim"), "alive");
    EXPECT_EQ(raw().get("victim"), std::optional<std::string>("alive"));
}

TEST_F(BadInput, KeyOf250BytesIsAccepted) {
    std::string k(250, 'k');
    EXPECT_EQ(set(k, "v"), APR_SUCCESS);
    EXPECT_EQ(get(k), "v");
}

TEST_F(BadInput, HighBitBytesAreValidKeyBytes) {
    std::string k = "caf\xc3\xa9";
    EXPECT_EQ(set(k, "v"), APR_SUCCESS);
    EXPECT_EQ(get(k), "v");
}

TEST_F(BadInput, NullArgumentsAreEinval) {
    char* data = nullptr;
    apr_size_t len = 0;
    EXPECT_EQ(apr_memcache_getp(mc_, pool_, nullptr, &data, &len, nullptr), APR_EINVAL);
    EXPECT_EQ(apr_memcache_getp(nullptr, pool_, "k", &data, &len, nullptr), APR_EINVAL);
    EXPECT_EQ(apr_memcache_getp(mc_, nullptr, "k", &data, &len, nullptr), APR_EINVAL);
    EXPECT_EQ(apr_memcache_set(mc_, "k", nullptr, 5, 0, 0), APR_EINVAL);
    EXPECT_EQ(apr_memcache_add_server(mc_, nullptr), APR_EINVAL);
    EXPECT_EQ(apr_memcache_create(pool_, 0, 0, nullptr), APR_EINVAL);
    EXPECT_EQ(apr_memcache_multgetp(mc_, pool_, pool_, nullptr), APR_EINVAL);
}

TEST_F(BadInput, ServerAddedTwiceIsRejected) {
    EXPECT_EQ(apr_memcache_add_server(mc_, mc_->live_servers[0]), APR_EINVAL);
    EXPECT_EQ(mc_->ntotal, 1);
}

TEST_F(BadInput, ServerKeepsWorkingAfterRejectedCalls) {
    for (const std::string& key : kBadKeys) {
        apr_memcache_set(mc_, key.c_str(), const_cast<char*>("v"), 1, 0, 0);
    }
    EXPECT_EQ(mc_->live_servers[0]->status, APR_MC_SERVER_LIVE);
    EXPECT_EQ(set("fine", "yes"), APR_SUCCESS);
    EXPECT_EQ(get("fine"), "yes");
}

// memcached reads a text or meta time as a signed 32-bit number: 4294967196, a Unix time
// after January 2038, would be one in the past and the item would expire as it is
// stored. Every call caps it at 2^31 - 1 instead, whatever the protocol: the item lives
// until 2038.
TEST_F(BadInput, TimesAfter2038AreCappedAndTheItemIsKept) {
    const apr_uint32_t t = 4294967196u;  // 2^32 - 100
    ap_memcache_item_t item{};
    apr_uint64_t nv = 0;
    const apr_uint64_t initial = 7;
    EXPECT_EQ(apr_memcache_set(mc_, "late", const_cast<char*>("set"), 3, t, 0), APR_SUCCESS);
    EXPECT_EQ(get("late"), "set");
    EXPECT_EQ(apr_memcache_add(mc_, "added", const_cast<char*>("add"), 3, t, 0), APR_SUCCESS);
    EXPECT_EQ(get("added"), "add");
    EXPECT_EQ(apr_memcache_replace(mc_, "late", const_cast<char*>("replaced"), 8, t, 0), APR_SUCCESS);
    EXPECT_EQ(get("late"), "replaced");
    ASSERT_EQ(ap_memcache_gets(mc_, pool_, "late", &item), APR_SUCCESS);
    EXPECT_EQ(ap_memcache_cas(mc_, "late", "cas", 3, t, 0, item.cas), APR_SUCCESS);
    EXPECT_EQ(get("late"), "cas");
    EXPECT_EQ(ap_memcache_store(mc_, AP_MEMCACHE_SET, "stored", "v", 1, t, 0), APR_SUCCESS);
    EXPECT_EQ(get("stored"), "v");
    EXPECT_EQ(ap_memcache_touch(mc_, "stored", t), APR_SUCCESS);
    EXPECT_EQ(get("stored"), "v");
    EXPECT_EQ(ap_memcache_gat(mc_, pool_, "added", t, &item), APR_SUCCESS);
    EXPECT_EQ(get("added"), "add");
    EXPECT_EQ(ap_memcache_incr64(mc_, "ctr", 1, &initial, t, &nv), APR_SUCCESS);
    EXPECT_EQ(get("ctr"), "7");
    // A flush delayed until 2038 leaves today's items alone.
    EXPECT_EQ(ap_memcache_flush(mc_, t), APR_SUCCESS);
    EXPECT_EQ(get("late"), "cas");
}

}  // namespace
}  // namespace mmc::test
