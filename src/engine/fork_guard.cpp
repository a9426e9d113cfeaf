#include "engine/fork_guard.h"

#include <pthread.h>

#include <algorithm>
#include <mutex>
#include <string_view>
#include <vector>

#include "engine/md5_lanes.h"
#include "engine/server_pool.h"

namespace mmc::engine {

namespace detail {
std::atomic<std::uint32_t> g_fork_generation{0};
std::atomic<bool> g_lookups_unsafe{false};
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

// The first use of a function-local static runs its initialiser under a guard that
// another thread's fork() would leave "in progress" in the child for ever (unlike
// std::call_once, which glibc restarts there). Using the engine's own ones here, before
// fork(), waits out an initialisation under way in another thread.
void settle_statics() noexcept {
    const std::string_view two[2];
    std::uint32_t words[2];
    md5_first_words(two, 2, words);  // the lane code's choice and constants
}

void before_fork() {
    settle_statics();
    Registry& r = registry();
    r.mu.lock();
    for (ServerPool* p : r.pools) p->lock_for_fork();
}

void after_fork_in_parent() {
    Registry& r = registry();
    for (ServerPool* p : r.pools) p->unlock_after_fork_in_parent();
    r.mu.unlock();
}

void after_fork_in_child() {
    detail::g_fork_generation.fetch_add(1, std::memory_order_relaxed);
    Registry& r = registry();
    bool looking_up = false;
    for (ServerPool* p : r.pools) looking_up |= p->reset_after_fork_in_child();
    if (looking_up) detail::g_lookups_unsafe.store(true, std::memory_order_relaxed);
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
