// A growable receive buffer: bytes arrive at the tail, the parser consumes from the
// head. Grows only when a single reply needs more room (bounded by the value limit),
// and shrink() gives that room back once the buffer is empty, so a connection that
// once read a large value does not hold its size for the rest of its life.
//
// Small buffers come from the heap. Large ones are mapped pages of their own (mmap):
// freeing one always returns the memory to the system, whatever the allocator's
// thresholds have drifted to.
#ifndef MMC_ENGINE_READ_BUFFER_H
#define MMC_ENGINE_READ_BUFFER_H

#include <cstddef>
#include <string_view>

namespace mmc::engine {

class ReadBuffer {
public:
    static constexpr std::size_t kInitialSize = 16 * 1024;
    // Buffers of this size and above are mapped rather than allocated.
    static constexpr std::size_t kMapFrom = 256 * 1024;

    ReadBuffer() = default;
    ~ReadBuffer() { release(); }
    ReadBuffer(const ReadBuffer&) = delete;
    ReadBuffer& operator=(const ReadBuffer&) = delete;

    std::string_view view() const noexcept { return {data_ + begin_, end_ - begin_}; }
    bool empty() const noexcept { return begin_ == end_; }
    void consume(std::size_t n) noexcept {
        begin_ += n;
        if (begin_ == end_) begin_ = end_ = 0;
    }
    void clear() noexcept { begin_ = end_ = 0; }

    // Room for at least `want` more bytes at the tail; false only when memory is out.
    bool reserve_tail(std::size_t want) noexcept {
        return cap_ - end_ >= want || make_room(want);
    }
    char* tail() noexcept { return data_ + end_; }
    std::size_t tail_room() const noexcept { return cap_ - end_; }
    void commit(std::size_t n) noexcept { end_ += n; }

    // An empty buffer larger than kInitialSize lets its memory go (allocated again at
    // kInitialSize when next needed).
    void shrink() noexcept {
        if (empty() && cap_ > kInitialSize) release();
    }
    std::size_t capacity() const noexcept { return cap_; }

private:
    bool make_room(std::size_t want) noexcept;
    void release() noexcept;
    bool grow(std::size_t cap) noexcept;

    char* data_ = nullptr;
    std::size_t cap_ = 0;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

}  // namespace mmc::engine

#endif
