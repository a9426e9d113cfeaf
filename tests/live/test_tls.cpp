// TLS to memcached (-Z) with certificates made at test time: the operations work over
// it, every failure to trust the server is an error within the deadline with one log
// line naming the server and OpenSSL's reason, nothing is ever sent in clear, and a
// reconnect resumes the session instead of a full handshake.
#include <apr_hash.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

#include "live_fixture.h"
#include "silent_server.h"
#include "tls_certs.h"

namespace mmc::test {
namespace {

constexpr long long kSlackMs = 100;

struct LogLines {
    std::mutex mu;
    std::vector<std::string> lines;

    static void record(void* baton, int level, apr_status_t, const char* msg) {
        auto* self = static_cast<LogLines*>(baton);
        std::lock_guard<std::mutex> lock(self->mu);
        self->lines.push_back(std::to_string(level) + " " + msg);
    }
    std::vector<std::string> containing(const std::string& needle) {
        std::lock_guard<std::mutex> lock(mu);
        std::vector<std::string> out;
        for (auto& l : lines) {
            if (l.find(needle) != std::string::npos) out.push_back(l);
        }
        return out;
    }
    std::string all() {
        std::lock_guard<std::mutex> lock(mu);
        std::string s;
        for (auto& l : lines) s += l + "\n";
        return s;
    }
};

class Tls : public Live {
protected:
    void SetUp() override {
        ASSERT_EQ(apr_pool_create(&pool_, nullptr), APR_SUCCESS);
        ASSERT_TRUE(pki().error.empty()) << pki().error;
    }
    static const TestPki& pki() { return test_pki(); }

    // Starts a TLS memcached (n of them) with the test certificate.
    void start_tls_servers(std::size_t n, bool expired = false) {
        servers_.clear();
        for (std::size_t i = 0; i < n; ++i) {
            servers_.push_back(std::make_unique<MemcachedProcess>(pki().memcached_args(expired)));
            ASSERT_TRUE(servers_.back()->start()) << servers_.back()->error();
        }
    }

    ap_memcache_tls_options_t tls_options() {
        ap_memcache_tls_options_t o;
        ap_memcache_tls_options_init(&o);
        o.ca_file = pki().ca.c_str();
        return o;
    }

    // A TLS server on `host`:port added to a new client (mc_ when none given).
    apr_memcache_server_t* add_tls_server(apr_memcache_t* mc, const char* host, unsigned short port,
                                          const ap_memcache_tls_options_t& o, PoolSpec spec = {},
                                          apr_interval_time_t connect_timeout = 0) {
        apr_memcache_server_t* ms = nullptr;
        EXPECT_EQ(apr_memcache_server_create(pool_, host, port, spec.min, spec.smax, spec.max, spec.ttl_us, &ms),
                  APR_SUCCESS);
        use_test_protocol(ms);
        if (connect_timeout) {
            ap_memcache_server_options_t so;
            ap_memcache_server_get_options(ms, &so);
            so.connect_timeout = connect_timeout;
            so.io_timeout = connect_timeout;
            EXPECT_EQ(ap_memcache_server_set_options(ms, &so), APR_SUCCESS);
        }
        const char* why = nullptr;
        EXPECT_EQ(ap_memcache_server_set_tls(ms, &o, pool_, &why), APR_SUCCESS) << (why ? why : "");
        ap_memcache_server_set_logger(ms, &LogLines::record, &log_);
        EXPECT_EQ(apr_memcache_add_server(mc, ms), APR_SUCCESS);
        return ms;
    }

    apr_memcache_t* new_client() {
        apr_memcache_t* mc = nullptr;
        EXPECT_EQ(apr_memcache_create(pool_, 8, 0, &mc), APR_SUCCESS);
        return mc;
    }

    ap_memcache_tls_stats_t stats_of(apr_memcache_server_t* ms) {
        ap_memcache_tls_stats_t st{};
        EXPECT_EQ(ap_memcache_server_tls_stats(ms, &st), APR_SUCCESS);
        return st;
    }

