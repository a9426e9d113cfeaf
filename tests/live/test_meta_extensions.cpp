// What only the meta protocol offers (include/ap_memcache.h): lease gets, invalidation,
// metadata and keys of any bytes, against a real memcached. The servers here speak meta
// whatever MMC_TEST_PROTOCOL says; OtherProtocolsRefuseAndSendNothing checks the text
// and binary side of the contract.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include "live_fixture.h"

namespace mmc::test {
namespace {

void set_protocol(apr_memcache_t* mc, int protocol) {
    for (apr_uint16_t i = 0; i < mc->ntotal; ++i) {
        ap_memcache_server_options_t o;
        ASSERT_EQ(ap_memcache_server_get_options(mc->live_servers[i], &o), APR_SUCCESS);
        o.protocol = protocol;
        ASSERT_EQ(ap_memcache_server_set_options(mc->live_servers[i], &o), APR_SUCCESS);
    }
}

class MetaExtensions : public Live {
protected:
    void SetUp() override {
        Live::SetUp();
        set_protocol(mc_, AP_MEMCACHE_PROTOCOL_META);
    }

    ap_memcache_lease_t lease(const char* key, apr_uint32_t lease_ttl = 30, apr_uint32_t recache_ttl = 0) {
        ap_memcache_lease_t l;
        ap_memcache_lease_get(mc_, pool_, key, lease_ttl, recache_ttl, &l);
        return l;
    }
    static std::string value_of(const ap_memcache_lease_t& l) {
        return l.item.status == APR_SUCCESS ? std::string(l.item.data, l.item.len) : std::string();
    }
};

// The pattern the lease exists for: a missing hot key, 16 threads at once. Exactly one
// wins and recomputes; the others see the lease taken (no value yet) or, once the
// winner has stored, the value.
TEST_F(MetaExtensions, SixteenThreadsOnAMissingKeyMakeExactlyOneWinner) {
    start_servers(1, PoolSpec{0, 16, 16});
    set_protocol(mc_, AP_MEMCACHE_PROTOCOL_META);
    constexpr int kThreads = 16;
    for (int round = 0; round < 5; ++round) {
        const std::string key = "hot" + std::to_string(round);
        std::atomic<int> ready{0}, won{0}, taken{0}, valued{0}, other{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&] {
                apr_pool_t* p = nullptr;
                apr_pool_create(&p, nullptr);
                ++ready;
                while (ready.load() < kThreads) std::this_thread::yield();
                ap_memcache_lease_t l;
                apr_status_t rv = ap_memcache_lease_get(mc_, p, key.c_str(), 30, 0, &l);
                if (l.won) {
                    ++won;
                    EXPECT_EQ(rv, APR_NOTFOUND);
                    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // recompute
                    EXPECT_EQ(ap_memcache_cas(mc_, key.c_str(), "fresh", 5, 0, 0, l.item.cas), APR_SUCCESS);
                } else if (l.lease_taken && rv == APR_NOTFOUND) {
                    ++taken;
                } else if (rv == APR_SUCCESS && std::string(l.item.data, l.item.len) == "fresh") {
                    ++valued;
                } else {
                    ++other;
                }
                apr_pool_destroy(p);
            });
        }
        for (auto& t : threads) t.join();
        EXPECT_EQ(won.load(), 1) << key;
        EXPECT_EQ(other.load(), 0) << key;
        EXPECT_EQ(won + taken + valued, kThreads) << key;
        const ap_memcache_lease_t after = lease(key.c_str());
        EXPECT_EQ(value_of(after), "fresh");
        EXPECT_FALSE(after.won);
        EXPECT_FALSE(after.lease_taken);
    }
}

