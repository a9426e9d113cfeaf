// The lane-parallel MD5 of md5_lanes.h for a vector type V of N 32-bit lanes. Included
// by md5_lanes.cpp (4 lanes, baseline target) and md5_lanes_avx2.cpp (8 lanes, AVX2);
// internal linkage, so each keeps its own copy for its own target.
#ifndef MMC_ENGINE_MD5_LANES_IMPL_H
#define MMC_ENGINE_MD5_LANES_IMPL_H

#include <cstring>
#include <string_view>

#include "engine/md5.h"
#include "engine/md5_steps.h"

namespace mmc::engine::md5_detail {
namespace {

// kT with every constant in every lane.
template <class V>
struct LaneConstants {
    V t[64];
    LaneConstants() noexcept {
        for (int i = 0; i < 64; ++i) t[i] = V{} + kT[i];
    }
};

template <class V>
void first_words(const std::string_view* msgs, std::size_t n, std::uint32_t* out) noexcept {
    constexpr unsigned kLanes = sizeof(V) / sizeof(std::uint32_t);
    static const LaneConstants<V> constants;
    for (std::size_t base = 0; base < n; base += kLanes) {
        const std::size_t lanes = n - base < kLanes ? n - base : kLanes;
        // Laid out as plain words (a store into one lane of a vector costs several
        // instructions), then loaded as vectors.
        alignas(V) std::uint32_t words[16][kLanes] = {};
        for (unsigned l = 0; l < lanes; ++l) {
            const std::string_view m = msgs[base + l];
            if (m.size() > kOneBlock) continue;
            one_block(reinterpret_cast<const std::uint8_t*>(m.data()), m.size(),
                      [&](std::size_t w, std::uint32_t word) { words[w][l] = word; });
        }
        V x[16];
        std::memcpy(x, words, sizeof x);
        V r[4];
        for (int i = 0; i < 4; ++i) r[i] = V{} + kInit[i];
        steps(r, x, constants.t, std::make_index_sequence<kStepsForFirstWord>{});
        const V a = r[0] + kInit[0];
        for (unsigned l = 0; l < lanes; ++l) {
            const std::string_view m = msgs[base + l];
            out[base + l] = m.size() <= kOneBlock ? a[l] : md5_first_word(m.data(), m.size());
        }
    }
}

}  // namespace
}  // namespace mmc::engine::md5_detail

#endif