    // The server rejects the handshake: the call fails with AP_MEMCACHE_ETLS within
    // the deadline, the server is marked dead, and one log line names the server and
    // `reason`, however many calls fail.
    void expect_refused(const ap_memcache_tls_options_t& o, const std::string& reason, const char* host = "127.0.0.1") {
        mc_ = new_client();
        apr_memcache_server_t* ms = add_tls_server(mc_, host, server().port(), o);
        ap_memcache_server_options_t so;
        ap_memcache_server_get_options(ms, &so);
        so.retry_period = 100 * 1000;
        ASSERT_EQ(ap_memcache_server_set_options(ms, &so), APR_SUCCESS);
        const auto t0 = std::chrono::steady_clock::now();
        EXPECT_EQ(set("k", "v"), AP_MEMCACHE_ETLS);
        EXPECT_LE(elapsed_ms(t0), 1000 + kSlackMs);
        ap_memcache_server_state_t st{};
        ASSERT_EQ(ap_memcache_server_state(ms, &st), APR_SUCCESS);
        EXPECT_EQ(st.live, 0);
        EXPECT_EQ(set("k", "v"), AP_MEMCACHE_ENOSERVER);
        EXPECT_EQ(ap_memcache_server_tls_stats(ms, nullptr), APR_EINVAL);
        // The probe after the retry period fails the same way: still one line until
        // the server recovers.
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
        EXPECT_EQ(set("k", "v"), AP_MEMCACHE_ETLS);
        auto lines = log_.containing("TLS handshake failed");
        ASSERT_EQ(lines.size(), 1u) << log_.all();
        EXPECT_NE(lines[0].find(std::to_string(server().port())), std::string::npos) << lines[0];
        EXPECT_NE(lines[0].find(reason), std::string::npos) << lines[0];
        EXPECT_EQ(lines[0].rfind("3 ", 0), 0u) << "logged as an error: " << lines[0];
    }

