// Sealed values against a real memcached, through the public API: what memcached holds
// is an envelope, never the value; what comes back is checked, and a value that was
// tampered with, moved or never sealed is a miss plus one log line.
#include <cstdio>
#include <mutex>

#include <sys/stat.h>

#include "live_fixture.h"

namespace {

using mmc::test::Live;
using mmc::test::RawClient;

const std::string kKeyOld = "1111111111111111111111111111111111111111111111111111111111111111";
const std::string kKeyNew = "2222222222222222222222222222222222222222222222222222222222222222";

struct LogLines {
    std::mutex m;
    std::vector<std::pair<int, std::string>> lines;

    static void record(void* baton, int level, apr_status_t, const char* msg) {
        auto* self = static_cast<LogLines*>(baton);
        std::lock_guard<std::mutex> lock(self->m);
        self->lines.emplace_back(level, msg);
    }
    std::size_t count() {
        std::lock_guard<std::mutex> lock(m);
        return lines.size();
    }
    std::string last() {
        std::lock_guard<std::mutex> lock(m);
        return lines.empty() ? std::string() : lines.back().second;
    }
};

class SealedValues : public Live {
protected:
    void SetUp() override {
        Live::SetUp();
        char tmpl[] = "/tmp/mmc-sealed-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        seal_ = load("keys", "old " + kKeyOld + "\n");
        ASSERT_NE(seal_, nullptr);
        ASSERT_EQ(ap_memcache_set_seal(mc_, seal_), APR_SUCCESS);
        ap_memcache_server_set_logger(mc_->live_servers[0], LogLines::record, &log_);
        raw_ = std::make_unique<RawClient>(server().port());
        ASSERT_TRUE(raw_->connected());
    }
    void TearDown() override {
        Live::TearDown();
        for (const auto& f : files_) std::remove(f.c_str());
        rmdir(dir_.c_str());
    }

    ap_memcache_seal_t* load(const std::string& name, const std::string& text) {
        const std::string path = dir_ + "/" + name;
        FILE* f = std::fopen(path.c_str(), "w");
        EXPECT_NE(f, nullptr);
        if (!f) return nullptr;
        std::fputs(text.c_str(), f);
        std::fclose(f);
        chmod(path.c_str(), 0600);
        files_.push_back(path);
        ap_memcache_seal_t* seal = nullptr;
        const char* why = nullptr;
        EXPECT_EQ(ap_memcache_seal_load(pool_, path.c_str(), &seal, &why), APR_SUCCESS) << (why ? why : "");
        return seal;
    }

    std::string dir_;
    std::vector<std::string> files_;
    ap_memcache_seal_t* seal_ = nullptr;
    LogLines log_;
    std::unique_ptr<RawClient> raw_;
};

TEST_F(SealedValues, MemcachedHoldsAnEnvelopeNotTheValue) {
    const std::string secret = "master-secret:0123456789abcdef";
    ASSERT_EQ(set("sess", secret, 42), APR_SUCCESS);
    auto stored = raw_->get("sess");
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->find("master-secret"), std::string::npos);
    EXPECT_EQ(stored->size(), secret.size() + 31 + 3);
    EXPECT_EQ(static_cast<unsigned char>((*stored)[0]), 0xC5);
    EXPECT_NE(raw_->command("get sess\r\n").find("VALUE sess 42 "), std::string::npos);
}

// The array multi-get opens values as multgetp does; a plain value is a miss.
TEST_F(SealedValues, ArrayMultiGetOpensValues) {
    ASSERT_EQ(set("a1", "first sealed", 3), APR_SUCCESS);
    ASSERT_TRUE(raw_->set("a2", "plain"));
    const ap_memcache_key_t keys[] = {{"a1", 2}, {"a2", 2}, {"a3", 2}};
    ap_memcache_result_t results[3];
    ASSERT_EQ(ap_memcache_multiget_array(mc_, pool_, keys, 3, results, 0), APR_SUCCESS);
    EXPECT_EQ(results[0].status, APR_SUCCESS);
    EXPECT_EQ(std::string(results[0].data, results[0].len), "first sealed");
    EXPECT_EQ(results[0].flags, 3u);
    EXPECT_EQ(results[1].status, APR_NOTFOUND);
    EXPECT_EQ(results[2].status, APR_NOTFOUND);
}

