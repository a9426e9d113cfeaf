// `apache2 -t` with MemcacheServer lines: every bad argument fails the configuration
// test with a message naming the directive and the argument; good ones pass.
#include "httpd_test_options.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>

namespace mmc::test {
namespace {

struct BadLine {
    std::string args;     // what follows "MemcacheServer"
    std::string message;  // a fragment the error must contain (the offending value)
};

std::ostream& operator<<(std::ostream& os, const BadLine& b) {
    return os << "MemcacheServer " << b.args;
}

// One directory (and no server) for all the configuration tests.
HttpdProcess& config_checker() {
    static HttpdProcess httpd(module_options());
    return httpd;
}

class BadMemcacheServerLine : public ::testing::TestWithParam<BadLine> {};

TEST_P(BadMemcacheServerLine, FailsTheConfigTestNamingTheValue) {
    CommandResult r = config_checker().config_test("MemcacheServer " + GetParam().args + "\n");
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("MemcacheServer"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(GetParam().message), std::string::npos) << r.output;
}

INSTANTIATE_TEST_SUITE_P(
    Args, BadMemcacheServerLine,
    ::testing::Values(BadLine{"", "needs host:port"},
                      BadLine{"\"\"", "needs host:port"},  // httpd drops a last empty word
                      BadLine{"\"\" min=1", "empty server address"},
                      BadLine{"127.0.0.1:0", "'127.0.0.1:0'"},
                      BadLine{"127.0.0.1:65536", "'127.0.0.1:65536'"},
                      BadLine{"127.0.0.1:11211x", "'127.0.0.1:11211x'"},
                      BadLine{"127.0.0.1:", "'127.0.0.1:'"},
                      BadLine{"127.0.0.1", "'127.0.0.1' has no port"},
                      BadLine{":11211", "':11211'"},
                      BadLine{"::1:11211", "'::1:11211'"},
                      BadLine{"[::1", "'[::1'"},
                      BadLine{"[::1]", "'[::1]'"},
                      BadLine{"[::1]11211", "'[::1]11211'"},
                      BadLine{"[]:11211", "'[]:11211'"},
                      BadLine{"[not-v6]:11211", "'[not-v6]:11211'"},
                      BadLine{"127.0.0.1:11211 foo=1", "'foo=1'"},
                      BadLine{"127.0.0.1:11211 min", "'min'"},
                      BadLine{"127.0.0.1:11211 min=", "'min='"},
                      BadLine{"127.0.0.1:11211 min=-1", "'min=-1'"},
                      BadLine{"127.0.0.1:11211 max=abc", "'max=abc'"},
                      BadLine{"127.0.0.1:11211 max=0", "'max=0'"},
                      BadLine{"127.0.0.1:11211 max=99999", "'max=99999'"},
                      BadLine{"127.0.0.1:11211 min=5 smax=4", "'min=5' is greater than 'smax=4'"},
                      BadLine{"127.0.0.1:11211 smax=6 max=5", "'smax=6' is greater than 'max=5'"},
                      BadLine{"127.0.0.1:11211 min=6 max=5", "'min=6' is greater than 'max=5'"},
                      BadLine{"127.0.0.1:11211 min=1 MIN=2", "'MIN=2'"},
                      BadLine{"127.0.0.1:11211 ttl=abc", "'ttl=abc'"},
                      BadLine{"127.0.0.1:11211 ttl=10x", "'ttl=10x'"},
                      BadLine{"127.0.0.1:11211 ttl=ms", "'ttl=ms'"},
                      BadLine{"127.0.0.1:11211 ttl=1.5s", "'ttl=1.5s'"},
                      BadLine{"127.0.0.1:11211 ttl=5000s", "'ttl=5000s' is too long"},
                      BadLine{"127.0.0.1:11211 ttl=2h", "'ttl=2h' is too long"},
                      BadLine{"127.0.0.1:11211 ttl=99999999999999999999", "is too long"},
                      BadLine{"127.0.0.1:11211 weight=0", "'weight=0'"},
                      BadLine{"127.0.0.1:11211 weight=x", "'weight=x'"},
                      BadLine{"127.0.0.1:11211 weight=70000", "'weight=70000'"},
                      BadLine{"127.0.0.1:11211 protocol=udp", "'protocol=udp'"},
                      BadLine{"127.0.0.1:11211 protocol=", "'protocol='"},
                      BadLine{"127.0.0.1:11211 tls=maybe", "'tls=maybe'"},
                      BadLine{"127.0.0.1:11211 tls", "'tls'"},
                      BadLine{"127.0.0.1:11211 user=alice", "'user=alice' needs password-file"},
                      BadLine{"127.0.0.1:11211 user=", "'user='"},
                      BadLine{"127.0.0.1:11211 password=secret", "never written in the configuration"},
                      BadLine{"127.0.0.1:11211 user=alice password-file=/nonexistent/pw",
                              "'password-file=/nonexistent/pw': cannot read the password file"},
                      BadLine{"127.0.0.1:11211 password-file=/etc/hostname", "needs user=NAME"}));

struct BadSetting {
    std::string line;     // a whole directive line
    std::string message;  // a fragment the error must contain
};

std::ostream& operator<<(std::ostream& os, const BadSetting& b) { return os << b.line; }

class BadClientSetting : public ::testing::TestWithParam<BadSetting> {};

TEST_P(BadClientSetting, FailsTheConfigTestNamingDirectiveAndValue) {
    CommandResult r = config_checker().config_test("MemcacheServer 127.0.0.1:11211\n" +
                                                   GetParam().line + "\n");
    EXPECT_NE(r.exit_code, 0) << r.output;
    const std::string directive = GetParam().line.substr(0, GetParam().line.find(' '));
    EXPECT_NE(r.output.find(directive), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(GetParam().message), std::string::npos) << r.output;
}

INSTANTIATE_TEST_SUITE_P(
    Args, BadClientSetting,
    ::testing::Values(BadSetting{"MemcacheDistribution consistent", "'consistent'"},
                      BadSetting{"MemcacheProtocol udp", "'udp'"},
                      BadSetting{"MemcacheTimeout 0", "'0'"},
                      BadSetting{"MemcacheTimeout abc", "'abc'"},
                      BadSetting{"MemcacheTimeout 2h", "'2h' is too long"},
                      BadSetting{"MemcacheConnectTimeout -1", "'-1'"},
                      BadSetting{"MemcacheAcquireTimeout 1.5s", "'1.5s'"},
                      BadSetting{"MemcacheRetryPeriod 5x", "'5x'"},
                      BadSetting{"MemcacheFailureLimit 0", "'0'"},
                      BadSetting{"MemcacheFailureLimit many", "'many'"},
                      BadSetting{"MemcacheMaxValueSize 0", "'0'"},
                      BadSetting{"MemcacheMaxValueSize 0k", "'0k'"},
                      BadSetting{"MemcacheMaxValueSize 2g", "'2g' is too large"},
                      BadSetting{"MemcacheMaxValueSize 1073741825", "'1073741825' is too large"},
                      BadSetting{"MemcacheMaxValueSize 1025m", "'1025m' is too large"},
                      BadSetting{"MemcacheMaxValueSize 99999999999999999999k", "is too large"},
                      BadSetting{"MemcacheMaxValueSize 1mb", "'1mb'"},
                      BadSetting{"MemcacheMaxValueSize 1.5m", "'1.5m'"},
                      BadSetting{"MemcacheMaxValueSize -1", "'-1'"},
                      BadSetting{"MemcacheMaxValueSize m", "'m'"},
                      BadSetting{"MemcacheMaxValueSize big", "'big'"},
                      BadSetting{"MemcacheTLSCACertificateFile /nonexistent/ca.pem", "/nonexistent/ca.pem"},
                      BadSetting{"MemcacheTLSCertificateFile /nonexistent/c.pem", "/nonexistent/c.pem"},
                      BadSetting{"MemcacheTLSCertificateKeyFile /nonexistent/k.pem", "/nonexistent/k.pem"},
                      BadSetting{"MemcacheTLSVerify maybe", "On or Off"},
                      BadSetting{"MemcacheTLSProtocol SSLv3", "'SSLv3'"},
                      BadSetting{"MemcacheTLSServerName bad/name", "'bad/name'"},
                      BadSetting{"MemcacheReplicas 1", "'1': at most the number of servers minus one"},
                      BadSetting{"MemcacheServer 127.0.0.1:11212\nMemcacheReplicas 2", "'2': at most"},
                      BadSetting{"MemcacheReplicas 8", "'8'"},
                      BadSetting{"MemcacheReplicas -1", "'-1'"},
                      BadSetting{"MemcacheReplicas two", "'two'"},
                      BadSetting{"MemcacheReplicaRepair maybe", "On or Off"},
                      BadSetting{"MemcacheServer 127.0.0.1:11212\n<VirtualHost 127.0.0.1:8080>\n"
                                 " MemcacheServer 127.0.0.1:11213\n MemcacheReplicas 1\n</VirtualHost>",
                                 "'1': at most"}));

class GoodClientSetting : public ::testing::TestWithParam<std::string> {};

TEST_P(GoodClientSetting, PassesTheConfigTest) {
    CommandResult r = config_checker().config_test("MemcacheServer 127.0.0.1:11211\n" + GetParam() + "\n");
    EXPECT_EQ(r.exit_code, 0) << r.output;
}

INSTANTIATE_TEST_SUITE_P(Args, GoodClientSetting,
                         ::testing::Values("MemcacheDistribution ketama", "MemcacheDistribution Modula",
                                           "MemcacheProtocol binary", "MemcacheProtocol TEXT",
                                           "MemcacheTimeout 250ms", "MemcacheConnectTimeout 2",
                                           "MemcacheAcquireTimeout 1s", "MemcacheRetryPeriod 1min",
                                           "MemcacheFailureLimit 1",
                                           "MemcacheMaxValueSize 1", "MemcacheMaxValueSize 1048576",
                                           "MemcacheMaxValueSize 512k", "MemcacheMaxValueSize 128M",
                                           "MemcacheMaxValueSize 1g",
                                           "MemcacheMaxValueSize 1073741824",
                                           "MemcacheTLSVerify off", "MemcacheTLSProtocol TLSv1.3",
                                           "MemcacheTLSProtocol tlsv1.2",
                                           "MemcacheTLSServerName memcached.example.com",
                                           "MemcacheTLSCACertificateFile /etc/ssl/certs/ca-certificates.crt",
                                           "<VirtualHost 127.0.0.1:8080>\n MemcacheTimeout 100ms\n"
                                           " MemcacheServer 127.0.0.1:11212\n</VirtualHost>",
                                           "MemcacheReplicas 0", "MemcacheReplicaRepair off",
                                           "MemcacheServer 127.0.0.1:11212\nMemcacheReplicas 1",
                                           "MemcacheServer 127.0.0.1:11212\n<VirtualHost 127.0.0.1:8080>\n"
                                           " MemcacheReplicas 1\n MemcacheReplicaRepair off\n</VirtualHost>"));

TEST(MemcacheServerDirective, RejectsTheSameServerTwiceInOneContext) {
    CommandResult r = config_checker().config_test(
        "MemcacheServer 127.0.0.1:11211\nMemcacheServer 127.0.0.1:11211 max=2\n");
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("MemcacheServer: '127.0.0.1:11211' is already declared"),
              std::string::npos)
        << r.output;
}

TEST(MemcacheServerDirective, AcceptsTheSameServerInTwoContexts) {
    CommandResult r = config_checker().config_test(
        "MemcacheServer 127.0.0.1:11211\n"
        "<VirtualHost 127.0.0.1:8080>\n  MemcacheServer 127.0.0.1:11211\n</VirtualHost>\n");
    EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(MemcacheServerDirective, IsNotAllowedInDirectoryContext) {
    CommandResult r = config_checker().config_test(
        "<Location /x>\n  MemcacheServer 127.0.0.1:11211\n</Location>\n");
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("MemcacheServer not allowed"), std::string::npos) << r.output;
}

TEST(InheritedClient, AVirtualHostsOwnSettingsWithoutServersAreReportedAsIgnored) {
    CommandResult r = config_checker().config_test(
        "MemcacheServer 127.0.0.1:11211\n"
        "<VirtualHost 127.0.0.1:8080>\n  ServerName shop.test\n  MemcacheTimeout 250ms\n"
        "  MemcacheTLSVerify off\n</VirtualHost>\n");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    for (const char* directive : {"MemcacheTimeout", "MemcacheTLSVerify"}) {
        EXPECT_NE(r.output.find(std::string(directive) + " in <VirtualHost> shop.test:8080 has no effect"),
                  std::string::npos)
            << directive << "\n" << r.output;
    }
    EXPECT_EQ(r.output.find("MemcacheConnectTimeout in"), std::string::npos) << r.output;
}

TEST(InheritedClient, AVirtualHostWithServersOfItsOwnOrTheMainServersValueIsNotReported) {
    CommandResult r = config_checker().config_test(
        "MemcacheServer 127.0.0.1:11211\nMemcacheTimeout 250ms\n"
        "<VirtualHost 127.0.0.1:8080>\n  MemcacheTimeout 250ms\n</VirtualHost>\n"
        "<VirtualHost 127.0.0.1:8081>\n  MemcacheServer 127.0.0.1:11212\n  MemcacheTimeout 2s\n"
        "</VirtualHost>\n");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output.find("has no effect"), std::string::npos) << r.output;
}

