// Helpers shared by the fuzz targets: a check that aborts (so libFuzzer and the corpus
// replay both see a crash, with or without sanitizers), the chunk sizes the parser
// targets feed their input in, and a buffer that faults on a read past its bytes.
#ifndef MMC_TESTS_FUZZ_FUZZ_SUPPORT_H
#define MMC_TESTS_FUZZ_FUZZ_SUPPORT_H

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include <sys/mman.h>
#include <unistd.h>

// assert() vanishes under NDEBUG (RelWithDebInfo defines it); these checks must hold in
// every build, since the replay tests run in the ordinary one.
#define FUZZ_CHECK(cond, what)                                                           \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            std::fprintf(stderr, "fuzz check failed at %s:%d: %s (%s)\n", __FILE__,     \
                         __LINE__, (what), #cond);                                       \
            std::abort();                                                                \
        }                                                                                \
    } while (0)

namespace mmc_fuzz {

// How a parser target splits its stream: the chunk sizes come from two input bytes, so
// libFuzzer explores splits as it explores content, and a crash input replays with the
// very same split. c0 == 0 means one byte at a time, the split that most often exposes
// a parser that keeps state it should not; otherwise chunks of 1..c0 bytes.
class ChunkPlan {
public:
    ChunkPlan(std::uint8_t c0, std::uint8_t c1) noexcept
        : max_(c0), state_((static_cast<std::uint32_t>(c0) << 8 | c1) * 2654435761u | 1u) {}

    std::size_t next() noexcept {
        if (max_ == 0) return 1;
        // xorshift32: deterministic, no <random> distribution whose output could differ
        // between standard libraries (the corpus must replay the same everywhere).
        state_ ^= state_ << 13;
        state_ ^= state_ >> 17;
        state_ ^= state_ << 5;
        return 1 + state_ % max_;
    }

private:
    std::uint32_t max_;
    std::uint32_t state_;
};

// The bytes one parse() call may look at, placed so that they end exactly where an
// inaccessible page begins: a read one byte past them faults at once, in every build
// (the ordinary one that replays the corpus included), where reading on into the rest
// of the fuzzer's buffer would pass unnoticed. A guard page rather than an exactly
// sized heap copy per call: parsing byte by byte makes thousands of calls per input,
// and that many allocations only fill ASan's quarantine. One buffer, reused; a
// place() invalidates the views into what the previous one placed.
class GuardedBuffer {
public:
    GuardedBuffer() = default;
    GuardedBuffer(const GuardedBuffer&) = delete;
    GuardedBuffer& operator=(const GuardedBuffer&) = delete;
    ~GuardedBuffer() {
        if (base_) ::munmap(base_, size_ + page());
    }

    std::string_view place(std::string_view bytes) {
        if (bytes.size() > size_) grow(bytes.size());
        char* at = base_ + size_ - bytes.size();
        if (!bytes.empty()) std::memcpy(at, bytes.data(), bytes.size());
        return {at, bytes.size()};
    }

private:
    static std::size_t page() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

    void grow(std::size_t want) {
        if (base_) ::munmap(base_, size_ + page());
        size_ = (want + page() - 1) / page() * page();
        void* p = ::mmap(nullptr, size_ + page(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        FUZZ_CHECK(p != MAP_FAILED, "mmap failed");
        base_ = static_cast<char*>(p);
        FUZZ_CHECK(::mprotect(base_ + size_, page(), PROT_NONE) == 0, "mprotect failed");
    }

    char* base_ = nullptr;
    std::size_t size_ = 0;  // accessible bytes, a whole number of pages
};

// Where a view returned by a parser lies, as offsets into the stream, so that events
// parsed from different copies of the same bytes can be compared. An empty view has
// no position worth comparing (a parser may return a default-constructed one).
struct Span {
    std::size_t offset = SIZE_MAX;
    std::size_t size = 0;
    bool operator==(const Span& o) const noexcept { return offset == o.offset && size == o.size; }
    bool operator!=(const Span& o) const noexcept { return !(*this == o); }
};

// `view` must lie within the first `consumed` bytes of `buf`: an event's views point
// into the bytes that event consumed, never beyond them. `stream_offset` is where buf
// starts in the whole stream.
inline Span span_of(std::string_view view, const char* buf, std::size_t consumed,
                    std::size_t stream_offset, const char* what) {
    if (view.empty()) return {};
    const auto begin = reinterpret_cast<std::uintptr_t>(buf);
    const auto at = reinterpret_cast<std::uintptr_t>(view.data());
    FUZZ_CHECK(at >= begin && at - begin <= consumed && view.size() <= consumed - (at - begin),
               what);
    return {stream_offset + static_cast<std::size_t>(at - begin), view.size()};
}

}  // namespace mmc_fuzz

#endif  // MMC_TESTS_FUZZ_FUZZ_SUPPORT_H
