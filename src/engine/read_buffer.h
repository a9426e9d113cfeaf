// A growable receive buffer: bytes arrive at the tail, the parser consumes from the
// head. Grows only when a single reply needs more room (bounded by the value limit).
#ifndef MMC_ENGINE_READ_BUFFER_H
#define MMC_ENGINE_READ_BUFFER_H

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace mmc::engine {

class ReadBuffer {
public:
    static constexpr std::size_t kInitialSize = 16 * 1024;

    std::string_view view() const noexcept { return {data_.get() + begin_, end_ - begin_}; }
    bool empty() const noexcept { return begin_ == end_; }
    void consume(std::size_t n) noexcept {
        begin_ += n;
        if (begin_ == end_) begin_ = end_ = 0;
    }
    void clear() noexcept { begin_ = end_ = 0; }

    // Room for at least `want` more bytes at the tail; false only when memory is out.
    bool reserve_tail(std::size_t want) noexcept {
        if (cap_ - end_ >= want) return true;
        std::size_t used = end_ - begin_;
        if (begin_ > 0 && cap_ - used >= want) {
            std::memmove(data_.get(), data_.get() + begin_, used);
            begin_ = 0;
            end_ = used;
            return true;
        }
        std::size_t cap = cap_ ? cap_ : kInitialSize;
        while (cap - used < want) cap *= 2;
        std::unique_ptr<char[]> bigger(new (std::nothrow) char[cap]);
        if (!bigger) return false;
        if (used) std::memcpy(bigger.get(), data_.get() + begin_, used);
        data_ = std::move(bigger);
        cap_ = cap;
        begin_ = 0;
        end_ = used;
        return true;
    }
    char* tail() noexcept { return data_.get() + end_; }
    std::size_t tail_room() const noexcept { return cap_ - end_; }
    void commit(std::size_t n) noexcept { end_ += n; }

private:
    std::unique_ptr<char[]> data_;
    std::size_t cap_ = 0;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

}  // namespace mmc::engine

#endif