TEST_F(SealedValues, GetReturnsTheValueAndFlags) {
    ASSERT_EQ(set("k", "hello sealed world", 7), APR_SUCCESS);
    apr_status_t rv;
    apr_uint16_t flags = 0;
    EXPECT_EQ(get("k", &rv, &flags), "hello sealed world");
    EXPECT_EQ(rv, APR_SUCCESS);
    EXPECT_EQ(flags, 7);
    EXPECT_EQ(log_.count(), 0u);
}

TEST_F(SealedValues, AddReplaceAndStoreSealToo) {
    ASSERT_EQ(apr_memcache_add(mc_, "a", const_cast<char*>("one"), 3, 0, 0), APR_SUCCESS);
    EXPECT_EQ(apr_memcache_add(mc_, "a", const_cast<char*>("two"), 3, 0, 0), APR_EEXIST);
    ASSERT_EQ(apr_memcache_replace(mc_, "a", const_cast<char*>("three"), 5, 0, 0), APR_SUCCESS);
    EXPECT_EQ(raw_->get("a")->find("three"), std::string::npos);
    EXPECT_EQ(get("a"), "three");
    ASSERT_EQ(ap_memcache_store(mc_, AP_MEMCACHE_SET, "b", "four", 4, 0, 0x10000), APR_SUCCESS);
    EXPECT_EQ(raw_->get("b")->find("four"), std::string::npos);
    ap_memcache_item_t item{};
    ASSERT_EQ(ap_memcache_gets(mc_, pool_, "b", &item), APR_SUCCESS);
    EXPECT_EQ(std::string(item.data, item.len), "four");
    EXPECT_EQ(item.data[item.len], '\0');
    EXPECT_EQ(item.flags, 0x10000u);
}

TEST_F(SealedValues, CasAndGatWork) {
    ASSERT_EQ(set("c", "v1"), APR_SUCCESS);
    ap_memcache_item_t item{};
    ASSERT_EQ(ap_memcache_gets(mc_, pool_, "c", &item), APR_SUCCESS);
    EXPECT_EQ(std::string(item.data, item.len), "v1");
    ASSERT_EQ(ap_memcache_cas(mc_, "c", "v2", 2, 0, 0, item.cas), APR_SUCCESS);
    EXPECT_EQ(ap_memcache_cas(mc_, "c", "v3", 2, 0, 0, item.cas), APR_EEXIST);
    EXPECT_EQ(raw_->get("c")->find("v2"), std::string::npos);
    ap_memcache_item_t touched{};
    ASSERT_EQ(ap_memcache_gat(mc_, pool_, "c", 100, &touched), APR_SUCCESS);
    EXPECT_EQ(std::string(touched.data, touched.len), "v2");
}

TEST_F(SealedValues, TamperedValueIsAMissAndOneLogLine) {
    ASSERT_EQ(set("t", "do not change me", 3), APR_SUCCESS);
    std::string stored = *raw_->get("t");
    stored[stored.size() / 2] ^= 0x01;
    ASSERT_TRUE(raw_->set("t", stored, 3));

    apr_status_t rv;
    char* data = nullptr;
    apr_size_t len = 0;
    rv = apr_memcache_getp(mc_, pool_, "t", &data, &len, nullptr);
    EXPECT_EQ(rv, APR_NOTFOUND);
    EXPECT_EQ(data, nullptr);
    ASSERT_EQ(log_.count(), 1u);
    EXPECT_EQ(log_.lines[0].first, AP_MEMCACHE_LOG_WARNING);
    EXPECT_NE(log_.last().find("authentication failed"), std::string::npos);
    EXPECT_EQ(log_.last().find("\"t\""), std::string::npos);

    // A storm of them does not flood the log: one line per reason a minute.
    for (int i = 0; i < 20; ++i) {
        get("t", &rv);
        EXPECT_EQ(rv, APR_NOTFOUND);
    }
    EXPECT_EQ(log_.count(), 1u);
    ap_memcache_item_t item{};
    EXPECT_EQ(ap_memcache_gets(mc_, pool_, "t", &item), APR_NOTFOUND);
    EXPECT_EQ(ap_memcache_gat(mc_, pool_, "t", 0, &item), APR_NOTFOUND);
}

