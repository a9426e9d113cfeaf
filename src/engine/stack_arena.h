// Memory for the short-lived lists of one call, from a buffer on the caller's stack,
// then from the heap; everything is freed at once when the arena goes. Nothing in it is
// virtual: std::pmr's resources dispatch every allocation through a virtual call, which
// a sanitizer's type check (UBSan's vptr) verifies with a system call, and a fan-out may
// run where no descriptor is left for it. Internal to the engine.
#ifndef MMC_ENGINE_STACK_ARENA_H
#define MMC_ENGINE_STACK_ARENA_H

#include <cstddef>
#include <cstdint>
#include <new>

namespace mmc::engine {

class StackArena {
public:
    StackArena(unsigned char* room, std::size_t size) noexcept : next_(room), end_(room + size) {}
    StackArena(const StackArena&) = delete;
    StackArena& operator=(const StackArena&) = delete;
    ~StackArena() {
        while (blocks_) {
            Block* next = blocks_->next;
            ::operator delete(blocks_);
            blocks_ = next;
        }
    }

    void* take(std::size_t bytes, std::size_t align) {
        const auto at = reinterpret_cast<std::uintptr_t>(next_);
        const std::uintptr_t aligned = (at + align - 1) & ~static_cast<std::uintptr_t>(align - 1);
        if (aligned <= reinterpret_cast<std::uintptr_t>(end_) &&
            bytes <= static_cast<std::size_t>(reinterpret_cast<std::uintptr_t>(end_) - aligned)) {
            next_ = reinterpret_cast<unsigned char*>(aligned + bytes);
            return reinterpret_cast<void*>(aligned);
        }
        // A block of its own, kept in a list; the header keeps the data max-aligned.
        void* mem = ::operator new(sizeof(Block) + bytes);
        auto* block = static_cast<Block*>(mem);
        block->next = blocks_;
        blocks_ = block;
        return block + 1;
    }

private:
    struct alignas(std::max_align_t) Block {
        Block* next;
    };
    unsigned char* next_;
    unsigned char* end_;
    Block* blocks_ = nullptr;
};

// A standard allocator over a StackArena: deallocate gives nothing back (the arena frees
// everything when it goes).
template <class T>
struct ArenaAllocator {
    using value_type = T;
    StackArena* arena;

    explicit ArenaAllocator(StackArena& a) noexcept : arena(&a) {}
    template <class U>
    ArenaAllocator(const ArenaAllocator<U>& other) noexcept : arena(other.arena) {}

    T* allocate(std::size_t n) {
        static_assert(alignof(T) <= alignof(std::max_align_t));
        return static_cast<T*>(arena->take(n * sizeof(T), alignof(T)));
    }
    void deallocate(T*, std::size_t) noexcept {}

    template <class U>
    bool operator==(const ArenaAllocator<U>& other) const noexcept {
        return arena == other.arena;
    }
    template <class U>
    bool operator!=(const ArenaAllocator<U>& other) const noexcept {
        return arena != other.arena;
    }
};

}  // namespace mmc::engine

#endif
