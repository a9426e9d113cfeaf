// Two pages, the second inaccessible: input placed so that it ends exactly at the
// boundary makes any read past its end fault, which is how the parser tests prove that
// no input is ever over-read.
#ifndef MMC_TEST_GUARD_PAGE_H
#define MMC_TEST_GUARD_PAGE_H

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string_view>

namespace mmc::test {

class GuardPage {
public:
    GuardPage() {
        page_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
        void* p = mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return;
        base_ = static_cast<char*>(p);
        if (mprotect(base_ + page_, page_, PROT_NONE) != 0) {
            munmap(base_, 2 * page_);
            base_ = nullptr;
        }
    }
    ~GuardPage() {
        if (base_ != nullptr) munmap(base_, 2 * page_);
    }
    GuardPage(const GuardPage&) = delete;
    GuardPage& operator=(const GuardPage&) = delete;

    bool ok() const { return base_ != nullptr; }
    std::size_t capacity() const { return page_; }

    // Copies bytes (at most capacity()) so that they end right at the guard page.
    std::string_view place(std::string_view bytes) {
        char* at = base_ + page_ - bytes.size();
        std::memcpy(at, bytes.data(), bytes.size());
        return {at, bytes.size()};
    }

private:
    std::size_t page_ = 0;
    char* base_ = nullptr;
};

}  // namespace mmc::test

#endif
