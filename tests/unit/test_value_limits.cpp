// The store limit, without any network: a value over it is refused before a connection
// is even opened, so these servers point at a socket that does not exist and would
// fail any operation that got as far as connecting.
#include <gtest/gtest.h>

#include <string>

#include "engine/operations.h"
#include "engine/value_limits.h"
#include "ap_memcache.h"

namespace {

constexpr apr_size_t kMiB = 1024 * 1024;
const char kNowhere[] = "/nonexistent-mmc-test-dir/memcached.sock";

class ValueLimits : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_EQ(apr_pool_create(&pool_, nullptr), APR_SUCCESS);
        ASSERT_EQ(apr_memcache_create(pool_, 1, 0, &mc_), APR_SUCCESS);
        ASSERT_EQ(apr_memcache_server_create(pool_, kNowhere, 0, 0, 1, 1, 0, &ms_), APR_SUCCESS);
        ASSERT_EQ(apr_memcache_add_server(mc_, ms_), APR_SUCCESS);
    }
    void TearDown() override { apr_pool_destroy(pool_); }

    apr_status_t set_max(apr_size_t n) {
        ap_memcache_server_options_t o;
        EXPECT_EQ(ap_memcache_server_get_options(ms_, &o), APR_SUCCESS);
        o.max_value_size = n;
        return ap_memcache_server_set_options(ms_, &o);
    }
    apr_size_t max() {
        ap_memcache_server_options_t o;
        EXPECT_EQ(ap_memcache_server_get_options(ms_, &o), APR_SUCCESS);
        return o.max_value_size;
    }
    void expect_untouched() {
        ap_memcache_server_state_t st;
        ASSERT_EQ(ap_memcache_server_state(ms_, &st), APR_SUCCESS);
        EXPECT_EQ(st.open, 0u);
        EXPECT_EQ(st.failures, 0u);
        EXPECT_EQ(st.live, 1);
        EXPECT_EQ(ms_->status, APR_MC_SERVER_LIVE);
    }

    apr_pool_t* pool_ = nullptr;
    apr_memcache_t* mc_ = nullptr;
    apr_memcache_server_t* ms_ = nullptr;
};

TEST_F(ValueLimits, DefaultIsMemcachedsDefaultItemSize) {
    ap_memcache_server_options_t o;
    ap_memcache_server_options_init(&o);
    EXPECT_EQ(o.max_value_size, kMiB);
    EXPECT_EQ(max(), kMiB);
}

TEST_F(ValueLimits, SetOptionsAcceptsOneByteToOneGigabyte) {
    EXPECT_EQ(set_max(1), APR_SUCCESS);
    EXPECT_EQ(max(), 1u);
    EXPECT_EQ(set_max(AP_MEMCACHE_MAX_VALUE_SIZE_LIMIT), APR_SUCCESS);
    EXPECT_EQ(max(), apr_size_t{1024} * kMiB);
}

TEST_F(ValueLimits, SetOptionsRejectsZeroAndAboveOneGigabyteChangingNothing) {
    ASSERT_EQ(set_max(2 * kMiB), APR_SUCCESS);
    EXPECT_EQ(set_max(0), APR_EINVAL);
    EXPECT_EQ(set_max(AP_MEMCACHE_MAX_VALUE_SIZE_LIMIT + 1), APR_EINVAL);
    EXPECT_EQ(max(), 2 * kMiB);
}

TEST_F(ValueLimits, EveryStoreOverTheLimitIsTooBigAndNothingIsOpened) {
    ASSERT_EQ(set_max(16), APR_SUCCESS);
    std::string v(17, 'v');
    char* data = v.data();
    EXPECT_EQ(apr_memcache_set(mc_, "k", data, v.size(), 0, 0), AP_MEMCACHE_ETOOBIG);
    EXPECT_EQ(apr_memcache_add(mc_, "k", data, v.size(), 0, 0), AP_MEMCACHE_ETOOBIG);
    EXPECT_EQ(apr_memcache_replace(mc_, "k", data, v.size(), 0, 0), AP_MEMCACHE_ETOOBIG);
    for (ap_memcache_store_e op : {AP_MEMCACHE_SET, AP_MEMCACHE_ADD, AP_MEMCACHE_REPLACE,
                                   AP_MEMCACHE_APPEND, AP_MEMCACHE_PREPEND}) {
        EXPECT_EQ(ap_memcache_store(mc_, op, "k", data, v.size(), 0, 0), AP_MEMCACHE_ETOOBIG) << op;
    }
    EXPECT_EQ(ap_memcache_cas(mc_, "k", data, v.size(), 0, 0, 42), AP_MEMCACHE_ETOOBIG);
    expect_untouched();
}

