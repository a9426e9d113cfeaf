// The multi-get's per-key error rule (docs/design.md, "Multi-get"), over the suite's
// protocol: a server that answers a 3-key multi-get with a value, then an error. The key
// that got its value keeps it; an error the protocol gives one key by name (binary) is
// that key's only; an error that names no key (a text or meta error line) is the answer
// of every key of that server that got no value, never a miss. Another server's keys in
// the same call are untouched, and the connection is reused exactly when the stream is
// still in step.
#include <cstring>
#include <string>
#include <vector>

#include "canned_server.h"
#include "live_fixture.h"

namespace mmc::test {
namespace {

std::uint32_t be32(const std::string& s, std::size_t at) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at])) << 24 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 3]));
}

// A binary response: opcode, status, the request's opaque (4 bytes as sent), extras, key, value.
std::string binary_response(unsigned char opcode, std::uint16_t status, const std::string& opaque,
                            const std::string& extras, const std::string& key, const std::string& value) {
    std::string h(24, '\0');
    h[0] = static_cast<char>(0x81);
    h[1] = static_cast<char>(opcode);
    h[3] = static_cast<char>(key.size());
    h[4] = static_cast<char>(extras.size());
    h[6] = static_cast<char>(status >> 8);
    h[7] = static_cast<char>(status & 0xff);
    const std::size_t body = extras.size() + key.size() + value.size();
    h[10] = static_cast<char>(body >> 8);
    h[11] = static_cast<char>(body & 0xff);
    h.replace(12, 4, opaque);
    return h + extras + key + value;
}

// The server's answer to a multi-get of a, b and c in its protocol: a's value "A", then an
// error for b (an error line that names no key, in text and meta; b's own error status in
// binary, after which c's value "C" still comes), then the end of the reply. `trailer`
// goes after the end, where a server in step sends nothing.
std::string error_reply(int protocol, const std::string& request, const std::string& trailer) {
    std::string out;
    if (protocol == AP_MEMCACHE_PROTOCOL_TEXT || protocol == AP_MEMCACHE_PROTOCOL_META) {
        // A meta server is sent a text get too (docs/design.md, "Multi-get").
        EXPECT_EQ(request.rfind("get ", 0), 0u) << request;
        out = "VALUE a 0 1\r\nA\r\nSERVER_ERROR busy\r\n";
    } else {
        // One getkq (0x0d) per key, then a noop (0x0a), each with its opaque.
        std::size_t at = 0;
        while (at + 24 <= request.size()) {
            const unsigned char opcode = static_cast<unsigned char>(request[at + 1]);
            const std::size_t keylen = static_cast<unsigned char>(request[at + 2]) << 8 |
                                       static_cast<unsigned char>(request[at + 3]);
            const std::size_t extlen = static_cast<unsigned char>(request[at + 4]);
            const std::size_t body = be32(request, at + 8);
            const std::string opaque = request.substr(at + 12, 4);
            const std::string key = request.substr(at + 24 + extlen, keylen);
            at += 24 + body;
            if (opcode == 0x0a) {
                out += binary_response(0x0a, 0, opaque, "", "", "");
            } else if (key == "a") {
                out += binary_response(0x0d, 0, opaque, std::string(4, '\0'), "a", "A");
            } else if (key == "b") {
                out += binary_response(0x0d, 0x0085, opaque, "", "", "busy");  // busy
            } else if (key == "c") {
                out += binary_response(0x0d, 0, opaque, std::string(4, '\0'), "c", "C");
            }
        }
    }
    return out + trailer;
}