    LogLines log_;
};

TEST_F(Tls, SetGetAndMultiGetWorkOverTls) {
    start_tls_servers(2);
    mc_ = new_client();
    std::vector<apr_memcache_server_t*> ms;
    for (auto& s : servers_) ms.push_back(add_tls_server(mc_, "127.0.0.1", s->port(), tls_options()));
    std::string big(200 * 1024, 'x');  // several TLS records each way
    for (int i = 0; i < 20; ++i) {
        ASSERT_EQ(set("tk" + std::to_string(i), "value" + std::to_string(i)), APR_SUCCESS);
    }
    ASSERT_EQ(set("big", big), APR_SUCCESS);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(get("tk" + std::to_string(i)), "value" + std::to_string(i));
    EXPECT_EQ(get("big"), big);
    apr_status_t rv = APR_SUCCESS;
    get("absent", &rv);
    EXPECT_EQ(rv, APR_NOTFOUND);

    apr_hash_t* values = nullptr;
    for (int i = 0; i < 20; ++i) apr_memcache_add_multget_key(pool_, ("tk" + std::to_string(i)).c_str(), &values);
    apr_memcache_add_multget_key(pool_, "big", &values);
    apr_memcache_add_multget_key(pool_, "absent", &values);
    apr_pool_t* temp = nullptr;
    ASSERT_EQ(apr_pool_create(&temp, pool_), APR_SUCCESS);
    ASSERT_EQ(apr_memcache_multgetp(mc_, temp, pool_, values), APR_SUCCESS);
    for (int i = 0; i < 20; ++i) {
        auto k = "tk" + std::to_string(i);
        auto* v = static_cast<apr_memcache_value_t*>(apr_hash_get(values, k.c_str(), APR_HASH_KEY_STRING));
        ASSERT_NE(v, nullptr);
        ASSERT_EQ(v->status, APR_SUCCESS) << k;
        EXPECT_EQ(std::string(v->data, v->len), "value" + std::to_string(i));
    }
    auto* b = static_cast<apr_memcache_value_t*>(apr_hash_get(values, "big", APR_HASH_KEY_STRING));
    ASSERT_NE(b, nullptr);
    ASSERT_EQ(b->status, APR_SUCCESS);
    EXPECT_EQ(std::string(b->data, b->len), big);
    auto* a = static_cast<apr_memcache_value_t*>(apr_hash_get(values, "absent", APR_HASH_KEY_STRING));
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->status, APR_NOTFOUND);
    for (auto* m : ms) EXPECT_GE(stats_of(m).full, 1u);
    EXPECT_TRUE(log_.containing("TLS").empty()) << log_.all();
}

TEST_F(Tls, MultiGetOpensItsTlsConnectionsInTheFanOut) {
    // No connection exists before the multi-get: both handshakes run in its poll loop.
    start_tls_servers(2);
    mc_ = new_client();
    for (auto& s : servers_) add_tls_server(mc_, "127.0.0.1", s->port(), tls_options());
    std::vector<std::string> keys;
    for (int i = 0; i < 10; ++i) keys.push_back("nokey" + std::to_string(i));
    apr_status_t rv = APR_EGENERAL;
    for (const auto& [k, got] : multiget(keys, &rv)) EXPECT_EQ(got.status, APR_NOTFOUND) << k;
    EXPECT_EQ(rv, APR_SUCCESS);
}

TEST_F(Tls, AServerSignedByAnotherCaIsRefused) {
    start_tls_servers(1);
    auto o = tls_options();
    o.ca_file = pki().other_ca.c_str();
    expect_refused(o, "unable to get local issuer certificate");
}

TEST_F(Tls, ACertificateForAnotherNameIsRefused) {
    start_tls_servers(1);
    auto o = tls_options();
    o.server_name = "memcached.invalid";
    expect_refused(o, "mismatch");
}

TEST_F(Tls, TheNameGivenAsHostIsCheckedAndSent) {
    start_tls_servers(1);
    mc_ = new_client();
    add_tls_server(mc_, "localhost", server().port(), tls_options());
    ASSERT_EQ(set("named", "yes"), APR_SUCCESS);
    EXPECT_EQ(get("named"), "yes");
}

TEST_F(Tls, AnExpiredCertificateIsRefused) {
    start_tls_servers(1, true);
    expect_refused(tls_options(), "certificate has expired");
}

TEST_F(Tls, VerifyOffAcceptsAnyCertificate) {
    start_tls_servers(1, true);
    mc_ = new_client();
    auto o = tls_options();
    o.ca_file = pki().other_ca.c_str();
    o.verify = 0;
    add_tls_server(mc_, "127.0.0.1", server().port(), o);
    ASSERT_EQ(set("unchecked", "v"), APR_SUCCESS);
    EXPECT_EQ(get("unchecked"), "v");
}

TEST_F(Tls, APlainServerIsNeverSpokenToInClear) {
    // A memcached without TLS answers a ClientHello with an error and closes: the call
    // fails, nothing is retried in clear, and the key was never stored.
    servers_.push_back(std::make_unique<MemcachedProcess>());
    ASSERT_TRUE(server().start()) << server().error();
    mc_ = new_client();
    add_tls_server(mc_, "127.0.0.1", server().port(), tls_options());
    EXPECT_EQ(set("clear", "text"), AP_MEMCACHE_ETLS);
    RawClient raw(server().port());
    EXPECT_FALSE(raw.get("clear").has_value());
}

TEST_F(Tls, AHandshakeThatIsNeverAnsweredEndsAtTheConnectDeadline) {
    SilentServer silent;
    mc_ = new_client();
    apr_memcache_server_t* ms = add_tls_server(mc_, "127.0.0.1", silent.port(), tls_options(), {}, 300 * 1000);
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(set("k", "v"), APR_TIMEUP);
    const long long ms_taken = elapsed_ms(t0);
    EXPECT_GE(ms_taken, 290);
    EXPECT_LE(ms_taken, 300 + kSlackMs);
    ap_memcache_server_state_t st{};
    ASSERT_EQ(ap_memcache_server_state(ms, &st), APR_SUCCESS);
    EXPECT_EQ(st.live, 0);
}

TEST_F(Tls, ASilentServerInAMultiGetFailsOnlyItsOwnKeys) {
    start_tls_servers(1);
    SilentServer silent;
    mc_ = new_client();
    apr_memcache_server_t* good = add_tls_server(mc_, "127.0.0.1", server().port(), tls_options(), {}, 300 * 1000);
    apr_memcache_server_t* hung = add_tls_server(mc_, "127.0.0.1", silent.port(), tls_options(), {}, 300 * 1000);
    std::vector<std::string> keys;
    std::vector<bool> on_good_server;  // placed before the silent one is marked dead
    int on_good = 0;
    for (int i = 0; i < 40; ++i) {
        std::string k = "fan" + std::to_string(i);
        keys.push_back(k);
        apr_memcache_server_t* owner = apr_memcache_find_server_hash(mc_, apr_memcache_hash(mc_, k.c_str(), k.size()));
        on_good_server.push_back(owner == good);
        if (owner == good) ++on_good;
    }
    ASSERT_GT(on_good, 0);
    apr_hash_t* values = nullptr;
    for (auto& k : keys) apr_memcache_add_multget_key(pool_, k.c_str(), &values);
    apr_pool_t* temp = nullptr;
    ASSERT_EQ(apr_pool_create(&temp, pool_), APR_SUCCESS);
    const auto t0 = std::chrono::steady_clock::now();
    apr_memcache_multgetp(mc_, temp, pool_, values);
    EXPECT_LE(elapsed_ms(t0), 300 + kSlackMs);
    for (std::size_t i = 0; i < keys.size(); ++i) {
        auto* v = static_cast<apr_memcache_value_t*>(apr_hash_get(values, keys[i].c_str(), APR_HASH_KEY_STRING));
        ASSERT_NE(v, nullptr);
        EXPECT_EQ(v->status, on_good_server[i] ? APR_NOTFOUND : APR_TIMEUP) << keys[i];
    }
    ap_memcache_server_state_t st{};
    ASSERT_EQ(ap_memcache_server_state(hung, &st), APR_SUCCESS);
    EXPECT_EQ(st.live, 0);
    ASSERT_EQ(ap_memcache_server_state(good, &st), APR_SUCCESS);
    EXPECT_EQ(st.live, 1);
    EXPECT_EQ(st.failures, 0u);
}

// A listener that records the first bytes of the first connection.
class FirstBytes {
public:
    FirstBytes() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
        ::listen(fd_, 8);
        socklen_t len = sizeof sa;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
        port_ = ntohs(sa.sin_port);
        thread_ = std::thread([this] {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 5000) != 1) return;
            int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) return;
            pollfd q{c, POLLIN, 0};
            unsigned char buf[16];
            if (::poll(&q, 1, 5000) == 1) {
                ssize_t n = ::recv(c, buf, sizeof buf, 0);
                if (n > 0) bytes_.assign(buf, buf + n);
            }
            ::close(c);  // the client's handshake then fails at once
        });
    }
    ~FirstBytes() {
        if (thread_.joinable()) thread_.join();
        ::close(fd_);
    }
    unsigned short port() const { return port_; }
    std::vector<unsigned char> bytes() {
        if (thread_.joinable()) thread_.join();
        return bytes_;
    }

