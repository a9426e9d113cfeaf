// Shared set-up for live tests: an APR pool, memcached servers on free loopback ports,
// and a client built through the public API exactly as a consumer would.
#ifndef MMC_TEST_LIVE_FIXTURE_H
#define MMC_TEST_LIVE_FIXTURE_H

#include <gtest/gtest.h>

#include <dirent.h>
#include <unistd.h>

#include <cstring>

#include <apr_hash.h>
#include <apr_strings.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <thread>
#include <memory>
#include <string>
#include <vector>

#include "memcached_process.h"
#include "ap_memcache.h"
#include "raw_client.h"
#include "tls_certs.h"

namespace mmc::test {

// The protocol the live suite speaks: CTest runs it once as is (text), once with
// MMC_TEST_PROTOCOL=binary and once with MMC_TEST_PROTOCOL=meta, and all must give the
// same results.
inline int test_protocol() {
    const char* p = std::getenv("MMC_TEST_PROTOCOL");
    const std::string name = p ? p : "";
    if (name == "binary") return AP_MEMCACHE_PROTOCOL_BINARY;
    if (name == "meta") return AP_MEMCACHE_PROTOCOL_META;
    return AP_MEMCACHE_PROTOCOL_TEXT;
}

// CTest runs the core of the suite once more with MMC_TEST_TLS=1 (the ".tls" tests):
// its memcached servers then speak TLS (-Z) only, and so does the client.
inline bool test_tls() {
    const char* t = std::getenv("MMC_TEST_TLS");
    return t && std::string(t) == "1";
}

// memcached arguments for the suite's servers (TLS ones under MMC_TEST_TLS).
inline std::vector<std::string> test_server_args() {
    if (!test_tls()) return {};
    EXPECT_TRUE(test_pki().error.empty()) << test_pki().error;
    return test_pki().memcached_args();
}

// Puts a server the test created on the suite's protocol (and TLS, in the .tls run).
inline void use_test_protocol(apr_memcache_server_t* ms) {
    ap_memcache_server_options_t o;
    ASSERT_EQ(ap_memcache_server_get_options(ms, &o), APR_SUCCESS);
    o.protocol = test_protocol();
    ASSERT_EQ(ap_memcache_server_set_options(ms, &o), APR_SUCCESS);
    if (test_tls()) {
        ASSERT_TRUE(test_pki().error.empty()) << test_pki().error;
        ap_memcache_tls_options_t t;
        ap_memcache_tls_options_init(&t);
        t.ca_file = test_pki().ca.c_str();
        const char* why = nullptr;
        ASSERT_EQ(ap_memcache_server_set_tls(ms, &t, ms->p, &why), APR_SUCCESS) << (why ? why : "");
    }
}

// A server on the suite's protocol with its own operation timeout (and store limit;
// 0 keeps the default), at most `max` connections, added to mc.
inline apr_memcache_server_t* add_server_with(apr_pool_t* p, apr_memcache_t* mc, unsigned short port,
                                              apr_uint32_t max, apr_interval_time_t io_timeout,
                                              apr_size_t max_value_size = 0) {
    apr_memcache_server_t* ms = nullptr;
    EXPECT_EQ(apr_memcache_server_create(p, "127.0.0.1", port, 0, max, max, 60 * 1000 * 1000, &ms), APR_SUCCESS);
    use_test_protocol(ms);
    ap_memcache_server_options_t o;
    ap_memcache_server_get_options(ms, &o);
    o.io_timeout = io_timeout;
    if (max_value_size) o.max_value_size = max_value_size;
    EXPECT_EQ(ap_memcache_server_set_options(ms, &o), APR_SUCCESS);
    EXPECT_EQ(apr_memcache_add_server(mc, ms), APR_SUCCESS);
    return ms;
}

// A client of one server at `port` speaking `protocol` whatever the suite's is, with a
// single connection and operations bounded by io_timeout: for servers a test fakes.
inline apr_memcache_t* one_server_client(apr_pool_t* p, unsigned short port, int protocol,
                                         apr_interval_time_t io_timeout) {
    apr_memcache_t* mc = nullptr;
    apr_memcache_server_t* ms = nullptr;
    EXPECT_EQ(apr_memcache_create(p, 1, 0, &mc), APR_SUCCESS);
    EXPECT_EQ(apr_memcache_server_create(p, "127.0.0.1", port, 0, 1, 1, 0, &ms), APR_SUCCESS);
    ap_memcache_server_options_t o;
    ap_memcache_server_get_options(ms, &o);
    o.protocol = protocol;
    o.io_timeout = io_timeout;
    EXPECT_EQ(ap_memcache_server_set_options(ms, &o), APR_SUCCESS);
    EXPECT_EQ(apr_memcache_add_server(mc, ms), APR_SUCCESS);
    return mc;
}

struct PoolSpec {
    apr_uint32_t min = 0, smax = 4, max = 4;
    apr_uint32_t ttl_us = 60 * 1000 * 1000;
};

// One apr_memcache_multgetp of keys through mc (its own status in *rv_out), in a pool
// of its own under `pool`: each key's status and value, APR_EGENERAL for a key the call
// left out of the hash.
struct Got {
    apr_status_t status = APR_EGENERAL;
    std::string value;
};
inline std::map<std::string, Got> multiget_of(apr_memcache_t* mc, apr_pool_t* pool,
                                              const std::vector<std::string>& keys,
                                              apr_status_t* rv_out = nullptr) {
    apr_pool_t* temp = nullptr;
    apr_pool_create(&temp, pool);
    apr_hash_t* values = nullptr;
    for (const auto& k : keys) apr_memcache_add_multget_key(temp, apr_pstrdup(temp, k.c_str()), &values);
    const apr_status_t rv = apr_memcache_multgetp(mc, temp, temp, values);
    if (rv_out) *rv_out = rv;
    std::map<std::string, Got> got;
    for (const auto& k : keys) {
        auto* v = static_cast<apr_memcache_value_t*>(apr_hash_get(values, k.c_str(), APR_HASH_KEY_STRING));
        Got& g = got[k];
        if (!v) continue;
        g.status = v->status;
        if (v->status == APR_SUCCESS) g.value.assign(v->data, v->len);
    }
    apr_pool_destroy(temp);
    return got;
}

class Live : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_EQ(apr_pool_create(&pool_, nullptr), APR_SUCCESS);
        start_servers(1);
    }
    void TearDown() override {
        if (pool_) apr_pool_destroy(pool_);
        pool_ = nullptr;
    }

    // Replaces the servers with n fresh ones and builds mc over them.
    void start_servers(std::size_t n, PoolSpec spec = {}) {
        servers_.clear();
        for (std::size_t i = 0; i < n; ++i) {
            servers_.push_back(std::make_unique<MemcachedProcess>(test_server_args()));
            ASSERT_TRUE(servers_.back()->start()) << servers_.back()->error();
        }
        mc_ = make_client(spec);
    }

    apr_memcache_t* make_client(PoolSpec spec = {}) {
        apr_memcache_t* mc = nullptr;
        EXPECT_EQ(apr_memcache_create(pool_, static_cast<apr_uint16_t>(servers_.size() + 2), 0, &mc),
                  APR_SUCCESS);
        for (auto& s : servers_) {
            apr_memcache_server_t* ms = nullptr;
            EXPECT_EQ(apr_memcache_server_create(pool_, "127.0.0.1", s->port(), spec.min, spec.smax,
                                                 spec.max, spec.ttl_us, &ms),
                      APR_SUCCESS);
            use_test_protocol(ms);
            EXPECT_EQ(apr_memcache_add_server(mc, ms), APR_SUCCESS);
        }
        return mc;
    }

    MemcachedProcess& server(std::size_t i = 0) { return *servers_.at(i); }

    std::string get(const std::string& key, apr_status_t* rv_out = nullptr, apr_uint16_t* flags = nullptr) {
        char* data = nullptr;
        apr_size_t len = 0;
        apr_status_t rv = apr_memcache_getp(mc_, pool_, key.c_str(), &data, &len, flags);
        if (rv_out) *rv_out = rv;
        return rv == APR_SUCCESS ? std::string(data, len) : std::string();
    }
    apr_status_t set(const std::string& key, const std::string& value, apr_uint16_t flags = 0) {
        return apr_memcache_set(mc_, key.c_str(), const_cast<char*>(value.data()), value.size(), 0, flags);
    }

    // One apr_memcache_multgetp of keys through mc_ (multiget_of below).
    std::map<std::string, Got> multiget(const std::vector<std::string>& keys, apr_status_t* rv_out = nullptr) {
        return multiget_of(mc_, pool_, keys, rv_out);
    }

    apr_pool_t* pool_ = nullptr;
    std::vector<std::unique_ptr<MemcachedProcess>> servers_;
    apr_memcache_t* mc_ = nullptr;
};

inline long long elapsed_ms(std::chrono::steady_clock::time_point since) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since)
        .count();
}

// Sockets this process has open (the pools' connections, plus whatever the test holds).
inline int open_sockets() {
    int n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (dirent* e = ::readdir(d)) {
            char target[64] = {};
            std::string link = std::string("/proc/self/fd/") + e->d_name;
            ssize_t len = ::readlink(link.c_str(), target, sizeof target - 1);
            if (len > 0 && std::strncmp(target, "socket:", 7) == 0) ++n;
        }
        ::closedir(d);
    }
    return n;
}

}  // namespace mmc::test

#endif
