// Authentication to memcached: -Y (text protocol) with a user and password file made by
// the test, good and bad credentials; a refusal is an error with a log line naming the
// server, the connection is dropped, and nothing is stored.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <thread>

#include "httpd_process.h"
#include "live_fixture.h"
#include "scripted_server.h"
#include "users_file.h"

namespace mmc::test {
namespace {

struct Lines {
    std::mutex mu;
    std::string text;
    static void record(void* baton, int level, apr_status_t, const char* msg) {
        auto* self = static_cast<Lines*>(baton);
        std::lock_guard<std::mutex> lock(self->mu);
        self->text += std::to_string(level) + " " + msg + "\n";
    }
};

class Auth : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_EQ(apr_pool_create(&pool_, nullptr), APR_SUCCESS);
        auth_file_ = make_users_file(dir_);
        ASSERT_FALSE(auth_file_.empty()) << "cannot make a temporary directory";
    }
    void TearDown() override {
        server_.reset();
        remove_users_file(dir_, auth_file_);
        if (pool_) apr_pool_destroy(pool_);
    }

    void start_server(std::vector<std::string> args) {
        server_ = std::make_unique<MemcachedProcess>(std::move(args));
        ASSERT_TRUE(server_->start()) << server_->error();
    }

    apr_memcache_server_t* client_for(int protocol, const char* user, const char* password) {
        return client_on(server_->port(), protocol, user, password);
    }
    apr_memcache_server_t* client_on(unsigned short port, int protocol, const char* user, const char* password) {
        EXPECT_EQ(apr_memcache_create(pool_, 2, 0, &mc_), APR_SUCCESS);
        apr_memcache_server_t* ms = nullptr;
        EXPECT_EQ(apr_memcache_server_create(pool_, "127.0.0.1", port, 0, 2, 2, 60000000, &ms),
                  APR_SUCCESS);
        ap_memcache_server_options_t o;
        ap_memcache_server_get_options(ms, &o);
        o.protocol = protocol;
        EXPECT_EQ(ap_memcache_server_set_options(ms, &o), APR_SUCCESS);
        EXPECT_EQ(ap_memcache_server_set_auth(ms, user, password), APR_SUCCESS);
        ap_memcache_server_set_logger(ms, &Lines::record, &log_);
        EXPECT_EQ(apr_memcache_add_server(mc_, ms), APR_SUCCESS);
        return ms;
    }

    apr_status_t set(const std::string& k, const std::string& v) {
        return apr_memcache_set(mc_, k.c_str(), const_cast<char*>(v.data()), v.size(), 0, 0);
    }
    std::string get(const std::string& k, apr_status_t* rv) {
        char* data = nullptr;
        apr_size_t len = 0;
        *rv = apr_memcache_getp(mc_, pool_, k.c_str(), &data, &len, nullptr);
        return *rv == APR_SUCCESS ? std::string(data, len) : std::string();
    }

    apr_pool_t* pool_ = nullptr;
    apr_memcache_t* mc_ = nullptr;
    std::unique_ptr<MemcachedProcess> server_;
    std::string dir_, auth_file_;
    Lines log_;
};

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

const std::string kNotAsked = "does not ask for authentication";

TEST_F(Auth, TextServerWithMinusYAcceptsTheRightPassword) {
    start_server({"-Y", auth_file_});
    apr_memcache_server_t* ms = client_for(AP_MEMCACHE_PROTOCOL_TEXT, "alice", "s3cret");
    ASSERT_EQ(set("authed", "yes"), APR_SUCCESS);
    apr_status_t rv;
    EXPECT_EQ(get("authed", &rv), "yes");
    EXPECT_EQ(rv, APR_SUCCESS);
    // Each new connection authenticates by itself: a multi-get opens a second one
    // while the first is pooled... and every call after works on the pooled ones.
    for (int i = 0; i < 20; ++i) EXPECT_EQ(set("k" + std::to_string(i), "v"), APR_SUCCESS);
    ap_memcache_server_state_t st{};
    ASSERT_EQ(ap_memcache_server_state(ms, &st), APR_SUCCESS);
    EXPECT_EQ(st.live, 1);
    EXPECT_EQ(log_.text, "");
}

