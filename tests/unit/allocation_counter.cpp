// Replacing the global operator new is the portable way to see every heap allocation:
// it is the only allocation path C++ code uses without calling malloc by hand, and
// proto never calls malloc. The replacement counts and forwards to malloc; new[] and
// the nothrow forms route through it (the standard library implements them on top of
// the plain form), and the aligned forms stay untouched and pair with their own
// deletes. All of them stay out of line: once inlined, GCC sees malloc/free where it
// expects new/delete and warns (-Wmismatched-new-delete) about pairs that are matched
// by construction. Two replacements cannot live in one executable, hence this file.
#include "allocation_counter.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::size_t> g_allocations{0};
}  // namespace

namespace mmc::test {
std::size_t allocations() noexcept { return g_allocations.load(std::memory_order_relaxed); }
}  // namespace mmc::test

[[gnu::noinline]] void* operator new(std::size_t size) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();  // what a replacement operator new must do on failure
}
[[gnu::noinline]] void* operator new[](std::size_t size) { return ::operator new(size); }
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
