// `apache2 -t` with tls=on servers: every TLS setting the start would refuse fails the
// configuration test, naming the line, the directive at fault and its file or value,
// and which directive to set when one would settle it. The C API checks the same rules
// (tests/live/test_tls.cpp).
#include "httpd_test_options.h"

#include <gtest/gtest.h>

#include <string>

namespace mmc::test {
namespace {

HttpdProcess& tls_config_checker() {
    static HttpdProcess httpd(module_options());
    return httpd;
}

CommandResult config_test(const std::string& body) { return tls_config_checker().config_test(body); }

void expect_refused(const CommandResult& r, const std::vector<std::string>& fragments) {
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output.find("Syntax OK"), std::string::npos) << r.output;
    for (const auto& f : fragments) EXPECT_NE(r.output.find(f), std::string::npos) << "'" << f << "' in:\n" << r.output;
}

void expect_passed(const CommandResult& r) {
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("Syntax OK"), std::string::npos) << r.output;
}

// ---- the name verification checks ----------------------------------------------------

TEST(TlsServerName, AUnixSocketServerWithVerificationAndNoNameFailsTheConfigTest) {
    expect_refused(config_test("MemcacheServer /run/mmc-test/memcached.sock tls=on\n"),
                   {"MemcacheServer '/run/mmc-test/memcached.sock' tls=on",
                    "has no host name to check the server's certificate against",
                    "set MemcacheTLSServerName to the name in the server's certificate"});
}

TEST(TlsServerName, AUnixSocketServerWithAServerNamePasses) {
    expect_passed(config_test("MemcacheServer /run/mmc-test/memcached.sock tls=on\n"
                              "MemcacheTLSServerName cache1.internal\n"));
}

TEST(TlsServerName, AVirtualHostTakesTheMainServersServerName) {
    expect_passed(config_test("MemcacheTLSServerName cache1.internal\n"
                              "<VirtualHost 127.0.0.1:8080>\n"
                              "  MemcacheServer /run/mmc-test/memcached.sock tls=on\n"
                              "</VirtualHost>\n"));
}

TEST(TlsServerName, AUnixSocketServerWithoutVerificationNeedsNoName) {
    expect_passed(config_test("MemcacheServer /run/mmc-test/memcached.sock tls=on\nMemcacheTLSVerify off\n"));
}

TEST(TlsServerName, AUnixSocketServerWithoutTlsNeedsNoName) {
    expect_passed(config_test("MemcacheServer /run/mmc-test/memcached.sock\n"));
}

}  // namespace
}  // namespace mmc::test
