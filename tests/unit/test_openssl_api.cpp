// The OpenSSL loader (engine/openssl_api.h): the sonames it opens, a library or a
// function that is not there, and the process's tables once loaded.
#include <gtest/gtest.h>

#include <string>

#include "engine/openssl_api.h"

namespace {

namespace openssl = mmc::engine::openssl;

TEST(OpenSslLoader, SonamesFollowTheHeadersMajorVersion) {
    const std::string major = "." + std::to_string(OPENSSL_VERSION_MAJOR);
    EXPECT_EQ(std::string("libcrypto.so") + major, openssl::crypto_soname());
    EXPECT_EQ(std::string("libssl.so") + major, openssl::ssl_soname());
}

TEST(OpenSslLoader, TheHeadersAreOpenSsl3OrLater) {
    // The tables take functions that came with 3.0; the build refuses older headers.
    EXPECT_GE(OPENSSL_VERSION_MAJOR, 3);
    EXPECT_STREQ(openssl::wanted(), "OpenSSL 3.0 or later");
}

TEST(OpenSslLoader, AFailureSaysWhichVersionItWants) {
    openssl::Ssl table;
    std::string error;
    EXPECT_FALSE(openssl::load_ssl_from("libssl.so.0.missing", table, error));
    EXPECT_NE(error.find("cannot load libssl.so.0.missing (OpenSSL 3.0 or later): "), std::string::npos) << error;
    error.clear();
    openssl::Crypto crypto;
    EXPECT_FALSE(openssl::load_crypto_from("libc.so.6", crypto, error));
    EXPECT_NE(error.find("(OpenSSL 3.0 or later)"), std::string::npos) << error;
}

TEST(OpenSslLoader, MissingLibraryFailsNamingItAndLeavesTheTableEmpty) {
    openssl::Crypto table;
    std::string error;
    EXPECT_FALSE(openssl::load_crypto_from("libcrypto.so.0.missing", table, error));
    EXPECT_NE(error.find("cannot load libcrypto.so.0.missing "), std::string::npos) << error;
    // dlerror()'s own text follows.
    EXPECT_NE(error.find("No such file"), std::string::npos) << error;
    EXPECT_EQ(table.ERR_clear_error, nullptr);
    EXPECT_EQ(table.RAND_bytes, nullptr);

    openssl::Ssl ssl;
    error.clear();
    EXPECT_FALSE(openssl::load_ssl_from("libssl.so.0.missing", ssl, error));
    EXPECT_NE(error.find("cannot load libssl.so.0.missing "), std::string::npos) << error;
    EXPECT_EQ(ssl.SSL_new, nullptr);
}

TEST(OpenSslLoader, LibraryWithoutTheFunctionsFailsNamingTheFirstMissing) {
    // The C library opens, but holds none of OpenSSL's functions.
    openssl::Crypto table;
    std::string error;
    EXPECT_FALSE(openssl::load_crypto_from("libc.so.6", table, error));
    EXPECT_NE(error.find("cannot load libc.so.6 "), std::string::npos) << error;
    EXPECT_NE(error.find("ERR_peek_error"), std::string::npos) << error;
    EXPECT_EQ(table.ERR_peek_error, nullptr);
    EXPECT_EQ(table.RAND_bytes, nullptr);
}

TEST(OpenSslLoader, LibcryptoIsNotLibssl) {
    // libssl's functions are not in libcrypto: the tables cannot be filled crosswise.
    openssl::Ssl table;
    std::string error;
    EXPECT_FALSE(openssl::load_ssl_from(openssl::crypto_soname(), table, error));
    EXPECT_NE(error.find(openssl::crypto_soname()), std::string::npos) << error;
    EXPECT_EQ(table.SSL_new, nullptr);
}

TEST(OpenSslLoader, ProcessTablesFillAndWork) {
    std::string error;
    ASSERT_TRUE(openssl::load_ssl(error)) << error;
    EXPECT_TRUE(error.empty()) << error;
    ASSERT_NE(openssl::libcrypto.RAND_bytes, nullptr);
    ASSERT_NE(openssl::libssl.SSL_CTX_new, nullptr);
    unsigned char bytes[16] = {};
    EXPECT_EQ(openssl::libcrypto.RAND_bytes(bytes, sizeof bytes), 1);
    SSL_CTX* ctx = openssl::libssl.SSL_CTX_new(openssl::libssl.TLS_client_method());
    ASSERT_NE(ctx, nullptr);
    // The macro SSL_CTX_set_min_proto_version, spelled out, takes effect.
    EXPECT_EQ(openssl::libssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_3_VERSION, nullptr), 1);
    EXPECT_EQ(openssl::libssl.SSL_CTX_ctrl(ctx, SSL_CTRL_GET_MIN_PROTO_VERSION, 0, nullptr), TLS1_3_VERSION);
    openssl::libssl.SSL_CTX_free(ctx);
}

TEST(OpenSslLoader, LoadingAgainGivesTheSameAnswer) {
    std::string error;
    ASSERT_TRUE(openssl::load_crypto(error)) << error;
    auto* rand_bytes = openssl::libcrypto.RAND_bytes;
    ASSERT_TRUE(openssl::load_crypto(error)) << error;
    ASSERT_TRUE(openssl::load_ssl(error)) << error;
    EXPECT_EQ(openssl::libcrypto.RAND_bytes, rand_bytes);
}

}  // namespace
