// `apache2 -t` with tls=on servers: every TLS setting the start would refuse fails the
// configuration test, naming the line, the directive at fault and its file or value,
// and which directive to set when one would settle it. The C API checks the same rules
// (tests/live/test_tls.cpp).
#include "httpd_test_options.h"
#include "tls_certs.h"

#include <gtest/gtest.h>

#include <string>

namespace mmc::test {
namespace {

HttpdProcess& tls_config_checker() {
    static HttpdProcess httpd(module_options());
    return httpd;
}

const TestPki& pki() { return test_pki(); }

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
                    "set MemcacheTLSServerName (or tls-name= on the line) to the name in the server's certificate"});
}

TEST(TlsServerName, AUnixSocketServerWithAServerNamePasses) {
    expect_passed(config_test("MemcacheServer /run/mmc-test/memcached.sock tls=on\n"
                              "MemcacheTLSServerName cache1.internal\n"));
}

TEST(TlsServerName, AUnixSocketServerWithItsOwnNameOnTheLinePasses) {
    expect_passed(config_test("MemcacheServer /run/mmc-test/memcached.sock tls=on tls-name=cache1.internal\n"));
}

// MemcacheTLSServerName would name every tls=on server of the context: tls-name= names
// one, so a socket and servers checked by their host names can share a context.
TEST(TlsServerName, TheLinesNameLeavesTheOtherServersTheirHostNames) {
    expect_passed(config_test("MemcacheServer cache1.internal:11211 tls=on\n"
                              "MemcacheServer /run/mmc-test/memcached.sock tls=on TLS-Name=cache2.internal\n"));
}

TEST(TlsServerName, ATlsNameWithoutTlsFailsNamingIt) {
    expect_refused(config_test("MemcacheServer /run/mmc-test/memcached.sock tls-name=cache1.internal\n"),
                   {"MemcacheServer /run/mmc-test/memcached.sock: 'tls-name=cache1.internal' needs tls=on"});
}

TEST(TlsServerName, ABadTlsNameFailsNamingIt) {
    expect_refused(config_test("MemcacheServer 127.0.0.1:11211 tls=on tls-name=bad/name\n"),
                   {"MemcacheServer: 'tls-name=bad/name': expected a host name"});
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

// ---- files and combinations -----------------------------------------------------------

class TlsFiles : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(pki().error.empty()) << pki().error; }
    // A tls=on line (an address: its name is the address) and the settings.
    static CommandResult with(const std::string& settings) {
        return config_test("MemcacheServer 127.0.0.1:11211 tls=on\n" + settings);
    }
    static std::string junk(const std::string& name) {
        return tls_config_checker().write_file(name, "not PEM at all\n");
    }
};

TEST_F(TlsFiles, AKeyWithoutACertificateFailsNamingTheKeyAndTheDirectiveToSet) {
    expect_refused(with("MemcacheTLSCertificateKeyFile " + pki().client_key + "\n"),
                   {"MemcacheServer '127.0.0.1:11211' tls=on", "MemcacheTLSCertificateKeyFile: ", pki().client_key,
                    "without a client certificate", "set MemcacheTLSCertificateFile"});
}

TEST_F(TlsFiles, ACertificateWithoutItsKeyFailsNamingTheCertificateAndTheDirectiveToSet) {
    expect_refused(with("MemcacheTLSCertificateFile " + pki().client_cert + "\n"),
                   {"MemcacheTLSCertificateFile: ", "no private key for the client certificate in " + pki().client_cert,
                    "set MemcacheTLSCertificateKeyFile"});
}

TEST_F(TlsFiles, AKeyForAnotherCertificateFailsNamingBothFiles) {
    expect_refused(with("MemcacheTLSCertificateFile " + pki().client_cert + "\nMemcacheTLSCertificateKeyFile " +
                        pki().server_key + "\n"),
                   {"MemcacheTLSCertificateKeyFile: ",
                    "the client key in " + pki().server_key + " does not match the certificate in " + pki().client_cert});
}

TEST_F(TlsFiles, ACaFileWithoutCertificatesFailsNamingIt) {
    const std::string ca = junk("junk-ca.pem");
    expect_refused(with("MemcacheTLSCACertificateFile " + ca + "\n"),
                   {"MemcacheTLSCACertificateFile: ", "cannot load CA certificates from " + ca});
}

TEST_F(TlsFiles, ACertificateFileWithoutACertificateFailsNamingIt) {
    const std::string cert = junk("junk-cert.pem");
    expect_refused(with("MemcacheTLSCertificateFile " + cert + "\nMemcacheTLSCertificateKeyFile " + pki().client_key +
                        "\n"),
                   {"MemcacheTLSCertificateFile: ", "cannot load the client certificate from " + cert});
}

TEST_F(TlsFiles, AKeyFileWithoutAKeyFailsNamingIt) {
    const std::string key = junk("junk-key.pem");
    expect_refused(with("MemcacheTLSCertificateFile " + pki().client_cert + "\nMemcacheTLSCertificateKeyFile " + key +
                        "\n"),
                   {"MemcacheTLSCertificateKeyFile: ", "cannot load the client key from " + key});
}

// OpenSSL would ask for the passphrase on the terminal, and apachectl -t wait for it.
TEST_F(TlsFiles, AnEncryptedKeyFailsNamingItWithoutAskingForAPassphrase) {
    expect_refused(with("MemcacheTLSCertificateFile " + pki().client_cert + "\nMemcacheTLSCertificateKeyFile " +
                        pki().encrypted_client_key + "\n"),
                   {"MemcacheTLSCertificateKeyFile: ",
                    "the client key in " + pki().encrypted_client_key + " is encrypted"});
}

TEST_F(TlsFiles, AVirtualHostIsCheckedWithItsMergedSettings) {
    expect_refused(config_test("MemcacheTLSCertificateKeyFile " + pki().client_key +
                               "\n<VirtualHost 127.0.0.1:8080>\n"
                               "  MemcacheServer 127.0.0.1:11212 tls=on\n"
                               "</VirtualHost>\n"),
                   {"MemcacheServer '127.0.0.1:11212' tls=on", "MemcacheTLSCertificateKeyFile: ", pki().client_key});
}

TEST_F(TlsFiles, SettingsWithoutATlsServerAreNotLoaded) {
    expect_passed(config_test("MemcacheServer 127.0.0.1:11211\nMemcacheTLSCertificateKeyFile " + pki().client_key +
                              "\n"));
}

TEST_F(TlsFiles, ACompleteSetPasses) {
    expect_passed(with("MemcacheTLSCACertificateFile " + pki().ca + "\nMemcacheTLSCertificateFile " +
                       pki().client_cert + "\nMemcacheTLSCertificateKeyFile " + pki().client_key +
                       "\nMemcacheTLSProtocol TLSv1.3\n"));
}

}  // namespace
}  // namespace mmc::test