TEST_F(SealedValues, ValueMovedToAnotherKeyIsAMiss) {
    ASSERT_EQ(set("alice", "alice's session"), APR_SUCCESS);
    ASSERT_TRUE(raw_->set("mallory", *raw_->get("alice")));
    apr_status_t rv;
    get("mallory", &rv);
    EXPECT_EQ(rv, APR_NOTFOUND);
    EXPECT_EQ(get("alice"), "alice's session");
}

TEST_F(SealedValues, ChangedFlagsAreAMiss) {
    ASSERT_EQ(set("f", "value", 1), APR_SUCCESS);
    ASSERT_TRUE(raw_->set("f", *raw_->get("f"), 2));
    apr_status_t rv;
    get("f", &rv);
    EXPECT_EQ(rv, APR_NOTFOUND);
}

TEST_F(SealedValues, PlainValueIsAMiss) {
    ASSERT_TRUE(raw_->set("plain", "written by someone without the key"));
    apr_status_t rv;
    get("plain", &rv);
    EXPECT_EQ(rv, APR_NOTFOUND);
    ASSERT_EQ(log_.count(), 1u);
    EXPECT_NE(log_.last().find("not a sealed value"), std::string::npos);
}

TEST_F(SealedValues, MultiGetMixesGoodTamperedAndAbsentKeys) {
    ASSERT_EQ(set("g1", "good one"), APR_SUCCESS);
    ASSERT_EQ(set("g2", "good two"), APR_SUCCESS);
    ASSERT_EQ(set("bad", "soon tampered"), APR_SUCCESS);
    std::string stored = *raw_->get("bad");
    stored.back() ^= 0x01;
    ASSERT_TRUE(raw_->set("bad", stored));
    ASSERT_TRUE(raw_->set("plain", "plain"));

    apr_hash_t* values = nullptr;
    for (const char* k : {"g1", "bad", "g2", "absent", "plain"}) apr_memcache_add_multget_key(pool_, k, &values);
    apr_pool_t* temp = nullptr;
    ASSERT_EQ(apr_pool_create(&temp, pool_), APR_SUCCESS);
    ASSERT_EQ(apr_memcache_multgetp(mc_, temp, pool_, values), APR_SUCCESS);
    auto value = [&](const char* k) { return static_cast<apr_memcache_value_t*>(apr_hash_get(values, k, APR_HASH_KEY_STRING)); };
    ASSERT_EQ(value("g1")->status, APR_SUCCESS);
    EXPECT_EQ(std::string(value("g1")->data, value("g1")->len), "good one");
    ASSERT_EQ(value("g2")->status, APR_SUCCESS);
    EXPECT_EQ(std::string(value("g2")->data, value("g2")->len), "good two");
    EXPECT_EQ(value("bad")->status, APR_NOTFOUND);
    EXPECT_EQ(value("bad")->data, nullptr);
    EXPECT_EQ(value("absent")->status, APR_NOTFOUND);
    EXPECT_EQ(value("plain")->status, APR_NOTFOUND);
    EXPECT_EQ(log_.count(), 2u);  // one per reason: forged, not sealed

    apr_hash_t* items = nullptr;
    for (const char* k : {"g1", "bad"}) ap_memcache_add_multigets_key(pool_, k, &items);
    ASSERT_EQ(ap_memcache_multigets(mc_, temp, pool_, items), APR_SUCCESS);
    auto* g1 = static_cast<ap_memcache_item_t*>(apr_hash_get(items, "g1", APR_HASH_KEY_STRING));
    auto* bad = static_cast<ap_memcache_item_t*>(apr_hash_get(items, "bad", APR_HASH_KEY_STRING));
    ASSERT_EQ(g1->status, APR_SUCCESS);
    EXPECT_EQ(std::string(g1->data, g1->len), "good one");
    EXPECT_NE(g1->cas, 0u);
    EXPECT_EQ(bad->status, APR_NOTFOUND);
}

