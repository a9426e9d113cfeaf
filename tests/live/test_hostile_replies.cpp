// Replies a broken or hostile server could send: they give a clear error or a bounded
// value, never a crash, an overflow or a wrong success. (The parsers themselves are
// fuzzed: tests/fuzz.)
#include <climits>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "canned_server.h"
#include "live_fixture.h"

namespace mmc::test {
namespace {

class HostileReplies : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_EQ(apr_pool_create(&pool_, nullptr), APR_SUCCESS); }
    void TearDown() override { apr_pool_destroy(pool_); }

    apr_memcache_t* client_of(const CannedServer& server, int protocol) {
        return one_server_client(pool_, server.port(), protocol, 300 * 1000);
    }

    // One multgetp of keys from mc; rv gets what it returned. The values by key.
    apr_hash_t* multi_get(apr_memcache_t* mc, std::initializer_list<const char*> keys, apr_status_t& rv) {
        apr_hash_t* values = nullptr;
        for (const char* k : keys) apr_memcache_add_multget_key(pool_, k, &values);
        apr_pool_t* temp = nullptr;
        rv = apr_pool_create(&temp, pool_);
        if (rv == APR_SUCCESS) rv = apr_memcache_multgetp(mc, temp, pool_, values);
        return values;
    }
    // One array multi-get of keys from mc: the results at the keys' indexes.
    std::vector<ap_memcache_result_t> array_get(apr_memcache_t* mc, std::initializer_list<const char*> keys) {
        std::vector<ap_memcache_key_t> k;
        for (const char* key : keys) k.push_back({key, std::strlen(key)});
        std::vector<ap_memcache_result_t> r(k.size());
        EXPECT_EQ(ap_memcache_multiget_array(mc, pool_, k.data(), k.size(), r.data(), 0), APR_SUCCESS);
        return r;
    }
    static std::string text_of(const ap_memcache_result_t& r) {
        return r.status == APR_SUCCESS && r.data ? std::string(r.data, r.len) : std::string("<none>");
    }
    static apr_memcache_value_t* value_of(apr_hash_t* values, const char* key) {
        return static_cast<apr_memcache_value_t*>(apr_hash_get(values, key, APR_HASH_KEY_STRING));
    }

    apr_pool_t* pool_ = nullptr;
};

// A binary response header: magic 0x81, the opcode, no key or extras, status 0, the
// given body, opaque 1 (the first request on a connection carries opaque 1).
std::string binary_response(unsigned char opcode, const std::string& body = {}) {
    std::string h(24, '\0');
    h[0] = static_cast<char>(0x81);
    h[1] = static_cast<char>(opcode);
    h[11] = static_cast<char>(body.size());
    h[15] = 1;
    return h + body;
}

TEST_F(HostileReplies, HugeStatisticsSaturateInsteadOfOverflowing) {
    CannedServer server(
        "STAT pid 99999999999\r\nSTAT time 9223372036854775807\r\n"
        "STAT rusage_user 9223372036854775807.123456\r\nSTAT rusage_system 1.5\r\n"
        "STAT bytes 99999999999999999999999\r\nSTAT curr_items x\r\nEND\r\n");
    apr_memcache_t* mc = client_of(server, AP_MEMCACHE_PROTOCOL_TEXT);
    apr_memcache_stats_t* st = nullptr;
    ASSERT_EQ(apr_memcache_stats(mc->live_servers[0], pool_, &st), APR_SUCCESS);
    EXPECT_EQ(st->pid, UINT32_MAX);
    EXPECT_GT(st->time, 0);
    EXPECT_GT(st->rusage_user, 0);
    EXPECT_EQ(st->rusage_system, 1500000);
    EXPECT_EQ(st->bytes, UINT64_MAX);
    EXPECT_EQ(st->curr_items, 0u);
}

TEST_F(HostileReplies, BinaryResponseWithAnotherOpcodeIsAProtocolError) {
    // A delete answered by a successful get response (same opaque).
    CannedServer server(binary_response(0x00));
    apr_memcache_t* mc = client_of(server, AP_MEMCACHE_PROTOCOL_BINARY);
    EXPECT_EQ(apr_memcache_delete(mc, "k", 0), AP_MEMCACHE_EPROTO);
}

