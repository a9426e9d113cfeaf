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

}  // namespace
}  // namespace mmc::test