private:
    int fd_ = -1;
    unsigned short port_ = 0;
    std::thread thread_;
    std::vector<unsigned char> bytes_;
};

TEST_F(Tls, TheFirstByteOnTheWireIsATlsHandshakeRecord) {
    FirstBytes wire;
    mc_ = new_client();
    add_tls_server(mc_, "127.0.0.1", wire.port(), tls_options());
    EXPECT_NE(set("secret-key", "secret-value"), APR_SUCCESS);
    auto bytes = wire.bytes();
    ASSERT_GE(bytes.size(), 3u);
    EXPECT_EQ(bytes[0], 0x16);  // ContentType handshake
    EXPECT_EQ(bytes[1], 0x03);  // record version 3.x
}

TEST_F(Tls, ErrorsOtherCodeLeftInTheThreadsOpenSslQueueDoNotFailCalls) {
    // mod_ssl and other libraries on the same thread may leave entries in OpenSSL's
    // per-thread error queue; a read or write that must wait would then look like a
    // TLS failure unless the queue is emptied first. Before every kind of call here
    // (multi-get, get, set; several records each way), an entry is left in the queue.
    start_tls_servers(2);
    mc_ = new_client();
    for (auto& s : servers_) add_tls_server(mc_, "127.0.0.1", s->port(), tls_options());
    const std::string big(200 * 1024, 'q');
    for (int i = 0; i < 8; ++i) ASSERT_EQ(set("queue" + std::to_string(i), big), APR_SUCCESS);
    auto leave_an_error = [] { ERR_raise_data(ERR_LIB_SSL, SSL_R_BAD_LENGTH, "left by other code"); };
    std::vector<std::string> keys;
    for (int i = 0; i < 8; ++i) keys.push_back("queue" + std::to_string(i));
    for (int round = 0; round < 5; ++round) {
        leave_an_error();
        apr_status_t rv = APR_EGENERAL;
        for (const auto& [k, got] : multiget(keys, &rv)) {
            ASSERT_EQ(got.status, APR_SUCCESS) << "round " << round << " key " << k;
            EXPECT_EQ(got.value.size(), big.size());
        }
        EXPECT_EQ(rv, APR_SUCCESS);
        leave_an_error();
        EXPECT_EQ(get("queue" + std::to_string(round)), big);
        leave_an_error();
        EXPECT_EQ(set("queue" + std::to_string(round), big), APR_SUCCESS);
    }
    ERR_clear_error();
    EXPECT_TRUE(log_.containing("TLS").empty()) << log_.all();
}

