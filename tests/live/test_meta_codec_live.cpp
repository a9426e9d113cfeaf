// The meta codec against a real memcached: requests built by the encoders, replies read
// by MetaReplyParser. Shows that both agree with the server the tests run against
// (memcached 1.6.18 on Debian 12) on every command and flag the engine will use.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "memcached_process.h"
#include "meta_requests.h"
#include "proto/meta_codec.h"

namespace mmc::test {
namespace {

using namespace mmc::proto;
using namespace mmc::test_meta;
using namespace std::literals;

// A parsed reply that owns its bytes.
struct Reply {
    MetaEventType type = MetaEventType::ok;
    MetaEvent ev;  // its views are cleared; the strings below hold them
    std::string key;
    std::string opaque;
    std::string data;

    bool has(MetaFlag f) const { return ev.has(f); }
};

// One blocking connection to the server, reading through the codec's parser.
class MetaConnection {
public:
    explicit MetaConnection(unsigned short port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sa.sin_port = htons(port);
        if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
            ::close(fd_);
            fd_ = -1;
        }
        if (fd_ >= 0) {
            int one = 1;
            ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
    }
    ~MetaConnection() {
        if (fd_ >= 0) ::close(fd_);
    }
    MetaConnection(const MetaConnection&) = delete;
    MetaConnection& operator=(const MetaConnection&) = delete;

    bool connected() const { return fd_ >= 0; }

    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    // The next `count` replies; fewer when the server is silent for 2 s, closes, or the
    // parser fails (the failure is reported as a test failure).
    std::vector<Reply> read(std::size_t count) {
        std::vector<Reply> out;
        while (out.size() < count) {
            MetaEvent ev;
            std::size_t consumed = 0;
            const ParseResult r = parser_.parse(buf_, ev, consumed);
            if (r == ParseResult::error) {
                ADD_FAILURE() << "parse error: " << parser_.error_message() << " in "
                              << testing::PrintToString(buf_);
                return out;
            }
            if (r == ParseResult::event) {
                Reply reply;
                reply.type = ev.type;
                reply.key = std::string(ev.key);
                reply.opaque = std::string(ev.opaque);
                reply.data = std::string(ev.data);
                reply.ev = ev;
                reply.ev.key = reply.ev.opaque = reply.ev.data = {};
                out.push_back(std::move(reply));
                buf_.erase(0, consumed);
                continue;
            }
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 2000) != 1) return out;
            char chunk[65536];
            const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n <= 0) return out;
            buf_.append(chunk, static_cast<std::size_t>(n));
        }
        return out;
    }

    Reply one(std::string_view request) {
        EXPECT_TRUE(send(request));
        std::vector<Reply> r = read(1);
        if (r.empty()) {
            ADD_FAILURE() << "no reply to " << testing::PrintToString(std::string(request));
            return Reply{MetaEventType::error, {}, {}, {}, "no reply"};
        }
        return r.front();
    }

    // True when nothing but what was read has arrived: a quiet request really was quiet.
    bool nothing_pending() const { return buf_.empty(); }

private:
    int fd_ = -1;
    MetaReplyParser parser_;
    std::string buf_;
};

class MetaCodecLive : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(server_.start()) << server_.error();
        conn_ = std::make_unique<MetaConnection>(server_.port());
        ASSERT_TRUE(conn_->connected());
    }

    Reply get(const MetaGetRequest& req) {
        std::string out;
        EXPECT_TRUE(encode_meta_get(out, req));
        return conn_->one(out);
    }
    Reply set(const MetaSetRequest& req, std::string_view data) {
        std::string out;
        EXPECT_TRUE(encode_meta_set(out, req, data));
        return conn_->one(out);
    }
    Reply del(const MetaDeleteRequest& req) {
        std::string out;
        EXPECT_TRUE(encode_meta_delete(out, req));
        return conn_->one(out);
    }
    Reply arith(const MetaArithmeticRequest& req) {
        std::string out;
        EXPECT_TRUE(encode_meta_arithmetic(out, req));
        return conn_->one(out);
    }
    Reply store(std::string_view key, std::string_view value) {
        MetaSetRequest r;
        r.key = key;
        return set(r, value);
    }

    MemcachedProcess server_;
    std::unique_ptr<MetaConnection> conn_;
};

