// libmemcached behind the benchmark's interface: TCP_NODELAY, weighted ketama, text or
// binary protocol. One thread uses the memcached_st directly; several share a
// memcached_pool_st of max_per_server handles (each holding one connection per server),
// fetched and released around every operation as a threaded server would.
#include <libmemcached/memcached.h>
#include <libmemcachedutil-1.0/pool.h>

#include <cstdlib>
#include <ctime>

#include "bench_client.h"

namespace mmc::bench {
namespace {

// Borrows a handle for one operation: the master itself, or one from the pool.
class Handle {
public:
    Handle(memcached_st* master, memcached_pool_st* pool) : pool_(pool) {
        if (!pool_) {
            mc_ = master;
            return;
        }
        timespec wait{5, 0};
        memcached_return_t rc;
        mc_ = memcached_pool_fetch(pool_, &wait, &rc);
    }
    ~Handle() {
        if (pool_ && mc_) memcached_pool_release(pool_, mc_);
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    memcached_st* get() const { return mc_; }

private:
    memcached_pool_st* pool_;
    memcached_st* mc_ = nullptr;
};

class LibmcSession final : public Session {
public:
    LibmcSession(memcached_st* master, memcached_pool_st* pool) : master_(master), pool_(pool) {}
    ~LibmcSession() override {
        if (result_created_) memcached_result_free(&result_);
    }

    GetResult get(const std::string& key, std::size_t& len) override {
        Handle h(master_, pool_);
        if (!h.get()) return fail("no handle from the pool");
        size_t n = 0;
        uint32_t flags = 0;
        memcached_return_t rc;
        char* v = memcached_get(h.get(), key.data(), key.size(), &n, &flags, &rc);
        if (v) {
            std::free(v);
            len = n;
            return GetResult::hit;
        }
        if (rc == MEMCACHED_NOTFOUND) return GetResult::miss;
        return fail(h.get(), rc);
    }

    bool set(const std::string& key, const std::string& value) override {
        Handle h(master_, pool_);
        if (!h.get()) {
            fail("no handle from the pool");
            return false;
        }
        memcached_return_t rc =
            memcached_set(h.get(), key.data(), key.size(), value.data(), value.size(), 0, 0);
        if (memcached_success(rc)) return true;
        fail(h.get(), rc);
        return false;
    }

    long multi_get(const std::vector<const char*>& keys,
                   const std::vector<std::size_t>& lens) override {
        Handle h(master_, pool_);
        if (!h.get()) {
            fail("no handle from the pool");
            return -1;
        }
        memcached_st* mc = h.get();
        memcached_return_t rc = memcached_mget(mc, keys.data(), lens.data(), keys.size());
        if (!memcached_success(rc)) {
            fail(mc, rc);
            return -1;
        }
        // Caller-owned result storage: libmemcached frees a result it allocated itself
        // when the fetch loop ends, so only storage we own can be reused. One thread
        // keeps it across calls (its value buffer stays allocated); pooled handles use
        // storage per call.
        memcached_result_st call_storage;
        memcached_result_st* result;
        if (pool_) {
            result = memcached_result_create(mc, &call_storage);
        } else {
            if (!result_created_) result_created_ = memcached_result_create(mc, &result_) != nullptr;
            result = &result_;
        }
        long found = 0;
        while (memcached_fetch_result(mc, result, &rc)) ++found;
        if (pool_) memcached_result_free(&call_storage);
        if (rc != MEMCACHED_END && rc != MEMCACHED_NOTFOUND && !memcached_success(rc)) {
            fail(mc, rc);
            return -1;
        }
        return found;
    }

    std::string last_error() override { return error_; }

private:
    GetResult fail(const char* what) {
        error_ = what;
        return GetResult::error;
    }
    GetResult fail(memcached_st* mc, memcached_return_t rc) {
        error_ = memcached_strerror(mc, rc);
        return GetResult::error;
    }

    memcached_st* master_;
    memcached_pool_st* pool_;
    memcached_result_st result_{};
    bool result_created_ = false;
    std::string error_;
};

class LibmcClient final : public Client {
public:
    LibmcClient(memcached_st* master, memcached_pool_st* pool) : master_(master), pool_(pool) {}
    ~LibmcClient() override {
        if (pool_) memcached_pool_destroy(pool_);
        memcached_free(master_);
    }
    std::unique_ptr<Session> session() override {
        return std::make_unique<LibmcSession>(master_, pool_);
    }

private:
    memcached_st* master_;
    memcached_pool_st* pool_;
};

}  // namespace

std::unique_ptr<Client> make_libmemcached_client(const ClientKind& kind,
                                                 const ClientConfig& config, std::string& error) {
    memcached_st* mc = memcached_create(nullptr);
    if (!mc) {
        error = "memcached_create failed";
        return nullptr;
    }
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    if (kind.ketama) memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1);
    if (kind.binary) memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    for (const auto& e : config.servers) {
        memcached_return_t rc = e.port == 0 ? memcached_server_add_unix_socket(mc, e.host.c_str())
                                            : memcached_server_add(mc, e.host.c_str(), e.port);
        if (!memcached_success(rc)) {
            error = std::string("memcached_server_add: ") + memcached_strerror(mc, rc);
            memcached_free(mc);
            return nullptr;
        }
    }
    memcached_pool_st* pool = nullptr;
    if (config.threads > 1) {
        pool = memcached_pool_create(mc, config.max_per_server, config.max_per_server);
        if (!pool) {
            error = "memcached_pool_create failed";
            memcached_free(mc);
            return nullptr;
        }
    }
    return std::make_unique<LibmcClient>(mc, pool);
}

}  // namespace mmc::bench
