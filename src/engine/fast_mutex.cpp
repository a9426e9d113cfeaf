#include "engine/fast_mutex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>


namespace mmc::engine {

namespace {

static_assert(sizeof(std::atomic<int>) == sizeof(int) && std::atomic<int>::is_always_lock_free,
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

}  // namespace mmc::engine
