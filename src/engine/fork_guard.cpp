#include "engine/fork_guard.h"

#include <pthread.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "engine/server_pool.h"

namespace mmc::engine {

namespace detail {
std::atomic<std::uint32_t> g_fork_generation{0};
}

namespace {

struct Registry {
    std::mutex mu;
    std::vector<ServerPool*> pools;
};

// Never destroyed: pools owned by objects that outlive static destruction still
// unregister, and a fork during exit still finds it.
Registry& registry() {
    static Registry* r = new Registry;
    return *r;
}

void before_fork() {
    Registry& r = registry();
    r.mu.lock();
    for (ServerPool* p : r.pools) p->lock_for_fork();
}

void after_fork_in_parent() {
    Registry& r = registry();
    for (ServerPool* p : r.pools) p->unlock_after_fork();
    r.mu.unlock();
}

void after_fork_in_child() {
    detail::g_fork_generation.fetch_add(1, std::memory_order_relaxed);
    Registry& r = registry();
    for (ServerPool* p : r.pools) p->unlock_after_fork();
    r.mu.unlock();
}

// glibc removes the handlers of a shared object when it is unloaded (httpd unloads
// and reloads modules on every restart), so registering from a library is safe.
void install_handlers() {
    static std::once_flag once;
    std::call_once(once, [] { ::pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child); });
}

}  // namespace

void register_pool(ServerPool* pool) {
    install_handlers();
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    r.pools.push_back(pool);
}

void unregister_pool(ServerPool* pool) {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    r.pools.erase(std::remove(r.pools.begin(), r.pools.end(), pool), r.pools.end());
}

}  // namespace mmc::engine