MetaGetRequest value_of(std::string_view key) {
    MetaGetRequest r;
    r.key = key;
    r.value = true;
    return r;
}

TEST_F(MetaCodecLive, SetThenGetReturnsTheValueWithEveryAskedFlag) {
    MetaSetRequest s;
    s.key = "cow";
    s.flags = 42;
    s.ttl = 600;
    s.return_cas = true;
    const Reply stored = set(s, "moo");
    ASSERT_EQ(stored.type, MetaEventType::ok);
    ASSERT_TRUE(stored.has(MetaFlag::cas));

    MetaGetRequest g = value_of("cow");
    g.return_key = g.return_flags = g.return_cas = g.return_ttl = g.return_size = true;
    g.opaque = 77;
    const Reply r = get(g);
    EXPECT_EQ(r.type, MetaEventType::value);
    EXPECT_EQ(r.data, "moo");
    EXPECT_EQ(r.key, "cow");
    EXPECT_EQ(r.ev.flags, 42u);
    EXPECT_EQ(r.ev.cas, stored.ev.cas);
    EXPECT_GT(r.ev.ttl, 590);
    EXPECT_LE(r.ev.ttl, 600);
    EXPECT_EQ(r.ev.size, 3u);
    EXPECT_EQ(r.opaque, "77");
}

TEST_F(MetaCodecLive, ItemWithoutExpiryReportsTtlMinusOne) {
    ASSERT_EQ(store("k", "v").type, MetaEventType::ok);
    MetaGetRequest g;
    g.key = "k";
    g.return_ttl = true;
    const Reply r = get(g);
    EXPECT_EQ(r.type, MetaEventType::ok);  // no v: HD
    EXPECT_EQ(r.ev.ttl, -1);
}

TEST_F(MetaCodecLive, MissIsEnWithOpaqueAndKey) {
    MetaGetRequest g = value_of("absent");
    g.return_key = true;
    g.opaque = 5;
    const Reply r = get(g);
    EXPECT_EQ(r.type, MetaEventType::miss);
    EXPECT_EQ(r.opaque, "5");
    EXPECT_EQ(r.key, "absent");
}

TEST_F(MetaCodecLive, MultiGetAnswersHitsOnlyThenMn) {
    ASSERT_EQ(store("a", "1").type, MetaEventType::ok);
    ASSERT_EQ(store("c", "333").type, MetaEventType::ok);
    MetaGetRequest shape = value_of({});
    shape.return_key = shape.return_flags = true;
    const std::string_view keys[] = {"a", "b", "c"};
    std::string out;
    ASSERT_TRUE(encode_meta_get_multi(out, shape, keys, 3, 4294967295u));
    ASSERT_TRUE(conn_->send(out));
    const std::vector<Reply> r = conn_->read(3);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[0].type, MetaEventType::value);
    EXPECT_EQ(r[0].key, "a");
    EXPECT_EQ(r[0].opaque, "4294967295");
    EXPECT_EQ(r[0].data, "1");
    EXPECT_EQ(r[1].type, MetaEventType::value);
    EXPECT_EQ(r[1].key, "c");
    EXPECT_EQ(r[1].opaque, "1");  // the opaque wrapped
    EXPECT_EQ(r[1].data, "333");
    EXPECT_EQ(r[2].type, MetaEventType::noop);
    EXPECT_TRUE(conn_->nothing_pending());
}

TEST_F(MetaCodecLive, SetModesAnswerAsTheTextCommandsDo) {
    MetaSetRequest add;
    add.key = "m";
    add.mode = MetaSetMode::add;
    EXPECT_EQ(set(add, "a").type, MetaEventType::ok);
    EXPECT_EQ(set(add, "b").type, MetaEventType::not_stored);

    MetaSetRequest replace;
    replace.key = "missing";
    replace.mode = MetaSetMode::replace;
    EXPECT_EQ(set(replace, "x").type, MetaEventType::not_stored);
    replace.key = "m";
    EXPECT_EQ(set(replace, "r").type, MetaEventType::ok);

    MetaSetRequest append;
    append.key = "m";
    append.mode = MetaSetMode::append;
    EXPECT_EQ(set(append, "+").type, MetaEventType::ok);
    MetaSetRequest prepend = append;
    prepend.mode = MetaSetMode::prepend;
    EXPECT_EQ(set(prepend, "-").type, MetaEventType::ok);
    append.key = "missing";
    EXPECT_EQ(set(append, "+").type, MetaEventType::not_stored);

    EXPECT_EQ(get(value_of("m")).data, "-r+");
}