TEST_F(HostileReplies, BinaryIncrAnsweredByNoopIsNotASuccess) {
    CannedServer server(binary_response(0x0a));
    apr_memcache_t* mc = client_of(server, AP_MEMCACHE_PROTOCOL_BINARY);
    apr_uint32_t nv = 123;
    EXPECT_EQ(apr_memcache_incr(mc, "k", 1, &nv), AP_MEMCACHE_EPROTO);
    EXPECT_EQ(nv, 123u);
}

TEST_F(HostileReplies, TextReplyForAnotherCommandIsAProtocolError) {
    CannedServer server("STORED\r\n");
    apr_memcache_t* mc = client_of(server, AP_MEMCACHE_PROTOCOL_TEXT);
    char* data = nullptr;
    apr_size_t len = 0;
    EXPECT_EQ(apr_memcache_getp(mc, pool_, "k", &data, &len, nullptr), AP_MEMCACHE_EPROTO);
}

TEST_F(HostileReplies, ValueForAnotherKeyIsAProtocolError) {
    CannedServer server("VALUE other 0 1\r\nx\r\nEND\r\n");
    apr_memcache_t* mc = client_of(server, AP_MEMCACHE_PROTOCOL_TEXT);
    char* data = nullptr;
    apr_size_t len = 0;
    EXPECT_EQ(apr_memcache_getp(mc, pool_, "k", &data, &len, nullptr), AP_MEMCACHE_EPROTO);
}

TEST_F(HostileReplies, MultiGetValueForAKeyNotAskedForIsAProtocolError) {
    // The parser passes the key on as sent (control byte included); the multi-get
    // matches it against the keys asked for and refuses the reply.
    CannedServer server(std::string("VALUE a\x01z 0 1\r\nx\r\nEND\r\n"));
    apr_memcache_t* mc = client_of(server, AP_MEMCACHE_PROTOCOL_TEXT);
    apr_status_t rv = APR_EGENERAL;
    apr_hash_t* values = multi_get(mc, {"k"}, rv);
    ASSERT_EQ(rv, APR_SUCCESS);
    auto* v = value_of(values, "k");
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->status, AP_MEMCACHE_EPROTO);
    EXPECT_EQ(v->data, nullptr);
}

TEST_F(HostileReplies, HugeValueLengthIsRefusedWithoutWaitingForTheData) {
    CannedServer server("VALUE k 0 18446744073709551615\r\n");
    apr_memcache_t* mc = client_of(server, AP_MEMCACHE_PROTOCOL_TEXT);
    char* data = nullptr;
    apr_size_t len = 0;
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(apr_memcache_getp(mc, pool_, "k", &data, &len, nullptr), AP_MEMCACHE_EPROTO);
    EXPECT_LT(elapsed_ms(t0), 250);  // not the 300 ms deadline: refused on the header
}

TEST_F(HostileReplies, TruncatedReplyTimesOut) {
    CannedServer server("VALUE k 0 10\r\nabc");
    apr_memcache_t* mc = client_of(server, AP_MEMCACHE_PROTOCOL_TEXT);
    char* data = nullptr;
    apr_size_t len = 0;
    EXPECT_EQ(apr_memcache_getp(mc, pool_, "k", &data, &len, nullptr), APR_TIMEUP);
}

// A text multi-get's values are read first as the next key asked for (memcached answers
// in order); every other reply must still reach the right key, or fail, and never give a
// key another key's value.
TEST_F(HostileReplies, MultiGetMissInTheMiddleLeavesOnlyThatKeyNotFound) {
    CannedServer server("VALUE a 1 1\r\nA\r\nVALUE c 3 1\r\nC\r\nEND\r\n");
    apr_memcache_t* mc = client_of(server, AP_MEMCACHE_PROTOCOL_TEXT);
    auto r = array_get(mc, {"a", "b", "c"});
    EXPECT_EQ(text_of(r[0]), "A");
    EXPECT_EQ(r[0].flags, 1u);
    EXPECT_EQ(r[1].status, APR_NOTFOUND);
    EXPECT_EQ(text_of(r[2]), "C");
    EXPECT_EQ(r[2].flags, 3u);
    apr_status_t rv = APR_EGENERAL;
    apr_hash_t* values = multi_get(mc, {"a", "b", "c"}, rv);
    ASSERT_EQ(rv, APR_SUCCESS);
    EXPECT_EQ(std::string(value_of(values, "a")->data, value_of(values, "a")->len), "A");
    EXPECT_EQ(value_of(values, "b")->status, APR_NOTFOUND);
    EXPECT_EQ(std::string(value_of(values, "c")->data, value_of(values, "c")->len), "C");
}

