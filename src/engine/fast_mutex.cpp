#include "engine/fast_mutex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace mmc::engine {

namespace {

static_assert(sizeof(std::atomic<int>) == sizeof(int) && std::atomic<int>::is_always_lock_free,
              "the futex word is the atomic's own storage");

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                  std::atomic<std::uint32_t>::is_always_lock_free,
              "the futex word is the atomic's own storage");

int* word(std::atomic<int>& a) noexcept { return reinterpret_cast<int*>(&a); }

}  // namespace

void FastMutex::lock_contended(int seen) noexcept {
    // Mark the mutex as waited for (2) and sleep until it is released; whoever takes it
    // from here on keeps the 2, so its unlock wakes the next sleeper.
    if (seen != 2) seen = state_.exchange(2, std::memory_order_acquire);
    while (seen != 0) {
        // Returns at once (EAGAIN) if the word is no longer 2; EINTR is a spurious wake.
        ::syscall(SYS_futex, word(state_), FUTEX_WAIT_PRIVATE, 2, nullptr, nullptr, 0);
        seen = state_.exchange(2, std::memory_order_acquire);
    }
}

void FastMutex::unlock_contended() noexcept {
    state_.store(0, std::memory_order_release);
    ::syscall(SYS_futex, word(state_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

bool word_wait_until(std::atomic<std::uint32_t>& w, std::uint32_t seen,
                     std::chrono::steady_clock::time_point deadline) noexcept {
    // steady_clock is CLOCK_MONOTONIC, the clock FUTEX_WAIT_BITSET takes an absolute
    // deadline on (without FUTEX_CLOCK_REALTIME).
    const auto since_epoch = deadline.time_since_epoch();
    if (since_epoch.count() <= 0 || deadline <= std::chrono::steady_clock::now()) return false;
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(secs.count());
    ts.tv_nsec = static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - secs).count());
    const long rc = ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&w), FUTEX_WAIT_BITSET_PRIVATE,
                              seen, &ts, nullptr, FUTEX_BITSET_MATCH_ANY);
    return !(rc == -1 && errno == ETIMEDOUT);
}

void word_wake(std::atomic<std::uint32_t>& w, int n) noexcept {
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&w), FUTEX_WAKE_PRIVATE, n, nullptr, nullptr, 0);
}

}  // namespace mmc::engine
