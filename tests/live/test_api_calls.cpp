// Every apr_memcache-compatible call against a real memcached, with apr-util's return
// codes (and ours where apr-util is wrong).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "live_fixture.h"

namespace mmc::test {
namespace {

using ApiCalls = Live;

TEST_F(ApiCalls, SetThenGetReturnsValueFlagsAndNulTerminator) {
    ASSERT_EQ(set("cow", "moo", 42), APR_SUCCESS);
    char* data = nullptr;
    apr_size_t len = 0;
    apr_uint16_t flags = 0;
    ASSERT_EQ(apr_memcache_getp(mc_, pool_, "cow", &data, &len, &flags), APR_SUCCESS);
    EXPECT_EQ(std::string(data, len), "moo");
    EXPECT_EQ(data[len], '\0');
    EXPECT_EQ(flags, 42);
}

TEST_F(ApiCalls, GetOfMissingKeyIsNotFound) {
    apr_status_t rv;
    get("never-set", &rv);
    EXPECT_EQ(rv, APR_NOTFOUND);
}

TEST_F(ApiCalls, GetAcceptsNullFlags) {
    ASSERT_EQ(set("k", "v"), APR_SUCCESS);
    char* data = nullptr;
    apr_size_t len = 0;
    EXPECT_EQ(apr_memcache_getp(mc_, pool_, "k", &data, &len, nullptr), APR_SUCCESS);
}

TEST_F(ApiCalls, ValueIsStoredOnTheServerAsSent) {
    ASSERT_EQ(set("direct", "check", 7), APR_SUCCESS);
    RawClient raw(server().port());
    EXPECT_EQ(raw.get("direct"), std::optional<std::string>("check"));
}

TEST_F(ApiCalls, AddOfExistingKeyIsEexistAndKeepsValue) {
    ASSERT_EQ(set("a", "1"), APR_SUCCESS);
    EXPECT_EQ(apr_memcache_add(mc_, "a", const_cast<char*>("2"), 1, 0, 0), APR_EEXIST);
    EXPECT_EQ(get("a"), "1");
}

TEST_F(ApiCalls, AddOfNewKeyStores) {
    EXPECT_EQ(apr_memcache_add(mc_, "fresh", const_cast<char*>("x"), 1, 0, 0), APR_SUCCESS);
    EXPECT_EQ(get("fresh"), "x");
}

TEST_F(ApiCalls, ReplaceOfMissingKeyIsEexist) {
    EXPECT_EQ(apr_memcache_replace(mc_, "missing", const_cast<char*>("x"), 1, 0, 0), APR_EEXIST);
    apr_status_t rv;
    get("missing", &rv);
    EXPECT_EQ(rv, APR_NOTFOUND);
}

TEST_F(ApiCalls, ReplaceOfExistingKeyStores) {
    ASSERT_EQ(set("r", "old"), APR_SUCCESS);
    EXPECT_EQ(apr_memcache_replace(mc_, "r", const_cast<char*>("new"), 3, 0, 0), APR_SUCCESS);
    EXPECT_EQ(get("r"), "new");
}

TEST_F(ApiCalls, DeleteRemovesAndThenReportsNotFound) {
    ASSERT_EQ(set("d", "v"), APR_SUCCESS);
    EXPECT_EQ(apr_memcache_delete(mc_, "d", 0), APR_SUCCESS);
    EXPECT_EQ(apr_memcache_delete(mc_, "d", 0), APR_NOTFOUND);
}

TEST_F(ApiCalls, DeleteWithTimeIsAcceptedAndDeletes) {
    // apr-util sends the time, which memcached >= 1.4 rejects; we do not send it.
    ASSERT_EQ(set("dt", "v"), APR_SUCCESS);
    EXPECT_EQ(apr_memcache_delete(mc_, "dt", 10), APR_SUCCESS);
    apr_status_t rv;
    get("dt", &rv);
    EXPECT_EQ(rv, APR_NOTFOUND);
}

TEST_F(ApiCalls, IncrAndDecrReturnNewValue) {
    ASSERT_EQ(set("n", "10"), APR_SUCCESS);
    apr_uint32_t nv = 0;
    EXPECT_EQ(apr_memcache_incr(mc_, "n", 5, &nv), APR_SUCCESS);
    EXPECT_EQ(nv, 15u);
    EXPECT_EQ(apr_memcache_decr(mc_, "n", 3, &nv), APR_SUCCESS);
    EXPECT_EQ(nv, 12u);
}

TEST_F(ApiCalls, DecrStopsAtZero) {
    ASSERT_EQ(set("z", "2"), APR_SUCCESS);
    apr_uint32_t nv = 99;
    EXPECT_EQ(apr_memcache_decr(mc_, "z", 5, &nv), APR_SUCCESS);
    EXPECT_EQ(nv, 0u);
}

TEST_F(ApiCalls, IncrWithNegativeAmountDecrements) {
    ASSERT_EQ(set("neg", "10"), APR_SUCCESS);
    apr_uint32_t nv = 0;
    EXPECT_EQ(apr_memcache_incr(mc_, "neg", -4, &nv), APR_SUCCESS);
    EXPECT_EQ(nv, 6u);
}

TEST_F(ApiCalls, IncrOfMissingKeyIsNotFoundAndLeavesResultUntouched) {
    apr_uint32_t nv = 1234;
    EXPECT_EQ(apr_memcache_incr(mc_, "nokey", 1, &nv), APR_NOTFOUND);
    EXPECT_EQ(nv, 1234u);
}

TEST_F(ApiCalls, IncrOfNonNumericValueIsAnErrorNotZero) {
    ASSERT_EQ(set("text", "abc"), APR_SUCCESS);
    apr_uint32_t nv = 77;
    EXPECT_EQ(apr_memcache_incr(mc_, "text", 1, &nv), AP_MEMCACHE_EPROTO);
    EXPECT_EQ(nv, 77u);
    // The connection survives a CLIENT_ERROR reply.
    EXPECT_EQ(get("text"), "abc");
}

TEST_F(ApiCalls, IncrResultIsTruncatedTo32BitsAsTheSignatureRequires) {
    ASSERT_EQ(set("big", "4294967295"), APR_SUCCESS);
    apr_uint32_t nv = 0;
    EXPECT_EQ(apr_memcache_incr(mc_, "big", 2, &nv), APR_SUCCESS);
    EXPECT_EQ(nv, 1u);
    EXPECT_EQ(get("big"), "4294967297");  // the server keeps 64 bits
}

TEST_F(ApiCalls, BinaryValueRoundTrips) {
    std::string v("a\0b\r\nEND\r\n\xff", 12);
    ASSERT_EQ(set("bin", v), APR_SUCCESS);
    EXPECT_EQ(get("bin"), v);
}

TEST_F(ApiCalls, EmptyValueRoundTrips) {
    ASSERT_EQ(apr_memcache_set(mc_, "empty", nullptr, 0, 0, 3), APR_SUCCESS);
    apr_status_t rv;
    apr_uint16_t flags = 0;
    EXPECT_EQ(get("empty", &rv, &flags), "");
    EXPECT_EQ(rv, APR_SUCCESS);
    EXPECT_EQ(flags, 3);
}

TEST_F(ApiCalls, LargeValueRoundTrips) {
    std::string v(900 * 1024, 'x');
    for (std::size_t i = 0; i < v.size(); i += 97) v[i] = static_cast<char>(i);
    ASSERT_EQ(set("large", v), APR_SUCCESS);
    EXPECT_EQ(get("large"), v);
}

TEST_F(ApiCalls, ValueOverServerItemLimitIsAnErrorAndConnectionStaysUsable) {
    // Our own limit above memcached's (-I 1m), so that memcached is the one to refuse.
    ap_memcache_server_options_t o;
    ASSERT_EQ(ap_memcache_server_get_options(mc_->live_servers[0], &o), APR_SUCCESS);
    o.max_value_size = 4 * 1024 * 1024;
    ASSERT_EQ(ap_memcache_server_set_options(mc_->live_servers[0], &o), APR_SUCCESS);
    std::string v(2 * 1024 * 1024, 'y');
    EXPECT_EQ(set("huge", v), AP_MEMCACHE_EPROTO);
    EXPECT_EQ(set("after", "ok"), APR_SUCCESS);
    EXPECT_EQ(get("after"), "ok");
}

TEST_F(ApiCalls, ExpiryTimeIsHonoured) {
    ASSERT_EQ(apr_memcache_set(mc_, "ttl", const_cast<char*>("v"), 1, 1, 0), APR_SUCCESS);
    EXPECT_EQ(get("ttl"), "v");
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    apr_status_t rv;
    get("ttl", &rv);
    EXPECT_EQ(rv, APR_NOTFOUND);
}

TEST_F(ApiCalls, VersionHasNoTrailingCarriageReturn) {
    char* v = nullptr;
    ASSERT_EQ(apr_memcache_version(mc_->live_servers[0], pool_, &v), APR_SUCCESS);
    std::string s(v);
    EXPECT_FALSE(s.empty());
    EXPECT_EQ(s.find('\r'), std::string::npos);
    EXPECT_EQ(s.find('\n'), std::string::npos);
    EXPECT_EQ(s[0] >= '0' && s[0] <= '9', true) << s;
}

TEST_F(ApiCalls, StatsFillsTheStruct) {
    ASSERT_EQ(set("s1", "v"), APR_SUCCESS);
    get("s1");
    apr_memcache_stats_t* st = nullptr;
    ASSERT_EQ(apr_memcache_stats(mc_->live_servers[0], pool_, &st), APR_SUCCESS);
    ASSERT_NE(st, nullptr);
    ASSERT_NE(st->version, nullptr);
    EXPECT_EQ(st->pid, static_cast<apr_uint32_t>(server().pid()));
    EXPECT_GE(st->cmd_set, 1u);
    EXPECT_GE(st->get_hits, 1u);
    EXPECT_EQ(st->pointer_size, 64u);
    EXPECT_EQ(st->limit_maxbytes, 64u * 1024 * 1024);
    EXPECT_EQ(st->threads, 2u);
    EXPECT_GT(st->time, apr_time_from_sec(1600000000));
    EXPECT_GE(st->curr_items, 1u);
}

TEST_F(ApiCalls, FindServerMatchesHostAndPort) {
    apr_memcache_server_t* ms = apr_memcache_find_server(mc_, "127.0.0.1", server().port());
    EXPECT_EQ(ms, mc_->live_servers[0]);
    EXPECT_EQ(apr_memcache_find_server(mc_, "127.0.0.1", static_cast<apr_port_t>(server().port() + 1)), nullptr);
    EXPECT_EQ(apr_memcache_find_server(mc_, "localhost", server().port()), nullptr);
}

TEST_F(ApiCalls, AddServerReportsFullTableAsEnomem) {
    apr_memcache_t* mc = nullptr;
    ASSERT_EQ(apr_memcache_create(pool_, 1, 0, &mc), APR_SUCCESS);
    apr_memcache_server_t *a = nullptr, *b = nullptr;
    ASSERT_EQ(apr_memcache_server_create(pool_, "127.0.0.1", server().port(), 0, 1, 1, 0, &a), APR_SUCCESS);
    ASSERT_EQ(apr_memcache_server_create(pool_, "127.0.0.1", 1, 0, 1, 1, 0, &b), APR_SUCCESS);
    EXPECT_EQ(apr_memcache_add_server(mc, a), APR_SUCCESS);
    EXPECT_EQ(apr_memcache_add_server(mc, b), APR_ENOMEM);
    EXPECT_EQ(mc->ntotal, 1);
    EXPECT_EQ(mc->nalloc, 1);
}

TEST_F(ApiCalls, ServerCreateRejectsInconsistentPoolSizes) {
    apr_memcache_server_t* ms = nullptr;
    EXPECT_EQ(apr_memcache_server_create(pool_, "127.0.0.1", 1, 0, 0, 0, 0, &ms), APR_EINVAL);
    EXPECT_EQ(apr_memcache_server_create(pool_, "127.0.0.1", 1, 3, 2, 4, 0, &ms), APR_EINVAL);
    EXPECT_EQ(apr_memcache_server_create(pool_, "127.0.0.1", 1, 0, 5, 4, 0, &ms), APR_EINVAL);
    EXPECT_EQ(apr_memcache_server_create(pool_, "", 1, 0, 1, 1, 0, &ms), APR_EINVAL);
}

TEST_F(ApiCalls, PublicFieldsDescribeTheServer) {
    apr_memcache_server_t* ms = mc_->live_servers[0];
    EXPECT_STREQ(ms->host, "127.0.0.1");
    EXPECT_EQ(ms->port, server().port());
    EXPECT_EQ(ms->status, APR_MC_SERVER_LIVE);
    EXPECT_EQ(mc_->ntotal, 1);
}

TEST_F(ApiCalls, DisabledServerIsSkippedAndEnabledAgain) {
    apr_memcache_server_t* ms = mc_->live_servers[0];
    ASSERT_EQ(apr_memcache_disable_server(mc_, ms), APR_SUCCESS);
    EXPECT_EQ(ms->status, APR_MC_SERVER_DEAD);
    EXPECT_EQ(set("x", "1"), AP_MEMCACHE_ENOSERVER);
    ASSERT_EQ(apr_memcache_enable_server(mc_, ms), APR_SUCCESS);
    EXPECT_EQ(ms->status, APR_MC_SERVER_LIVE);
    EXPECT_EQ(set("x", "1"), APR_SUCCESS);
}

TEST_F(ApiCalls, NoLiveServerIsDistinctFromAMiss) {
    ASSERT_EQ(apr_memcache_disable_server(mc_, mc_->live_servers[0]), APR_SUCCESS);
    apr_status_t rv;
    get("k", &rv);
    EXPECT_EQ(rv, AP_MEMCACHE_ENOSERVER);
    EXPECT_NE(rv, APR_NOTFOUND);
    char buf[128];
    EXPECT_STREQ(ap_memcache_strerror(rv, buf, sizeof buf), "no live memcached server");
}

TEST_F(ApiCalls, EmptyClientHasNoServer) {
    apr_memcache_t* mc = nullptr;
    ASSERT_EQ(apr_memcache_create(pool_, 4, 0, &mc), APR_SUCCESS);
    char* data = nullptr;
    apr_size_t len = 0;
    EXPECT_EQ(apr_memcache_getp(mc, pool_, "k", &data, &len, nullptr), AP_MEMCACHE_ENOSERVER);
    EXPECT_EQ(apr_memcache_find_server_hash(mc, 1), nullptr);
}

TEST_F(ApiCalls, CustomHashAndServerFunctionsAreUsed) {
    struct Counter {
        int hashes = 0, picks = 0;
    } counter;
    mc_->hash_baton = &counter;
    mc_->hash_func = [](void* baton, const char*, const apr_size_t) -> apr_uint32_t {
        ++static_cast<Counter*>(baton)->hashes;
        return 7;
    };
    mc_->server_baton = &counter;
    mc_->server_func = [](void* baton, apr_memcache_t* mc, const apr_uint32_t hash) {
        ++static_cast<Counter*>(baton)->picks;
        EXPECT_EQ(hash, 7u);
        return mc->live_servers[0];
    };
    EXPECT_EQ(apr_memcache_hash(mc_, "abc", 3), 7u);
    ASSERT_EQ(set("custom", "v"), APR_SUCCESS);
    EXPECT_EQ(get("custom"), "v");
    EXPECT_GE(counter.hashes, 3);
    EXPECT_EQ(counter.picks, 2);
}

TEST_F(ApiCalls, UnixSocketServerWorks) {
    MemcachedProcess unix_server;
    std::string path = "/tmp/mmc-live-" + std::to_string(::getpid()) + ".sock";
    ASSERT_TRUE(unix_server.start_unix(path)) << unix_server.error();
    apr_memcache_t* mc = nullptr;
    apr_memcache_server_t* ms = nullptr;
    ASSERT_EQ(apr_memcache_create(pool_, 1, 0, &mc), APR_SUCCESS);
    ASSERT_EQ(apr_memcache_server_create(pool_, path.c_str(), 0, 0, 1, 1, 0, &ms), APR_SUCCESS);
    use_test_protocol(ms);
    ASSERT_EQ(apr_memcache_add_server(mc, ms), APR_SUCCESS);
    ASSERT_EQ(apr_memcache_set(mc, "u", const_cast<char*>("nix"), 3, 0, 0), APR_SUCCESS);
    char* data = nullptr;
    apr_size_t len = 0;
    ASSERT_EQ(apr_memcache_getp(mc, pool_, "u", &data, &len, nullptr), APR_SUCCESS);
    EXPECT_EQ(std::string(data, len), "nix");
    unix_server.stop();
    ::unlink(path.c_str());
}

TEST_F(ApiCalls, ThreeThousandKeysSetGetDelete) {
    constexpr int kKeys = 3000;
    for (int i = 0; i < kKeys; ++i) {
        std::string k = "key:" + std::to_string(i);
        ASSERT_EQ(set(k, "value-" + std::to_string(i * 7)), APR_SUCCESS) << k;
    }
    for (int i = 0; i < kKeys; ++i) {
        std::string k = "key:" + std::to_string(i);
        apr_status_t rv;
        EXPECT_EQ(get(k, &rv), "value-" + std::to_string(i * 7));
        ASSERT_EQ(rv, APR_SUCCESS) << k;
    }
    for (int i = 0; i < kKeys; ++i) {
        ASSERT_EQ(apr_memcache_delete(mc_, ("key:" + std::to_string(i)).c_str(), 0), APR_SUCCESS);
    }
    RawClient raw(server().port());
    EXPECT_EQ(raw.number("curr_items"), 0);
}

TEST_F(ApiCalls, ModulaPlacementFollowsAprUtilFormula) {
    start_servers(3);
    std::vector<std::unique_ptr<RawClient>> raws;
    for (auto& s : servers_) raws.push_back(std::make_unique<RawClient>(s->port()));
    for (int i = 0; i < 300; ++i) {
        std::string k = "placed-" + std::to_string(i);
        ASSERT_EQ(set(k, k), APR_SUCCESS);
        apr_uint32_t h = apr_memcache_hash_default(nullptr, k.data(), k.size());
        std::size_t owner = (h ? h : 1) % 3;
        for (std::size_t s = 0; s < 3; ++s) {
            EXPECT_EQ(raws[s]->get(k).has_value(), s == owner) << k << " on server " << s;
        }
    }
}

}  // namespace
}  // namespace mmc::test