TEST_F(ValueLimits, ValueOfExactlyTheLimitIsSentToTheServer) {
    // It gets as far as connecting, which fails here: proof that it was not refused.
    ASSERT_EQ(set_max(16), APR_SUCCESS);
    std::string v(16, 'v');
    apr_status_t rv = apr_memcache_set(mc_, "k", v.data(), v.size(), 0, 0);
    EXPECT_NE(rv, AP_MEMCACHE_ETOOBIG);
    EXPECT_NE(rv, APR_SUCCESS);
}

TEST_F(ValueLimits, BothProtocolsRefuseAlike) {
    for (int protocol : {AP_MEMCACHE_PROTOCOL_TEXT, AP_MEMCACHE_PROTOCOL_BINARY}) {
        ap_memcache_server_options_t o;
        ASSERT_EQ(ap_memcache_server_get_options(ms_, &o), APR_SUCCESS);
        o.protocol = protocol;
        o.max_value_size = 4;
        ASSERT_EQ(ap_memcache_server_set_options(ms_, &o), APR_SUCCESS);
        EXPECT_EQ(apr_memcache_set(mc_, "k", const_cast<char*>("12345"), 5, 0, 0),
                  AP_MEMCACHE_ETOOBIG) << protocol;
    }
    expect_untouched();
}

TEST_F(ValueLimits, TooBigHasItsOwnMessage) {
    char buf[128];
    std::string msg = ap_memcache_strerror(AP_MEMCACHE_ETOOBIG, buf, sizeof buf);
    EXPECT_NE(msg.find("max_value_size"), std::string::npos) << msg;
}

TEST(ReplyLimit, IsTheLargerOfSixtyFourMegabytesAndTheStoreLimit) {
    using mmc::engine::reply_limit_for;
    EXPECT_EQ(reply_limit_for(1), 64 * kMiB);
    EXPECT_EQ(reply_limit_for(kMiB), 64 * kMiB);
    EXPECT_EQ(reply_limit_for(64 * kMiB), 64 * kMiB);
    EXPECT_EQ(reply_limit_for(128 * kMiB), 128 * kMiB);
}

TEST(ReplyLimit, FollowsTheStoreLimitWhenItIsSet) {
    mmc::engine::ServerOptions o;
    EXPECT_EQ(o.max_store_size, kMiB);
    EXPECT_EQ(o.max_value_size, 64 * kMiB);
    mmc::engine::set_max_store_size(o, 128 * kMiB);
    EXPECT_EQ(o.max_store_size, 128 * kMiB);
    EXPECT_EQ(o.max_value_size, 128 * kMiB);
}

TEST(EngineStore, RefusesWhatTheProtocolCannotCarryWhateverTheLimit) {
    // An engine user may set any limit; the protocol's own bounds still hold. The view
    // is never read: the length alone decides.
    for (auto protocol : {mmc::engine::Protocol::text, mmc::engine::Protocol::binary}) {
        mmc::engine::ServerOptions o;
        o.endpoint.socket_path = kNowhere;
        o.protocol = protocol;
        o.max_store_size = std::size_t{1} << 40;
        mmc::engine::Server server(std::move(o));
        const char byte = 'x';
        const std::string_view huge(&byte, std::size_t{1} << 32);
        auto out = mmc::engine::store(server, mmc::proto::StoreCommand::set, "k", huge, 0, 0);
        EXPECT_EQ(out.result, mmc::engine::Result::value_too_large);
        EXPECT_EQ(server.pool().counts().open, 0u);
        EXPECT_EQ(server.consecutive_failures(), 0u);
        EXPECT_TRUE(server.live());
    }
}

TEST(EngineStore, TextRefusesWhatMemcachedCannotReadAsASigned32BitCount) {
    mmc::engine::ServerOptions o;
    o.endpoint.socket_path = kNowhere;
    o.max_store_size = std::size_t{1} << 40;
    mmc::engine::Server server(std::move(o));
    const char byte = 'x';
    const std::string_view huge(&byte, mmc::proto::kMaxTextValueLength + 1);
    auto out = mmc::engine::store(server, mmc::proto::StoreCommand::append, "k", huge, 0, 0);
    EXPECT_EQ(out.result, mmc::engine::Result::value_too_large);
    EXPECT_EQ(server.pool().counts().open, 0u);
}

}  // namespace
