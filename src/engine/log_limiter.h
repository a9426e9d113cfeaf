// A log line that may repeat on every request (a server's unusable replies, a storm of
// forged sealed values) goes out at most once per interval, with how many were held back.
// Internal to the engine and the facade.
#ifndef MMC_ENGINE_LOG_LIMITER_H
#define MMC_ENGINE_LOG_LIMITER_H

#include <atomic>
#include <chrono>
#include <cstdint>

namespace mmc::engine {

class LogLimiter {
public:
    static constexpr std::int64_t kIntervalNs = 60'000'000'000;

    LogLimiter() noexcept = default;
    explicit LogLimiter(std::int64_t interval_ns) noexcept : interval_ns_(interval_ns) {}

    // Records one occurrence. True when the caller should log it now: the first ever, or
    // the first after the interval since the last line; *count then gets the occurrences
    // since the last line, this one included (1 when none was held back). Lock-free: one
    // of several threads racing past the interval wins the line.
    bool should_log(std::uint64_t* count) noexcept {
        since_.fetch_add(1, std::memory_order_relaxed);
        const std::int64_t now =
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
                .count();
        std::int64_t last = last_.load(std::memory_order_relaxed);
        // 0 is "never logged": the first occurrence is always reported.
        if (last != 0 && now - last < interval_ns_) return false;
        if (!last_.compare_exchange_strong(last, now == 0 ? 1 : now, std::memory_order_relaxed)) return false;
        *count = since_.exchange(0, std::memory_order_relaxed);
        return true;
    }

private:
    const std::int64_t interval_ns_ = kIntervalNs;
    std::atomic<std::int64_t> last_{0};
    std::atomic<std::uint64_t> since_{0};
};

}  // namespace mmc::engine

#endif
