// The mcpool socache provider in a real apache2 with its real consumers: mod_ssl's
// session cache under prefork, mod_authn_socache and mod_cache_socache. Each test starts
// its own memcached and httpd; the memcache: tests run apr-util's mod_socache_memcache
// on the same faults, as the anchor.
#include "httpd_test_options.h"
#include "memcached_process.h"
#include "raw_client.h"
#include "tls_tools.h"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

namespace mmc::test {
namespace {

using Clock = std::chrono::steady_clock;

long long ms_since(Clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}

// prefork, so that every connection is served by one of 4 processes with their own
// pools: a session resumed in another child went through memcached.
HttpdOptions socache_options(std::vector<std::string> modules) {
    HttpdOptions o = module_options("prefork");
    o.mod_memcache_example.clear();
    o.log_level = "warn memcache:debug";
    o.system_modules = std::move(modules);
    return o;
}

// (mod_log_config is built into Debian's apache2.)
const std::vector<std::string> kSslModules = {"ssl", "status", "socache_memcache"};

// A TLS 1.2 virtual host on port(1), session tickets off (resumption only by session
// id, that is, through the session cache), logging which child served each connection.
std::string tls_vhost(const HttpdProcess& h) {
    const std::string addr = "127.0.0.1:" + std::to_string(h.port(1));
    return "SSLSessionCacheTimeout 300\n"
           "Listen " + addr + "\n"
           "<VirtualHost " + addr + ">\n"
           "  SSLEngine on\n"
           "  SSLProtocol -all +TLSv1.2\n"
           "  SSLSessionTickets off\n"
           "  SSLCertificateFile \"" + h.dir() + "/cert.pem\"\n"
           "  SSLCertificateKeyFile \"" + h.dir() + "/key.pem\"\n"
           "  CustomLog \"" + h.dir() + "/tls_access.log\" \"%P %{SSL_SESSION_RESUMED}x %{SSL_SESSION_ID}x\"\n"
           "</VirtualHost>\n"
           "<Location /server-status>\n"
           "  SetHandler server-status\n"
           "</Location>\n";
}

struct Served {
    std::string pid;
    std::string how;  // Initial or Resumed
    std::string session_id;
};

std::vector<Served> tls_access_log(const HttpdProcess& h) {
    std::vector<Served> out;
    std::ifstream in(h.dir() + "/tls_access.log");
    Served s;
    while (in >> s.pid >> s.how >> s.session_id) out.push_back(s);
    return out;
}

// The session key mod_ssl's entries get: cname "mod_ssl-sess", the id in lowercase hex.
std::string session_key(const Handshake& h) { return "mod_ssl-sess:" + lower(h.session_id); }

// Starts memcached and a prefork httpd whose configuration body is `body`, with a
// certificate in its directory. Fails the test with the reason when either cannot start.
class SocacheTest : public ::testing::Test {
protected:
    void start(std::vector<std::string> modules,
               const std::function<std::string(const HttpdProcess&)>& body) {
        ASSERT_TRUE(mc_.start()) << mc_.error();
        httpd_ = std::make_unique<HttpdProcess>(socache_options(std::move(modules)));
        const std::string cert_error = make_certificate(httpd_->dir());
        ASSERT_EQ(cert_error, "");
        httpd_->write_file("htdocs/index.html", "hello\n");
        ASSERT_TRUE(httpd_->start(body, 1)) << httpd_->error();
    }

    void TearDown() override {
        mc_.resume();
        if (!httpd_) return;
        httpd_->stop();
        // The engine reports the stopped or killed memcached by its address.
        auto lines = httpd_->unexpected_log_lines({mc_.address()});
        EXPECT_TRUE(lines.empty()) << "unexpected lines in the error log:\n" << join(lines);
    }

    std::string session_file(const std::string& name) const { return httpd_->dir() + "/" + name; }