TEST_F(MetaExtensions, InvalidateThenStaleThenOneWinnerThenSet) {
    ASSERT_EQ(set("page", "old"), APR_SUCCESS);
    EXPECT_EQ(ap_memcache_invalidate(mc_, "page", 30), APR_SUCCESS);

    const ap_memcache_lease_t first = lease("page");
    EXPECT_EQ(first.item.status, APR_SUCCESS);
    EXPECT_EQ(value_of(first), "old");  // served while it is recomputed
    EXPECT_TRUE(first.stale);
    EXPECT_TRUE(first.won);
    EXPECT_GT(first.ttl, 0);
    EXPECT_LE(first.ttl, 30);

    const ap_memcache_lease_t second = lease("page");
    EXPECT_EQ(value_of(second), "old");
    EXPECT_TRUE(second.stale);
    EXPECT_TRUE(second.lease_taken);
    EXPECT_FALSE(second.won);

    EXPECT_EQ(ap_memcache_cas(mc_, "page", "new", 3, 0, 0, first.item.cas), APR_SUCCESS);
    const ap_memcache_lease_t fresh = lease("page");
    EXPECT_EQ(value_of(fresh), "new");
    EXPECT_FALSE(fresh.stale);
    EXPECT_FALSE(fresh.won);
    EXPECT_FALSE(fresh.lease_taken);
    EXPECT_EQ(get("page"), "new");  // and to every other call

    EXPECT_EQ(ap_memcache_invalidate(mc_, "never-stored", 30), APR_NOTFOUND);
}

TEST_F(MetaExtensions, LeaseWithoutLeaseTimeIsAPlainMiss) {
    const ap_memcache_lease_t l = lease("absent", 0);
    EXPECT_EQ(l.item.status, APR_NOTFOUND);
    EXPECT_FALSE(l.won);
    EXPECT_FALSE(l.lease_taken);
    apr_status_t rv = APR_SUCCESS;
    get("absent", &rv);
    EXPECT_EQ(rv, APR_NOTFOUND);  // no placeholder was left behind
}

TEST_F(MetaExtensions, RecacheTimeMakesOneWinnerBeforeExpiry) {
    ASSERT_EQ(apr_memcache_set(mc_, "warm", const_cast<char*>("v"), 1, 20, 0), APR_SUCCESS);
    const ap_memcache_lease_t early = lease("warm", 30, 10);  // 20 s left: not yet
    EXPECT_EQ(value_of(early), "v");
    EXPECT_FALSE(early.won);
    const ap_memcache_lease_t late = lease("warm", 30, 30);  // under 30 s left: refresh
    EXPECT_EQ(value_of(late), "v");
    EXPECT_TRUE(late.won);
    EXPECT_FALSE(late.stale);
    const ap_memcache_lease_t next = lease("warm", 30, 30);
    EXPECT_EQ(value_of(next), "v");
    EXPECT_TRUE(next.lease_taken);
    EXPECT_FALSE(next.won);
}

TEST_F(MetaExtensions, MetadataWithAndWithoutAnLruBump) {
    ASSERT_EQ(ap_memcache_store(mc_, AP_MEMCACHE_SET, "m", "abcd", 4, 0, 77), APR_SUCCESS);
    ap_memcache_meta_t m;
    ASSERT_EQ(ap_memcache_meta_get(mc_, "m", 1, &m), APR_SUCCESS);
    EXPECT_EQ(m.size, 4u);
    EXPECT_EQ(m.flags, 77u);
    EXPECT_EQ(m.ttl, -1);
    EXPECT_NE(m.cas, 0u);
    EXPECT_FALSE(m.fetched);
    ASSERT_EQ(ap_memcache_meta_get(mc_, "m", 1, &m), APR_SUCCESS);
    EXPECT_FALSE(m.fetched);  // looking without a bump changes nothing

    EXPECT_EQ(get("m"), "abcd");
    ASSERT_EQ(ap_memcache_meta_get(mc_, "m", 1, &m), APR_SUCCESS);
    EXPECT_TRUE(m.fetched);

    ASSERT_EQ(apr_memcache_set(mc_, "m2", const_cast<char*>("v"), 1, 100, 0), APR_SUCCESS);
    ASSERT_EQ(ap_memcache_meta_get(mc_, "m2", 0, &m), APR_SUCCESS);
    EXPECT_GT(m.ttl, 90);
    EXPECT_LE(m.ttl, 100);
    EXPECT_EQ(ap_memcache_meta_get(mc_, "absent", 0, &m), APR_NOTFOUND);
}

