// The extended command set, over whichever protocol the suite runs with (CTest runs
// it for text and for binary): CAS, append/prepend, touch, get-and-touch, flush,
// 64-bit counters, 32-bit flags.
#include "live_fixture.h"

namespace mmc::test {
namespace {

class Extensions : public Live {
protected:
    apr_status_t store(ap_memcache_store_e op, const std::string& key, const std::string& value,
                       apr_uint32_t flags = 0, apr_uint32_t exptime = 0) {
        return ap_memcache_store(mc_, op, key.c_str(), value.data(), value.size(), exptime, flags);
    }
    ap_memcache_item_t gets(const std::string& key) {
        ap_memcache_item_t item{};
        ap_memcache_gets(mc_, pool_, key.c_str(), &item);
        return item;
    }
    std::string value_of(const ap_memcache_item_t& item) { return std::string(item.data, item.len); }
};

TEST_F(Extensions, GetsReturnsValueFlagsAndCas) {
    ASSERT_EQ(store(AP_MEMCACHE_SET, "g", "value", 7), APR_SUCCESS);
    ap_memcache_item_t item = gets("g");
    ASSERT_EQ(item.status, APR_SUCCESS);
    EXPECT_EQ(value_of(item), "value");
    EXPECT_EQ(item.data[item.len], '\0');
    EXPECT_EQ(item.flags, 7u);
    EXPECT_NE(item.cas, 0u);
    EXPECT_STREQ(item.key, "g");
}

TEST_F(Extensions, GetsOfMissingKeyIsNotFound) {
    EXPECT_EQ(gets("absent").status, APR_NOTFOUND);
}

TEST_F(Extensions, CasWithCurrentUniqueStores) {
    ASSERT_EQ(store(AP_MEMCACHE_SET, "c", "one"), APR_SUCCESS);
    ap_memcache_item_t item = gets("c");
    ASSERT_EQ(item.status, APR_SUCCESS);
    EXPECT_EQ(ap_memcache_cas(mc_, "c", "two", 3, 0, 5, item.cas), APR_SUCCESS);
    ap_memcache_item_t after = gets("c");
    EXPECT_EQ(value_of(after), "two");
    EXPECT_EQ(after.flags, 5u);
    EXPECT_NE(after.cas, item.cas);
}

TEST_F(Extensions, CasConflictIsEexistAndKeepsTheOtherWrite) {
    ASSERT_EQ(store(AP_MEMCACHE_SET, "c", "one"), APR_SUCCESS);
    ap_memcache_item_t item = gets("c");
    ASSERT_EQ(store(AP_MEMCACHE_SET, "c", "changed meanwhile"), APR_SUCCESS);
    EXPECT_EQ(ap_memcache_cas(mc_, "c", "two", 3, 0, 0, item.cas), APR_EEXIST);
    EXPECT_EQ(value_of(gets("c")), "changed meanwhile");
}

TEST_F(Extensions, CasOfDeletedItemIsNotFound) {
    ASSERT_EQ(store(AP_MEMCACHE_SET, "c", "one"), APR_SUCCESS);
    ap_memcache_item_t item = gets("c");
    ASSERT_EQ(apr_memcache_delete(mc_, "c", 0), APR_SUCCESS);
    EXPECT_EQ(ap_memcache_cas(mc_, "c", "two", 3, 0, 0, item.cas), APR_NOTFOUND);
}

// A cas unique of 0 names no version of the item: text would answer EXISTS or
// NOT_FOUND, binary and meta would overwrite unconditionally. Refused, nothing sent:
// between two looks at the server's stats only the second stats request arrives.
TEST_F(Extensions, CasWithZeroUniqueIsRefusedAndSendsNothing) {
    ASSERT_EQ(store(AP_MEMCACHE_SET, "c0", "kept"), APR_SUCCESS);
    apr_memcache_stats_t* first = nullptr;
    apr_memcache_stats_t* second = nullptr;
    apr_memcache_stats_t* third = nullptr;
    ASSERT_EQ(apr_memcache_stats(mc_->live_servers[0], pool_, &first), APR_SUCCESS);
    ASSERT_EQ(apr_memcache_stats(mc_->live_servers[0], pool_, &second), APR_SUCCESS);
    EXPECT_EQ(ap_memcache_cas(mc_, "c0", "lost", 4, 0, 0, 0), APR_EINVAL);
    ASSERT_EQ(apr_memcache_stats(mc_->live_servers[0], pool_, &third), APR_SUCCESS);
    EXPECT_EQ(third->bytes_read - second->bytes_read, second->bytes_read - first->bytes_read);
    EXPECT_EQ(third->cmd_set, second->cmd_set);
    EXPECT_EQ(value_of(gets("c0")), "kept");
}

TEST_F(Extensions, AppendAndPrependExtendTheValue) {
    ASSERT_EQ(store(AP_MEMCACHE_SET, "a", "middle", 9), APR_SUCCESS);
    EXPECT_EQ(store(AP_MEMCACHE_APPEND, "a", ">end"), APR_SUCCESS);
    EXPECT_EQ(store(AP_MEMCACHE_PREPEND, "a", "start<"), APR_SUCCESS);
    ap_memcache_item_t item = gets("a");
    EXPECT_EQ(value_of(item), "start<middle>end");
    EXPECT_EQ(item.flags, 9u);  // append keeps the item's flags
}

TEST_F(Extensions, AppendToMissingKeyIsNotFoundAndCreatesNothing) {
    EXPECT_EQ(store(AP_MEMCACHE_APPEND, "nothing", "x"), APR_NOTFOUND);
    EXPECT_EQ(store(AP_MEMCACHE_PREPEND, "nothing", "x"), APR_NOTFOUND);
    EXPECT_EQ(gets("nothing").status, APR_NOTFOUND);
}

TEST_F(Extensions, AddAndReplaceKeepTheCompatibleResults) {
    ASSERT_EQ(store(AP_MEMCACHE_ADD, "ar", "1"), APR_SUCCESS);
    EXPECT_EQ(store(AP_MEMCACHE_ADD, "ar", "2"), APR_EEXIST);
    EXPECT_EQ(store(AP_MEMCACHE_REPLACE, "ar-missing", "2"), APR_EEXIST);
    EXPECT_EQ(store(AP_MEMCACHE_REPLACE, "ar", "3"), APR_SUCCESS);
    EXPECT_EQ(value_of(gets("ar")), "3");
}

TEST_F(Extensions, FlagsAreThirtyTwoBitsHereAndSixteenInTheCompatibleApi) {
    ASSERT_EQ(store(AP_MEMCACHE_SET, "f", "v", 0xdeadbeefu), APR_SUCCESS);
    EXPECT_EQ(gets("f").flags, 0xdeadbeefu);
    apr_uint16_t flags16 = 0;
    get("f", nullptr, &flags16);
    EXPECT_EQ(flags16, 0xbeef);
}

TEST_F(Extensions, TouchExtendsTheExpiry) {
    ASSERT_EQ(store(AP_MEMCACHE_SET, "t", "v", 0, 1), APR_SUCCESS);        // expires in 1 s
    ASSERT_EQ(store(AP_MEMCACHE_SET, "t-untouched", "v", 0, 1), APR_SUCCESS);
    EXPECT_EQ(ap_memcache_touch(mc_, "t", 5), APR_SUCCESS);                // now in 5 s
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    EXPECT_EQ(gets("t").status, APR_SUCCESS);
    EXPECT_EQ(gets("t-untouched").status, APR_NOTFOUND);
}

TEST_F(Extensions, TouchShortensTheExpiry) {
    ASSERT_EQ(store(AP_MEMCACHE_SET, "short", "v"), APR_SUCCESS);  // never expires
    EXPECT_EQ(ap_memcache_touch(mc_, "short", 1), APR_SUCCESS);
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    EXPECT_EQ(gets("short").status, APR_NOTFOUND);
}

TEST_F(Extensions, TouchOfMissingKeyIsNotFound) {
    EXPECT_EQ(ap_memcache_touch(mc_, "absent", 10), APR_NOTFOUND);
}

TEST_F(Extensions, GetAndTouchReturnsTheItemAndSetsItsExpiry) {
    ASSERT_EQ(store(AP_MEMCACHE_SET, "gat", "value", 3), APR_SUCCESS);
    ap_memcache_item_t item{};
    ASSERT_EQ(ap_memcache_gat(mc_, pool_, "gat", 1, &item), APR_SUCCESS);
    EXPECT_EQ(value_of(item), "value");
    EXPECT_EQ(item.flags, 3u);
    EXPECT_NE(item.cas, 0u);
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    EXPECT_EQ(gets("gat").status, APR_NOTFOUND);
    ap_memcache_item_t missing{};
    EXPECT_EQ(ap_memcache_gat(mc_, pool_, "gat", 1, &missing), APR_NOTFOUND);
}

TEST_F(Extensions, FlushEmptiesEveryServer) {
    start_servers(3);
    for (int i = 0; i < 30; ++i) ASSERT_EQ(set("fl" + std::to_string(i), "v"), APR_SUCCESS);
    EXPECT_EQ(ap_memcache_flush(mc_, 0), APR_SUCCESS);
    for (int i = 0; i < 30; ++i) EXPECT_EQ(gets("fl" + std::to_string(i)).status, APR_NOTFOUND);
}

TEST_F(Extensions, IncrWithInitialCreatesAMissingCounter) {
    const apr_uint64_t initial = 100;
    apr_uint64_t nv = 0;
    EXPECT_EQ(ap_memcache_incr64(mc_, "ctr", 5, &initial, 0, &nv), APR_SUCCESS);
    EXPECT_EQ(nv, 100u);
    EXPECT_EQ(ap_memcache_incr64(mc_, "ctr", 5, &initial, 0, &nv), APR_SUCCESS);
    EXPECT_EQ(nv, 105u);
}

// 2^32 - 1 is also the binary protocol's "do not create" expiry; capped (2^31 - 1, as
// every time), it creates the counter on every protocol.
TEST_F(Extensions, IncrWithInitialAndTheLargestExpiryCreatesTheCounter) {
    const apr_uint64_t initial = 9;
    apr_uint64_t nv = 0;
    EXPECT_EQ(ap_memcache_incr64(mc_, "ctr", 1, &initial, 0xFFFFFFFFu, &nv), APR_SUCCESS);
    EXPECT_EQ(nv, 9u);
    EXPECT_EQ(value_of(gets("ctr")), "9");
}

TEST_F(Extensions, IncrWithoutInitialOfMissingCounterIsNotFound) {
    apr_uint64_t nv = 77;
    EXPECT_EQ(ap_memcache_incr64(mc_, "none", 1, nullptr, 0, &nv), APR_NOTFOUND);
    EXPECT_EQ(nv, 77u);
    EXPECT_EQ(gets("none").status, APR_NOTFOUND);
}

TEST_F(Extensions, SixtyFourBitCounterWrapsAtTheTop) {
    ASSERT_EQ(set("wrap", "18446744073709551614"), APR_SUCCESS);  // 2^64 - 2
    apr_uint64_t nv = 0;
    EXPECT_EQ(ap_memcache_incr64(mc_, "wrap", 1, nullptr, 0, &nv), APR_SUCCESS);
    EXPECT_EQ(nv, 18446744073709551615ull);  // 2^64 - 1
    EXPECT_EQ(ap_memcache_incr64(mc_, "wrap", 1, nullptr, 0, &nv), APR_SUCCESS);
    EXPECT_EQ(nv, 0u);
}

TEST_F(Extensions, LargeIncrementsKeepAllSixtyFourBits) {
    ASSERT_EQ(set("big", "1"), APR_SUCCESS);
    apr_uint64_t nv = 0;
    EXPECT_EQ(ap_memcache_incr64(mc_, "big", 1ull << 40, nullptr, 0, &nv), APR_SUCCESS);
    EXPECT_EQ(nv, (1ull << 40) + 1);
}

TEST_F(Extensions, DecrStopsAtZero) {
    ASSERT_EQ(set("d", "3"), APR_SUCCESS);
    apr_uint64_t nv = 9;
    EXPECT_EQ(ap_memcache_decr64(mc_, "d", 10, nullptr, 0, &nv), APR_SUCCESS);
    EXPECT_EQ(nv, 0u);
}

TEST_F(Extensions, IncrOfNonNumberIsAProtocolError) {
    ASSERT_EQ(set("text", "abc"), APR_SUCCESS);
    apr_uint64_t nv = 0;
    EXPECT_EQ(ap_memcache_incr64(mc_, "text", 1, nullptr, 0, &nv), AP_MEMCACHE_EPROTO);
}

TEST_F(Extensions, MultiGetWithCasReturnsFlagsAndCasPerKey) {
    start_servers(2);
    for (int i = 0; i < 20; ++i) {
        ASSERT_EQ(store(AP_MEMCACHE_SET, "mg" + std::to_string(i), "v" + std::to_string(i),
                        0x10000u + static_cast<apr_uint32_t>(i)),
                  APR_SUCCESS);
    }
    apr_hash_t* items = nullptr;
    for (int i = 0; i < 20; ++i) ap_memcache_add_multigets_key(pool_, ("mg" + std::to_string(i)).c_str(), &items);
    ap_memcache_add_multigets_key(pool_, "mg-missing", &items);
    ap_memcache_add_multigets_key(pool_, "bad key", &items);
    apr_pool_t* temp = nullptr;
    apr_pool_create(&temp, pool_);
    ASSERT_EQ(ap_memcache_multigets(mc_, temp, pool_, items), APR_SUCCESS);
    for (int i = 0; i < 20; ++i) {
        auto* item = static_cast<ap_memcache_item_t*>(
            apr_hash_get(items, ("mg" + std::to_string(i)).c_str(), APR_HASH_KEY_STRING));
        ASSERT_EQ(item->status, APR_SUCCESS) << i;
        EXPECT_EQ(value_of(*item), "v" + std::to_string(i));
        EXPECT_EQ(item->flags, 0x10000u + static_cast<apr_uint32_t>(i));
        EXPECT_EQ(item->cas, gets("mg" + std::to_string(i)).cas);
    }
    EXPECT_EQ(static_cast<ap_memcache_item_t*>(apr_hash_get(items, "mg-missing", APR_HASH_KEY_STRING))->status,
              APR_NOTFOUND);
    EXPECT_EQ(static_cast<ap_memcache_item_t*>(apr_hash_get(items, "bad key", APR_HASH_KEY_STRING))->status,
              APR_EINVAL);
}

TEST_F(Extensions, InvalidKeysAreRejectedBeforeSending) {
    ap_memcache_item_t item{};
    apr_uint64_t nv = 0;
    EXPECT_EQ(store(AP_MEMCACHE_SET, "bad key", "v"), APR_EINVAL);
    EXPECT_EQ(ap_memcache_gets(mc_, pool_, "bad\r\nkey", &item), APR_EINVAL);
    EXPECT_EQ(ap_memcache_cas(mc_, "", "v", 1, 0, 0, 1), APR_EINVAL);
    EXPECT_EQ(ap_memcache_touch(mc_, std::string(251, 'k').c_str(), 1), APR_EINVAL);
    EXPECT_EQ(ap_memcache_incr64(mc_, "a b", 1, nullptr, 0, &nv), APR_EINVAL);
    EXPECT_EQ(ap_memcache_store(mc_, static_cast<ap_memcache_store_e>(99), "k", "v", 1, 0, 0), APR_EINVAL);
}

}  // namespace
}  // namespace mmc::test
