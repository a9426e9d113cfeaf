// What a meta server is sent for a multi-get (docs/design.md, "Multi-get"): one text
// "get k1 k2 ..." (gets with CAS), read as a text reply, for every multi-get of the API;
// the single get and the meta calls stay mg. Played against a canned server that
// records every request, and against a real memcached for the mix of text and meta
// commands on one connection, with and without -Y authentication.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "canned_server.h"
#include "live_fixture.h"
#include "users_file.h"

namespace mmc::test {
namespace {

// A canned server that keeps every request it reads and answers it with `reply`.
class RecordingServer {
public:
    explicit RecordingServer(std::function<std::string(const std::string&)> reply)
        : server_([this, reply = std::move(reply)](const std::string& request) {
              std::lock_guard<std::mutex> lock(mu_);
              requests_.push_back(request);
              return reply(request);
          }) {}

    unsigned short port() const { return server_.port(); }
    std::vector<std::string> requests() {
        std::lock_guard<std::mutex> lock(mu_);
        return requests_;
    }

private:
    std::mutex mu_;
    std::vector<std::string> requests_;
    CannedServer server_;
};

// The words of a request line without its CRLF: the command, then the keys.
std::vector<std::string> words_of(const std::string& line) {
    std::vector<std::string> words;
    std::istringstream in(line.substr(0, line.find("\r\n")));
    for (std::string w; in >> w;) words.push_back(w);
    return words;
}

// A text server holding a = "A" (flags 1, CAS 11) and c = "C" (flags 3, CAS 13): the
// reply to a get/gets line, in the order the line asks, as memcached sends it.
std::string text_reply(const std::string& request) {
    const std::vector<std::string> w = words_of(request);
    if (w.empty() || (w[0] != "get" && w[0] != "gets")) return "ERROR\r\n";
    const bool cas = w[0] == "gets";
    std::string out;
    for (std::size_t i = 1; i < w.size(); ++i) {
        if (w[i] == "a") out += cas ? "VALUE a 1 1 11\r\nA\r\n" : "VALUE a 1 1\r\nA\r\n";
        if (w[i] == "c") out += cas ? "VALUE c 3 1 13\r\nC\r\n" : "VALUE c 3 1\r\nC\r\n";
    }
    return out + "END\r\n";
}

class MetaMultiGet : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_EQ(apr_pool_create(&pool_, nullptr), APR_SUCCESS); }
    void TearDown() override { apr_pool_destroy(pool_); }

    apr_memcache_t* meta_client_of(const RecordingServer& server) {
        return one_server_client(pool_, server.port(), AP_MEMCACHE_PROTOCOL_META, 300 * 1000);
    }

    // The one request the server read, as command and keys (keys sorted: the hash of
    // a multgetp has an order of its own).
    static std::vector<std::string> only_request(RecordingServer& server) {
        const auto requests = server.requests();
        EXPECT_EQ(requests.size(), 1u);
        if (requests.empty()) return {};
        EXPECT_EQ(requests[0].find("\r\n"), requests[0].size() - 2) << "one line: " << requests[0];
        std::vector<std::string> w = words_of(requests[0]);
        if (!w.empty()) std::sort(w.begin() + 1, w.end());
        return w;
    }

    apr_pool_t* pool_ = nullptr;
};

using Words = std::vector<std::string>;

TEST_F(MetaMultiGet, MultgetpGoesOutAsOneTextGetAndReadsItsReply) {
    RecordingServer server(text_reply);
    apr_memcache_t* mc = meta_client_of(server);
    apr_hash_t* values = nullptr;
    for (const char* k : {"a", "b", "c"}) apr_memcache_add_multget_key(pool_, k, &values);
    apr_pool_t* temp = nullptr;
    ASSERT_EQ(apr_pool_create(&temp, pool_), APR_SUCCESS);
    ASSERT_EQ(apr_memcache_multgetp(mc, temp, pool_, values), APR_SUCCESS);
    EXPECT_EQ(only_request(server), (Words{"get", "a", "b", "c"}));
    auto* a = static_cast<apr_memcache_value_t*>(apr_hash_get(values, "a", APR_HASH_KEY_STRING));
    auto* b = static_cast<apr_memcache_value_t*>(apr_hash_get(values, "b", APR_HASH_KEY_STRING));
    auto* c = static_cast<apr_memcache_value_t*>(apr_hash_get(values, "c", APR_HASH_KEY_STRING));
    ASSERT_EQ(a->status, APR_SUCCESS);
    EXPECT_EQ(std::string(a->data, a->len), "A");
    EXPECT_EQ(a->flags, 1);
    EXPECT_EQ(b->status, APR_NOTFOUND);
    ASSERT_EQ(c->status, APR_SUCCESS);
    EXPECT_EQ(std::string(c->data, c->len), "C");
    EXPECT_EQ(c->flags, 3);
}

