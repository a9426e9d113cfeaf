#include "engine/server_pool.h"

#include <algorithm>
#include <mutex>

namespace mmc::engine {

ServerPool::ServerPool(const ServerOptions& options, ServerMetrics& metrics)
    : options_(options), metrics_(metrics), generation_(fork_generation()) {
    register_pool(this);
}

ServerPool::~ServerPool() { unregister_pool(this); }

ConnectionSettings ServerPool::settings() const {
    return ConnectionSettings{options_.timeouts.io, options_.max_value_size, options_.tls.get(),
                              &options_.auth, options_.protocol, &auth_notes_, &metrics_};
}

Outcome ServerPool::addresses(Clock::time_point deadline,
                              std::shared_ptr<const std::vector<SocketAddress>>& out) {
    // In a process forked during a lookup, a lookup may never return (fork_guard.h):
    // any addresses known will do, and a lookup waits no longer than the deadline.
    const bool unsafe = lookups_unsafe_after_fork();
    std::uint32_t asked = 0;  // the forget_addresses() a lookup started now answers
    const auto cached = [&] {
        std::lock_guard<FastMutex> lock(mu_);
        asked = forgotten_;
        if (!addresses_ || (resolved_for_ != forgotten_ && !unsafe)) return false;
        out = addresses_;
        return true;
    };
    if (cached()) return {};
    std::lock_guard<FastMutex> resolving(resolving_);
    // Another caller may have looked the name up while this one waited for its turn.
    if (cached()) return {};
    auto fresh = std::make_shared<std::vector<SocketAddress>>();
    Outcome r = unsafe ? resolve_until(options_.endpoint, *fresh, deadline)
                       : resolve(options_.endpoint, *fresh);
    std::shared_ptr<const std::vector<SocketAddress>> replaced;  // freed outside mu_
    std::lock_guard<FastMutex> lock(mu_);
    if (r.ok()) {
        replaced = std::move(addresses_);
        addresses_ = std::move(fresh);
        // A forget_addresses() during the lookup still asks for another one.
        resolved_for_ = asked;
    } else if (!addresses_) {
        return r;
    }
    // A failed lookup again keeps the addresses that worked before.
    out = addresses_;
    return {};
}

void ServerPool::forget_addresses() {
    std::lock_guard<FastMutex> lock(mu_);
    ++forgotten_;
}

Outcome ServerPool::connect(Clock::time_point deadline, bool defer, std::unique_ptr<Connection>& out) {
    std::shared_ptr<const std::vector<SocketAddress>> addrs;
    if (Outcome r = addresses(deadline, addrs); !r.ok()) return r;
    const ConnectionSettings s = settings();
    Outcome last{Result::connect_failed, ECONNREFUSED};
    for (std::size_t i = 0; i < addrs->size(); ++i) {
        std::unique_ptr<Connection> conn;
        Outcome r = Connection::start((*addrs)[i], s, conn);
        if (r.ok()) {
            conn->address_index = i;
            if (conn->connecting() && !defer) r = conn->wait_connected(deadline);
            if (r.ok()) {
                out = std::move(conn);
                return {};
            }
        }
        last = r;
        // Out of time (the next address would get none) or out of descriptors.
        if (r.result == Result::connect_timeout || r.result == Result::no_memory) break;
    }
    return last;
}

Outcome ServerPool::connect_next(std::unique_ptr<Connection>& conn, const Outcome& why) {
    if (why.result == Result::connect_timeout || why.result == Result::no_memory) return why;
    std::shared_ptr<const std::vector<SocketAddress>> addrs;
    if (!addresses(Clock::now() + options_.timeouts.connect, addrs).ok()) return why;
    const ConnectionSettings s = settings();
    Outcome last = why;
    for (std::size_t i = conn->address_index + 1; i < addrs->size(); ++i) {
        std::unique_ptr<Connection> next;
        Outcome r = Connection::start((*addrs)[i], s, next);
        if (r.ok()) {
            next->address_index = i;
            next->epoch = conn->epoch;
            conn = std::move(next);  // the failed one is closed; its slot carries over
            return {};
        }
        last = r;
    }
    return last;
}

void ServerPool::adopt_locked(Doomed& doomed) {
    for (auto& c : idle_) doomed.push_back(std::move(c));
    idle_.clear();
    // Connections in use at the time of the fork belong to threads of the parent; they
    // are not counted here (and not returned: release() drops them).
    open_ = 0;
    waiters_ = 0;
    // A top-up under way in the parent never finishes here.
    topping_up_ = false;
    generation_ = fork_generation();
}

void ServerPool::adopt_after_fork() {
    Doomed doomed;  // closed once the lock is released
    std::lock_guard<FastMutex> lock(mu_);
    adopt_if_forked_locked(doomed);
}

void ServerPool::trim_locked(Clock::time_point now, Doomed& doomed) {
    const auto& lim = options_.limits;
    std::size_t expired = 0;
    // idle_ is ordered by the time each connection came back, so the expired ones are
    // a prefix.
    while (expired < idle_.size() && idle_.size() - expired > lim.smax &&
           open_ - expired > lim.min && now - idle_[expired]->idle_since >= lim.ttl) {
        ++expired;
    }
    if (expired == 0) return;
    for (std::size_t i = 0; i < expired; ++i) doomed.push_back(std::move(idle_[i]));
    idle_.erase(idle_.begin(), idle_.begin() + static_cast<std::ptrdiff_t>(expired));
    open_ -= static_cast<std::uint32_t>(expired);
}

bool ServerPool::announce_locked() noexcept {
    if (waiters_ == 0) return false;
    changes_.fetch_add(1, std::memory_order_release);
    return true;
}

void ServerPool::wake_one() noexcept { word_wake(changes_, 1); }

Outcome ServerPool::acquire(Clock::time_point wait_deadline, Clock::time_point connect_cap,
                            std::unique_ptr<Connection>& out, bool& fresh, bool* waited,
                            bool defer_connect) {
    if (waited) *waited = false;
    // Idle connections past their ttl are trimmed when connections come back (release),
    // not here: taking the newest idle one needs no clock, and the release that follows
    // trims the old ones.
    std::unique_lock<FastMutex> lock(mu_);
    if (generation_ != fork_generation()) {
        lock.unlock();
        adopt_after_fork();
        lock.lock();
    }
    std::uint32_t waits_this_call = 0;
    for (;;) {
        if (!idle_.empty()) {
            // The most recently used one: warm, and it lets the others age out.
            out = std::move(idle_.back());
            idle_.pop_back();
            if (!out->connecting()) {
                fresh = false;
                return {};
            }
            // Opened by top_up() and not known to be connected yet: finished here like
            // a connect of our own (it has had a head start).
            lock.unlock();
            fresh = true;
            if (defer_connect) return {};
            Outcome r = out->wait_connected(std::min(Clock::now() + options_.timeouts.connect, connect_cap));
            // Connected a while ago, most likely: a pooled connection like the others,
            // checked for staleness (and retried) as they are.
            if (r.ok()) fresh = false;
            if (!r.ok()) {
                out.reset();
                lock.lock();
                if (generation_ == fork_generation()) --open_;
                const bool wake = announce_locked();
                lock.unlock();
                if (wake) wake_one();
            }
            return r;
        }
        if (open_ < options_.limits.max) {
            ++open_;
            const std::uint32_t epoch = epoch_.load(std::memory_order_relaxed);
            lock.unlock();
            Outcome r = connect(std::min(Clock::now() + options_.timeouts.connect, connect_cap),
                                defer_connect, out);
            if (r.ok()) out->epoch = epoch;
            if (!r.ok()) {
                lock.lock();
                if (generation_ == fork_generation()) --open_;
                // Someone waiting may now try to connect (or get a returned one).
                const bool wake = announce_locked();
                lock.unlock();
                if (wake) wake_one();
            }
            fresh = true;
            return r;
        }
        // Counted once per acquire that waits (waits_this_call), with the time of each
        // sleep in time-stamp counter ticks (metrics.h), not clock reads.
        // (A caller that may not wait, wait_deadline min, is not counted.)
        const bool waits = wait_deadline != Clock::time_point::min();
        if (waits && !waits_this_call++) metrics_.common().add(Counter::pool_waits);
        if (waited) *waited = true;
        // Sleep with the lock released until a connection comes back (changes_ moves
        // on), then look again: another caller may have taken it first.
        ++waiters_;
        const std::uint32_t seen = changes_.load(std::memory_order_acquire);
        lock.unlock();
        const std::uint64_t sleep_start = tick_stamp();
        const bool in_time = word_wait_until(changes_, seen, wait_deadline);
        // Until the tick scale is known (a process's first 10 ms), the wait counts from
        // about when the acquire started (its deadline less the acquire timeout).
        if (waits) {
            metrics_.common().add(Counter::pool_wait_ns,
                                  ticks_to_ns(sleep_start, tick_stamp(), wait_deadline - options_.timeouts.acquire));
        }
        lock.lock();
        if (waiters_ > 0) --waiters_;
        if (!in_time && idle_.empty() && open_ >= options_.limits.max) return {Result::pool_timeout};
    }
}

void ServerPool::release(std::unique_ptr<Connection>&& conn, bool reusable, Clock::time_point used_at) {
    if (!conn) return;
    // Big buffers go before the connection is idle (and outside the lock).
    if (reusable) conn->trim_buffers();
    Doomed doomed;
    bool wake = false;
    bool top = false;
    {
        std::lock_guard<FastMutex> lock(mu_);
        adopt_if_forked_locked(doomed);
        if (conn->generation() != generation_) {
            // Opened before a fork by the parent: never pooled here, never counted.
            doomed.push_back(std::move(conn));
        } else if (reusable && conn->epoch == epoch_.load(std::memory_order_relaxed)) {
            conn->idle_since = used_at;
            idle_.push_back(std::move(conn));
            // A clean exchange just ended, so the server answers: if a failure left
            // fewer than min open, this caller starts one more (no wait).
            if (open_ < options_.limits.min && !topping_up_) {
                top = topping_up_ = true;
                ++open_;
            }
        } else {
            // Failed, or opened before the server was last marked dead.
            --open_;
            doomed.push_back(std::move(conn));
        }
        if (idle_.size() > options_.limits.smax) trim_locked(used_at, doomed);
        wake = announce_locked();
    }
    // Woken after the lock is released, so the waiter does not wake only to wait for it.
    if (wake) wake_one();
    if (top) top_up();
}

void ServerPool::top_up() {
    std::shared_ptr<const std::vector<SocketAddress>> addrs;
    {
        // Never a name lookup here: this runs on a caller's time.
        std::lock_guard<FastMutex> lock(mu_);
        if (addresses_ && resolved_for_ == forgotten_) addrs = addresses_;
    }
    std::unique_ptr<Connection> conn;
    const std::uint32_t epoch = epoch_.load(std::memory_order_relaxed);
    if (addrs && !addrs->empty() && Connection::start((*addrs)[0], settings(), conn).ok()) {
        conn->epoch = epoch;
    }
    Doomed doomed;
    bool wake = false;
    {
        std::lock_guard<FastMutex> lock(mu_);
        topping_up_ = false;
        if (conn && conn->generation() == generation_ && conn->epoch == epoch_.load(std::memory_order_relaxed)) {
            conn->idle_since = Clock::now();
            // Oldest first: taken only when the connected ones are busy.
            idle_.insert(idle_.begin(), std::move(conn));
        } else {
            if (conn) doomed.push_back(std::move(conn));
            if (generation_ == fork_generation()) --open_;
        }
        wake = announce_locked();
    }
    if (wake) wake_one();
}

void ServerPool::retire_all() {
    {
        std::lock_guard<FastMutex> lock(mu_);
        epoch_.store(epoch_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    drop_idle();
}

Outcome ServerPool::warm() {
    for (;;) {
        Doomed doomed;
        {
            std::lock_guard<FastMutex> lock(mu_);
            adopt_if_forked_locked(doomed);
            if (open_ >= options_.limits.min) return {};
            ++open_;
        }
        std::unique_ptr<Connection> conn;
        const std::uint32_t epoch = epoch_.load(std::memory_order_relaxed);
        Outcome r = connect(Clock::now() + options_.timeouts.connect, false, conn);
        bool wake = false;
        {
            std::lock_guard<FastMutex> lock(mu_);
            if (r.ok() && conn->generation() == generation_ && epoch == epoch_.load(std::memory_order_relaxed)) {
                conn->epoch = epoch;
                conn->idle_since = Clock::now();
                idle_.push_back(std::move(conn));
            } else if (generation_ == fork_generation()) {
                --open_;
            }
            wake = announce_locked();
        }
        if (wake) wake_one();
        if (!r.ok()) return r;
    }
}

void ServerPool::drop_idle() {
    Doomed doomed;
    bool wake = false;
    {
        std::lock_guard<FastMutex> lock(mu_);
        adopt_if_forked_locked(doomed);
        open_ -= static_cast<std::uint32_t>(idle_.size());
        const bool freed = !idle_.empty();
        for (auto& c : idle_) doomed.push_back(std::move(c));
        idle_.clear();
        // Slots freed: a waiter may open a new connection.
        wake = freed && announce_locked();
    }
    if (wake) wake_one();
}

ServerPool::Counts ServerPool::counts() const {
    std::lock_guard<FastMutex> lock(mu_);
    // A child that has not used the pool yet has none of its own.
    if (generation_ != fork_generation()) return {0, 0};
    return {open_, static_cast<std::uint32_t>(idle_.size())};
}

}  // namespace mmc::engine
