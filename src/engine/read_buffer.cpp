#include "engine/read_buffer.h"

#include <sys/mman.h>

#include <cstring>
#include <new>

namespace mmc::engine {

bool ReadBuffer::make_room(std::size_t want) noexcept {
    const std::size_t used = end_ - begin_;
    if (begin_ > 0 && cap_ - used >= want) {
        std::memmove(data_, data_ + begin_, used);
        begin_ = 0;
        end_ = used;
        return true;
    }
    std::size_t cap = cap_ ? cap_ : kInitialSize;
    while (cap - used < want) {
        if (cap > (static_cast<std::size_t>(-1) >> 2)) return false;
        cap *= 2;
    }
    return grow(cap);
}

bool ReadBuffer::grow(std::size_t cap) noexcept {
    const std::size_t used = end_ - begin_;
    if (begin_ > 0 && used > 0) std::memmove(data_, data_ + begin_, used);
    begin_ = 0;
    end_ = used;
    // No mremap(): ThreadSanitizer does not follow it, and a region moved by it would
    // carry the shadow of whatever was mapped there before. Doubling copies each byte
    // about once over a buffer's whole growth.
    char* bigger = nullptr;
    if (cap >= kMapFrom) {
        void* p = ::mmap(nullptr, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return false;
        bigger = static_cast<char*>(p);
    } else {
        bigger = new (std::nothrow) char[cap];
        if (!bigger) return false;
    }
    if (used) std::memcpy(bigger, data_, used);
    release();
    data_ = bigger;
    cap_ = cap;
    end_ = used;
    return true;
}

void ReadBuffer::release() noexcept {
    if (data_) {
        if (cap_ >= kMapFrom) {
            ::munmap(data_, cap_);
        } else {
            delete[] data_;
        }
    }
    data_ = nullptr;
    cap_ = begin_ = end_ = 0;
}

}  // namespace mmc::engine