TEST_F(Tls, AReconnectResumesTheSession) {
    start_tls_servers(1);
    mc_ = new_client();
    // smax 0, ttl 0: every connection is closed when it comes back, so every call
    // opens a new one.
    PoolSpec spec;
    spec.min = 0;
    spec.smax = 0;
    spec.max = 1;
    spec.ttl_us = 0;
    apr_memcache_server_t* ms = add_tls_server(mc_, "127.0.0.1", server().port(), tls_options(), spec);
    ASSERT_EQ(set("resume", "1"), APR_SUCCESS);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(get("resume"), "1");
    auto st = stats_of(ms);
    EXPECT_EQ(st.full, 1u);
    EXPECT_EQ(st.resumed, 5u);
}

TEST_F(Tls, ClientCertificatesAreSentWhenTheServerAsksForThem) {
    servers_.push_back(std::make_unique<MemcachedProcess>(pki().memcached_args(false, true)));
    ASSERT_TRUE(server().start()) << server().error();
    // Without one the server refuses the handshake.
    mc_ = new_client();
    add_tls_server(mc_, "127.0.0.1", server().port(), tls_options());
    EXPECT_NE(set("cc", "v"), APR_SUCCESS);
    // With one it accepts.
    mc_ = new_client();
    auto o = tls_options();
    o.cert_file = pki().client_cert.c_str();
    o.key_file = pki().client_key.c_str();
    add_tls_server(mc_, "127.0.0.1", server().port(), o);
    ASSERT_EQ(set("cc", "v"), APR_SUCCESS);
    EXPECT_EQ(get("cc"), "v");
}

TEST_F(Tls, BadSettingsAreRefusedAndChangeNothing) {
    apr_memcache_server_t* ms = nullptr;
    ASSERT_EQ(apr_memcache_server_create(pool_, "127.0.0.1", 1, 0, 1, 1, 0, &ms), APR_SUCCESS);
    auto o = tls_options();
    o.ca_file = "/nonexistent/ca.pem";
    const char* why = nullptr;
    EXPECT_EQ(ap_memcache_server_set_tls(ms, &o, pool_, &why), AP_MEMCACHE_ETLS);
    ASSERT_NE(why, nullptr);
    EXPECT_NE(std::string(why).find("/nonexistent/ca.pem"), std::string::npos) << why;
    o = tls_options();
    o.min_protocol = 11;
    EXPECT_EQ(ap_memcache_server_set_tls(ms, &o, pool_, nullptr), APR_EINVAL);
    o = tls_options();
    o.key_file = pki().client_key.c_str();  // a key without its certificate
    EXPECT_EQ(ap_memcache_server_set_tls(ms, &o, pool_, nullptr), APR_EINVAL);
    o = tls_options();
    o.cert_file = pki().client_cert.c_str();
    o.key_file = pki().server_key.c_str();  // not its key
    EXPECT_EQ(ap_memcache_server_set_tls(ms, &o, pool_, &why), AP_MEMCACHE_ETLS);
    // Still plain: no TLS context was installed.
    ap_memcache_tls_stats_t st;
    EXPECT_EQ(ap_memcache_server_tls_stats(ms, &st), APR_EINVAL);
}

// Verification checks the certificate's name against a name: a unix socket has none of
// its own, and without server_name any certificate a trusted CA signed would do.
TEST_F(Tls, AUnixSocketServerWithVerificationNeedsAServerName) {
    apr_memcache_server_t* ms = nullptr;
    ASSERT_EQ(apr_memcache_server_create(pool_, "/run/mmc-test/memcached.sock", 0, 0, 1, 1, 0, &ms), APR_SUCCESS);
    auto o = tls_options();
    const char* why = nullptr;
    EXPECT_EQ(ap_memcache_server_set_tls(ms, &o, pool_, &why), APR_EINVAL);
    ASSERT_NE(why, nullptr);
    EXPECT_NE(std::string(why).find("/run/mmc-test/memcached.sock"), std::string::npos) << why;
    EXPECT_NE(std::string(why).find("no host name to check the server's certificate against"), std::string::npos)
        << why;
    EXPECT_NE(std::string(why).find("set server_name"), std::string::npos) << why;
    ap_memcache_tls_stats_t st;
    EXPECT_EQ(ap_memcache_server_tls_stats(ms, &st), APR_EINVAL) << "no TLS context was installed";
}

