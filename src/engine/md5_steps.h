// MD5's compression steps (RFC 1321), written once for any lane type: one std::uint32_t
// (md5.cpp, one message at a time) or a GCC/clang vector of them (md5_lanes*.cpp, one
// message per lane). Every step's round function, message word and shift are decided at
// compile time: ketama hashes every key, and a step that looks them up or switches on
// its round at run time costs twice the instructions.
//
// Everything here has internal linkage, so each source file that includes it gets its
// own copy compiled for its own target (md5_lanes_avx2.cpp is built with -mavx2, and its
// copy must never stand in for the one the baseline code calls).
#ifndef MMC_ENGINE_MD5_STEPS_H
#define MMC_ENGINE_MD5_STEPS_H

#include <cstddef>
#include <cstdint>
#include <utility>

namespace mmc::engine::md5_detail {
namespace {

// RFC 1321's T[i] = floor(abs(sin(i + 1)) * 2^32), written out rather than computed so
// the result never depends on the platform's sin().
constexpr std::uint32_t kT[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

// The initial state A, B, C, D.
constexpr std::uint32_t kInit[4] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};

// Left-rotation amounts: four per round, repeated over the round's 16 steps.
constexpr unsigned kShift[4][4] = {
    {7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};

template <unsigned N, class V>
[[gnu::always_inline]] inline V rotl(V x) {
    return (x << N) | (x >> (32u - N));
}

// Step I of 64. The four registers change roles each step: step I updates
// r[(4 - I % 4) % 4] from the next three in turn. t holds the constants kT as lane values
// (kT itself for one lane; for vectors each constant copied to every lane, so that a step
// adds it straight from memory instead of building it first).
template <unsigned I, class V>
[[gnu::always_inline]] inline void step(V (&r)[4], const V (&x)[16], const V (&t)[64]) {
    constexpr unsigned round = I / 16;
    constexpr unsigned ia = (4 - I % 4) % 4, ib = (ia + 1) % 4, ic = (ia + 2) % 4, id = (ia + 3) % 4;
    constexpr unsigned g = round == 0   ? I
                           : round == 1 ? (5 * I + 1) % 16
                           : round == 2 ? (3 * I + 5) % 16
                                        : (7 * I) % 16;
    const V b = r[ib], c = r[ic], d = r[id];
    V f;
    if constexpr (round == 0) {
        f = d ^ (b & (c ^ d));  // (b & c) | (~b & d)
    } else if constexpr (round == 1) {
        f = c ^ (d & (b ^ c));  // (b & d) | (c & ~d)
    } else if constexpr (round == 2) {
        f = b ^ c ^ d;
    } else {
        f = c ^ (b | ~d);
    }
    r[ia] = b + rotl<kShift[round][I % 4]>(r[ia] + f + t[I] + x[g]);
}

template <class V, std::size_t... I>
[[gnu::always_inline]] inline void steps(V (&r)[4], const V (&x)[16], const V (&t)[64],
                                         std::index_sequence<I...>) {
    (step<static_cast<unsigned>(I)>(r, x, t), ...);
}

// The steps after which register A (r[0]) holds its final value: step 60 is the last to
// write it. A caller that needs only the digest's first word (ketama's key hash) can
// stop there and skip the last three steps.
constexpr std::size_t kStepsForFirstWord = 61;

// Bytes are composed explicitly so the result is the same on any host byte order (the
// compiler turns this into one load on a little-endian host).
inline std::uint32_t load_le(const std::uint8_t* p) {
    return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
           (std::uint32_t{p[3]} << 24);
}

// Longest message that fits one block with its 0x80 marker and 8-byte bit length.
constexpr std::size_t kOneBlock = 55;

// Lays out a message of at most kOneBlock bytes as its one padded block: calls
// put(w, word) for the words that are not zero (the caller starts from zeros).
template <class Put>
[[gnu::always_inline]] inline void one_block(const std::uint8_t* p, std::size_t len, Put&& put) {
    const std::size_t words = len / 4, rest = len % 4;
    for (std::size_t w = 0; w < words; ++w) put(w, load_le(p + 4 * w));
    // The last 0-3 bytes and the 0x80 marker after them. From a message of 4 bytes or
    // more they are the top of the 4 bytes that end it.
    std::uint32_t last = 0x80u << (8 * rest);
    if (rest != 0 && len >= 4) {
        last |= load_le(p + len - 4) >> (8 * (4 - rest));
    } else {
        for (std::size_t i = 0; i < rest; ++i) last |= std::uint32_t{p[4 * words + i]} << (8 * i);
    }
    put(words, last);
    put(14, static_cast<std::uint32_t>(len * 8));  // the bit length's high word stays 0
}

}  // namespace
}  // namespace mmc::engine::md5_detail

#endif
