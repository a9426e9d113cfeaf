// The store limit against a real memcached: a value over it is refused before a byte
// is sent, the connection and the server's health stay as they were, and raising the
// limit (max_value_size) lets larger values through in both directions.
#include "live_fixture.h"

namespace mmc::test {
namespace {

constexpr apr_size_t kMiB = 1024 * 1024;

class ValueSize : public Live {
protected:
    // Replaces the server with one started with extra memcached arguments (-I, -m).
    void start_server_with(std::vector<std::string> args) {
        servers_.clear();
        servers_.push_back(std::make_unique<MemcachedProcess>(std::move(args)));
        ASSERT_TRUE(servers_.back()->start()) << servers_.back()->error();
        mc_ = make_client();
    }
    void set_max(apr_size_t n, apr_interval_time_t io_timeout = 0) {
        ap_memcache_server_options_t o;
        ASSERT_EQ(ap_memcache_server_get_options(ms(), &o), APR_SUCCESS);
        o.max_value_size = n;
        if (io_timeout) o.io_timeout = io_timeout;
        ASSERT_EQ(ap_memcache_server_set_options(ms(), &o), APR_SUCCESS);
    }
    // The whole value, without printing megabytes when it differs.
    void expect_stored(const std::string& key, const std::string& v) {
        apr_status_t rv = APR_EGENERAL;
        const std::string got = get(key, &rv);
        EXPECT_EQ(rv, APR_SUCCESS);
        EXPECT_EQ(got.size(), v.size());
        EXPECT_TRUE(got == v) << key << ": the value read back differs";
    }
    apr_memcache_server_t* ms() { return mc_->live_servers[0]; }
    ap_memcache_server_state_t state() {
        ap_memcache_server_state_t st{};
        EXPECT_EQ(ap_memcache_server_state(ms(), &st), APR_SUCCESS);
        return st;
    }
    // Each look costs the raw client's own two "stats\r\n": 14 bytes of bytes_read.
    static constexpr long long kLookBytes = 2 * 7;
    struct Seen {
        long long cmd_set, bytes_read;
    };
    Seen seen() {
        if (!raw_) raw_ = std::make_unique<RawClient>(server().port());
        return {raw_->number("cmd_set"), raw_->number("bytes_read")};
    }
    static std::string value_of(std::size_t n) {
        std::string v(n, 'x');
        for (std::size_t i = 0; i < v.size(); i += 4093) v[i] = static_cast<char>(i);
        return v;
    }
    std::unique_ptr<RawClient> raw_;
};

TEST_F(ValueSize, OneByteOverTheLimitIsTooBigAndNothingReachesTheServer) {
    ASSERT_EQ(set("warm", "up"), APR_SUCCESS);  // a pooled connection exists
    const apr_uint32_t open = state().open;
    const Seen before = seen();
    EXPECT_EQ(set("big", value_of(kMiB + 1)), AP_MEMCACHE_ETOOBIG);
    const Seen after = seen();
    EXPECT_EQ(after.cmd_set, before.cmd_set);
    EXPECT_EQ(after.bytes_read, before.bytes_read + kLookBytes);
    // The same connection serves the next calls, and the server is as healthy as before.
    EXPECT_EQ(set("after", "ok"), APR_SUCCESS);
    EXPECT_EQ(get("after"), "ok");
    EXPECT_EQ(state().open, open);
    EXPECT_EQ(state().failures, 0u);
    EXPECT_EQ(state().live, 1);
    EXPECT_EQ(ms()->status, APR_MC_SERVER_LIVE);
}

TEST_F(ValueSize, EveryStoreIsCheckedAndNoneReachesTheServer) {
    ASSERT_EQ(set("k", "v"), APR_SUCCESS);
    set_max(8);
    std::string v = value_of(9);
    char* d = v.data();
    const Seen before = seen();
    EXPECT_EQ(apr_memcache_set(mc_, "k", d, v.size(), 0, 0), AP_MEMCACHE_ETOOBIG);
    EXPECT_EQ(apr_memcache_add(mc_, "new", d, v.size(), 0, 0), AP_MEMCACHE_ETOOBIG);
    EXPECT_EQ(apr_memcache_replace(mc_, "k", d, v.size(), 0, 0), AP_MEMCACHE_ETOOBIG);
    for (ap_memcache_store_e op : {AP_MEMCACHE_SET, AP_MEMCACHE_ADD, AP_MEMCACHE_REPLACE,
                                   AP_MEMCACHE_APPEND, AP_MEMCACHE_PREPEND}) {
        EXPECT_EQ(ap_memcache_store(mc_, op, "k", d, v.size(), 0, 0), AP_MEMCACHE_ETOOBIG) << op;
    }
    EXPECT_EQ(seen().bytes_read, before.bytes_read + kLookBytes);
    ap_memcache_item_t item{};
    ASSERT_EQ(ap_memcache_gets(mc_, pool_, "k", &item), APR_SUCCESS);
    const Seen after_gets = seen();
    EXPECT_EQ(ap_memcache_cas(mc_, "k", d, v.size(), 0, 0, item.cas), AP_MEMCACHE_ETOOBIG);
    EXPECT_EQ(seen().bytes_read, after_gets.bytes_read + kLookBytes);
    EXPECT_EQ(seen().cmd_set, before.cmd_set);
    EXPECT_EQ(get("k"), "v");
    EXPECT_EQ(state().failures, 0u);
}

TEST_F(ValueSize, ValueOfExactlyTheLimitIsStored) {
    // memcached's own item limit counts its item header too: give it room.
    start_server_with({"-I", "2m"});
    const std::string v = value_of(kMiB);
    ASSERT_EQ(set("exact", v), APR_SUCCESS);
    expect_stored("exact", v);
}

TEST_F(ValueSize, RaisedLimitLetsLargerValuesThrough) {
    start_server_with({"-I", "4m"});
    const std::string v = value_of(3 * kMiB);
    EXPECT_EQ(set("large", v), AP_MEMCACHE_ETOOBIG);
    set_max(3 * kMiB);
    ASSERT_EQ(set("large", v), APR_SUCCESS);
    expect_stored("large", v);
    EXPECT_EQ(set("larger", v + "!"), AP_MEMCACHE_ETOOBIG);
}

TEST_F(ValueSize, LimitAboveSixtyFourMegabytesAlsoRaisesWhatRepliesMayCarry) {
    // Until the limit was raised a reply was refused above 64 MiB, whatever was stored.
    start_server_with({"-m", "256", "-I", "128m"});
    const std::string v = value_of(64 * kMiB + 1);
    // 64 MiB each way may take longer than the default 1 s on a busy machine.
    set_max(65 * kMiB, 30 * APR_USEC_PER_SEC);
    ASSERT_EQ(set("huge", v), APR_SUCCESS);
    expect_stored("huge", v);
}

}  // namespace
}  // namespace mmc::test