TEST_F(HostileReplies, MultiGetValuesOutOfOrderEachReachTheirOwnKey) {
    CannedServer server("VALUE c 0 1\r\nC\r\nVALUE a 0 1\r\nA\r\nVALUE b 0 1\r\nB\r\nEND\r\n");
    apr_memcache_t* mc = client_of(server, AP_MEMCACHE_PROTOCOL_TEXT);
    auto r = array_get(mc, {"a", "b", "c"});
    EXPECT_EQ(text_of(r[0]), "A");
    EXPECT_EQ(text_of(r[1]), "B");
    EXPECT_EQ(text_of(r[2]), "C");
}

TEST_F(HostileReplies, MultiGetDuplicateKeysAreAnsweredInTurn) {
    CannedServer server("VALUE a 0 1\r\n1\r\nVALUE b 0 1\r\n2\r\nVALUE a 0 1\r\n3\r\nEND\r\n");
    apr_memcache_t* mc = client_of(server, AP_MEMCACHE_PROTOCOL_TEXT);
    auto r = array_get(mc, {"a", "b", "a"});
    EXPECT_EQ(text_of(r[0]), "1");
    EXPECT_EQ(text_of(r[1]), "2");
    EXPECT_EQ(text_of(r[2]), "3");
}

TEST_F(HostileReplies, MultiGetKeyThatExtendsOrShortensTheNextOneIsNotTakenForIt) {
    {
        CannedServer server("VALUE abc 0 1\r\nZ\r\nEND\r\n");
        apr_memcache_t* mc = client_of(server, AP_MEMCACHE_PROTOCOL_TEXT);
        auto r = array_get(mc, {"ab", "abc"});
        EXPECT_EQ(r[0].status, APR_NOTFOUND);
        EXPECT_EQ(text_of(r[1]), "Z");
    }
    {
        CannedServer server("VALUE ab 0 1\r\nY\r\nEND\r\n");
        apr_memcache_t* mc = client_of(server, AP_MEMCACHE_PROTOCOL_TEXT);
        auto r = array_get(mc, {"abc", "ab"});
        EXPECT_EQ(r[0].status, APR_NOTFOUND);
        EXPECT_EQ(text_of(r[1]), "Y");
    }
    {
        // Neither key: the whole reply is unusable.
        CannedServer server("VALUE abcd 0 1\r\nX\r\nEND\r\n");
        apr_memcache_t* mc = client_of(server, AP_MEMCACHE_PROTOCOL_TEXT);
        auto r = array_get(mc, {"abc", "ab"});
        for (const auto& one : r) {
            EXPECT_EQ(one.status, AP_MEMCACHE_EPROTO);
            EXPECT_EQ(one.data, nullptr);
        }
    }
}

TEST_F(HostileReplies, MultiGetValueLongerThanItsLengthFailsTheServersKeys) {
    for (const char* reply : {"VALUE a 0 1\r\nxyz\r\nEND\r\n", "VALUE a 0 1\r\nx\r\nVALUE b 0 1\r\n\r\n\r\nEND\r\n",
                              "VALUE a 4294967296 1\r\nx\r\nEND\r\n", "VALUE a 0 1 1\r\nx\r\nBOGUS\r\n"}) {
        CannedServer server(reply);
        apr_memcache_t* mc = client_of(server, AP_MEMCACHE_PROTOCOL_TEXT);
        auto r = array_get(mc, {"a", "b"});
        // A value read before the broken part is the right key's; nothing else is a value.
        EXPECT_TRUE(r[0].status == AP_MEMCACHE_EPROTO || text_of(r[0]) == "x") << reply;
        EXPECT_EQ(r[1].status, AP_MEMCACHE_EPROTO) << reply;
        EXPECT_EQ(r[1].data, nullptr) << reply;
    }
}