class GoodMemcacheServerLine : public ::testing::TestWithParam<std::string> {};

TEST_P(GoodMemcacheServerLine, PassesTheConfigTest) {
    CommandResult r = config_checker().config_test("MemcacheServer " + GetParam() + "\n");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("Syntax OK"), std::string::npos) << r.output;
}

INSTANTIATE_TEST_SUITE_P(Args, GoodMemcacheServerLine,
                         ::testing::Values("127.0.0.1:11211",
                                           "memcache.example.com:11211",
                                           "[::1]:11211",
                                           "[fe80::1%eth0]:11211",
                                           "/tmp/x.sock",
                                           "127.0.0.1:11211 TTL=500ms",
                                           "127.0.0.1:11211 Max=3",
                                           "127.0.0.1:11211 min=2 smax=4 max=5 ttl=60",
                                           "127.0.0.1:11211 min=0 smax=0 max=1 ttl=0",
                                           "127.0.0.1:11211 ttl=2min",
                                           "127.0.0.1:11211 ttl=1h",
                                           "127.0.0.1:11211 ttl=4294s",
                                           "127.0.0.1:11211 ttl=4294967ms",
                                           "127.0.0.1:11211 min=8",  // max raised to fit
                                           "127.0.0.1:11211 smax=100",
                                           "127.0.0.1:11211 weight=3 protocol=binary",
                                           "127.0.0.1:11211 Weight=1 PROTOCOL=Text",
                                           "127.0.0.1:11211 tls=on", "127.0.0.1:11211 TLS=Off"));