class MultiGetErrors : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_EQ(apr_pool_create(&pool_, nullptr), APR_SUCCESS);
        ASSERT_TRUE(memcached_.start()) << memcached_.error();
    }
    void TearDown() override { apr_pool_destroy(pool_); }

    // A client of two servers: `canned` (server 0, keys a, b, c) and the suite's real
    // memcached (server 1, keys x and y, which hold "X" and "Y").
    apr_memcache_t* client_of(const CannedServer& canned) {
        apr_memcache_t* mc = nullptr;
        EXPECT_EQ(apr_memcache_create(pool_, 2, 0, &mc), APR_SUCCESS);
        apr_memcache_server_t* ms = nullptr;
        EXPECT_EQ(apr_memcache_server_create(pool_, "127.0.0.1", canned.port(), 0, 1, 1, 60 * 1000 * 1000, &ms),
                  APR_SUCCESS);
        ap_memcache_server_options_t o;
        ap_memcache_server_get_options(ms, &o);
        o.protocol = test_protocol();
        o.io_timeout = 300 * 1000;
        EXPECT_EQ(ap_memcache_server_set_options(ms, &o), APR_SUCCESS);
        EXPECT_EQ(apr_memcache_add_server(mc, ms), APR_SUCCESS);
        add_server_with(pool_, mc, memcached_.port(), 1, 1000 * 1000);
        // Modula over the hash (hash % 2): x and y on server 1, every other key on server 0.
        mc->hash_func = [](void*, const char* key, const apr_size_t) -> apr_uint32_t {
            return key[0] == 'x' || key[0] == 'y' ? 1 : 2;
        };
        EXPECT_EQ(apr_memcache_set(mc, "x", const_cast<char*>("X"), 1, 0, 0), APR_SUCCESS);
        EXPECT_EQ(apr_memcache_set(mc, "y", const_cast<char*>("Y"), 1, 0, 0), APR_SUCCESS);
        return mc;
    }

    // A canned server answering every multi-get with error_reply.
    static CannedServer::Respond responder(const std::string& trailer = {}) {
        const int protocol = test_protocol();
        return [protocol, trailer](const std::string& request) { return error_reply(protocol, request, trailer); };
    }

    // What key c gets: the error, unless the protocol named b as the failing key (binary).
    static bool names_failing_key() { return test_protocol() == AP_MEMCACHE_PROTOCOL_BINARY; }

    // One multgetp of a, b, c, x, y: each key's status and value ("" without one).
    std::vector<std::pair<apr_status_t, std::string>> multgetp(apr_memcache_t* mc) {
        apr_hash_t* values = nullptr;
        const char* keys[] = {"a", "b", "c", "x", "y"};
        for (const char* k : keys) apr_memcache_add_multget_key(pool_, k, &values);
        apr_pool_t* temp = nullptr;
        EXPECT_EQ(apr_pool_create(&temp, pool_), APR_SUCCESS);
        EXPECT_EQ(apr_memcache_multgetp(mc, temp, pool_, values), APR_SUCCESS);
        std::vector<std::pair<apr_status_t, std::string>> out;
        for (const char* k : keys) {
            auto* v = static_cast<apr_memcache_value_t*>(apr_hash_get(values, k, APR_HASH_KEY_STRING));
            out.emplace_back(v->status, v->status == APR_SUCCESS ? std::string(v->data, v->len) : std::string());
        }
        return out;
    }

    // One array multi-get of a, b, c, x, y.
    std::vector<std::pair<apr_status_t, std::string>> array_get(apr_memcache_t* mc) {
        std::vector<ap_memcache_key_t> k;
        for (const char* key : {"a", "b", "c", "x", "y"}) k.push_back({key, std::strlen(key)});
        std::vector<ap_memcache_result_t> r(k.size());
        EXPECT_EQ(ap_memcache_multiget_array(mc, pool_, k.data(), k.size(), r.data(), 0), APR_SUCCESS);
        std::vector<std::pair<apr_status_t, std::string>> out;
        for (const auto& one : r) {
            out.emplace_back(one.status, one.status == APR_SUCCESS ? std::string(one.data, one.len) : std::string());
        }
        return out;
    }

    static void expect_rule(const std::vector<std::pair<apr_status_t, std::string>>& got) {
        using Got = std::pair<apr_status_t, std::string>;
        const Got error{AP_MEMCACHE_EPROTO, ""};
        EXPECT_EQ(got[0], Got(APR_SUCCESS, "A"));
        EXPECT_EQ(got[1], error);
        EXPECT_EQ(got[2], names_failing_key() ? Got(APR_SUCCESS, "C") : error);
        EXPECT_EQ(got[3], Got(APR_SUCCESS, "X"));
        EXPECT_EQ(got[4], Got(APR_SUCCESS, "Y"));
    }

    apr_pool_t* pool_ = nullptr;
    MemcachedProcess memcached_;
};

TEST_F(MultiGetErrors, MultgetpKeepsValuesBeforeTheErrorAndFailsTheRestOfThatServer) {
    CannedServer canned(responder());
    apr_memcache_t* mc = client_of(canned);
    expect_rule(multgetp(mc));
}

TEST_F(MultiGetErrors, ArrayMultiGetKeepsValuesBeforeTheErrorAndFailsTheRestOfThatServer) {
    CannedServer canned(responder());
    apr_memcache_t* mc = client_of(canned);
    expect_rule(array_get(mc));
}

// The error ended the reply as the protocol says a reply ends: the stream is in step, so
// the next call goes out on the same connection.
TEST_F(MultiGetErrors, ConnectionStillInStepAfterAnErrorIsReused) {
    CannedServer canned(responder());
    apr_memcache_t* mc = client_of(canned);
    expect_rule(array_get(mc));
    expect_rule(multgetp(mc));
    EXPECT_EQ(canned.accepted(), 1);
}

// Bytes after the end of the reply: the stream is out of step, the connection is closed
// and the next call opens another one.
TEST_F(MultiGetErrors, ConnectionWithBytesAfterTheReplyIsReopened) {
    CannedServer canned(responder("VALUE z 0 1\r\nZ\r\n"));
    apr_memcache_t* mc = client_of(canned);
    expect_rule(array_get(mc));
    expect_rule(multgetp(mc));
    EXPECT_EQ(canned.accepted(), 2);
}

}  // namespace
}  // namespace mmc::test