// memcached speaks TLS on TCP only, so this stops at the configuration: accepted, with
// the context installed.
TEST_F(Tls, AUnixSocketServerWithAServerNameIsAccepted) {
    apr_memcache_server_t* ms = nullptr;
    ASSERT_EQ(apr_memcache_server_create(pool_, "/run/mmc-test/memcached.sock", 0, 0, 1, 1, 0, &ms), APR_SUCCESS);
    auto o = tls_options();
    o.server_name = "localhost";
    const char* why = nullptr;
    EXPECT_EQ(ap_memcache_server_set_tls(ms, &o, pool_, &why), APR_SUCCESS) << (why ? why : "");
    ap_memcache_tls_stats_t st;
    EXPECT_EQ(ap_memcache_server_tls_stats(ms, &st), APR_SUCCESS);
}

TEST_F(Tls, AUnixSocketServerWithoutVerificationNeedsNoName) {
    apr_memcache_server_t* ms = nullptr;
    ASSERT_EQ(apr_memcache_server_create(pool_, "/run/mmc-test/memcached.sock", 0, 0, 1, 1, 0, &ms), APR_SUCCESS);
    auto o = tls_options();
    o.verify = 0;
    EXPECT_EQ(ap_memcache_server_set_tls(ms, &o, pool_, nullptr), APR_SUCCESS);
}

TEST_F(Tls, AContextForNoHostWithVerificationIsRefusedNamingServerName) {
    auto o = tls_options();
    ap_memcache_tls_t* tls = nullptr;
    const char* why = nullptr;
    EXPECT_EQ(ap_memcache_tls_create(pool_, &o, "", &tls, &why), APR_EINVAL);
    ASSERT_NE(why, nullptr);
    EXPECT_NE(std::string(why).find("set server_name"), std::string::npos) << why;
    ap_memcache_tls_problem_t problem;
    EXPECT_EQ(ap_memcache_tls_check(pool_, &o, "/run/mmc-test/memcached.sock", &problem), APR_EINVAL);
    EXPECT_EQ(problem.option, AP_MEMCACHE_TLS_OPT_SERVER_NAME);
    EXPECT_EQ(problem.missing, AP_MEMCACHE_TLS_OPT_SERVER_NAME);
    ASSERT_NE(problem.reason, nullptr);
    EXPECT_NE(std::string(problem.reason).find("/run/mmc-test/memcached.sock"), std::string::npos) << problem.reason;
}

// ap_memcache_tls_check: what ap_memcache_tls_create would answer, with the option at
// fault and the one to set, for callers (httpd) that name the options their own way.
class TlsCheck : public Tls {
protected:
    apr_status_t check(const ap_memcache_tls_options_t& o) {
        problem_ = ap_memcache_tls_problem_t{};
        return ap_memcache_tls_check(pool_, &o, "127.0.0.1", &problem_);
    }
    std::string reason() const { return problem_.reason ? problem_.reason : ""; }
    std::string junk_file() {
        const std::string path = pki().dir + "/junk.pem";
        std::ofstream(path) << "not PEM at all\n";
        return path;
    }
    ap_memcache_tls_problem_t problem_{};
};

TEST_F(TlsCheck, GoodSettingsPass) {
    auto o = tls_options();
    o.cert_file = pki().client_cert.c_str();
    o.key_file = pki().client_key.c_str();
    EXPECT_EQ(check(o), APR_SUCCESS) << reason();
    EXPECT_EQ(problem_.reason, nullptr);
}

TEST_F(TlsCheck, AKeyWithoutACertificateIsTheKeysAndNeedsTheCertificate) {
    auto o = tls_options();
    o.key_file = pki().client_key.c_str();
    EXPECT_EQ(check(o), APR_EINVAL);
    EXPECT_EQ(problem_.option, AP_MEMCACHE_TLS_OPT_KEY_FILE);
    EXPECT_EQ(problem_.missing, AP_MEMCACHE_TLS_OPT_CERT_FILE);
    EXPECT_NE(reason().find(pki().client_key), std::string::npos) << reason();
}

