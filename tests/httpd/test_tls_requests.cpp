// mod_memcache in a real apache2 reaching memcached over TLS with -Y authentication,
// under event and prefork: the example module's requests work, the key file is loaded
// once in post_config (the children inherit the context), and a value stored through
// httpd is in memcached.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>

#include "httpd_process.h"
#include "httpd_test_options.h"
#include "memcached_process.h"
#include "tls_certs.h"

namespace mmc::test {
namespace {

struct TlsServers {
    std::unique_ptr<MemcachedProcess> mc;
    std::unique_ptr<HttpdProcess> httpd;
    std::string error;
};

TlsServers& tls_servers_for(const std::string& mpm) {
    static std::map<std::string, std::unique_ptr<TlsServers>> all;
    auto& slot = all[mpm];
    if (slot) return *slot;
    slot = std::make_unique<TlsServers>();
    TlsServers& s = *slot;
    const TestPki& pki = test_pki();
    if (!pki.error.empty()) {
        s.error = pki.error;
        return s;
    }
    HttpdOptions options = module_options(mpm);
    options.system_modules = {"status"};
    s.httpd = std::make_unique<HttpdProcess>(options);
    const std::string users = s.httpd->write_file("memcached-users", "httpd:t0ken\n");
    const std::string password = s.httpd->write_file("memcache.pw", "t0ken\n");
    std::vector<std::string> args = pki.memcached_args();
    args.insert(args.end(), {"-Y", users});
    s.mc = std::make_unique<MemcachedProcess>(args);
    if (!s.mc->start()) {
        s.error = "memcached: " + s.mc->error();
        return s;
    }
    const std::string body = "MemcacheServer " + s.mc->address() + " min=1 tls=on user=httpd password-file=" +
                             password + "\n"
                             "MemcacheTLSCACertificateFile " + pki.ca + "\n"
                             "<Location /mc>\n"
                             "    SetHandler memcache-example\n"
                             "</Location>\n"
                             "<Location /server-status>\n"
                             "    SetHandler server-status\n"
                             "</Location>\n";
    if (!s.httpd->start([&](const HttpdProcess&) { return body; })) {
        s.error = "httpd (" + mpm + "): " + s.httpd->error();
    }
    return s;
}

class HttpdTls : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        s_ = &tls_servers_for(GetParam());
        ASSERT_TRUE(s_->error.empty()) << s_->error;
    }
    void TearDown() override {
        if (!s_ || !s_->httpd) return;
        auto lines = s_->httpd->unexpected_log_lines();
        EXPECT_TRUE(lines.empty()) << "unexpected lines in the error log:\n"
                                   << (lines.empty() ? "" : lines.front());
    }
    HttpResponse get(const std::string& target) { return http_get(s_->httpd->port(0), target, "localhost"); }
    std::string key(const std::string& name) const { return "tls-" + GetParam() + "-" + name; }

    TlsServers* s_ = nullptr;
};

TEST_P(HttpdTls, SetThenGetGoOverTlsWithAuthentication) {
    auto set = get("/mc?op=set&key=" + key("cow") + "&value=moo");
    ASSERT_EQ(set.status, 200) << set.error << set.body << s_->httpd->error_log();
    EXPECT_EQ(set.body, "STORED\n");
    auto got = get("/mc?op=get&key=" + key("cow"));
    EXPECT_EQ(got.status, 200) << got.error << got.body;
    EXPECT_EQ(got.body, "moo");
    auto miss = get("/mc?op=get&key=" + key("never"));
    EXPECT_EQ(miss.status, 404) << miss.error << miss.body;
}

TEST_P(HttpdTls, ManyRequestsShareTheChildrensConnections) {
    for (int i = 0; i < 40; ++i) {
        auto r = get("/mc?op=getset&key=" + key("n") + "&value=" + std::to_string(i));
        ASSERT_EQ(r.status, 200) << r.error << r.body;
        EXPECT_EQ(r.body, i == 0 ? "MISS\n" : "HIT\n");
    }
}

TEST_P(HttpdTls, TheStatusPageCountsTheHandshakes) {
    ASSERT_EQ(get("/mc?op=get&key=" + key("status")).status, 404);
    auto r = get("/server-status?auto");
    ASSERT_EQ(r.status, 200) << r.error;
    EXPECT_NE(r.body.find("protocol=text tls_full="), std::string::npos) << r.body;
}

INSTANTIATE_TEST_SUITE_P(Mpm, HttpdTls, ::testing::Values("event", "prefork"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mmc::test