TEST_F(SealedValues, KeyRotationReadsOldValuesAndWritesWithTheNewKey) {
    ASSERT_EQ(set("r", "sealed with old"), APR_SUCCESS);

    apr_memcache_t* rotated = make_client();
    ap_memcache_seal_t* both = load("rotated", "new " + kKeyNew + "\nold " + kKeyOld + "\n");
    ASSERT_NE(both, nullptr);
    ASSERT_EQ(ap_memcache_set_seal(rotated, both), APR_SUCCESS);

    char* data = nullptr;
    apr_size_t len = 0;
    ASSERT_EQ(apr_memcache_getp(rotated, pool_, "r", &data, &len, nullptr), APR_SUCCESS);
    EXPECT_EQ(std::string(data, len), "sealed with old");

    ASSERT_EQ(apr_memcache_set(rotated, "r", const_cast<char*>("sealed with new"), 15, 0, 0), APR_SUCCESS);
    EXPECT_EQ(raw_->get("r")->substr(2, 4), std::string("\x03new"));
    ASSERT_EQ(apr_memcache_getp(rotated, pool_, "r", &data, &len, nullptr), APR_SUCCESS);
    EXPECT_EQ(std::string(data, len), "sealed with new");

    // A client that has only the old key (one not yet reconfigured) sees a miss.
    apr_status_t rv;
    get("r", &rv);
    EXPECT_EQ(rv, APR_NOTFOUND);
    EXPECT_NE(log_.last().find("unknown key id 'new'"), std::string::npos);
}

TEST_F(SealedValues, CountersAndAppendsAreRefusedWithNothingSent) {
    const long long before = raw_->number("cmd_touch") + raw_->number("cmd_set") + raw_->number("incr_misses");
    apr_uint32_t nv = 0;
    EXPECT_EQ(apr_memcache_incr(mc_, "n", 1, &nv), APR_ENOTIMPL);
    EXPECT_EQ(ap_memcache_store(mc_, AP_MEMCACHE_APPEND, "n", "x", 1, 0, 0), APR_ENOTIMPL);
    EXPECT_EQ(raw_->number("cmd_touch") + raw_->number("cmd_set") + raw_->number("incr_misses"), before);
}

TEST_F(SealedValues, DeleteAndTouchStillWork) {
    ASSERT_EQ(set("d", "x"), APR_SUCCESS);
    EXPECT_EQ(ap_memcache_touch(mc_, "d", 100), APR_SUCCESS);
    EXPECT_EQ(apr_memcache_delete(mc_, "d", 0), APR_SUCCESS);
    EXPECT_FALSE(raw_->get("d"));
}

TEST_F(SealedValues, ValueTooLargeCountsTheEnvelope) {
    ap_memcache_server_options_t o;
    ASSERT_EQ(ap_memcache_server_get_options(mc_->live_servers[0], &o), APR_SUCCESS);
    o.max_value_size = 100;
    ASSERT_EQ(ap_memcache_server_set_options(mc_->live_servers[0], &o), APR_SUCCESS);
    EXPECT_EQ(set("big", std::string(100 - 34, 'x')), APR_SUCCESS);
    EXPECT_EQ(set("big", std::string(100 - 33, 'x')), AP_MEMCACHE_ETOOBIG);
}

}  // namespace

namespace mmc::test {
namespace {

// A sealed client with a replica: the envelope goes to both servers, and a value read
// from the replica (the primary emptied) opens.
TEST_F(SealedValues, ReplicasHoldTheEnvelopeAndItOpensFromEither) {
    start_servers(2);
    ASSERT_EQ(ap_memcache_set_seal(mc_, seal_), APR_SUCCESS);
    ASSERT_EQ(ap_memcache_set_replicas(mc_, 1), APR_SUCCESS);
    ASSERT_EQ(set("k", "secret"), APR_SUCCESS);
    for (auto& s : servers_) {
        auto stored = RawClient(s->port()).get("k");
        ASSERT_TRUE(stored.has_value());
        EXPECT_EQ(stored->find("secret"), std::string::npos);
    }
    // Emptied on either server (the primary or the replica): the other answers.
    for (std::size_t emptied = 0; emptied < 2; ++emptied) {
        ASSERT_EQ(set("k", "secret"), APR_SUCCESS);
        RawClient(server(emptied).port()).command("delete k\r\n");
        EXPECT_EQ(get("k"), "secret") << "emptied on server " << emptied;
    }
}

}  // namespace
}  // namespace mmc::test