TEST_F(Auth, TextServerWithMinusYRefusesAWrongPassword) {
    start_server({"-Y", auth_file_});
    apr_memcache_server_t* ms = client_for(AP_MEMCACHE_PROTOCOL_TEXT, "alice", "wrong");
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(set("intruder", "x"), AP_MEMCACHE_EAUTH);
    EXPECT_LE(elapsed_ms(t0), 1100);
    ap_memcache_server_state_t st{};
    ASSERT_EQ(ap_memcache_server_state(ms, &st), APR_SUCCESS);
    EXPECT_EQ(st.live, 0);
    EXPECT_EQ(st.open, 0u) << "the refused connection is dropped";
    EXPECT_NE(log_.text.find("127.0.0.1:" + std::to_string(server_->port())), std::string::npos) << log_.text;
    EXPECT_NE(log_.text.find("authentication failed"), std::string::npos) << log_.text;
    EXPECT_NE(log_.text.find("alice"), std::string::npos) << log_.text;
    EXPECT_EQ(log_.text.find("wrong"), std::string::npos) << "the password is never logged: " << log_.text;
    // The value was never stored: ask with the right credentials.
    client_for(AP_MEMCACHE_PROTOCOL_TEXT, "alice", "s3cret");
    apr_status_t rv;
    get("intruder", &rv);
    EXPECT_EQ(rv, APR_NOTFOUND);
}

TEST_F(Auth, AMultiGetAuthenticatesTheConnectionsItOpens) {
    // Two -Y servers and no connection yet: both connects, each with its
    // authentication, run in the fan-out's poll loop.
    start_server({"-Y", auth_file_});
    MemcachedProcess second({"-Y", auth_file_});
    ASSERT_TRUE(second.start()) << second.error();
    for (unsigned short port : {server_->port(), second.port()}) {
        RawClient raw(port);
        ASSERT_EQ(raw.command("set a 0 0 12\r\nalice s3cret\r\n"), "STORED\r\n");
        for (int i = 0; i < 20; ++i) {
            ASSERT_EQ(raw.command("set m" + std::to_string(i) + " 0 0 1\r\nx\r\n"), "STORED\r\n");
        }
    }
    ASSERT_EQ(apr_memcache_create(pool_, 2, 0, &mc_), APR_SUCCESS);
    for (unsigned short port : {server_->port(), second.port()}) {
        apr_memcache_server_t* ms = nullptr;
        ASSERT_EQ(apr_memcache_server_create(pool_, "127.0.0.1", port, 0, 2, 2, 60000000, &ms), APR_SUCCESS);
        ASSERT_EQ(ap_memcache_server_set_auth(ms, "alice", "s3cret"), APR_SUCCESS);
        ap_memcache_server_set_logger(ms, &Lines::record, &log_);
        ASSERT_EQ(apr_memcache_add_server(mc_, ms), APR_SUCCESS);
    }
    std::vector<std::string> keys;
    for (int i = 0; i < 20; ++i) keys.push_back("m" + std::to_string(i));
    apr_status_t rv = APR_EGENERAL;
    for (const auto& [k, got] : multiget_of(mc_, pool_, keys, &rv)) EXPECT_EQ(got.status, APR_SUCCESS) << k;
    EXPECT_EQ(rv, APR_SUCCESS);
    EXPECT_EQ(log_.text, "");
}

TEST_F(Auth, WithoutCredentialsAMinusYServerRefusesEveryCommand) {
    start_server({"-Y", auth_file_});
    client_for(AP_MEMCACHE_PROTOCOL_TEXT, nullptr, nullptr);
    EXPECT_NE(set("anon", "x"), APR_SUCCESS);
}

// memcached -S reads its users from a SASL password database (Debian's sasl2-bin
// makes one with saslpasswd2) found through SASL_CONF_PATH.
class SaslAuth : public Auth {
protected:
    void start_sasl_server() {
        const char* tool = "/usr/sbin/saslpasswd2";
        ASSERT_EQ(::access(tool, X_OK), 0) << tool << " not found: install the Debian package sasl2-bin "
                                                      "(scripts/install-deps.sh)";
        const std::string db = dir_ + "/sasldb2";
        CommandResult r = run_command({"/bin/sh", "-c",
                                       "printf %s s3cret | " + std::string(tool) + " -a memcached -c -p -f " + db +
                                           " alice"});
        ASSERT_EQ(r.exit_code, 0) << r.output;
        std::ofstream(dir_ + "/memcached.conf") << "mech_list: plain\nsasldb_path: " << db << "\n";
        ::chmod(db.c_str(), 0644);
        ::chmod((dir_ + "/memcached.conf").c_str(), 0644);
        // memcached inherits it; the variable means nothing to this process.
        ::setenv("SASL_CONF_PATH", dir_.c_str(), 1);
        start_server({"-S"});
        ::unsetenv("SASL_CONF_PATH");
    }
    void TearDown() override {
        ::unlink((dir_ + "/sasldb2").c_str());
        ::unlink((dir_ + "/memcached.conf").c_str());
        Auth::TearDown();
    }
};

