// mod_ssl's session cache through mcpool in a real apache2 under prefork (4 children,
// keep-alive off): resumption across children, a stopped and a killed memcached,
// graceful restarts, the status page; and apr-util's memcache: provider on the same
// stopped memcached, as the anchor.
#include "httpd_test_options.h"
#include "memcached_process.h"
#include "raw_client.h"
#include "socache_fixture.h"
#include "tls_tools.h"

#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>

#include <cstdio>
#include <fstream>
#include <thread>

namespace mmc::test {
namespace {

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

// What a new handshake and its request cost this machine right now with memcached
// answering (the median of three). On a busy machine the handshake's own CPU time
// grows; the bounds below are on what a stopped or killed memcached adds to it.
long long healthy_handshake_ms(unsigned short port) {
    std::vector<long long> ms;
    for (int i = 0; i < 3; ++i) {
        Handshake h = tls_handshake_in_process(port);
        EXPECT_TRUE(h.completed) << h.output;
        ms.push_back(h.ms);
    }
    std::sort(ms.begin(), ms.end());
    return ms[1];
}

TEST_F(SslSessionCache, StoppedMemcachedDelaysNoHandshakeBeyondTheTimeoutPlus200ms) {
    ASSERT_NO_FATAL_FAILURE(start(kSslModules, [&](const HttpdProcess& h) {
        return "MemcacheServer " + mc_.address() + "\nMemcacheTimeout 300ms\n"
               "MemcacheConnectTimeout 300ms\nMemcacheRetryPeriod 2s\n"
               "SSLSessionCache mcpool\n" + tls_vhost(h);
    }));
    const long long healthy = healthy_handshake_ms(httpd_->port(1));
    mc_.pause();  // SIGSTOP: connections are accepted by the kernel, never answered
    long long slowest = 0;
    std::string times;
    for (int i = 0; i < 10; ++i) {
        Handshake h = tls_handshake_in_process(httpd_->port(1));
        EXPECT_TRUE(h.completed) << h.output;
        EXPECT_LE(h.ms, 300 + 200 + healthy) << "handshake " << i;
        slowest = std::max(slowest, h.ms);
        times += " " + std::to_string(h.ms);
    }
    // And with s_client, as an operator would try it (its own start-up included).
    Handshake s_client = tls_handshake(httpd_->port(1), "", "", 10);
    EXPECT_TRUE(s_client.completed) << s_client.output;
    mc_.resume();
    std::printf("[ measured ] mcpool, memcached stopped, MemcacheTimeout 300ms: 10 new handshakes + "
                "request took (ms)%s; slowest %lld ms; with memcached running %lld ms (median of 3); s_client run "
                "while stopped %lld ms\n", times.c_str(), slowest, healthy, s_client.ms);
}

TEST_F(SslSessionCache, KilledMemcachedMeansNoResumptionUntilItIsBack) {
    ASSERT_NO_FATAL_FAILURE(start(kSslModules, [&](const HttpdProcess& h) {
        return "MemcacheServer " + mc_.address() + "\nMemcacheTimeout 300ms\n"
               "MemcacheRetryPeriod 1s\nSSLSessionCache mcpool\n" + tls_vhost(h);
    }));
    Handshake first = tls_handshake(httpd_->port(1), "", session_file("s1.pem"));
    ASSERT_TRUE(first.completed) << first.output;
    ASSERT_TRUE(tls_handshake(httpd_->port(1), session_file("s1.pem"), "").reused);

    const long long healthy = healthy_handshake_ms(httpd_->port(1));
    mc_.stop();
    for (int i = 0; i < 4; ++i) {
        Handshake h = tls_handshake(httpd_->port(1), session_file("s1.pem"), "");
        EXPECT_TRUE(h.completed) << h.output;
        EXPECT_FALSE(h.reused) << h.output;
        Handshake fresh = tls_handshake_in_process(httpd_->port(1));
        EXPECT_TRUE(fresh.completed) << fresh.output;
        EXPECT_LE(fresh.ms, 300 + 200 + healthy);
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

}  // namespace
}  // namespace mmc::test
