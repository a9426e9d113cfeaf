// Key rules shared by both protocols.
#ifndef MMC_PROTO_KEY_H
#define MMC_PROTO_KEY_H

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace mmc::proto {

inline constexpr std::size_t kMaxKeyLength = 250;

// memcached's key rule: 1 to 250 bytes, none of them a space or a control character
// (0x00-0x20, 0x7f). Bytes >= 0x80 are allowed, as memcached allows them. Checked
// before any byte is sent, so a key can never inject a second command.
//
// Every request pays for this check, so it looks at sixteen bytes at a time with SSE2
// (keys of 16 bytes or more), otherwise eight at a time: a word has a
// byte below 0x21 when (w - 0x21..21) & ~w & 0x80..80 is not zero, and a DEL byte when
// w ^ 0x7f..7f has a zero byte. Both tests are exact about whether such a byte exists
// (a borrow can only mark bytes above one that really matches). Keys of 8 bytes or
// more are covered by whole words, the last one overlapping the one before it.
inline bool valid_key(std::string_view key) noexcept {
    const std::size_t n = key.size();
    if (n == 0 || n > kMaxKeyLength) return false;
    const char* p = key.data();
#if defined(__SSE2__)
    if (n >= 16) {
        // Sixteen at a time: c <= 0x20 exactly when min(c, 0x20) == c (unsigned).
        const __m128i space = _mm_set1_epi8(0x20);
        const __m128i del = _mm_set1_epi8(0x7f);
        auto bad_at = [&](std::size_t i) {
            const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
            const __m128i low = _mm_cmpeq_epi8(_mm_min_epu8(v, space), v);
            return _mm_movemask_epi8(_mm_or_si128(low, _mm_cmpeq_epi8(v, del))) != 0;
        };
        for (std::size_t i = 0; i + 16 < n; i += 16) {
            if (bad_at(i)) return false;
        }
        return !bad_at(n - 16);
    }
#endif
    if (n < 8) {
        for (std::size_t i = 0; i < n; ++i) {
            const auto c = static_cast<unsigned char>(p[i]);
            if (c <= 0x20 || c == 0x7f) return false;
        }
        return true;
    }
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
    auto bad = [](std::uint64_t w) {
        const std::uint64_t del = w ^ (0x7f * kOnes);
        return (((w - 0x21 * kOnes) & ~w) | ((del - kOnes) & ~del)) & kHighs;
    };
    std::uint64_t w;
    std::size_t i = 0;
    for (; i + 8 < n; i += 8) {
        std::memcpy(&w, p + i, 8);
        if (bad(w)) return false;
    }
    std::memcpy(&w, p + n - 8, 8);
    return bad(w) == 0;
}

}  // namespace mmc::proto

#endif  // MMC_PROTO_KEY_H