TEST_F(MetaCodecLive, CompareCasStoresOnlyOverTheSameCas) {
    MetaSetRequest s;
    s.key = "c";
    s.return_cas = true;
    const Reply first = set(s, "1");
    ASSERT_TRUE(first.has(MetaFlag::cas));

    MetaSetRequest cas;
    cas.key = "c";
    cas.compare_cas = first.ev.cas + 1000;
    EXPECT_EQ(set(cas, "2").type, MetaEventType::exists);
    cas.compare_cas = first.ev.cas;
    EXPECT_EQ(set(cas, "3").type, MetaEventType::ok);
    cas.key = "nothing-here";
    EXPECT_EQ(set(cas, "4").type, MetaEventType::not_found);
    EXPECT_EQ(get(value_of("c")).data, "3");
}

TEST_F(MetaCodecLive, DeleteAndItsMisses) {
    ASSERT_EQ(store("d", "v").type, MetaEventType::ok);
    MetaDeleteRequest d;
    d.key = "d";
    d.opaque = 9;
    d.return_key = true;
    const Reply r = del(d);
    EXPECT_EQ(r.type, MetaEventType::ok);
    EXPECT_EQ(r.opaque, "9");
    EXPECT_EQ(r.key, "d");
    EXPECT_EQ(del(d).type, MetaEventType::not_found);
    EXPECT_EQ(get(value_of("d")).type, MetaEventType::miss);
}

TEST_F(MetaCodecLive, QuietRequestsSendOnlyWhatIsNotNominal) {
    ASSERT_EQ(store("q", "v").type, MetaEventType::ok);
    std::string out;
    MetaSetRequest s;
    s.key = "q2";
    s.quiet = true;
    ASSERT_TRUE(encode_meta_set(out, s, "x"));  // HD: left out
    MetaDeleteRequest d;
    d.key = "absent";
    d.quiet = true;
    d.opaque = 3;
    ASSERT_TRUE(encode_meta_delete(out, d));  // NF: sent
    MetaGetRequest g = value_of("absent");
    g.quiet = true;
    ASSERT_TRUE(encode_meta_get(out, g));  // EN: left out
    encode_meta_noop(out);
    ASSERT_TRUE(conn_->send(out));
    const std::vector<Reply> r = conn_->read(2);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].type, MetaEventType::not_found);
    EXPECT_EQ(r[0].opaque, "3");
    EXPECT_EQ(r[1].type, MetaEventType::noop);
    EXPECT_EQ(get(value_of("q2")).data, "x");
}

TEST_F(MetaCodecLive, VivifyOnMissGivesOneWinnerAndThenLeaseTaken) {
    MetaGetRequest lease = value_of("hot");
    lease.return_cas = true;
    lease.vivify_ttl = 30;
    const Reply first = get(lease);
    EXPECT_EQ(first.type, MetaEventType::value);
    EXPECT_EQ(first.data, "");
    EXPECT_TRUE(first.has(MetaFlag::won));
    EXPECT_FALSE(first.has(MetaFlag::lease_taken));
    const Reply second = get(lease);
    EXPECT_FALSE(second.has(MetaFlag::won));
    EXPECT_TRUE(second.has(MetaFlag::lease_taken));

    // The winner stores the recomputed value over the stub's cas.
    MetaSetRequest s;
    s.key = "hot";
    s.compare_cas = first.ev.cas;
    EXPECT_EQ(set(s, "fresh").type, MetaEventType::ok);
    const Reply after = get(lease);
    EXPECT_EQ(after.data, "fresh");
    EXPECT_FALSE(after.has(MetaFlag::won));
    EXPECT_FALSE(after.has(MetaFlag::lease_taken));
}

