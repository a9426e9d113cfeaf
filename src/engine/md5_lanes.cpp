#include "engine/md5_lanes.h"

#include "engine/md5_lanes_impl.h"

namespace mmc::engine {

namespace md5_detail {

namespace {
// Four 32-bit lanes: SSE2 on every x86-64, NEON on arm64, plain integers elsewhere.
typedef std::uint32_t U32x4 __attribute__((vector_size(16)));
}  // namespace

void first_words_portable(const std::string_view* msgs, std::size_t n, std::uint32_t* out) noexcept {
    first_words<U32x4>(msgs, n, out);
}

}  // namespace md5_detail

namespace {

using FirstWords = void (*)(const std::string_view*, std::size_t, std::uint32_t*) noexcept;

FirstWords pick() noexcept {
#if defined(MMC_MD5_AVX2)
    if (__builtin_cpu_supports("avx2")) return md5_detail::first_words_avx2;
#endif
    return md5_detail::first_words_portable;
}

}  // namespace

void md5_first_words(const std::string_view* msgs, std::size_t n, std::uint32_t* out) noexcept {
    if (n == 1) {
        // A single message: the lanes would only carry empty neighbours.
        out[0] = md5_first_word(msgs[0].data(), msgs[0].size());
        return;
    }
    static const FirstWords impl = pick();
    impl(msgs, n, out);
}

}  // namespace mmc::engine
