// OpenSSL is mapped only when something needs it (docs/design.md, "OpenSSL on demand"):
// a client without TLS servers and without a seal key ring never maps libssl or
// libcrypto; a key ring maps libcrypto; a TLS server maps both. Through the shared
// library, as programs use it.
//
// Each test looks at /proc/self/maps of a process of its own: it runs in a death-test
// child that gtest starts afresh ("threadsafe" style re-executes the binary), so what an
// earlier test loaded cannot show.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

#include "ap_memcache.h"
#include "apr_general.h"
#include "apr_pools.h"

namespace {

bool mapped(const char* soname_prefix) {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    const std::string needle = std::string("/") + soname_prefix;
    while (std::getline(maps, line)) {
        if (line.find(needle) != std::string::npos) return true;
    }
    return false;
}

// Prints what the process maps of OpenSSL and exits 0 when it is what was expected.
[[noreturn]] void exit_with_mappings(bool want_crypto, bool want_ssl) {
    const bool crypto = mapped("libcrypto.so");
    const bool ssl = mapped("libssl.so");
    std::fprintf(stderr, "libcrypto %s, libssl %s\n", crypto ? "mapped" : "not mapped",
                 ssl ? "mapped" : "not mapped");
    std::exit(crypto == want_crypto && ssl == want_ssl ? 0 : 1);
}

struct Pool {
    apr_pool_t* p = nullptr;
    Pool() {
        apr_initialize();
        apr_pool_create(&p, nullptr);
    }
    ~Pool() {
        apr_pool_destroy(p);
        apr_terminate();
    }
};

std::string temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/mmc-ondemand-XXXXXX";
    return ::mkdtemp(tmpl.data()) ? tmpl : std::string();
}

std::string write_key_file(const std::string& dir, const std::string& text) {
    const std::string path = dir + "/keys";
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) return {};
    std::fputs(text.c_str(), f);
    std::fclose(f);
    ::chmod(path.c_str(), 0600);
    return path;
}

void remove_key_file(const std::string& dir) {
    ::unlink((dir + "/keys").c_str());
    ::rmdir(dir.c_str());
}

class OpenSslOnDemand : public ::testing::Test {
protected:
    void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(OpenSslOnDemand, PlainClientMapsNeitherLibrary) {
    EXPECT_EXIT(
        {
            Pool pool;
            apr_memcache_t* mc = nullptr;
            apr_memcache_server_t* ms = nullptr;
            if (apr_memcache_create(pool.p, 4, 0, &mc) != APR_SUCCESS) std::exit(2);
            // A unix socket nobody listens on: the get goes through the connection code
            // and fails there, without a network.
            const std::string dir = temp_dir();
            const std::string sock = dir + "/none.sock";
            if (apr_memcache_server_create(pool.p, sock.c_str(), 0, 0, 1, 1, 1000000, &ms) != APR_SUCCESS) {
                std::exit(3);
            }
            if (apr_memcache_add_server(mc, ms) != APR_SUCCESS) std::exit(4);
            char* value = nullptr;
            apr_size_t len = 0;
            apr_uint16_t flags = 0;
            if (apr_memcache_getp(mc, pool.p, "k", &value, &len, &flags) == APR_SUCCESS) std::exit(5);
            ::rmdir(dir.c_str());
            exit_with_mappings(false, false);
        },
        ::testing::ExitedWithCode(0), "libcrypto not mapped, libssl not mapped");
}

TEST_F(OpenSslOnDemand, SealKeyRingMapsLibcryptoOnly) {
    EXPECT_EXIT(
        {
            Pool pool;
            if (mapped("libcrypto.so")) std::exit(2);
            const std::string dir = temp_dir();
            const std::string path =
                write_key_file(dir, "k1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n");
            ap_memcache_seal_t* seal = nullptr;
            const char* err = nullptr;
            const apr_status_t rv = ap_memcache_seal_load(pool.p, path.c_str(), &seal, &err);
            remove_key_file(dir);
            if (rv != APR_SUCCESS) {
                std::fprintf(stderr, "ap_memcache_seal_load: %s\n", err ? err : "?");
                std::exit(3);
            }
            exit_with_mappings(true, false);
        },
        ::testing::ExitedWithCode(0), "libcrypto mapped, libssl not mapped");
}

TEST_F(OpenSslOnDemand, RejectedKeyFileMapsNeitherLibrary) {
    EXPECT_EXIT(
        {
            Pool pool;
            const std::string dir = temp_dir();
            const std::string path = write_key_file(dir, "k1 not-hex\n");
            ap_memcache_seal_t* seal = nullptr;
            const char* err = nullptr;
            const apr_status_t rv = ap_memcache_seal_load(pool.p, path.c_str(), &seal, &err);
            remove_key_file(dir);
            if (rv == APR_SUCCESS) std::exit(3);
            exit_with_mappings(false, false);
        },
        ::testing::ExitedWithCode(0), "libcrypto not mapped, libssl not mapped");
}

TEST_F(OpenSslOnDemand, TlsContextMapsBothLibraries) {
    EXPECT_EXIT(
        {
            Pool pool;
            if (mapped("libssl.so")) std::exit(2);
            ap_memcache_tls_options_t opts;
            ap_memcache_tls_options_init(&opts);
            opts.verify = 0;  // no CA needed: nothing connects
            ap_memcache_tls_t* tls = nullptr;
            const char* err = nullptr;
            if (ap_memcache_tls_create(pool.p, &opts, "127.0.0.1", &tls, &err) != APR_SUCCESS) {
                std::fprintf(stderr, "ap_memcache_tls_create: %s\n", err ? err : "?");
                std::exit(3);
            }
            exit_with_mappings(true, true);
        },
        ::testing::ExitedWithCode(0), "libcrypto mapped, libssl mapped");
}

}  // namespace