TEST_F(MetaCodecLive, InvalidatedItemIsStaleWithOneWinner) {
    ASSERT_EQ(store("s", "old").type, MetaEventType::ok);
    MetaDeleteRequest inv;
    inv.key = "s";
    inv.invalidate = true;
    inv.ttl = 30;
    EXPECT_EQ(del(inv).type, MetaEventType::ok);

    MetaGetRequest g = value_of("s");
    g.return_cas = true;
    const Reply first = get(g);
    EXPECT_EQ(first.data, "old");
    EXPECT_TRUE(first.has(MetaFlag::stale));
    EXPECT_TRUE(first.has(MetaFlag::won));
    const Reply second = get(g);
    EXPECT_TRUE(second.has(MetaFlag::stale));
    EXPECT_TRUE(second.has(MetaFlag::lease_taken));
    EXPECT_FALSE(second.has(MetaFlag::won));

    MetaSetRequest s;
    s.key = "s";
    s.compare_cas = first.ev.cas;
    EXPECT_EQ(set(s, "new").type, MetaEventType::ok);
    const Reply fresh = get(g);
    EXPECT_EQ(fresh.data, "new");
    EXPECT_FALSE(fresh.has(MetaFlag::stale));
}

TEST_F(MetaCodecLive, RecacheWinsWhenLessTtlIsLeft) {
    MetaSetRequest s;
    s.key = "r";
    s.ttl = 20;
    ASSERT_EQ(set(s, "v").type, MetaEventType::ok);
    MetaGetRequest g = value_of("r");
    g.recache_ttl = 10;  // 20 s left: no win yet
    EXPECT_FALSE(get(g).has(MetaFlag::won));
    g.recache_ttl = 30;  // less than 30 s left: the first asker wins
    EXPECT_TRUE(get(g).has(MetaFlag::won));
    EXPECT_TRUE(get(g).has(MetaFlag::lease_taken));
}

TEST_F(MetaCodecLive, TouchSetsANewTtlAndTReportsTheOldOne) {
    ASSERT_EQ(store("t", "v").type, MetaEventType::ok);
    MetaGetRequest touch;
    touch.key = "t";
    touch.return_ttl = true;
    touch.touch_ttl = 100;
    // Flags are applied in the order sent, and t comes before T.
    EXPECT_EQ(get(touch).ev.ttl, -1);
    MetaGetRequest look;
    look.key = "t";
    look.return_ttl = true;
    const Reply r = get(look);
    EXPECT_GT(r.ev.ttl, 90);
    EXPECT_LE(r.ev.ttl, 100);
}

TEST_F(MetaCodecLive, MetadataWithoutBumpingTheItem) {
    ASSERT_EQ(store("md", "abc").type, MetaEventType::ok);
    MetaGetRequest g;
    g.key = "md";
    g.return_hit_before = g.return_last_access = g.return_size = true;
    g.no_lru_bump = true;
    const Reply first = get(g);
    EXPECT_EQ(first.type, MetaEventType::ok);
    EXPECT_FALSE(first.ev.hit_before);
    EXPECT_TRUE(first.has(MetaFlag::hit_before));
    EXPECT_TRUE(first.has(MetaFlag::last_access));
    EXPECT_EQ(first.ev.size, 3u);
    // u leaves the item unfetched; a plain get then marks it.
    EXPECT_FALSE(get(g).ev.hit_before);
    ASSERT_EQ(get(value_of("md")).data, "abc");
    EXPECT_TRUE(get(g).ev.hit_before);
}

TEST_F(MetaCodecLive, ArithmeticCountsAndVivifies) {
    MetaArithmeticRequest a;
    a.key = "n";
    a.value = true;
    EXPECT_EQ(arith(a).type, MetaEventType::not_found);
    a.vivify_ttl = 0;
    a.initial = 10;
    const Reply created = arith(a);
    EXPECT_EQ(created.type, MetaEventType::value);
    EXPECT_EQ(created.data, "10");  // created with J: the delta is not applied
    a.delta = 5;
    EXPECT_EQ(arith(a).data, "15");
    a.mode = MetaArithMode::decrement;
    a.delta = 100;
    EXPECT_EQ(arith(a).data, "0");  // decrement stops at 0

    MetaArithmeticRequest big;
    big.key = "n";
    big.value = true;
    big.delta = 18446744073709551615u;
    std::uint64_t n = 0;
    ASSERT_TRUE(parse_meta_number(arith(big).data, n));
    EXPECT_EQ(n, 18446744073709551615u);

    ASSERT_EQ(store("text", "abc").type, MetaEventType::ok);
    MetaArithmeticRequest nan;
    nan.key = "text";
    EXPECT_EQ(arith(nan).type, MetaEventType::client_error);
}

