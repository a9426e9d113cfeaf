// MemcacheReplicas through httpd: three memcached behind the mcpool socache provider,
// one of them killed (SIGKILL) and restarted empty; and mod_ssl's sessions surviving
// the death of the server that held them.
#include "httpd_test_options.h"
#include "memcached_process.h"
#include "raw_client.h"
#include "socache_fixture.h"
#include "tls_tools.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <thread>

namespace mmc::test {
namespace {

constexpr int kKeys = 2000;

std::string hex(const std::string& bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

std::string id_of(int i) { return "id" + std::to_string(i); }
// The key the provider stores a short id under: its cname, ':', the id in hex.
std::string key_of(int i) { return "mcpool:" + hex(id_of(i)); }

class SocacheReplicas : public ::testing::Test {
protected:
    // ssl_conf: mod_ssl's directives, given with a TLS virtual host on port(1).
    void start(int replicas, const std::vector<std::string>& modules = {},
               const std::string& ssl_conf = "") {
        for (auto& m : mc_) ASSERT_TRUE(m.start()) << m.error();
        httpd_ = std::make_unique<HttpdProcess>(socache_options(modules));
        ASSERT_EQ(make_certificate(httpd_->dir()), "");
        httpd_->write_file("htdocs/index.html", "hello\n");
        auto body = [&, replicas](const HttpdProcess& h) {
            std::string conf;
            for (auto& m : mc_) conf += "MemcacheServer " + m.address() + "\n";
            conf += "MemcacheReplicas " + std::to_string(replicas) + "\n"
                    "MemcacheProtocol meta\n"
                    "MemcacheTimeout 500ms\n"
                    "MemcacheRetryPeriod 1s\n"
                    "LoadModule socache_probe_module \"" MMC_MOD_SOCACHE_PROBE_PATH "\"\n"
                    "SOCacheProbe mcpool mcpool\n"
                    "<Location /probe>\n"
                    "  SetHandler socache-probe\n"
                    "</Location>\n"
                    "<Location /server-status>\n"
                    "  SetHandler server-status\n"
                    "</Location>\n";
            return conf + ssl_conf + (ssl_conf.empty() ? "" : tls(h));
        };
        ASSERT_TRUE(httpd_->start(body, 1)) << httpd_->error();
    }

    static std::string tls(const HttpdProcess& h) {
        const std::string addr = "127.0.0.1:" + std::to_string(h.port(1));
        return "Listen " + addr + "\n"
               "<VirtualHost " + addr + ">\n"
               "  SSLEngine on\n"
               "  SSLProtocol -all +TLSv1.2\n"
               "  SSLSessionTickets off\n"
               "  SSLCertificateFile \"" + h.dir() + "/cert.pem\"\n"
               "  SSLCertificateKeyFile \"" + h.dir() + "/key.pem\"\n"
               "</VirtualHost>\n";
    }

    void TearDown() override {
        if (!httpd_) return;
        httpd_->stop();
        std::vector<std::string> addresses;
        for (auto& m : mc_) addresses.push_back(m.address());
        auto lines = httpd_->unexpected_log_lines(addresses);
        EXPECT_TRUE(lines.empty()) << "unexpected lines in the error log:\n" << join(lines);
    }

    bool store(int i) {
        HttpResponse r = http_get(httpd_->port(0), "/probe?c=mcpool&op=store&id=" + hex(id_of(i)) +
                                                       "&data=v" + std::to_string(i) + "&ttl=3600");
        return r.status == 200 && r.body.rfind("status=0\n", 0) == 0;
    }
    // The value the provider returns for id i, "" for none.
    std::string retrieve(int i) {
        HttpResponse r = http_get(httpd_->port(0), "/probe?c=mcpool&op=retrieve&id=" + hex(id_of(i)) + "&buf=64");
        if (r.status != 200 || r.body.rfind("status=0 ", 0) != 0) return "";
        return r.body.substr(r.body.find('\n') + 1);
    }

    // One pass of reads over every id: how many came back right, and the slowest.
    int read_all(long long& slowest_ms, const std::set<int>& expect_other = {}, const std::string& other = "") {
        int found = 0;
        slowest_ms = 0;
        for (int i = 0; i < kKeys; ++i) {
            const auto t0 = Clock::now();
            const std::string v = retrieve(i);
            slowest_ms = std::max(slowest_ms, ms_since(t0));
            found += v == (expect_other.count(i) ? other : "v" + std::to_string(i));
        }
        return found;
    }

    MemcachedProcess mc_[3];
    std::unique_ptr<HttpdProcess> httpd_;
};

TEST_F(SocacheReplicas, KillOneOfThreeLosesNothingAndTheRestartedServerIsRefilled) {
    ASSERT_NO_FATAL_FAILURE(start(1, {"status"}));
    for (int i = 0; i < kKeys; ++i) ASSERT_TRUE(store(i)) << i;
    // The status page shows the replicas and each server's counters (this child's).
    const HttpResponse status = http_get(httpd_->port(0), "/server-status?auto");
    EXPECT_NE(status.body.find("3 server(s), ketama, 1 replica(s)"), std::string::npos) << status.body;
    EXPECT_NE(status.body.find(" replica_writes="), std::string::npos) << status.body;
    EXPECT_NE(status.body.find(" replica_failures=0"), std::string::npos) << status.body;
    // Server 1 is the primary of the keys it shares with server 2 (its replica).
    std::set<int> on_one;
    {
        RawClient one(mc_[1].port()), two(mc_[2].port());
        for (int i = 0; i < kKeys; ++i) {
            if (one.get(key_of(i)) && two.get(key_of(i))) on_one.insert(i);
        }
    }
    ASSERT_GT(on_one.size(), static_cast<std::size_t>(kKeys / 6));

    mc_[1].stop();  // SIGKILL
    long long slowest = 0;
    const int found = read_all(slowest);
    EXPECT_EQ(found, kKeys);
    // Each read within one deadline (500 ms), HTTP included.
    EXPECT_LT(slowest, 500);
    std::printf("[ measured ] httpd, 3 memcached, MemcacheReplicas 1, one killed: %d of %d read back, "
                "slowest request %lld ms\n", found, kKeys, slowest);

    ASSERT_TRUE(mc_[1].restart()) << mc_[1].error();
    // Every child retries it after its retry period.
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    // A key written on the restarted server meanwhile: no repair may replace it.
    const int updated = *on_one.begin();
    RawClient one(mc_[1].port());
    ASSERT_TRUE(one.set(key_of(updated), "newer"));
    const int again = read_all(slowest, {updated}, "newer");
    EXPECT_EQ(again, kKeys);
    int back = 0;
    for (int i : on_one) back += one.get(key_of(i)).has_value();
    EXPECT_EQ(back, static_cast<int>(on_one.size()));
    EXPECT_EQ(one.get(key_of(updated)), std::optional<std::string>("newer"));
    std::printf("[ measured ] restarted empty: %d of %zu of its keys back on it after one pass of reads "
                "(slowest request %lld ms)\n", back, on_one.size(), slowest);
}

TEST_F(SocacheReplicas, AnchorWithoutReplicasKillingOneOfThreeLosesAboutAThird) {
    ASSERT_NO_FATAL_FAILURE(start(0, {"status"}));
    for (int i = 0; i < kKeys; ++i) ASSERT_TRUE(store(i)) << i;
    mc_[1].stop();
    long long slowest = 0;
    const int found = read_all(slowest);
    EXPECT_GT(kKeys - found, kKeys / 5);
    EXPECT_LT(kKeys - found, kKeys / 2);
    std::printf("[ measured ] httpd, 3 memcached, MemcacheReplicas 0, one killed: %d of %d lost\n",
                kKeys - found, kKeys);
}

TEST_F(SocacheReplicas, TlsSessionIsResumedAfterItsPrimaryIsKilled) {
    ASSERT_NO_FATAL_FAILURE(
        start(1, {"ssl", "status", "socache_memcache"}, "SSLSessionCache mcpool\nSSLSessionCacheTimeout 300\n"));
    const std::string file = httpd_->dir() + "/s1.pem";
    Handshake first = tls_handshake(httpd_->port(1), "", file);
    ASSERT_TRUE(first.completed) << first.output;
    const std::string key = "mod_ssl-sess:" + lower(first.session_id);
    std::vector<bool> holds(3);
    for (int s = 0; s < 3; ++s) holds[s] = RawClient(mc_[s].port()).get(key).has_value();
    int primary = -1;
    for (int s = 0; s < 3; ++s) {
        if (holds[s] && holds[(s + 1) % 3]) primary = s;
    }
    ASSERT_GE(primary, 0) << "the session is not on two neighbouring servers";
    mc_[primary].stop();
    for (int i = 0; i < 4; ++i) {
        Handshake again = tls_handshake(httpd_->port(1), file, "");
        ASSERT_TRUE(again.completed) << again.output;
        EXPECT_TRUE(again.reused) << again.output;
    }
    std::printf("[ measured ] TLS session on servers %d and %d, %d killed: resumed\n", primary,
                (primary + 1) % 3, primary);
}

// An mcpool with a list of its own takes the server's MemcacheReplicas too.
TEST_F(SocacheReplicas, OwnServerListKeepsReplicasToo) {
    for (auto& m : mc_) ASSERT_TRUE(m.start()) << m.error();
    httpd_ = std::make_unique<HttpdProcess>(socache_options({}));
    auto body = [&](const HttpdProcess&) {
        return std::string("MemcacheReplicas 1\nMemcacheProtocol meta\n"
                           "LoadModule socache_probe_module \"" MMC_MOD_SOCACHE_PROBE_PATH "\"\n"
                           "SOCacheProbe mcpool mcpool:") +
               mc_[0].address() + "," + mc_[1].address() + "," + mc_[2].address() +
               "\n<Location /probe>\n  SetHandler socache-probe\n</Location>\n";
    };
    ASSERT_TRUE(httpd_->start(body)) << httpd_->error();
    for (int i = 0; i < 300; ++i) ASSERT_TRUE(store(i)) << i;
    long long items = 0;
    for (auto& m : mc_) items += RawClient(m.port()).number("curr_items");
    EXPECT_EQ(items, 600);
    mc_[2].stop();
    int found = 0;
    for (int i = 0; i < 300; ++i) found += retrieve(i) == "v" + std::to_string(i);
    EXPECT_EQ(found, 300);
}

}  // namespace
}  // namespace mmc::test
