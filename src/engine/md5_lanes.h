// The first word of MD5 for many messages at once, one message per SIMD lane: ketama
// hashes every key of a multi-get, and hashing them side by side costs a fraction of
// hashing them one after another. The answer is always the same as md5_first_word's.
#ifndef MMC_ENGINE_MD5_LANES_H
#define MMC_ENGINE_MD5_LANES_H

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mmc::engine {

// out[i] = md5_first_word(msgs[i]) for every i < n. Messages of up to 55 bytes (one
// 64-byte block with the padding) go through the lanes, longer ones one at a time.
// Picks the widest lanes the CPU has (8 with AVX2, else 4). No allocation; thread-safe.
void md5_first_words(const std::string_view* msgs, std::size_t n, std::uint32_t* out) noexcept;

namespace md5_detail {
// The 4-lane version, for any CPU (md5_first_words picks it when AVX2 is missing).
void first_words_portable(const std::string_view* msgs, std::size_t n, std::uint32_t* out) noexcept;
// The 8-lane version, built for AVX2 (md5_lanes_avx2.cpp); call only when the CPU has it.
void first_words_avx2(const std::string_view* msgs, std::size_t n, std::uint32_t* out) noexcept;
}  // namespace md5_detail

}  // namespace mmc::engine

#endif
