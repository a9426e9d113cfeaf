// The connections of one server in one process: at most `max` open, idle ones above
// `smax` closed once idle for `ttl`, never fewer than `min` closed by trimming. A lock
// guards the bookkeeping only; connecting and closing happen outside it.
#ifndef MMC_ENGINE_SERVER_POOL_H
#define MMC_ENGINE_SERVER_POOL_H

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/connection.h"
#include "engine/fast_mutex.h"
#include "engine/options.h"

namespace mmc::engine {

class ServerPool {
public:
    explicit ServerPool(const ServerOptions& options);
    ~ServerPool();
    ServerPool(const ServerPool&) = delete;
    ServerPool& operator=(const ServerPool&) = delete;

    // An idle connection, else a new one when fewer than max are open, else waits for
    // one to come back until `deadline` (Result::pool_timeout). `fresh` tells whether
    // the connection was opened by this call; `waited` (optional) whether the call had
    // to wait for a busy pool.
    Outcome acquire(Clock::time_point deadline, std::unique_ptr<Connection>& out, bool& fresh,
                    bool* waited = nullptr);

    // Returns a connection. A connection that saw any error or may hold unread bytes
    // must come back with reusable = false: it is closed, never handed out again.
    void release(std::unique_ptr<Connection> conn, bool reusable);

    // Opens connections until `min` are open; stops at the first failure.
    Outcome warm();

    // Closes every idle connection (e.g. the server was found restarted).
    void drop_idle();

    struct Counts {
        std::uint32_t open;  // idle + in use + being opened
        std::uint32_t idle;
    };
    Counts counts() const;

private:
    Outcome connect(std::unique_ptr<Connection>& out);
    // Moves the idle connections that have outlived ttl above smax into `doomed`.
    void trim_locked(Clock::time_point now, std::vector<std::unique_ptr<Connection>>& doomed);

    // Bumps changes_ (under mu_) when a waiter could now get a connection; returns
    // whether anyone waits, for the caller to wake_one() once mu_ is released.
    bool announce_locked() noexcept;
    void wake_one() noexcept;

    const ServerOptions& options_;
    mutable FastMutex mu_;
    std::vector<std::unique_ptr<Connection>> idle_;  // oldest first
    std::uint32_t open_ = 0;
    std::uint32_t waiters_ = 0;
    // Callers that find all max connections busy sleep on this word (futex) with mu_
    // released; it changes whenever a connection comes back or a slot frees up.
    std::atomic<std::uint32_t> changes_{0};
};

}  // namespace mmc::engine

#endif
