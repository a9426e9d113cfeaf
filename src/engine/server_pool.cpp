#include "engine/server_pool.h"

#include <algorithm>

namespace mmc::engine {

ServerPool::ServerPool(const ServerOptions& options) : options_(options) {}

ServerPool::~ServerPool() = default;

Outcome ServerPool::connect(std::unique_ptr<Connection>& out) {
    return Connection::open(options_.endpoint, Clock::now() + options_.timeouts.connect,
                            options_.timeouts.io, options_.max_value_size, out);
}

void ServerPool::trim_locked(Clock::time_point now,
                             std::vector<std::unique_ptr<Connection>>& doomed) {
    const auto& lim = options_.limits;
    if (idle_.size() <= lim.smax) return;
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

Outcome ServerPool::acquire(Clock::time_point deadline, std::unique_ptr<Connection>& out,
                            bool& fresh, bool* waited) {
    if (waited) *waited = false;
    // Idle connections past their ttl are trimmed when connections come back (release),
    // not here: taking the newest idle one needs no clock, and the release that follows
    // trims the old ones.
    std::unique_lock<FastMutex> lock(mu_);
    for (;;) {
        if (!idle_.empty()) {
            // The most recently used one: warm, and it lets the others age out.
            out = std::move(idle_.back());
            idle_.pop_back();
            fresh = false;
            return {};
        }
        if (open_ < options_.limits.max) {
            ++open_;
            lock.unlock();
            Outcome r = connect(out);
            if (!r.ok()) {
                lock.lock();
                --open_;
                // Someone waiting may now try to connect (or get a returned one).
                const bool wake = announce_locked();
                lock.unlock();
                if (wake) wake_one();
            }
            fresh = true;
            return r;
        }
        if (waited) *waited = true;
        // Sleep with the lock released until a connection comes back (changes_ moves
        // on), then look again: another caller may have taken it first.
        ++waiters_;
        const std::uint32_t seen = changes_.load(std::memory_order_acquire);
        lock.unlock();
        const bool in_time = word_wait_until(changes_, seen, deadline);
        lock.lock();
        --waiters_;
        if (!in_time && idle_.empty() && open_ >= options_.limits.max) return {Result::pool_timeout};
    }
}

void ServerPool::release(std::unique_ptr<Connection> conn, bool reusable) {
    if (!conn) return;
    std::vector<std::unique_ptr<Connection>> doomed;
    bool wake = false;
    {
        std::lock_guard<FastMutex> lock(mu_);
        auto now = Clock::now();
        if (reusable) {
            conn->idle_since = now;
            idle_.push_back(std::move(conn));
        } else {
            --open_;
            doomed.push_back(std::move(conn));
        }
        trim_locked(now, doomed);
        wake = announce_locked();
    }
    // Woken after the lock is released, so the waiter does not wake only to wait for it.
    if (wake) wake_one();
}

Outcome ServerPool::warm() {
    for (;;) {
        {
            std::lock_guard<FastMutex> lock(mu_);
            if (open_ >= options_.limits.min) return {};
            ++open_;
        }
        std::unique_ptr<Connection> conn;
        Outcome r = connect(conn);
        bool wake = false;
        {
            std::lock_guard<FastMutex> lock(mu_);
            if (r.ok()) {
                conn->idle_since = Clock::now();
                idle_.push_back(std::move(conn));
            } else {
                --open_;
            }
            wake = announce_locked();
        }
        if (wake) wake_one();
        if (!r.ok()) return r;
    }
}

void ServerPool::drop_idle() {
    std::vector<std::unique_ptr<Connection>> doomed;
    bool wake = false;
    {
        std::lock_guard<FastMutex> lock(mu_);
        open_ -= static_cast<std::uint32_t>(idle_.size());
        doomed.swap(idle_);
        // Slots freed: a waiter may open a new connection.
        wake = !doomed.empty() && announce_locked();
    }
    if (wake) wake_one();
}

ServerPool::Counts ServerPool::counts() const {
    std::lock_guard<FastMutex> lock(mu_);
    return {open_, static_cast<std::uint32_t>(idle_.size())};
}

}  // namespace mmc::engine