TEST_F(MetaMultiGet, MultigetsGoesOutAsOneTextGetsAndKeepsTheCasUniques) {
    RecordingServer server(text_reply);
    apr_memcache_t* mc = meta_client_of(server);
    apr_hash_t* items = nullptr;
    for (const char* k : {"a", "b", "c"}) ap_memcache_add_multigets_key(pool_, k, &items);
    apr_pool_t* temp = nullptr;
    ASSERT_EQ(apr_pool_create(&temp, pool_), APR_SUCCESS);
    ASSERT_EQ(ap_memcache_multigets(mc, temp, pool_, items), APR_SUCCESS);
    EXPECT_EQ(only_request(server), (Words{"gets", "a", "b", "c"}));
    auto* a = static_cast<ap_memcache_item_t*>(apr_hash_get(items, "a", APR_HASH_KEY_STRING));
    auto* b = static_cast<ap_memcache_item_t*>(apr_hash_get(items, "b", APR_HASH_KEY_STRING));
    auto* c = static_cast<ap_memcache_item_t*>(apr_hash_get(items, "c", APR_HASH_KEY_STRING));
    ASSERT_EQ(a->status, APR_SUCCESS);
    EXPECT_EQ(a->cas, 11u);
    EXPECT_EQ(b->status, APR_NOTFOUND);
    ASSERT_EQ(c->status, APR_SUCCESS);
    EXPECT_EQ(c->cas, 13u);
    EXPECT_EQ(c->flags, 3u);
}

TEST_F(MetaMultiGet, ArrayMultiGetGoesOutAsOneTextGetInTheCallersOrder) {
    RecordingServer server(text_reply);
    apr_memcache_t* mc = meta_client_of(server);
    const ap_memcache_key_t keys[] = {{"c", 1}, {"b", 1}, {"a", 1}};
    ap_memcache_result_t r[3];
    ASSERT_EQ(ap_memcache_multiget_array(mc, pool_, keys, 3, r, AP_MEMCACHE_MULTIGET_CAS), APR_SUCCESS);
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0], "gets c b a\r\n");
    ASSERT_EQ(r[0].status, APR_SUCCESS);
    EXPECT_EQ(std::string(r[0].data, r[0].len), "C");
    EXPECT_EQ(r[0].cas, 13u);
    EXPECT_EQ(r[1].status, APR_NOTFOUND);
    ASSERT_EQ(r[2].status, APR_SUCCESS);
    EXPECT_EQ(std::string(r[2].data, r[2].len), "A");
}

// The reply is read as text: a value for a key not asked for, or a meta reply line,
// does not answer the request, and no key gets a value it did not ask for.
TEST_F(MetaMultiGet, ReplyThatDoesNotAnswerTheGetIsAProtocolError) {
    for (const char* reply : {"VALUE other 0 1\r\nx\r\nEND\r\n", "VA 1 f0 kk O1\r\nx\r\nMN\r\n"}) {
        RecordingServer server([reply](const std::string&) { return std::string(reply); });
        apr_memcache_t* mc = meta_client_of(server);
        apr_hash_t* values = nullptr;
        apr_memcache_add_multget_key(pool_, "k", &values);
        apr_pool_t* temp = nullptr;
        ASSERT_EQ(apr_pool_create(&temp, pool_), APR_SUCCESS);
        ASSERT_EQ(apr_memcache_multgetp(mc, temp, pool_, values), APR_SUCCESS);
        auto* v = static_cast<apr_memcache_value_t*>(apr_hash_get(values, "k", APR_HASH_KEY_STRING));
        EXPECT_EQ(v->status, AP_MEMCACHE_EPROTO) << reply;
        EXPECT_EQ(v->data, nullptr) << reply;
    }
}

