// Secret bytes (a password, a key) in memory of their own, wiped before that memory is
// given back: on destruction, on reassignment and by clear(). Never copied by accident
// (no copy constructor or assignment; clone() when a copy is meant), and moved by
// handing over the buffer, so no container growth, return or std::move leaves a stray
// copy behind: the moved-from object is empty.
//
// The bytes never pass through a std::string (whose growth and temporaries free
// memory without wiping it): callers build requests straight into data().
#ifndef MMC_ENGINE_SECRET_H
#define MMC_ENGINE_SECRET_H

#include <string.h>  // explicit_bzero

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>

namespace mmc::engine {

// Zeroes n bytes at p in a way the compiler may not drop as a dead store.
inline void wipe_bytes(void* p, std::size_t n) noexcept {
    if (p != nullptr && n != 0) ::explicit_bzero(p, n);
}

// Alloc: a stateless allocator of char (tests pass one that records what it is given
// back, to prove the wipe).
template <class Alloc = std::allocator<char>>
class BasicSecret {
    static_assert(std::is_empty_v<Alloc>, "a stateless allocator");
    using Traits = std::allocator_traits<Alloc>;

public:
    BasicSecret() noexcept = default;
    // `size` zero bytes, for the caller to fill through data().
    explicit BasicSecret(std::size_t size) { allocate(size); }
    // A copy of `bytes`; wiping the source is the caller's business.
    explicit BasicSecret(std::string_view bytes) {
        allocate(bytes.size());
        if (!bytes.empty()) std::memcpy(data_, bytes.data(), bytes.size());
    }
    ~BasicSecret() { release(); }

    BasicSecret(BasicSecret&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
    BasicSecret& operator=(BasicSecret&& other) noexcept {
        if (this != &other) {
            release();
            data_ = std::exchange(other.data_, nullptr);
            size_ = std::exchange(other.size_, 0);
        }
        return *this;
    }
    BasicSecret(const BasicSecret&) = delete;
    BasicSecret& operator=(const BasicSecret&) = delete;

    // A second owner of the same bytes, for the rare place that needs one.
    BasicSecret clone() const { return BasicSecret(view()); }

    // Wipes and frees the bytes; empty afterwards.
    void clear() noexcept { release(); }

    char* data() noexcept { return data_; }
    const char* data() const noexcept { return data_; }
    unsigned char* udata() noexcept { return reinterpret_cast<unsigned char*>(data_); }
    const unsigned char* udata() const noexcept { return reinterpret_cast<const unsigned char*>(data_); }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    std::string_view view() const noexcept { return {data_, size_}; }

private:
    void allocate(std::size_t size) {
        if (size == 0) return;
        Alloc a;
        data_ = Traits::allocate(a, size);
        size_ = size;
        std::memset(data_, 0, size);
    }
    void release() noexcept {
        if (data_ == nullptr) return;
        wipe_bytes(data_, size_);
        Alloc a;
        Traits::deallocate(a, data_, size_);
        data_ = nullptr;
        size_ = 0;
    }

    char* data_ = nullptr;
    std::size_t size_ = 0;
};

using Secret = BasicSecret<>;

}  // namespace mmc::engine

#endif
