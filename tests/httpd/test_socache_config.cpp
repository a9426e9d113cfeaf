// `apache2 -t` with the mcpool provider: no servers, bad server lists and bad prefixes
// fail the configuration test with a message naming the value; good ones pass.
#include "httpd_test_options.h"
#include "memcached_process.h"
#include "raw_client.h"
#include "socache_fixture.h"
#include "tls_tools.h"

#include <gtest/gtest.h>

#include <map>

namespace mmc::test {
namespace {

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