// The single get, the lease get and the metadata look stay mg: only meta has them (and
// the single get costs least as mg).
TEST_F(MetaMultiGet, SingleGetAndTheMetaCallsStillGoOutAsMg) {
    RecordingServer server([](const std::string& request) -> std::string {
        if (request.rfind("mg ", 0) != 0) return "ERROR\r\n";
        if (request.find(" N") != std::string::npos) return "VA 5 f0 c7 t30 W\r\nhello\r\n";  // lease get
        if (request.find(" v") != std::string::npos) return "VA 5 f0\r\nhello\r\n";
        return "HD t-1 l3 h1 s5 c9 f4\r\n";  // metadata
    });
    apr_memcache_t* mc = meta_client_of(server);
    char* data = nullptr;
    apr_size_t len = 0;
    EXPECT_EQ(apr_memcache_getp(mc, pool_, "k", &data, &len, nullptr), APR_SUCCESS);
    ap_memcache_lease_t lease;
    EXPECT_EQ(ap_memcache_lease_get(mc, pool_, "k", 30, 0, &lease), APR_SUCCESS);
    EXPECT_TRUE(lease.won);
    ap_memcache_meta_t meta;
    EXPECT_EQ(ap_memcache_meta_get(mc, "k", 0, &meta), APR_SUCCESS);
    EXPECT_EQ(meta.size, 5u);
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 3u);
    for (const auto& r : requests) EXPECT_EQ(r.rfind("mg k ", 0), 0u) << r;
}

// memcached with -Y: a meta connection, once authenticated, answers text gets between
// its mg and ms as any other request.
class MetaMultiGetAuth : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_EQ(apr_pool_create(&pool_, nullptr), APR_SUCCESS);
        auth_file_ = make_users_file(dir_);
        ASSERT_FALSE(auth_file_.empty()) << "cannot make a temporary directory";
    }
    void TearDown() override {
        remove_users_file(dir_, auth_file_);
        apr_pool_destroy(pool_);
    }

    apr_pool_t* pool_ = nullptr;
    std::string dir_, auth_file_;
};

TEST_F(MetaMultiGetAuth, AuthenticatedMetaConnectionAnswersAMultiGetBetweenMetaCommands) {
    MemcachedProcess server({"-Y", auth_file_});
    ASSERT_TRUE(server.start()) << server.error();
    apr_memcache_t* mc = nullptr;
    ASSERT_EQ(apr_memcache_create(pool_, 1, 0, &mc), APR_SUCCESS);
    apr_memcache_server_t* ms = nullptr;
    // One connection: every request below goes over the same one.
    ASSERT_EQ(apr_memcache_server_create(pool_, "127.0.0.1", server.port(), 0, 1, 1, 60000000, &ms), APR_SUCCESS);
    ap_memcache_server_options_t o;
    ap_memcache_server_get_options(ms, &o);
    o.protocol = AP_MEMCACHE_PROTOCOL_META;
    ASSERT_EQ(ap_memcache_server_set_options(ms, &o), APR_SUCCESS);
    ASSERT_EQ(ap_memcache_server_set_auth(ms, "alice", "s3cret"), APR_SUCCESS);
    ASSERT_EQ(apr_memcache_add_server(mc, ms), APR_SUCCESS);

    ASSERT_EQ(apr_memcache_set(mc, "a", const_cast<char*>("one"), 3, 0, 5), APR_SUCCESS);
    // memcached counts every connection it accepts: the same count at the end says that
    // everything went over the one connection the set opened.
    apr_memcache_stats_t* before = nullptr;
    ASSERT_EQ(apr_memcache_stats(ms, pool_, &before), APR_SUCCESS);
    char* data = nullptr;
    apr_size_t len = 0;
    ASSERT_EQ(apr_memcache_getp(mc, pool_, "a", &data, &len, nullptr), APR_SUCCESS);
    ASSERT_EQ(apr_memcache_set(mc, "b", const_cast<char*>("two"), 3, 0, 6), APR_SUCCESS);
    apr_status_t rv = APR_EGENERAL;
    auto got = multiget_of(mc, pool_, {"a", "b", "c"}, &rv);
    EXPECT_EQ(rv, APR_SUCCESS);
    EXPECT_EQ(got["a"].status, APR_SUCCESS);
    EXPECT_EQ(got["a"].value, "one");
    EXPECT_EQ(got["b"].value, "two");
    EXPECT_EQ(got["c"].status, APR_NOTFOUND);
    ap_memcache_meta_t meta;
    ASSERT_EQ(ap_memcache_meta_get(mc, "b", 1, &meta), APR_SUCCESS);
    EXPECT_EQ(meta.flags, 6u);
    EXPECT_EQ(meta.size, 3u);
    got = multiget_of(mc, pool_, {"b"}, &rv);
    EXPECT_EQ(got["b"].value, "two");
    apr_memcache_stats_t* after = nullptr;
    ASSERT_EQ(apr_memcache_stats(ms, pool_, &after), APR_SUCCESS);
    EXPECT_EQ(after->total_connections, before->total_connections);
}

}  // namespace
}  // namespace mmc::test