TEST_F(MetaExtensions, BinaryKeysHoldAnyBytes) {
    const std::string keys[] = {
        std::string("nul\0byte", 8), "has space", "line\r\nfeed", std::string("\xff\x00\x01", 3),
        std::string(AP_MEMCACHE_MAX_BINARY_KEY, '\x7f'),
    };
    for (const std::string& k : keys) {
        const std::string value = "v:" + std::to_string(k.size());
        ASSERT_EQ(ap_memcache_bkey_store(mc_, AP_MEMCACHE_SET, k.data(), k.size(), value.data(), value.size(), 0, 9),
                  APR_SUCCESS);
        ap_memcache_item_t item;
        ASSERT_EQ(ap_memcache_bkey_get(mc_, pool_, k.data(), k.size(), &item), APR_SUCCESS);
        EXPECT_EQ(std::string(item.data, item.len), value);
        EXPECT_EQ(std::string(item.key, k.size()), k);
        EXPECT_EQ(item.flags, 9u);
        EXPECT_EQ(ap_memcache_bkey_store(mc_, AP_MEMCACHE_ADD, k.data(), k.size(), "x", 1, 0, 0), APR_EEXIST);
        EXPECT_EQ(ap_memcache_bkey_store(mc_, AP_MEMCACHE_APPEND, k.data(), k.size(), "!", 1, 0, 0), APR_SUCCESS);
        ASSERT_EQ(ap_memcache_bkey_get(mc_, pool_, k.data(), k.size(), &item), APR_SUCCESS);
        EXPECT_EQ(std::string(item.data, item.len), value + "!");
        EXPECT_EQ(ap_memcache_bkey_delete(mc_, k.data(), k.size()), APR_SUCCESS);
        EXPECT_EQ(ap_memcache_bkey_get(mc_, pool_, k.data(), k.size(), &item), APR_NOTFOUND);
        EXPECT_EQ(ap_memcache_bkey_delete(mc_, k.data(), k.size()), APR_NOTFOUND);
        EXPECT_EQ(ap_memcache_bkey_store(mc_, AP_MEMCACHE_APPEND, k.data(), k.size(), "!", 1, 0, 0), APR_NOTFOUND);
    }
    // A binary key with a text key's characters is that item.
    ASSERT_EQ(ap_memcache_bkey_store(mc_, AP_MEMCACHE_SET, "plain", 5, "p", 1, 0, 0), APR_SUCCESS);
    EXPECT_EQ(get("plain"), "p");

    const std::string too_long(AP_MEMCACHE_MAX_BINARY_KEY + 1, 'k');
    ap_memcache_item_t item;
    EXPECT_EQ(ap_memcache_bkey_get(mc_, pool_, too_long.data(), too_long.size(), &item), APR_EINVAL);
    EXPECT_EQ(ap_memcache_bkey_get(mc_, pool_, "", 0, &item), APR_EINVAL);
    EXPECT_EQ(ap_memcache_bkey_store(mc_, AP_MEMCACHE_SET, too_long.data(), too_long.size(), "v", 1, 0, 0),
              APR_EINVAL);
    EXPECT_EQ(ap_memcache_bkey_delete(mc_, nullptr, 3), APR_EINVAL);
}

// A time after January 2038 (memcached would read it as one in the past) is capped at
// 2^31 - 1, as everywhere: the item lives until 2038.
TEST_F(MetaExtensions, TimesAfter2038AreCappedAndTheItemIsKept) {
    const apr_uint32_t t = 4294967196u;  // 2^32 - 100
    ap_memcache_item_t item{};
    ap_memcache_meta_t m{};
    ASSERT_EQ(ap_memcache_bkey_store(mc_, AP_MEMCACHE_SET, "k", 1, "v", 1, t, 0), APR_SUCCESS);
    ASSERT_EQ(ap_memcache_bkey_get(mc_, pool_, "k", 1, &item), APR_SUCCESS);
    EXPECT_EQ(std::string(item.data, item.len), "v");
    ASSERT_EQ(ap_memcache_store(mc_, AP_MEMCACHE_SET, "late", "v", 1, t, 0), APR_SUCCESS);
    ASSERT_EQ(ap_memcache_meta_get(mc_, "late", 1, &m), APR_SUCCESS);
    EXPECT_GT(m.ttl, 0);  // a 2038 expiry, not "never" (-1) nor already past
    ap_memcache_lease_t l = lease("missing", t, 0);
    EXPECT_TRUE(l.won);
    l = lease("late", 30, t);
    EXPECT_EQ(value_of(l), "v");
    EXPECT_EQ(ap_memcache_invalidate(mc_, "late", t), APR_SUCCESS);
    l = lease("late");
    EXPECT_TRUE(l.stale);
    EXPECT_EQ(value_of(l), "v");
}

TEST_F(MetaExtensions, BadKeyIsRefused) {
    ap_memcache_lease_t l;
    EXPECT_EQ(ap_memcache_lease_get(mc_, pool_, "bad key", 30, 0, &l), APR_EINVAL);
}