TEST_F(SaslAuth, BinaryServerWithSaslAcceptsTheRightPassword) {
    ASSERT_NO_FATAL_FAILURE(start_sasl_server());
    client_for(AP_MEMCACHE_PROTOCOL_BINARY, "alice", "s3cret");
    ASSERT_EQ(set("sasl", "yes"), APR_SUCCESS);
    apr_status_t rv;
    EXPECT_EQ(get("sasl", &rv), "yes");
    EXPECT_EQ(log_.text, "");
}

TEST_F(SaslAuth, BinaryServerWithSaslRefusesAWrongPassword) {
    ASSERT_NO_FATAL_FAILURE(start_sasl_server());
    apr_memcache_server_t* ms = client_for(AP_MEMCACHE_PROTOCOL_BINARY, "alice", "wrong");
    EXPECT_EQ(set("sasl", "x"), AP_MEMCACHE_EAUTH);
    ap_memcache_server_state_t st{};
    ASSERT_EQ(ap_memcache_server_state(ms, &st), APR_SUCCESS);
    EXPECT_EQ(st.live, 0);
    EXPECT_EQ(st.open, 0u);
    EXPECT_NE(log_.text.find("authentication failed"), std::string::npos) << log_.text;
    EXPECT_EQ(log_.text.find("wrong"), std::string::npos) << log_.text;
}

TEST_F(Auth, CredentialsThatCannotBeSentAreRefused) {
    apr_memcache_server_t* ms = nullptr;
    ASSERT_EQ(apr_memcache_server_create(pool_, "127.0.0.1", 1, 0, 1, 1, 0, &ms), APR_SUCCESS);
    EXPECT_EQ(ap_memcache_server_set_auth(ms, "al ice", "pw"), APR_EINVAL);
    EXPECT_EQ(ap_memcache_server_set_auth(ms, "alice", "p w"), APR_EINVAL);
    EXPECT_EQ(ap_memcache_server_set_auth(ms, "alice", "p\nw"), APR_EINVAL);
    EXPECT_EQ(ap_memcache_server_set_auth(ms, "alice", nullptr), APR_EINVAL);
    EXPECT_EQ(ap_memcache_server_set_auth(ms, nullptr, nullptr), APR_SUCCESS);
}

// ---- a server that does not ask for credentials ----------------------------------------

class NoAuthServer : public Auth, public ::testing::WithParamInterface<int> {};

// memcached without -Y (or a proxy in front of one) stores the -Y set as an ordinary
// item: the client must find out first and keep the password to itself.
TEST_P(NoAuthServer, ARealServerWithoutAuthenticationIsNeverSentThePassword) {
    start_server({});
    apr_memcache_server_t* ms = client_for(GetParam(), "alice", "s3cret");
    EXPECT_EQ(set("probe-key", "x"), AP_MEMCACHE_EAUTH);
    EXPECT_NE(set("probe-key2", "x"), APR_SUCCESS) << "never silently unauthenticated";
    ap_memcache_server_state_t st{};
    ASSERT_EQ(ap_memcache_server_state(ms, &st), APR_SUCCESS);
    EXPECT_EQ(st.live, 0);
    EXPECT_EQ(count_of(log_.text, kNotAsked), 1u) << log_.text;
    EXPECT_NE(log_.text.find("although user alice is configured: the password was not sent"), std::string::npos)
        << log_.text;
    EXPECT_EQ(log_.text.find("s3cret"), std::string::npos) << log_.text;
    RawClient raw(server_->port());
    EXPECT_FALSE(raw.get("mmc-auth").has_value()) << "the credentials were stored as an item";
    EXPECT_FALSE(raw.get("probe-key").has_value());
    EXPECT_FALSE(raw.get("probe-key2").has_value());
    EXPECT_EQ(raw.number("curr_items"), 0);
}