TEST(MemcacheServerDirective, TakesAUserAndAPasswordFile) {
    char dir[] = "/tmp/mmc-pw-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    const std::string file = std::string(dir) + "/pw";
    {
        std::ofstream(file) << "s3cret\n";
    }
    CommandResult r = config_checker().config_test("MemcacheServer 127.0.0.1:11211 user=alice password-file=" +
                                                   file + " tls=on\n");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output.find("s3cret"), std::string::npos) << r.output;
    {
        std::ofstream(file) << "two words\n";
    }
    r = config_checker().config_test("MemcacheServer 127.0.0.1:11211 user=alice password-file=" + file + "\n");
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("without blanks"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("two words"), std::string::npos) << "the password is never printed: " << r.output;
    ::unlink(file.c_str());
    ::rmdir(dir);
}

TEST(MemcacheServerDirective, TakesAPasswordFileRelativeToServerRoot) {
    config_checker().write_file("relative.pw", "s3cret\n");
    CommandResult r = config_checker().config_test(
        "MemcacheServer 127.0.0.1:11211 user=alice password-file=relative.pw\n");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output.find("s3cret"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace mmc::test

namespace mmc::test {
namespace {

// MemcacheSealKeyFile is read while the configuration is: a file that is missing,
// readable by others or not a key file fails `apachectl -t` naming the directive, the
// file and the reason.
const std::string kSealKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

std::string key_file(const std::string& name, const std::string& content, mode_t mode) {
    const std::string path = config_checker().write_file(name, content);
    ::chmod(path.c_str(), mode);
    return path;
}

void expect_refused(const std::string& line, const std::string& reason) {
    CommandResult r = config_checker().config_test("MemcacheServer 127.0.0.1:11211\n" + line + "\n");
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("MemcacheSealKeyFile: '"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(reason), std::string::npos) << r.output;
}

TEST(MemcacheSealKeyFileDirective, RejectsAMissingFile) {
    expect_refused("MemcacheSealKeyFile " + config_checker().dir() + "/no-such-keys",
                   "no-such-keys': cannot open: No such file or directory");
}

TEST(MemcacheSealKeyFileDirective, RejectsAFileOthersCanRead) {
    expect_refused("MemcacheSealKeyFile " + key_file("keys-644", "k1 " + kSealKey + "\n", 0644),
                   "others may read or write it");
}

TEST(MemcacheSealKeyFileDirective, RejectsAShortKeyNamingTheLine) {
    expect_refused("MemcacheSealKeyFile " +
                       key_file("keys-short", "# keys\nk1 " + kSealKey.substr(1) + "\n", 0600),
                   "line 2: key 'k1' has 63 characters, expected 64 hex digits");
}

TEST(MemcacheSealKeyFileDirective, RejectsAFileWithoutKeys) {
    expect_refused("MemcacheSealKeyFile " + key_file("keys-empty", "# nothing yet\n", 0600), "no key");
}

TEST(MemcacheSealKeyFileDirective, AcceptsAGoodFileInTheServerAndAVirtualHost) {
    const std::string path = key_file("keys-good", "new " + kSealKey + "\nold " + kSealKey + "\n", 0600);
    CommandResult r = config_checker().config_test(
        "MemcacheServer 127.0.0.1:11211\nMemcacheSealKeyFile " + path +
        "\n<VirtualHost 127.0.0.1:8080>\n  MemcacheSealKeyFile " + path + "\n</VirtualHost>\n");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("Syntax OK"), std::string::npos) << r.output;
}

TEST(MemcacheSealKeyFileDirective, IsNotAllowedInDirectoryContext) {
    const std::string path = key_file("keys-dir", "k " + kSealKey + "\n", 0600);
    CommandResult r = config_checker().config_test("<Location /x>\n  MemcacheSealKeyFile " + path +
                                                   "\n</Location>\n");
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("MemcacheSealKeyFile not allowed"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace mmc::test
