// What the socache tests share: a prefork httpd with the consumer modules, started per
// test with its own memcached and a certificate made at test time.
#ifndef MMC_TEST_SOCACHE_FIXTURE_H
#define MMC_TEST_SOCACHE_FIXTURE_H

#include "httpd_test_options.h"
#include "memcached_process.h"
#include "tls_tools.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mmc::test {

using Clock = std::chrono::steady_clock;

inline long long ms_since(Clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

inline std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

inline std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}

// prefork, so that every connection is served by one of 4 processes with their own
// pools: a session resumed in another child went through memcached.
inline HttpdOptions socache_options(std::vector<std::string> modules) {
    HttpdOptions o = module_options("prefork");
    o.mod_memcache_example.clear();
    o.log_level = "warn memcache:debug";
    o.system_modules = std::move(modules);
    return o;
}

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

}  // namespace mmc::test

#endif
