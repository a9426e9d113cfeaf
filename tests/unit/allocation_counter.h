// Counts every heap allocation made through operator new in the test binary that links
// allocation_counter.cpp, so a test can show that code under it allocates nothing.
#ifndef MMC_TEST_ALLOCATION_COUNTER_H
#define MMC_TEST_ALLOCATION_COUNTER_H

#include <cstddef>

namespace mmc::test {

// Allocations so far. Read it just before and just after the code under test, with no
// gtest assertion in between (gtest allocates).
std::size_t allocations() noexcept;

}  // namespace mmc::test

#endif