TEST_P(NoAuthServer, TheServerIsReportedOnceNotPerConnection) {
    start_server({});
    apr_memcache_server_t* ms = client_for(GetParam(), "alice", "s3cret");
    ap_memcache_server_options_t o;
    ap_memcache_server_get_options(ms, &o);
    o.retry_period = 1000;  // 1 ms: every call probes the dead server again
    ASSERT_EQ(ap_memcache_server_set_options(ms, &o), APR_SUCCESS);
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(set("k", "v"), AP_MEMCACHE_EAUTH);
        std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
    EXPECT_EQ(count_of(log_.text, kNotAsked), 1u) << log_.text;
    EXPECT_EQ(log_.text.rfind("3 ", 0), 0u) << "at error level: " << log_.text;
    RawClient raw(server_->port());
    EXPECT_GE(raw.number("total_connections"), 5) << "each call probed the server again";
}

// A server that plays memcached without authentication and records every byte.
TEST_P(NoAuthServer, NoByteOfThePasswordReachesTheSocket) {
    std::string probe_reply = "VERSION 1.6.18\r\n";
    if (GetParam() == AP_MEMCACHE_PROTOCOL_BINARY) {
        // 0x20 answered "unknown command" (status 0x81), as memcached without -S does.
        const std::string body = "Unknown command";
        probe_reply = std::string("\x81\x20\0\0\0\0\0\x81\0\0\0", 11) + char(body.size()) +
                      std::string(12, '\0') + body;
    }
    // Had the credentials gone out, the second step would accept them.
    ScriptedServer fake({probe_reply, "STORED\r\n", "STORED\r\n"});
    client_on(fake.port(), GetParam(), "alice", "pw-7f3a9c");
    EXPECT_EQ(set("k", "v"), AP_MEMCACHE_EAUTH);
    const std::string got = fake.received();
    EXPECT_FALSE(got.empty()) << "the probe was sent";
    EXPECT_EQ(got.find("pw-7f3a9c"), std::string::npos) << got;
    EXPECT_EQ(got.find("alice"), std::string::npos) << got;
    EXPECT_EQ(got.find("mmc-auth"), std::string::npos) << got;
    EXPECT_EQ(count_of(log_.text, kNotAsked), 1u) << log_.text;
}

INSTANTIATE_TEST_SUITE_P(Protocols, NoAuthServer,
                         ::testing::Values(AP_MEMCACHE_PROTOCOL_TEXT, AP_MEMCACHE_PROTOCOL_META,
                                           AP_MEMCACHE_PROTOCOL_BINARY),
                         [](const ::testing::TestParamInfo<int>& info) {
                             return info.param == AP_MEMCACHE_PROTOCOL_TEXT   ? std::string("text")
                                    : info.param == AP_MEMCACHE_PROTOCOL_META ? std::string("meta")
                                                                              : std::string("binary");
                         });

TEST_F(Auth, ABinaryServerWithoutPlainIsNeverSentThePassword) {
    const std::string mechs = "CRAM-MD5 SCRAM-SHA-1";
    const std::string reply = std::string("\x81\x20\0\0\0\0\0\0\0\0\0", 11) + char(mechs.size()) +
                              std::string(12, '\0') + mechs;
    ScriptedServer fake({reply, "unused"});
    client_on(fake.port(), AP_MEMCACHE_PROTOCOL_BINARY, "alice", "pw-7f3a9c");
    EXPECT_EQ(set("k", "v"), AP_MEMCACHE_EAUTH);
    EXPECT_EQ(fake.received().find("pw-7f3a9c"), std::string::npos);
    EXPECT_EQ(count_of(log_.text, kNotAsked), 1u) << log_.text;
}

// ---- how an exchange that does not end in an answer is classified ------------------------

// A server that asks for -Y credentials and then answers them with `reply`.
class AuthOutcome : public Auth {
protected:
    apr_status_t set_through(ScriptedServer& fake, int protocol = AP_MEMCACHE_PROTOCOL_TEXT) {
        apr_memcache_server_t* ms = client_on(fake.port(), protocol, "alice", "s3cret");
        ap_memcache_server_options_t o;
        ap_memcache_server_get_options(ms, &o);
        o.connect_timeout = 300000;  // 300 ms: the silent server's test waits it out
        EXPECT_EQ(ap_memcache_server_set_options(ms, &o), APR_SUCCESS);
        return set("k", "v");
    }
};

const std::string kAsk = "CLIENT_ERROR unauthenticated\r\n";