TEST_F(MetaCodecLive, Base64KeysHoldAnyBytes) {
    const std::string key = "a key\r\nwith \0 and \xff"s;
    ASSERT_TRUE(valid_meta_key(key, true));
    MetaSetRequest s;
    s.key = key;
    s.base64_key = true;
    ASSERT_EQ(set(s, "binary").type, MetaEventType::ok);

    MetaGetRequest g = value_of(key);
    g.base64_key = true;
    g.return_key = true;
    const Reply r = get(g);
    ASSERT_EQ(r.type, MetaEventType::value);
    EXPECT_EQ(r.data, "binary");
    EXPECT_TRUE(r.has(MetaFlag::base64_key));
    char decoded[kMaxMetaKeyToken];
    std::size_t size = 0;
    ASSERT_TRUE(base64_decode(r.key, decoded, sizeof decoded, size));
    EXPECT_EQ(std::string(decoded, size), key);

    // The longest base64 key is accepted; as a plain key the same bytes could not be sent.
    MetaSetRequest longest;
    const std::string long_key(kMaxBase64KeyLength, '\x01');
    longest.key = long_key;
    longest.base64_key = true;
    EXPECT_EQ(set(longest, "v").type, MetaEventType::ok);
}

TEST_F(MetaCodecLive, DebugLineNamesTheKey) {
    ASSERT_EQ(store("dbg", "v").type, MetaEventType::ok);
    std::string out;
    encode_meta_debug(out, "dbg");
    const Reply r = conn_->one(out);
    EXPECT_EQ(r.type, MetaEventType::debug);
    EXPECT_EQ(r.key, "dbg");
    EXPECT_EQ(r.data.rfind("exp=-1 la=", 0), 0u) << r.data;
    out.clear();
    encode_meta_debug(out, "nothing");
    EXPECT_EQ(conn_->one(out).type, MetaEventType::miss);
}

// Why the encoders refuse a time above kMaxMetaTtl: memcached keeps the low 32 bits of
// the number as a signed time, so 3000000000 is stored as "already expired".
TEST_F(MetaCodecLive, TimeAbove2Pow31IsReadAsNegativeByTheServer) {
    MetaSetRequest s;
    s.key = "big-ttl";
    s.ttl = 3000000000u;
    std::string out;
    EXPECT_FALSE(encode_meta_set(out, s, "v"));
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(conn_->one("ms big-ttl 1 T3000000000\r\nv\r\n").type, MetaEventType::ok);
    EXPECT_EQ(get(value_of("big-ttl")).type, MetaEventType::miss);
    s.ttl = kMaxMetaTtl;  // a Unix time in 2038: kept
    EXPECT_EQ(set(s, "v").type, MetaEventType::ok);
    EXPECT_EQ(get(value_of("big-ttl")).data, "v");
}

TEST_F(MetaCodecLive, RefusedRequestsKeepTheStreamInStep) {
    // A value over the item size limit: SERVER_ERROR, and the data block is read and
    // dropped, so the next request is answered normally.
    MetaSetRequest huge;
    huge.key = "huge";
    EXPECT_EQ(set(huge, std::string(2 * 1024 * 1024, 'x') + "\r\nmn\r\n").type, MetaEventType::server_error);
    // A flag memcached 1.6.18 does not know (E came with 1.6.27): CLIENT_ERROR, the same.
    MetaSetRequest with_e;
    with_e.key = "e";
    with_e.new_cas = 5;
    const Reply e = set(with_e, "data\r\nmn");
    EXPECT_TRUE(e.type == MetaEventType::client_error || e.type == MetaEventType::ok);
    std::string out;
    encode_meta_noop(out);
    EXPECT_EQ(conn_->one(out).type, MetaEventType::noop);
    EXPECT_TRUE(conn_->nothing_pending());
}

}  // namespace
}  // namespace mmc::test