TEST_F(TlsCheck, ACertificateWithoutItsKeyIsTheCertificatesAndNeedsTheKey) {
    auto o = tls_options();
    o.cert_file = pki().client_cert.c_str();
    EXPECT_EQ(check(o), AP_MEMCACHE_ETLS);
    EXPECT_EQ(problem_.option, AP_MEMCACHE_TLS_OPT_CERT_FILE);
    EXPECT_EQ(problem_.missing, AP_MEMCACHE_TLS_OPT_KEY_FILE);
    EXPECT_NE(reason().find("no private key for the client certificate in " + pki().client_cert), std::string::npos)
        << reason();
}

TEST_F(TlsCheck, AKeyForAnotherCertificateIsTheKeys) {
    auto o = tls_options();
    o.cert_file = pki().client_cert.c_str();
    o.key_file = pki().server_key.c_str();
    EXPECT_EQ(check(o), AP_MEMCACHE_ETLS);
    EXPECT_EQ(problem_.option, AP_MEMCACHE_TLS_OPT_KEY_FILE);
    EXPECT_NE(reason().find("the client key in " + pki().server_key + " does not match the certificate in " +
                            pki().client_cert),
              std::string::npos)
        << reason();
}

TEST_F(TlsCheck, AnEncryptedKeyIsRefusedWithoutAskingForItsPassphrase) {
    auto o = tls_options();
    o.cert_file = pki().client_cert.c_str();
    o.key_file = pki().encrypted_client_key.c_str();
    EXPECT_EQ(check(o), AP_MEMCACHE_ETLS);
    EXPECT_EQ(problem_.option, AP_MEMCACHE_TLS_OPT_KEY_FILE);
    EXPECT_NE(reason().find("is encrypted"), std::string::npos) << reason();
}

TEST_F(TlsCheck, FilesWithoutWhatTheyShouldHoldAreEachNamed) {
    const std::string junk = junk_file();
    auto o = tls_options();
    o.ca_file = junk.c_str();
    EXPECT_EQ(check(o), AP_MEMCACHE_ETLS);
    EXPECT_EQ(problem_.option, AP_MEMCACHE_TLS_OPT_CA_FILE);
    EXPECT_NE(reason().find("cannot load CA certificates from " + junk), std::string::npos) << reason();
    o = tls_options();
    o.cert_file = junk.c_str();
    o.key_file = pki().client_key.c_str();
    EXPECT_EQ(check(o), AP_MEMCACHE_ETLS);
    EXPECT_EQ(problem_.option, AP_MEMCACHE_TLS_OPT_CERT_FILE);
    EXPECT_NE(reason().find("cannot load the client certificate from " + junk), std::string::npos) << reason();
    o = tls_options();
    o.cert_file = pki().client_cert.c_str();
    o.key_file = junk.c_str();
    EXPECT_EQ(check(o), AP_MEMCACHE_ETLS);
    EXPECT_EQ(problem_.option, AP_MEMCACHE_TLS_OPT_KEY_FILE);
    EXPECT_NE(reason().find("cannot load the client key from " + junk), std::string::npos) << reason();
}

TEST_F(TlsCheck, ValuesOutsideTheirRangeAreTheirOptions) {
    auto o = tls_options();
    o.min_protocol = 11;
    EXPECT_EQ(check(o), APR_EINVAL);
    EXPECT_EQ(problem_.option, AP_MEMCACHE_TLS_OPT_MIN_PROTOCOL);
    o = tls_options();
    o.verify = 2;
    EXPECT_EQ(check(o), APR_EINVAL);
    EXPECT_EQ(problem_.option, AP_MEMCACHE_TLS_OPT_VERIFY);
}

TEST_F(TlsCheck, CreateGivesTheSameReasonWithTheOptionToSet) {
    auto o = tls_options();
    o.cert_file = pki().client_cert.c_str();
    ap_memcache_tls_t* tls = nullptr;
    const char* why = nullptr;
    EXPECT_EQ(ap_memcache_tls_create(pool_, &o, "127.0.0.1", &tls, &why), AP_MEMCACHE_ETLS);
    ASSERT_NE(why, nullptr);
    EXPECT_NE(std::string(why).find("no private key for the client certificate in " + pki().client_cert),
              std::string::npos)
        << why;
    EXPECT_NE(std::string(why).find(": set key_file"), std::string::npos) << why;
}

}  // namespace
}  // namespace mmc::test