    MemcachedProcess mc_;
    std::unique_ptr<HttpdProcess> httpd_;
};

// ---- mod_ssl ----------------------------------------------------------------------

class SslSessionCache : public SocacheTest {};

TEST_F(SslSessionCache, SessionIsResumedInAnotherPreforkChildThroughMemcached) {
    ASSERT_NO_FATAL_FAILURE(start(kSslModules, [&](const HttpdProcess& h) {
        return "MemcacheServer " + mc_.address() + "\nSSLSessionCache mcpool\n" + tls_vhost(h);
    }));
    Handshake first = tls_handshake(httpd_->port(1), "", session_file("s1.pem"));
    ASSERT_TRUE(first.completed) << first.output;
    ASSERT_FALSE(first.session_id.empty()) << first.output;
    // The session is in memcached under "mod_ssl-sess:<id in hex>".
    auto stored = RawClient(mc_.port()).get(session_key(first));
    EXPECT_TRUE(stored.has_value()) << "no " << session_key(first) << " in memcached";

    // Keep-alive is off: every handshake is a new connection, to any of the children.
    bool other_child = false;
    int reused = 0;
    std::string creator;
    for (int i = 0; i < 16 && !other_child; ++i) {
        Handshake again = tls_handshake(httpd_->port(1), session_file("s1.pem"), "");
        ASSERT_TRUE(again.completed) << again.output;
        EXPECT_TRUE(again.reused) << again.output;
        reused += again.reused;
        const auto log = tls_access_log(*httpd_);
        for (const auto& s : log) {
            if (lower(s.session_id) != lower(first.session_id)) continue;
            if (s.how == "Initial") creator = s.pid;
            if (s.how == "Resumed" && !creator.empty() && s.pid != creator) other_child = true;
        }
    }
    EXPECT_FALSE(creator.empty()) << "the first connection is not in the access log";
    EXPECT_TRUE(other_child) << "no resumption was served by a child other than " << creator;
    std::printf("[ measured ] %d resumptions of session %s, created by child %s; one served by "
                "another child: %s\n", reused, first.session_id.c_str(), creator.c_str(),
                other_child ? "yes" : "no");
}

TEST_F(SslSessionCache, StatusPageShowsTheProviderWithoutAskingMemcached) {
    ASSERT_NO_FATAL_FAILURE(start(kSslModules, [&](const HttpdProcess& h) {
        return "MemcacheServer " + mc_.address() + "\nSSLSessionCache mcpool\n" + tls_vhost(h);
    }));
    ASSERT_TRUE(tls_handshake(httpd_->port(1), "", "").completed);
    // Stopped, memcached would hang any status call that asked it (mod_socache_memcache
    // sends "stats" to every server for each page).
    mc_.pause();
    const auto t0 = Clock::now();
    HttpResponse status = http_get(httpd_->port(0), "/server-status?auto");
    const long long ms = ms_since(t0);
    mc_.resume();
    ASSERT_EQ(status.status, 200) << status.error;
    EXPECT_LT(ms, 200);
    EXPECT_NE(status.body.find("MCPool mod_ssl-sess: hits="), std::string::npos) << status.body;
    EXPECT_NE(status.body.find("MCPool mod_ssl-sess " + mc_.address() + ": live open="),
              std::string::npos) << status.body;
}

TEST_F(SslSessionCache, OwnServerListAndPrefixNeedNoMemcacheServerLine) {
    ASSERT_NO_FATAL_FAILURE(start(kSslModules, [&](const HttpdProcess& h) {
        return "MemcacheSOCachePrefix fleet-a/\nSSLSessionCache mcpool:" + mc_.address() + "\n" +
               tls_vhost(h);
    }));
    Handshake first = tls_handshake(httpd_->port(1), "", session_file("s1.pem"));
    ASSERT_TRUE(first.completed) << first.output;
    EXPECT_TRUE(RawClient(mc_.port()).get("fleet-a/" + session_key(first)).has_value())
        << "no fleet-a/" << session_key(first) << " in memcached";
    Handshake again = tls_handshake(httpd_->port(1), session_file("s1.pem"), "");
    EXPECT_TRUE(again.reused) << again.output;
}

TEST_F(SslSessionCache, StoppedMemcachedDelaysNoHandshakeBeyondTheTimeoutPlus200ms) {
    ASSERT_NO_FATAL_FAILURE(start(kSslModules, [&](const HttpdProcess& h) {
        return "MemcacheServer " + mc_.address() + "\nMemcacheTimeout 300ms\n"
               "MemcacheConnectTimeout 300ms\nMemcacheRetryPeriod 2s\n"
               "SSLSessionCache mcpool\n" + tls_vhost(h);
    }));
    // The same handshake with memcached running, for comparison.
    Handshake healthy = tls_handshake_in_process(httpd_->port(1));
    ASSERT_TRUE(healthy.completed) << healthy.output;
    mc_.pause();  // SIGSTOP: connections are accepted by the kernel, never answered
    long long slowest = 0;
    std::string times;
    for (int i = 0; i < 10; ++i) {
        Handshake h = tls_handshake_in_process(httpd_->port(1));
        EXPECT_TRUE(h.completed) << h.output;
        EXPECT_LE(h.ms, 300 + 200) << "handshake " << i;
        slowest = std::max(slowest, h.ms);
        times += " " + std::to_string(h.ms);
    }
    // And with s_client, as an operator would try it (its own start-up included).
    Handshake s_client = tls_handshake(httpd_->port(1), "", "", 10);
    EXPECT_TRUE(s_client.completed) << s_client.output;
    mc_.resume();
    std::printf("[ measured ] mcpool, memcached stopped, MemcacheTimeout 300ms: 10 new handshakes + "
                "request took (ms)%s; slowest %lld ms; with memcached running %lld ms; s_client run "
                "while stopped %lld ms\n", times.c_str(), slowest, healthy.ms, s_client.ms);
}

TEST_F(SslSessionCache, KilledMemcachedMeansNoResumptionUntilItIsBack) {
    ASSERT_NO_FATAL_FAILURE(start(kSslModules, [&](const HttpdProcess& h) {
        return "MemcacheServer " + mc_.address() + "\nMemcacheTimeout 300ms\n"
               "MemcacheRetryPeriod 1s\nSSLSessionCache mcpool\n" + tls_vhost(h);
    }));
    Handshake first = tls_handshake(httpd_->port(1), "", session_file("s1.pem"));
    ASSERT_TRUE(first.completed) << first.output;
    ASSERT_TRUE(tls_handshake(httpd_->port(1), session_file("s1.pem"), "").reused);

    mc_.stop();
    for (int i = 0; i < 4; ++i) {
        Handshake h = tls_handshake(httpd_->port(1), session_file("s1.pem"), "");
        EXPECT_TRUE(h.completed) << h.output;
        EXPECT_FALSE(h.reused) << h.output;
        Handshake fresh = tls_handshake_in_process(httpd_->port(1));
        EXPECT_TRUE(fresh.completed) << fresh.output;
        EXPECT_LE(fresh.ms, 300 + 200);
    }

    ASSERT_TRUE(mc_.restart()) << mc_.error();
    const auto back = Clock::now();
    bool resumed = false;
    for (int i = 0; !resumed && ms_since(back) < 10000; ++i) {
        const std::string file = session_file("s2-" + std::to_string(i) + ".pem");
        Handshake fresh = tls_handshake(httpd_->port(1), "", file);
        ASSERT_TRUE(fresh.completed) << fresh.output;
        resumed = tls_handshake(httpd_->port(1), file, "").reused;
        if (!resumed) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const long long recovered_ms = ms_since(back);
    EXPECT_TRUE(resumed) << "no resumption within 10 s of memcached's return";
    // Each child retries the server after its retry period (1 s).
    EXPECT_LE(recovered_ms, 1000 + 3000);
    std::printf("[ measured ] mcpool: resumption works again %lld ms after memcached is back\n",
                recovered_ms);
}

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

TEST_F(SslSessionCache, GracefulRestartsKeepItWorkingAndLeakNoConnections) {
    ASSERT_NO_FATAL_FAILURE(start(kSslModules, [&](const HttpdProcess& h) {
        // notice: the line that says a restart is done.
        return "LogLevel notice memcache:debug\nSSLSessionCache mcpool:" + mc_.address() + "\n" +
               tls_vhost(h);
    }));
    // Served by a child: httpd has its signal handlers before the first SIGUSR1 (the
    // port accepts connections earlier, while httpd still starts).
    ASSERT_TRUE(tls_handshake(httpd_->port(1), "", "").completed);
    for (int round = 0; round < 3; ++round) {
        const std::size_t before = count_of(httpd_->error_log(), "resuming normal operations");
        ASSERT_EQ(::kill(httpd_->pid(), SIGUSR1), 0);
        for (int i = 0; i < 1000 && count_of(httpd_->error_log(), "resuming normal operations") == before; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        ASSERT_GT(count_of(httpd_->error_log(), "resuming normal operations"), before);
        const std::string file = session_file("g" + std::to_string(round) + ".pem");
        Handshake fresh = tls_handshake(httpd_->port(1), "", file);
        ASSERT_TRUE(fresh.completed) << fresh.output;
        Handshake again = tls_handshake(httpd_->port(1), file, "");
        EXPECT_TRUE(again.reused) << "after graceful restart " << round << "\n" << again.output;
    }
    // The old generations' children are gone with their connections: at most one per
    // child of the current one (prefork: one thread, max=1) is left.
    const long long ours = RawClient(mc_.port()).settled_number("curr_connections") - 1;
    EXPECT_LE(ours, 8) << "ServerLimit is 8";
    std::printf("[ measured ] mcpool after 3 graceful restarts: %lld connections from httpd\n", ours);
}

// The anchor: the same stopped memcached behind apr-util's mod_socache_memcache.
TEST_F(SslSessionCache, AnchorMemcacheProviderHangsTheHandshakeOnAStoppedMemcached) {
    ASSERT_NO_FATAL_FAILURE(start(kSslModules, [&](const HttpdProcess& h) {
        return "SSLSessionCache memcache:" + mc_.address() + "\n" + tls_vhost(h);
    }));
    ASSERT_TRUE(tls_handshake(httpd_->port(1), "", "").completed);
    mc_.pause();
    // Bounded here: the handshake itself would wait as long as memcached stays stopped.
    Handshake h = tls_handshake(httpd_->port(1), "", "", 5);
    mc_.resume();
    EXPECT_TRUE(h.timed_out) << "mod_socache_memcache finished a handshake in " << h.ms
                             << " ms: the anchor no longer holds\n" << h.output;
    // The session is stored as the handshake ends, so s_client may already have printed
    // it; the connection (handshake, then the request) never finishes either way.
    std::printf("[ measured ] memcache: (mod_socache_memcache), memcached stopped: the connection "
                "had not finished after %lld ms (%s; handshake %s)\n", h.ms,
                h.timed_out ? "killed at the limit: it hangs" : "it finished",
                h.completed ? "reported by s_client" : "not finished");
}

// ---- mod_authn_socache --------------------------------------------------------------

// "alice" with password "secret", and the header that logs her in.
const char kHtpasswd[] = "alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n";
const char kAliceAuth[] = "Authorization: Basic YWxpY2U6c2VjcmV0";

std::string metadump(unsigned short port) {
    return RawClient(port).command("lru_crawler metadump all\r\n");
}

class AuthnSocache : public SocacheTest {};

TEST_F(AuthnSocache, SecondRequestIsAnsweredFromTheCache) {
    ASSERT_NO_FATAL_FAILURE(start({"authn_core", "authn_file", "auth_basic", "authz_user", "authn_socache"},
          [&](const HttpdProcess& h) {
              const std::string htpasswd = h.write_file("htpasswd", kHtpasswd);
              h.write_file("htdocs/private.txt", "secret page\n");
              return "MemcacheServer " + mc_.address() + "\n"
                     "AuthnCacheSOCache mcpool\n"
                     "<Location /private.txt>\n"
                     "  AuthType Basic\n"
                     "  AuthName private\n"
                     "  AuthBasicProvider socache file\n"
                     "  AuthUserFile \"" + htpasswd + "\"\n"
                     "  AuthnCacheProvideFor file\n"
                     "  Require valid-user\n"
                     "</Location>\n";
          }));
    EXPECT_EQ(http_get(httpd_->port(0), "/private.txt").status, 401);
    RawClient raw(mc_.port());
    const long long hits_before = raw.number("get_hits");
    auto first = http_get(httpd_->port(0), "/private.txt", "localhost", {kAliceAuth});
    ASSERT_EQ(first.status, 200) << first.error << first.body;
    EXPECT_GE(raw.number("cmd_set"), 1);
    EXPECT_EQ(raw.number("get_hits"), hits_before) << "the first lookup cannot hit";
    auto second = http_get(httpd_->port(0), "/private.txt", "localhost", {kAliceAuth});
    ASSERT_EQ(second.status, 200) << second.error << second.body;
    EXPECT_EQ(second.body, "secret page\n");
    EXPECT_GT(raw.number("get_hits"), hits_before) << "the second lookup did not hit memcached";
    const std::string keys = metadump(mc_.port());
    EXPECT_NE(keys.find("key=authn-socache%3A"), std::string::npos) << keys;
}

// ---- mod_cache_socache ---------------------------------------------------------------

std::string long_url() { return "/page.txt?q=" + std::string(420, 'x'); }

std::string header(const HttpResponse& r, const std::string& name) {
    std::istringstream lines(r.headers);
    std::string line;
    while (std::getline(lines, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (lower(line.substr(0, name.size() + 1)) == lower(name) + ":") {
            auto v = line.substr(name.size() + 1);
            return v.substr(v.find_first_not_of(' '));
        }
    }
    return "";
}

// The memcached key of the only hashed entry, from the metadump ("%3A%23": ":#").
std::string hashed_key(unsigned short port, const std::string& cname) {
    const std::string dump = metadump(port);
    const std::string needle = "key=" + cname + "%3A%23";
    auto at = dump.find(needle);
    if (at == std::string::npos) return "";
    auto end = dump.find(' ', at);
    return cname + ":#" + dump.substr(at + needle.size(), end - at - needle.size());
}

class CacheSocache : public SocacheTest {
protected:
    // provider "memcache:" gets the address of the memcached started here.
    void start_cache(const std::string& provider) {
        start({"cache", "cache_socache", "socache_memcache", "expires", "status"}, [&](const HttpdProcess& h) {
            h.write_file("htdocs/page.txt", "cached body\n");
            return "MemcacheServer " + mc_.address() + "\n"
                   "CacheEnable socache /\n"
                   "CacheSocache " + provider + (provider == "memcache:" ? mc_.address() : "") + "\n"
                   "CacheHeader on\n"
                   "ExpiresActive On\n"
                   "ExpiresDefault \"access plus 1 hours\"\n"
                   "<Location /server-status>\n"
                   "  SetHandler server-status\n"
                   "</Location>\n";
        });
    }
    HttpResponse get(const std::string& url) { return http_get(httpd_->port(0), url); }
};

TEST_F(CacheSocache, ResponseOfAUrlOver400BytesIsServedFromTheCache) {
    ASSERT_NO_FATAL_FAILURE(start_cache("mcpool"));
    ASSERT_GT(long_url().size(), 400u);
    auto first = get(long_url());
    ASSERT_EQ(first.status, 200) << first.error;
    EXPECT_EQ(header(first, "X-Cache").rfind("MISS", 0), 0u) << first.headers;
    auto second = get(long_url());
    ASSERT_EQ(second.status, 200) << second.error;
    EXPECT_EQ(second.body, "cached body\n");
    EXPECT_EQ(header(second, "X-Cache").rfind("HIT", 0), 0u) << second.headers;
    // The id was too long for a memcached key: its key is the hash form.
    EXPECT_NE(hashed_key(mc_.port(), "cache-socache"), "") << metadump(mc_.port());
    auto status = get("/server-status?auto");
    EXPECT_NE(status.body.find("MCPool cache-socache: hits="), std::string::npos) << status.body;
}

TEST_F(CacheSocache, EntryOfAnotherIdUnderTheSameHashedKeyIsAMiss) {
    ASSERT_NO_FATAL_FAILURE(start_cache("mcpool"));
    ASSERT_EQ(get(long_url()).status, 200);
    ASSERT_EQ(header(get(long_url()), "X-Cache").rfind("HIT", 0), 0u);
    const std::string key = hashed_key(mc_.port(), "cache-socache");
    ASSERT_NE(key, "") << metadump(mc_.port());
    RawClient raw(mc_.port());
    auto value = raw.get(key);
    ASSERT_TRUE(value.has_value() && value->size() > 4);
    // What a SHA-1 collision would leave there: the entry of another id (the same id
    // with its last byte changed), complete with its data.
    std::string forged = *value;
    const std::size_t idlen = (static_cast<unsigned char>(forged[0]) << 24) |
                              (static_cast<unsigned char>(forged[1]) << 16) |
                              (static_cast<unsigned char>(forged[2]) << 8) |
                              static_cast<unsigned char>(forged[3]);
    ASSERT_GT(idlen, 0u);
    ASSERT_LE(4 + idlen, forged.size());
    forged[4 + idlen - 1] ^= 0x01;
    ASSERT_TRUE(raw.set(key, forged, 0x6d63));
    auto after = get(long_url());
    ASSERT_EQ(after.status, 200) << after.error;
    EXPECT_EQ(after.body, "cached body\n");
    EXPECT_EQ(header(after, "X-Cache").rfind("MISS", 0), 0u)
        << "another id's entry was served: " << after.headers;
}

TEST_F(CacheSocache, AnchorMemcacheProviderCannotCacheTheLongUrl) {
    ASSERT_NO_FATAL_FAILURE(start_cache("memcache:"));
    get(long_url());
    auto second = get(long_url());
    ASSERT_EQ(second.status, 200) << second.error;
    EXPECT_NE(header(second, "X-Cache").rfind("HIT", 0), 0u)
        << "mod_socache_memcache cached an id of over 120 bytes: the anchor no longer holds";
    std::printf("[ measured ] memcache: (mod_socache_memcache), URL of %zu bytes: X-Cache %s\n",
                long_url().size(), header(second, "X-Cache").c_str());
}

// ---- the provider API itself, through a test consumer --------------------------------

// apr_status_t values the probe prints (Linux errno values and APR's own).
constexpr int kSuccess = 0;
constexpr int kEinval = 22;         // APR_EINVAL
constexpr int kEnospc = 28;         // APR_ENOSPC
constexpr int kNotFound = 70015;    // APR_NOTFOUND
constexpr int kNotImplemented = 70023;  // APR_ENOTIMPL

std::string hex(const std::string& bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

struct ProbeReply {
    int status = -1;
    unsigned len = 0;
    bool canary_intact = false;
    std::string data;
    std::string raw;
};

// "mcpool" is the provider under test, "mc" apr-util's memcache provider on the same
// memcached; each is a SOCacheProbe of that name (its cname).
std::string probe_config(const MemcachedProcess& mc) {
    return std::string("LoadModule socache_probe_module \"") + MMC_MOD_SOCACHE_PROBE_PATH + "\"\n"
           "MemcacheServer " + mc.address() + "\n"
           "SOCacheProbe mcpool mcpool\n"
           "SOCacheProbe mc memcache:" + mc.address() + "\n"
           "<Location /probe>\n"
           "  SetHandler socache-probe\n"
           "</Location>\n";
}

class SocacheProvider : public SocacheTest {
protected:
    void SetUp() override {
        ASSERT_NO_FATAL_FAILURE(
            start({"socache_memcache"}, [&](const HttpdProcess&) { return probe_config(mc_); }));
    }

    ProbeReply call(const std::string& cache, const std::string& query) {
        ProbeReply p;
        HttpResponse r = http_get(httpd_->port(0), "/probe?c=" + cache + "&" + query);
        p.raw = r.error + r.body;
        auto nl = r.body.find('\n');
        if (r.status != 200 || nl == std::string::npos) return p;
        char canary[16] = {};
        std::sscanf(r.body.c_str(), "status=%d len=%u canary=%15s", &p.status, &p.len, canary);
        p.canary_intact = std::string(canary) == "intact";
        p.data = r.body.substr(nl + 1);
        return p;
    }
    ProbeReply store(const std::string& cache, const std::string& id, const std::string& data,
                     long long ttl) {
        return call(cache, "op=store&id=" + hex(id) + "&data=" + data + "&ttl=" + std::to_string(ttl));
    }
    ProbeReply retrieve(const std::string& cache, const std::string& id, unsigned buf = 1024) {
        return call(cache, "op=retrieve&id=" + hex(id) + "&buf=" + std::to_string(buf));
    }
};

TEST_F(SocacheProvider, RetrieveHonoursTheCallersBufferSize) {
    const std::string data(300, 'd');
    ASSERT_EQ(store("mcpool", "sess-1", data, 60).status, kSuccess);
    ProbeReply small = retrieve("mcpool", "sess-1", 299);
    EXPECT_EQ(small.status, kEnospc) << small.raw;
    EXPECT_EQ(small.len, 299u) << "*datalen must stay as it was";
    EXPECT_TRUE(small.canary_intact) << small.raw;
    ProbeReply exact = retrieve("mcpool", "sess-1", 300);
    EXPECT_EQ(exact.status, kSuccess) << exact.raw;
    EXPECT_EQ(exact.len, 300u);
    EXPECT_EQ(exact.data, data);
    EXPECT_TRUE(exact.canary_intact);
}

TEST_F(SocacheProvider, BinaryIdsOfAnyLengthRoundTrip) {
    std::string every_byte;
    for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
    for (const std::string& id : {every_byte.substr(0, 100), every_byte, std::string(3000, '\0')}) {
        ASSERT_EQ(store("mcpool", id, "v" + std::to_string(id.size()), 60).status, kSuccess) << id.size();
        ProbeReply got = retrieve("mcpool", id);
        EXPECT_EQ(got.status, kSuccess) << id.size() << got.raw;
        EXPECT_EQ(got.data, "v" + std::to_string(id.size()));
    }
    // 100 bytes fit as hex; 256 and 3000 are hashed, so their values carry the id.
    EXPECT_TRUE(RawClient(mc_.port()).get("mcpool:" + hex(every_byte.substr(0, 100))).has_value());
}

TEST_F(SocacheProvider, ExpiryBeyondThirtyDaysKeepsTheEntry) {
    const long long days31 = 31LL * 86400;
    EXPECT_EQ(store("mcpool", "long-lived", "kept", days31).status, kSuccess);
    ProbeReply ours = retrieve("mcpool", "long-lived");
    EXPECT_EQ(ours.status, kSuccess) << ours.raw;
    EXPECT_EQ(ours.data, "kept");
    // The anchor: apr-util's provider sends 31 days as seconds, a Unix time in 1970.
    EXPECT_EQ(store("mc", "long-lived", "lost", days31).status, kSuccess);
    ProbeReply theirs = retrieve("mc", "long-lived");
    EXPECT_EQ(theirs.status, kNotFound) << theirs.raw;
    std::printf("[ measured ] 31-day entry: mcpool retrieve status %d, memcache status %d\n",
                ours.status, theirs.status);
}

TEST_F(SocacheProvider, PastExpiryStoresNothingAndDropsTheOlderEntry) {
    ASSERT_EQ(store("mcpool", "gone", "old", 60).status, kSuccess);
    ASSERT_EQ(retrieve("mcpool", "gone").status, kSuccess);
    EXPECT_EQ(store("mcpool", "gone", "new", -5).status, kEinval);
    EXPECT_EQ(retrieve("mcpool", "gone").status, kNotFound);
    EXPECT_EQ(store("mcpool", "never", "x", 0).status, kEinval);
    EXPECT_EQ(retrieve("mcpool", "never").status, kNotFound);
}

TEST_F(SocacheProvider, RemoveDeletesAndIterateIsNotImplemented) {
    ASSERT_EQ(store("mcpool", "rm", "x", 60).status, kSuccess);
    EXPECT_EQ(call("mcpool", "op=remove&id=" + hex("rm")).status, kSuccess);
    EXPECT_EQ(retrieve("mcpool", "rm").status, kNotFound);
    EXPECT_EQ(call("mcpool", "op=iterate").status, kNotImplemented);
}

TEST_F(SocacheProvider, StoppedMemcachedIsAMissWithinTheTimeout) {
    ASSERT_EQ(store("mcpool", "s", "x", 60).status, kSuccess);
    mc_.pause();
    const auto t0 = Clock::now();
    ProbeReply got = retrieve("mcpool", "s");
    const long long ms = ms_since(t0);
    mc_.resume();
    EXPECT_EQ(got.status, kNotFound) << got.raw;
    EXPECT_LE(ms, 1000 + 200) << "MemcacheTimeout is 1 s";
}

// ---- the provider benchmark ------------------------------------------------------------

struct BenchRow {
    std::string provider;
    long long pairs = 0;
    long long failures = -1;
    long long usec = 0;
    long long instructions = -1;
    double syscalls_per_op = -1;
};

BenchRow parse_bench(const std::string& body) {
    BenchRow b;
    char name[32] = {};
    long long size = 0;
    std::sscanf(body.c_str(), "provider=%31s pairs=%lld size=%lld failures=%lld usec=%lld instructions=%lld",
                name, &b.pairs, &size, &b.failures, &b.usec, &b.instructions);
    b.provider = name;
    return b;
}

// System calls made by pid while `work` runs: strace attached for that time only.
double count_syscalls(pid_t pid, const std::function<void()>& work, long long ops) {
    const std::string strace = "/usr/bin/strace";
    if (::access(strace.c_str(), X_OK) != 0) return -1;
    char out[] = "/tmp/mmc-strace-XXXXXX";
    int fd = ::mkstemp(out);
    if (fd < 0) return -1;
    ::close(fd);
    pid_t child = ::fork();
    if (child == 0) {
        ::execl(strace.c_str(), "strace", "-c", "-U", "calls,name", "-o", out, "-p",
                std::to_string(pid).c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // attached by then
    work();
    ::kill(child, SIGINT);
    int status = 0;
    ::waitpid(child, &status, 0);
    std::ifstream in(out);
    std::string line, last;
    long long total = -1;
    while (std::getline(in, line)) {
        // The summary's last line: "------ ... total" preceded by the calls column.
        if (line.find("total") != std::string::npos) {
            std::istringstream w(line);
            w >> total;
        }
    }
    ::unlink(out);
    return total < 0 ? -1 : static_cast<double>(total) / static_cast<double>(ops);
}

// Instructions per operation of each provider's loop, from the dumps callgrind wrote
// ("desc: Trigger: Client Request: bench-NAME" and "totals: N"); empty without valgrind.
std::map<std::string, double> callgrind_instructions(const MemcachedProcess& mc, long long pairs) {
    std::map<std::string, double> out;
    const std::string valgrind = "/usr/bin/valgrind";
    if (::access(valgrind.c_str(), X_OK) != 0) return out;
    HttpdOptions o = socache_options({"socache_memcache"});
    o.one_process = true;
    o.start_timeout_s = 120;
    HttpdProcess httpd(o);  // only its directory: httpd -X drops to nobody, who writes there
    const std::string dir = httpd.dir() + "/callgrind";
    ::mkdir(dir.c_str(), 0777);
    ::chmod(dir.c_str(), 0777);
    o.launcher = {valgrind, "--tool=callgrind", "--instr-atstart=no", "--vgdb=no",
                  "--callgrind-out-file=" + dir + "/cg.out"};
    HttpdProcess traced(o);
    if (!traced.start([&](const HttpdProcess&) { return probe_config(mc); })) {
        std::printf("[ measured ] callgrind run did not start: %s\n", traced.error().c_str());
        return out;
    }
    for (const std::string cache : {"mcpool", "mc"}) {
        http_get(traced.port(0), "/probe?c=" + cache + "&op=bench&size=150&n=20");
        http_get(traced.port(0), "/probe?c=" + cache + "&op=bench&size=150&callgrind=1&n=" +
                                     std::to_string(pairs));
    }
    traced.stop();
    for (int part = 1; part <= 4; ++part) {
        std::ifstream in(dir + "/cg.out." + std::to_string(part));
        std::string line, name;
        while (std::getline(in, line)) {
            const std::string trigger = "desc: Trigger: Client Request: bench-";
            if (line.rfind(trigger, 0) == 0) name = line.substr(trigger.size());
            if (line.rfind("totals: ", 0) == 0 && !name.empty()) {
                out[name] = std::stod(line.substr(8)) / (2.0 * static_cast<double>(pairs));
            }
        }
    }
    return out;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

TEST(SocacheBench, McpoolAgainstTheMemcacheProviderInOneProcess) {
    const char* env = std::getenv("MMC_SOCACHE_BENCH_PAIRS");
    const long long pairs = env ? std::atoll(env) : 2000;
    MemcachedProcess mc;
    ASSERT_TRUE(mc.start()) << mc.error();
    HttpdOptions o = socache_options({"socache_memcache"});
    o.one_process = true;  // httpd -X: one process does it all, the counters follow it
    HttpdProcess httpd(o);
    ASSERT_TRUE(httpd.start([&](const HttpdProcess&) { return probe_config(mc); }))
        << httpd.error();
    const std::vector<std::string> caches = {"mcpool", "mc"};
    std::map<std::string, std::vector<double>> ops_per_s;
    std::map<std::string, double> syscalls;
    for (const auto& cache : caches) {  // warm: connections open, code paged in
        http_get(httpd.port(0), "/probe?c=" + cache + "&op=bench&size=150&n=200");
    }
    for (int round = 0; round < 5; ++round) {
        for (const auto& cache : caches) {
            HttpResponse r = http_get(httpd.port(0), "/probe?c=" + cache + "&op=bench&size=150&n=" +
                                                         std::to_string(pairs));
            ASSERT_EQ(r.status, 200) << r.error << r.body;
            BenchRow row = parse_bench(r.body);
            EXPECT_EQ(row.failures, 0) << r.body;
            ops_per_s[cache].push_back(2.0 * static_cast<double>(row.pairs) /
                                       (static_cast<double>(row.usec) / 1e6));
        }
    }
    // Last: a process strace has followed runs slower for a while after.
    const long long strace_pairs = std::min<long long>(pairs, 2000);
    for (const auto& cache : caches) {
        syscalls[cache] = count_syscalls(httpd.pid(), [&] {
            http_get(httpd.port(0), "/probe?c=" + cache + "&op=bench&size=150&n=" +
                                        std::to_string(strace_pairs));
        }, 2 * strace_pairs);
    }
    httpd.stop();
    const auto instructions = callgrind_instructions(mc, std::min<long long>(pairs, 1000));
    std::printf("[ measured ] provider store+retrieve of 150-byte values through ap_socache.h, "
                "httpd -X, one memcached on loopback; ops/s: median of 5 runs of %lld pairs\n", pairs);
    std::printf("[ measured ] | provider | ops/s | instructions/op | syscalls/op |\n");
    for (const auto& cache : caches) {
        auto in = instructions.find(cache);
        std::printf("[ measured ] | %s | %.0f | %.0f | %.2f |\n",
                    cache == "mc" ? "memcache (mod_socache_memcache)" : "mcpool",
                    median(ops_per_s[cache]), in == instructions.end() ? -1.0 : in->second,
                    syscalls[cache]);
    }
    std::printf("[ measured ] mcpool/memcache: ops/s %.2fx\n",
                median(ops_per_s["mcpool"]) / median(ops_per_s["mc"]));
}

// ---- configuration -------------------------------------------------------------------

HttpdProcess& config_checker() {
    static HttpdProcess httpd(socache_options({"ssl", "authn_core", "authn_socache"}));
    return httpd;
}

class SocacheConfig : public ::testing::Test {};

TEST_F(SocacheConfig, McpoolWithoutAnyServerFailsTheConfigTest) {
    for (const std::string consumer : {"SSLSessionCache", "AuthnCacheSOCache"}) {
        CommandResult r = config_checker().config_test(consumer + " mcpool\n");
        EXPECT_NE(r.exit_code, 0) << r.output;
        EXPECT_NE(r.output.find("mcpool: no memcached servers"), std::string::npos) << r.output;
    }
}

TEST_F(SocacheConfig, McpoolUsesMemcacheServerLinesGivenAnywhereInTheMainServer) {
    CommandResult r = config_checker().config_test(
        "SSLSessionCache mcpool\nMemcacheServer 127.0.0.1:21001\n");
    EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(SocacheConfig, OwnServerListNeedsNoMemcacheServerLine) {
    for (const std::string list : {"127.0.0.1:21001,127.0.0.1:21002", "localhost",
                                   "[::1]:21001", "[::1]", "/run/memcached.sock"}) {
        CommandResult r = config_checker().config_test("SSLSessionCache mcpool:" + list + "\n");
        EXPECT_EQ(r.exit_code, 0) << list << "\n" << r.output;
    }
}

TEST_F(SocacheConfig, BadServerListFailsTheConfigTestNamingTheValue) {
    const std::map<std::string, std::string> bad = {
        {"127.0.0.1:99999", "'127.0.0.1:99999'"},
        {"127.0.0.1:21001,,127.0.0.1:21002", "empty server"},
        {"127.0.0.1:21001,", "empty server"},
        {"127.0.0.1:21001,127.0.0.1:21001", "listed twice"},
    };
    for (const auto& [list, message] : bad) {
        CommandResult r = config_checker().config_test("SSLSessionCache mcpool:" + list + "\n");
        EXPECT_NE(r.exit_code, 0) << list << "\n" << r.output;
        EXPECT_NE(r.output.find(message), std::string::npos) << list << "\n" << r.output;
    }
}

TEST_F(SocacheConfig, PrefixMustBeShortPrintableAscii) {
    EXPECT_EQ(config_checker().config_test("MemcacheSOCachePrefix fleet-a/\n").exit_code, 0);
    for (const std::string& bad : std::vector<std::string>{"\"two words\"", std::string(65, 'p'), "\"\""}) {
        CommandResult r = config_checker().config_test("MemcacheSOCachePrefix " + bad + "\n");
        EXPECT_NE(r.exit_code, 0) << bad << "\n" << r.output;
        EXPECT_NE(r.output.find("MemcacheSOCachePrefix"), std::string::npos) << r.output;
    }
}

}  // namespace
}  // namespace mmc::test
