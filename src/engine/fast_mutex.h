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
#include <chrono>
#include <cstdint>

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

    // Makes the mutex free, whoever held it; returns whether it was held. Only for a
    // fork() child handler: the child runs the forking thread alone, so a holder (or
    // waiter) of the parent's is a thread that does not exist there and will never
    // unlock it.
    bool reset_in_child() noexcept { return state_.exchange(0, std::memory_order_relaxed) != 0; }

private:
    void lock_contended(int seen) noexcept;
    void unlock_contended() noexcept;

    std::atomic<int> state_{0};
};

// Sleeping on a word (futex), for a wait whose condition another thread announces by
// changing the word and calling word_wake(): word_wait_until() sleeps only while the
// word still holds `seen`, so a change made between reading it and sleeping is never
// missed. Returns false when `deadline` (steady clock) passed; true otherwise, which
// includes spurious wakes, so callers check their condition again.
bool word_wait_until(std::atomic<std::uint32_t>& word, std::uint32_t seen,
                     std::chrono::steady_clock::time_point deadline) noexcept;
// Wakes up to n threads sleeping on word.
void word_wake(std::atomic<std::uint32_t>& word, int n) noexcept;

}  // namespace mmc::engine

#endif