TEST_F(HostileReplies, MultiGetTruncatedReplyKeepsWhatCameAndTimesOutTheRest) {
    CannedServer server("VALUE a 0 1\r\nx\r\nVALUE b 0 10\r\nabc");
    apr_memcache_t* mc = client_of(server, AP_MEMCACHE_PROTOCOL_TEXT);
    auto r = array_get(mc, {"a", "b"});
    EXPECT_EQ(text_of(r[0]), "x");
    EXPECT_EQ(r[1].status, APR_TIMEUP);
    EXPECT_EQ(r[1].data, nullptr);
}

// Meta replies describe themselves; one that cannot answer the request sent is out of
// step, whatever it says.
TEST_F(HostileReplies, MetaDeleteAnsweredByAValueIsAProtocolError) {
    CannedServer server("VA 1\r\nx\r\n");
    apr_memcache_t* mc = client_of(server, AP_MEMCACHE_PROTOCOL_META);
    EXPECT_EQ(apr_memcache_delete(mc, "k", 0), AP_MEMCACHE_EPROTO);
}

TEST_F(HostileReplies, MetaIncrWithoutANumberIsNotASuccess) {
    CannedServer server("VA 3\r\nabc\r\n");
    apr_memcache_t* mc = client_of(server, AP_MEMCACHE_PROTOCOL_META);
    apr_uint32_t nv = 123;
    EXPECT_EQ(apr_memcache_incr(mc, "k", 1, &nv), AP_MEMCACHE_EPROTO);
    EXPECT_EQ(nv, 123u);
}

TEST_F(HostileReplies, MetaGetAnsweredWithoutAValueIsAProtocolError) {
    CannedServer server("HD\r\n");
    apr_memcache_t* mc = client_of(server, AP_MEMCACHE_PROTOCOL_META);
    char* data = nullptr;
    apr_size_t len = 0;
    EXPECT_EQ(apr_memcache_getp(mc, pool_, "k", &data, &len, nullptr), AP_MEMCACHE_EPROTO);
}

// A lease get asks for the value: an HD (a hit without one) answers something else.
TEST_F(HostileReplies, MetaLeaseGetAnsweredWithoutAValueIsAProtocolError) {
    CannedServer server("HD W\r\n");
    apr_memcache_t* mc = client_of(server, AP_MEMCACHE_PROTOCOL_META);
    ap_memcache_lease_t lease;
    EXPECT_EQ(ap_memcache_lease_get(mc, pool_, "k", 30, 0, &lease), AP_MEMCACHE_EPROTO);
    EXPECT_FALSE(lease.won);
}

// A meta server's multi-get is a text get (docs/design.md, "Multi-get"): an error line
// names no key, so the keys that got no value are errors, not misses, and the line ends
// the reply.
TEST_F(HostileReplies, MetaMultiGetErrorLineMakesTheUnansweredKeysErrors) {
    CannedServer server("SERVER_ERROR out of memory\r\n");
    apr_memcache_t* mc = client_of(server, AP_MEMCACHE_PROTOCOL_META);
    apr_status_t rv = APR_EGENERAL;
    auto t0 = std::chrono::steady_clock::now();
    apr_hash_t* values = multi_get(mc, {"k", "j"}, rv);
    ASSERT_EQ(rv, APR_SUCCESS);
    EXPECT_LT(elapsed_ms(t0), 250);  // ended by the error line, not by the 300 ms deadline
    for (const char* key : {"k", "j"}) {
        auto* v = value_of(values, key);
        ASSERT_NE(v, nullptr);
        EXPECT_NE(v->status, APR_SUCCESS) << key;
        EXPECT_NE(v->status, APR_NOTFOUND) << key;
    }
}

}  // namespace
}  // namespace mmc::test
