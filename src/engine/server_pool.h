// The connections of one server in one process: at most `max` open, idle ones above
// `smax` closed once idle for `ttl`, never fewer than `min` closed by trimming. A lock
// guards the bookkeeping only; connecting and closing happen outside it.
//
// A pool only ever hands out connections its own process opened: after fork() the child
// forgets the parent's (fork_guard.h) and opens its own.
#ifndef MMC_ENGINE_SERVER_POOL_H
#define MMC_ENGINE_SERVER_POOL_H

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/address.h"
#include "engine/auth_notes.h"
#include "engine/connection.h"
#include "engine/fast_mutex.h"
#include "engine/fork_guard.h"
#include "engine/metrics.h"
#include "engine/options.h"

namespace mmc::engine {

class ServerPool {
public:
    // Counts its connections and waits into `metrics`, which must outlive it.
    ServerPool(const ServerOptions& options, ServerMetrics& metrics);
    ~ServerPool();
    ServerPool(const ServerPool&) = delete;
    ServerPool& operator=(const ServerPool&) = delete;

    // An idle connection, else a new one when fewer than max are open, else waits for
    // one to come back until `wait_deadline` (Result::pool_timeout). A new connection
    // is opened within the connect timeout, and never after `connect_cap` (the end of
    // the caller's whole call); with `defer_connect` it comes back still
    // connecting (Connection::connecting()) when the handshake has not completed at
    // once, for the caller to wait on together with others (then finish_connect(), or
    // connect_next() after a failure). `fresh` tells whether the connection is new;
    // `waited` (optional) whether the call had to wait for a busy pool.
    Outcome acquire(Clock::time_point wait_deadline, Clock::time_point connect_cap,
                    std::unique_ptr<Connection>& out, bool& fresh, bool* waited = nullptr,
                    bool defer_connect = false);

    // A deferred connect failed with `why`: starts one to the server's next address
    // (replacing conn) and returns ok, or returns `why` when no address is left (conn
    // is kept, for the caller to release as not reusable).
    Outcome connect_next(std::unique_ptr<Connection>& conn, const Outcome& why);

    // Returns a connection. A connection that saw any error or may hold unread bytes
    // must come back with reusable = false: it is closed, never handed out again.
    // `used_at` is when its last request started (the caller has read the clock then);
    // it counts as idle from that moment, which is early by at most the request's time:
    // the staleness check and ttl then err on the side of checking and closing.
    void release(std::unique_ptr<Connection>&& conn, bool reusable, Clock::time_point used_at);
    void release(std::unique_ptr<Connection>&& conn, bool reusable) {
        release(std::move(conn), reusable, Clock::now());
    }

    // Opens connections until `min` are open, each within the connect timeout; stops at
    // the first failure.
    Outcome warm();

    // Closes every idle connection (e.g. the server was found restarted).
    void drop_idle();

    // The server was marked dead: closes the idle connections and starts a new epoch,
    // so that the connections still in use are closed when they come back instead of
    // being pooled again.
    void retire_all();
    // Bumped by retire_all(); a connection keeps the value of its opening (epoch).
    std::uint32_t epoch() const noexcept { return epoch_.load(std::memory_order_relaxed); }

    // The next connect resolves the server's host name again (after a failure: the
    // name may point elsewhere now). Addresses are otherwise resolved once.
    void forget_addresses();

    struct Counts {
        std::uint32_t open;  // idle + in use + being opened
        std::uint32_t idle;
    };
    Counts counts() const;

    // What the last failed authentication of its connections was told (auth_notes.h).
    AuthNotes& auth_notes() noexcept { return auth_notes_; }

    // For fork_guard: the pool's lock is held across fork(), so that no child starts
    // with it taken by a thread that does not exist there, and so that the child sees
    // the bookkeeping whole. The lookup token is not taken (fork() would wait for DNS):
    // the child frees it instead, since whoever held it is not there.
    void lock_for_fork() noexcept { mu_.lock(); }
    void unlock_after_fork_in_parent() noexcept { mu_.unlock(); }
    // Returns whether a lookup was under way in the parent (see fork_guard.h).
    bool reset_after_fork_in_child() noexcept {
        const bool looking_up = resolving_.reset_in_child();
        mu_.unlock();
        return looking_up;
    }

private:
    using Doomed = std::vector<std::unique_ptr<Connection>>;

    Outcome connect(Clock::time_point deadline, bool defer, std::unique_ptr<Connection>& out);
    // The server's addresses, looked up when none are known or forget_addresses() asked
    // for it; `deadline` bounds only a lookup made through resolve_until (fork_guard.h).
    Outcome addresses(Clock::time_point deadline, std::shared_ptr<const std::vector<SocketAddress>>& out);
    ConnectionSettings settings() const;
    // Moves the idle connections that have outlived ttl above smax into `doomed`.
    void trim_locked(Clock::time_point now, Doomed& doomed);
    // First use in a process forked since the last use: the parent's connections are
    // not ours (closing our copies of them leaves the parent's untouched).
    void adopt_if_forked_locked(Doomed& doomed) {
        if (generation_ != fork_generation()) adopt_locked(doomed);
    }
    void adopt_locked(Doomed& doomed);
    void adopt_after_fork();
    // Called by release() when a connection came back from a clean exchange while
    // fewer than min are open (after a failure closed some): starts one more connect
    // without waiting for it, and pools it, connected or still connecting (acquire()
    // finishes it). Skipped when the address would need a lookup.
    void top_up();

    // Bumps changes_ (under mu_) when a waiter could now get a connection; returns
    // whether anyone waits, for the caller to wake_one() once mu_ is released.
    bool announce_locked() noexcept;
    void wake_one() noexcept;

    const ServerOptions& options_;
    ServerMetrics& metrics_;
    mutable FastMutex mu_;
    Doomed idle_;  // oldest first
    std::uint32_t open_ = 0;
    std::uint32_t waiters_ = 0;
    std::uint32_t generation_;  // fork generation of the connections counted here
    bool topping_up_ = false;   // a top_up() is under way
    std::atomic<std::uint32_t> epoch_{0};  // written under mu_
    // Callers that find all max connections busy sleep on this word (futex) with mu_
    // released; it changes whenever a connection comes back or a slot frees up.
    std::atomic<std::uint32_t> changes_{0};

    // Written by connections opened through the const settings().
    mutable AuthNotes auth_notes_;

    // Held during a name lookup, so one caller resolves for all. It guards no data
    // (the addresses and their counters are under mu_), so a child can simply free it.
    FastMutex resolving_;
    std::shared_ptr<const std::vector<SocketAddress>> addresses_;  // under mu_
    // forget_addresses() calls so far, and how many of them addresses_ answers: the
    // addresses are current while the two are equal. Under mu_.
    std::uint32_t forgotten_ = 0;
    std::uint32_t resolved_for_ = 0;
};

}  // namespace mmc::engine

#endif