// On text and binary servers every meta call is APR_ENOTIMPL and nothing reaches the
// server.
TEST_F(MetaExtensions, OtherProtocolsRefuseAndSendNothing) {
    RawClient raw(server().port());
    for (int protocol : {AP_MEMCACHE_PROTOCOL_TEXT, AP_MEMCACHE_PROTOCOL_BINARY}) {
        set_protocol(mc_, protocol);
        ASSERT_EQ(set("k", "v"), APR_SUCCESS);  // a pooled connection exists
        const long long before = raw.number("bytes_read");
        ap_memcache_lease_t l;
        ap_memcache_meta_t m;
        ap_memcache_item_t item;
        EXPECT_EQ(ap_memcache_lease_get(mc_, pool_, "k", 30, 0, &l), APR_ENOTIMPL);
        EXPECT_EQ(l.item.status, APR_ENOTIMPL);
        EXPECT_EQ(ap_memcache_invalidate(mc_, "k", 30), APR_ENOTIMPL);
        EXPECT_EQ(ap_memcache_meta_get(mc_, "k", 1, &m), APR_ENOTIMPL);
        EXPECT_EQ(ap_memcache_bkey_get(mc_, pool_, "k", 1, &item), APR_ENOTIMPL);
        EXPECT_EQ(ap_memcache_bkey_store(mc_, AP_MEMCACHE_SET, "k", 1, "v", 1, 0, 0), APR_ENOTIMPL);
        EXPECT_EQ(ap_memcache_bkey_delete(mc_, "k", 1), APR_ENOTIMPL);
        EXPECT_EQ(raw.number("bytes_read"), before + 7);  // only the raw client's "stats\r\n"
        EXPECT_EQ(get("k"), "v");                       // and the server is still in use
    }
}

// On a sealed client the meta calls seal and open values as the others do: memcached
// holds envelopes, the lease pattern works on them, and a lease's empty placeholder is
// not taken for a value that failed to open.
TEST_F(MetaExtensions, SealedClientSealsAndOpensThroughTheMetaCalls) {
    char dir[] = "/tmp/mmc-meta-seal-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    const std::string path = std::string(dir) + "/keys";
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("k1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", f);
    std::fclose(f);
    ::chmod(path.c_str(), 0600);
    ap_memcache_seal_t* seal = nullptr;
    const char* why = nullptr;
    ASSERT_EQ(ap_memcache_seal_load(pool_, path.c_str(), &seal, &why), APR_SUCCESS) << (why ? why : "");
    std::remove(path.c_str());
    ::rmdir(dir);
    ASSERT_EQ(ap_memcache_set_seal(mc_, seal), APR_SUCCESS);

    // A miss: the winner's placeholder is empty, the others wait.
    ap_memcache_lease_t first = lease("sealed-page");
    EXPECT_TRUE(first.won);
    EXPECT_EQ(first.item.status, APR_NOTFOUND);
    EXPECT_EQ(lease("sealed-page").item.status, APR_NOTFOUND);
    ASSERT_EQ(ap_memcache_cas(mc_, "sealed-page", "secret page", 11, 0, 0, first.item.cas), APR_SUCCESS);
    EXPECT_EQ(value_of(lease("sealed-page")), "secret page");
    RawClient raw(server().port());
    const auto stored = raw.get("sealed-page");
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->find("secret page"), std::string::npos);

    const std::string bkey("b\0k", 3);
    ASSERT_EQ(ap_memcache_bkey_store(mc_, AP_MEMCACHE_SET, bkey.data(), bkey.size(), "hidden", 6, 0, 0), APR_SUCCESS);
    ap_memcache_item_t item;
    ASSERT_EQ(ap_memcache_bkey_get(mc_, pool_, bkey.data(), bkey.size(), &item), APR_SUCCESS);
    EXPECT_EQ(std::string(item.data, item.len), "hidden");
    EXPECT_EQ(ap_memcache_bkey_store(mc_, AP_MEMCACHE_APPEND, bkey.data(), bkey.size(), "!", 1, 0, 0), APR_ENOTIMPL);

    // A plain value under a key the sealed client reads does not open: a miss.
    ASSERT_TRUE(raw.set("plain-page", "not sealed"));
    EXPECT_EQ(lease("plain-page").item.status, APR_NOTFOUND);
}

}  // namespace
}  // namespace mmc::test
