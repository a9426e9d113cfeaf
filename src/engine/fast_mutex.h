// A mutex for the engine's short critical sections (a connection pool's bookkeeping).
// Uncontended, taking it is one compare-and-swap and releasing it one atomic
// decrement, a fraction of what pthread_mutex_lock/unlock cost on every get; contended,
// a thread sleeps in the kernel (futex) instead of spinning, so it behaves like an
// ordinary mutex under load. The three-state design from Ulrich Drepper's "Futexes Are
// Tricky": 0 free, 1 taken, 2 taken and perhaps waited for. Meets BasicLockable, so it
// works with std::lock_guard, std::unique_lock and std::condition_variable_any.
#ifndef MMC_ENGINE_FAST_MUTEX_H
#define MMC_ENGINE_FAST_MUTEX_H

#include <atomic>

namespace mmc::engine {

class FastMutex {
public:
    FastMutex() = default;
    FastMutex(const FastMutex&) = delete;
    FastMutex& operator=(const FastMutex&) = delete;

    void lock() noexcept {
        int expected = 0;
        if (state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                           std::memory_order_relaxed)) {
            return;
        }
        lock_contended(expected);
    }

    void unlock() noexcept {
        if (state_.fetch_sub(1, std::memory_order_release) != 1) unlock_contended();
    }

private:
    void lock_contended(int seen) noexcept;
    void unlock_contended() noexcept;

    std::atomic<int> state_{0};
};

}  // namespace mmc::engine

#endif