std::string binary_response(unsigned opcode, unsigned status, const std::string& value) {
    std::string r(24, '\0');
    r[0] = '\x81';
    r[1] = static_cast<char>(opcode);
    r[6] = static_cast<char>(status >> 8);
    r[7] = static_cast<char>(status & 0xff);
    r[11] = static_cast<char>(value.size());
    return r + value;
}

TEST_F(AuthOutcome, TheExplicitRefusalIsAnAuthenticationFailure) {
    ScriptedServer fake({kAsk, "CLIENT_ERROR authentication failure\r\n"});
    EXPECT_EQ(set_through(fake), AP_MEMCACHE_EAUTH);
    EXPECT_NE(log_.text.find("the server replied \"CLIENT_ERROR authentication failure\""), std::string::npos)
        << log_.text;
}

TEST_F(AuthOutcome, TooManyConnectionsIsAServerErrorNotARefusal) {
    ScriptedServer fake({kAsk, "ERROR Too many open connections\r\n"});
    EXPECT_EQ(set_through(fake), AP_MEMCACHE_EPROTO);
    EXPECT_NE(log_.text.find("\"ERROR Too many open connections\""), std::string::npos) << log_.text;
    EXPECT_EQ(log_.text.find("refused"), std::string::npos) << log_.text;
}

TEST_F(AuthOutcome, AConnectionClosedAfterTheCredentialsIsNotARefusal) {
    ScriptedServer fake({kAsk, ScriptedServer::kCloseConnection()});
    EXPECT_EQ(set_through(fake), APR_EOF);
}

TEST_F(AuthOutcome, ASilenceAfterTheCredentialsIsATimeoutNotARefusal) {
    ScriptedServer fake({kAsk});
    EXPECT_EQ(set_through(fake), APR_TIMEUP);
}

TEST_F(AuthOutcome, ASilenceAfterTheProbeIsATimeoutAndSendsNoPassword) {
    ScriptedServer fake({});
    EXPECT_EQ(set_through(fake), APR_TIMEUP);
    EXPECT_EQ(fake.received(), "version\r\n");
}

TEST_F(AuthOutcome, TheLoggedReplyIsCleanedOfControlBytesAndCut) {
    const std::string hostile = "SERVER_ERROR \x1b[2J\x07" "forged\\line " + std::string(300, 'a') + "\r\n";
    ScriptedServer fake({kAsk, hostile});
    EXPECT_EQ(set_through(fake), AP_MEMCACHE_EPROTO);
    EXPECT_NE(log_.text.find("SERVER_ERROR \\x1b[2J\\x07forged\\x5cline aaa"), std::string::npos) << log_.text;
    EXPECT_EQ(log_.text.find('\x1b'), std::string::npos);
    EXPECT_EQ(log_.text.find('\x07'), std::string::npos);
    EXPECT_NE(log_.text.find("aaa...\""), std::string::npos) << log_.text;
    EXPECT_EQ(log_.text.find(std::string(200, 'a')), std::string::npos) << "cut: " << log_.text;
}

TEST_F(AuthOutcome, SaslStatus0x20IsAnAuthenticationFailure) {
    ScriptedServer fake({binary_response(0x20, 0, "PLAIN"), binary_response(0x21, 0x20, "Auth failure")});
    EXPECT_EQ(set_through(fake, AP_MEMCACHE_PROTOCOL_BINARY), AP_MEMCACHE_EAUTH);
    EXPECT_NE(log_.text.find("status 0x0020 Auth failure"), std::string::npos) << log_.text;
}

TEST_F(AuthOutcome, AnotherSaslStatusIsAServerErrorNotARefusal) {
    ScriptedServer fake({binary_response(0x20, 0, "PLAIN"), binary_response(0x21, 0x86, "Temporary failure")});
    EXPECT_EQ(set_through(fake, AP_MEMCACHE_PROTOCOL_BINARY), AP_MEMCACHE_EPROTO);
    EXPECT_NE(log_.text.find("status 0x0086 Temporary failure"), std::string::npos) << log_.text;
}

TEST_F(AuthOutcome, ASaslConnectionClosedAfterTheCredentialsIsNotARefusal) {
    ScriptedServer fake({binary_response(0x20, 0, "PLAIN"), ScriptedServer::kCloseConnection()});
    EXPECT_EQ(set_through(fake, AP_MEMCACHE_PROTOCOL_BINARY), APR_EOF);
}

}  // namespace
}  // namespace mmc::test
