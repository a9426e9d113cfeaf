// The limiter every repeated log line goes through (unusable replies, refused sealed
// values): one line per interval, and the next line says how many were held back.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "engine/log_limiter.h"

namespace mmc::engine {
namespace {

TEST(LogLimiter, FirstOccurrenceIsLoggedAndTheRestOfTheIntervalHeldBack) {
    LogLimiter limit;
    std::uint64_t n = 0;
    EXPECT_TRUE(limit.should_log(&n));
    EXPECT_EQ(n, 1u);
    for (int i = 0; i < 99; ++i) EXPECT_FALSE(limit.should_log(&n));
}

TEST(LogLimiter, NextLineAfterTheIntervalCountsWhatWasHeldBack) {
    LogLimiter limit(std::chrono::nanoseconds(std::chrono::milliseconds(20)).count());
    std::uint64_t n = 0;
    ASSERT_TRUE(limit.should_log(&n));
    for (int i = 0; i < 5; ++i) ASSERT_FALSE(limit.should_log(&n));
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    ASSERT_TRUE(limit.should_log(&n));
    EXPECT_EQ(n, 6u);  // the five held back and this one
}

}  // namespace
}  // namespace mmc::engine
