// Fork safety. A connection belongs to the process that opened it: after fork() the
// child must never write to, read from or pool a socket it shares with its parent, or
// the two processes' requests and replies interleave (one reading the other's data).
//
// A pthread_atfork child handler bumps a process-wide generation. Each pool notes the
// generation its connections were opened in; the first time a pool is used in a child
// it finds the generation changed and forgets (closes its copies of) the parent's
// connections, so the child opens its own while the parent's keep working. The hot
// path pays one relaxed load and a compare.
//
// Pools also register here so that the prepare handler can take every pool's lock
// before fork() and the child handler can release them: a child forked while another
// thread held a pool's lock would otherwise find that lock taken forever.
//
// Name lookups are not waited for (fork() would wait for DNS). The child frees each
// pool's lookup token, which guards no data. But a lookup under way in the parent may
// hold the C library's own resolver lock (glibc's resolv_conf lock, for one), which the
// child inherits taken: there getaddrinfo() would never return. So a child forked during
// one of our lookups (and its descendants) uses any addresses already known, and looks
// a name up only on a helper thread, waiting no longer than the connect deadline
// (address.h, resolve_until).
#ifndef MMC_ENGINE_FORK_GUARD_H
#define MMC_ENGINE_FORK_GUARD_H

#include <atomic>
#include <cstdint>

namespace mmc::engine {

class ServerPool;

namespace detail {
extern std::atomic<std::uint32_t> g_fork_generation;
extern std::atomic<bool> g_lookups_unsafe;
}

// Changes in a child process after every fork().
inline std::uint32_t fork_generation() noexcept {
    return detail::g_fork_generation.load(std::memory_order_relaxed);
}

// True in a process forked while one of our name lookups was under way, and in its
// descendants: a getaddrinfo() here may wait for ever.
inline bool lookups_unsafe_after_fork() noexcept {
    return detail::g_lookups_unsafe.load(std::memory_order_relaxed);
}

// Called by every pool's constructor and destructor.
void register_pool(ServerPool* pool);
void unregister_pool(ServerPool* pool);

}  // namespace mmc::engine

#endif