namespace mmc::test {
namespace {

// What the client actually writes: a get starts "get " in the text protocol, with the
// request magic 0x80 in the binary one and "mg " in the meta one; a set "set ", 0x80 and
// "ms ".
std::string first_bytes_of(int protocol, bool store) {
    apr_pool_t* pool = nullptr;
    EXPECT_EQ(apr_pool_create(&pool, nullptr), APR_SUCCESS);
    int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    EXPECT_EQ(::listen(listener, 4), 0);
    socklen_t len = sizeof sa;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&sa), &len);

    apr_memcache_t* mc = one_server_client(pool, ntohs(sa.sin_port), protocol, 100 * 1000);

    if (store) {
        char v[] = "value";
        EXPECT_EQ(apr_memcache_set(mc, "k", v, 5, 0, 0), APR_TIMEUP);
    } else {
        char* data = nullptr;
        apr_size_t dlen = 0;
        EXPECT_EQ(apr_memcache_getp(mc, pool, "k", &data, &dlen, nullptr), APR_TIMEUP);
    }
    std::string got;
    int conn = ::accept(listener, nullptr, nullptr);
    EXPECT_GE(conn, 0);
    char buf[3];
    ssize_t n = conn >= 0 ? ::recv(conn, buf, sizeof buf, MSG_WAITALL) : -1;
    if (n > 0) got.assign(buf, static_cast<std::size_t>(n));
    if (conn >= 0) ::close(conn);
    ::close(listener);
    apr_pool_destroy(pool);
    return got;
}

TEST(Protocol, MetaSendsMgAndMs) {
    EXPECT_EQ(first_bytes_of(AP_MEMCACHE_PROTOCOL_META, false), "mg ");
    EXPECT_EQ(first_bytes_of(AP_MEMCACHE_PROTOCOL_META, true), "ms ");
    EXPECT_EQ(first_bytes_of(AP_MEMCACHE_PROTOCOL_TEXT, false), "get");
    EXPECT_EQ(first_bytes_of(AP_MEMCACHE_PROTOCOL_TEXT, true), "set");
}

TEST(Protocol, ConfiguredProtocolIsWhatGoesOnTheWire) {
    for (int protocol : {AP_MEMCACHE_PROTOCOL_TEXT, AP_MEMCACHE_PROTOCOL_BINARY}) {
        const std::string first = first_bytes_of(protocol, false);
        ASSERT_FALSE(first.empty());
        EXPECT_EQ(static_cast<unsigned char>(first[0]), protocol == AP_MEMCACHE_PROTOCOL_BINARY ? 0x80 : 'g');
    }
}

}  // namespace
}  // namespace mmc::test
