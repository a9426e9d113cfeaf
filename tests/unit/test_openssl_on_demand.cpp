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

// Prints what the process maps of OpenSSL; 0 when it is what was expected, 1 if not.
int mappings_verdict(bool want_crypto, bool want_ssl) {
    const bool crypto = mapped("libcrypto.so");
    const bool ssl = mapped("libssl.so");
    std::fprintf(stderr, "libcrypto %s, libssl %s\n", crypto ? "mapped" : "not mapped",
                 ssl ? "mapped" : "not mapped");
    return crypto == want_crypto && ssl == want_ssl ? 0 : 1;
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

// What each test does in its child process. Each returns the exit status: 0 when the
// mappings are as expected. The pool is destroyed before the child exits, so a leak
// checker sees everything freed.

int plain_client() {
    Pool pool;
    apr_memcache_t* mc = nullptr;
    apr_memcache_server_t* ms = nullptr;
    if (apr_memcache_create(pool.p, 4, 0, &mc) != APR_SUCCESS) return 2;
    // A unix socket nobody listens on: the get goes through the connection code and
    // fails there, without a network.
    const std::string dir = temp_dir();
    const std::string sock = dir + "/none.sock";
    if (apr_memcache_server_create(pool.p, sock.c_str(), 0, 0, 1, 1, 1000000, &ms) != APR_SUCCESS) return 3;
    if (apr_memcache_add_server(mc, ms) != APR_SUCCESS) return 4;
    char* value = nullptr;
    apr_size_t len = 0;
    apr_uint16_t flags = 0;
    const apr_status_t rv = apr_memcache_getp(mc, pool.p, "k", &value, &len, &flags);
    ::rmdir(dir.c_str());
    if (rv == APR_SUCCESS) return 5;
    return mappings_verdict(false, false);
}

int seal_key_ring(const std::string& key_file_text, bool want_loaded) {
    Pool pool;
    if (mapped("libcrypto.so")) return 2;
    const std::string dir = temp_dir();
    const std::string path = write_key_file(dir, key_file_text);
    ap_memcache_seal_t* seal = nullptr;
    const char* err = nullptr;
    const apr_status_t rv = ap_memcache_seal_load(pool.p, path.c_str(), &seal, &err);
    remove_key_file(dir);
    if ((rv == APR_SUCCESS) != want_loaded) {
        std::fprintf(stderr, "ap_memcache_seal_load: %s\n", err ? err : "succeeded");
        return 3;
    }
    return mappings_verdict(want_loaded, false);
}

int tls_context() {
    Pool pool;
    if (mapped("libssl.so")) return 2;
    ap_memcache_tls_options_t opts;
    ap_memcache_tls_options_init(&opts);
    opts.verify = 0;  // no CA needed: nothing connects
    ap_memcache_tls_t* tls = nullptr;
    const char* err = nullptr;
    if (ap_memcache_tls_create(pool.p, &opts, "127.0.0.1", &tls, &err) != APR_SUCCESS) {
        std::fprintf(stderr, "ap_memcache_tls_create: %s\n", err ? err : "?");
        return 3;
    }
    return mappings_verdict(true, true);
}

const char kGoodKeyFile[] = "k1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

class OpenSslOnDemand : public ::testing::Test {
protected:
    void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(OpenSslOnDemand, PlainClientMapsNeitherLibrary) {
    EXPECT_EXIT(std::exit(plain_client()), ::testing::ExitedWithCode(0),
                "libcrypto not mapped, libssl not mapped");
}

TEST_F(OpenSslOnDemand, SealKeyRingMapsLibcryptoOnly) {
    EXPECT_EXIT(std::exit(seal_key_ring(kGoodKeyFile, true)), ::testing::ExitedWithCode(0),
                "libcrypto mapped, libssl not mapped");
}

TEST_F(OpenSslOnDemand, RejectedKeyFileMapsNeitherLibrary) {
    EXPECT_EXIT(std::exit(seal_key_ring("k1 not-hex\n", false)), ::testing::ExitedWithCode(0),
                "libcrypto not mapped, libssl not mapped");
}

TEST_F(OpenSslOnDemand, TlsContextMapsBothLibraries) {
    EXPECT_EXIT(std::exit(tls_context()), ::testing::ExitedWithCode(0), "libcrypto mapped, libssl mapped");
}

}  // namespace
