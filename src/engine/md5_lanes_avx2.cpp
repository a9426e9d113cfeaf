// Built with -mavx2 (src/engine/CMakeLists.txt); reached only after the CPU was found
// to have AVX2 (md5_lanes.cpp).
#include "engine/md5_lanes.h"

#include "engine/md5_lanes_impl.h"

namespace mmc::engine::md5_detail {

namespace {
typedef std::uint32_t U32x8 __attribute__((vector_size(32)));
}  // namespace

void first_words_avx2(const std::string_view* msgs, std::size_t n, std::uint32_t* out) noexcept {
    first_words<U32x8>(msgs, n, out);
}

}  // namespace mmc::engine::md5_detail
