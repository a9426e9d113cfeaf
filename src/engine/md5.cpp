#include "engine/md5.h"

#include <cstring>
#include <utility>

namespace mmc::engine {

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

// Left-rotation amounts: four per round, repeated over the round's 16 steps.
constexpr unsigned kShift[4][4] = {
    {7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};

inline std::uint32_t rotl(std::uint32_t x, unsigned n) { return (x << n) | (x >> (32u - n)); }

// Bytes are composed explicitly so the result is the same on any host byte order.
inline std::uint32_t load_le(const std::uint8_t* p) {
    return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
           (std::uint32_t{p[3]} << 24);
}

inline void store_le(std::uint32_t v, std::uint8_t* p) {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
    p[2] = static_cast<std::uint8_t>(v >> 16);
    p[3] = static_cast<std::uint8_t>(v >> 24);
}

// One of the 64 steps, everything but the data decided at compile time: ketama hashes
// every key, so the round's function, message word and shift must not be looked up or
// switched on at run time (that cost twice the instructions). The four registers change
// roles each step: step I updates r[(4 - I % 4) % 4] from the next three in turn.
template <unsigned I>
inline void step(std::uint32_t (&r)[4], const std::uint32_t (&x)[16]) {
    constexpr unsigned round = I / 16;
    constexpr unsigned ia = (4 - I % 4) % 4, ib = (ia + 1) % 4, ic = (ia + 2) % 4, id = (ia + 3) % 4;
    constexpr unsigned g = round == 0 ? I : round == 1 ? (5 * I + 1) % 16 : round == 2 ? (3 * I + 5) % 16 : (7 * I) % 16;
    const std::uint32_t b = r[ib], c = r[ic], d = r[id];
    std::uint32_t f;
    if constexpr (round == 0) {
        f = d ^ (b & (c ^ d));  // (b & c) | (~b & d)
    } else if constexpr (round == 1) {
        f = c ^ (d & (b ^ c));  // (b & d) | (c & ~d)
    } else if constexpr (round == 2) {
        f = b ^ c ^ d;
    } else {
        f = c ^ (b | ~d);
    }
    r[ia] = b + rotl(r[ia] + f + kT[I] + x[g], kShift[round][I % 4]);
}

template <std::size_t... I>
inline void all_steps(std::uint32_t (&r)[4], const std::uint32_t (&x)[16], std::index_sequence<I...>) {
    (step<static_cast<unsigned>(I)>(r, x), ...);
}

void compress(std::uint32_t state[4], const std::uint8_t block[64]) {
    std::uint32_t x[16];
    for (int i = 0; i < 16; ++i) x[i] = load_le(block + 4 * i);
    std::uint32_t r[4] = {state[0], state[1], state[2], state[3]};
    all_steps(r, x, std::make_index_sequence<64>{});
    for (int i = 0; i < 4; ++i) state[i] += r[i];
}

}  // namespace

Md5Digest md5(const void* data, std::size_t len) noexcept {
    std::uint32_t state[4] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
    const auto* p = static_cast<const std::uint8_t*>(data);

    std::size_t full = len / 64;
    for (std::size_t i = 0; i < full; ++i) compress(state, p + 64 * i);

    // The tail, the 0x80 marker and the bit length need one block, or two when fewer
    // than 9 bytes are left after the tail.
    // Only the blocks used are cleared: ketama hashes every key, and keys fit one block.
    std::uint8_t tail[128];
    const std::size_t rest = len % 64;
    const std::size_t tail_len = rest < 56 ? 64 : 128;
    std::memset(tail, 0, tail_len);
    if (rest != 0) std::memcpy(tail, p + 64 * full, rest);
    tail[rest] = 0x80;
    const std::uint64_t bits = static_cast<std::uint64_t>(len) * 8u;
    store_le(static_cast<std::uint32_t>(bits), tail + tail_len - 8);
    store_le(static_cast<std::uint32_t>(bits >> 32), tail + tail_len - 4);
    compress(state, tail);
    if (tail_len == 128) compress(state, tail + 64);

    Md5Digest out{};
    for (int i = 0; i < 4; ++i) store_le(state[i], out.data() + 4 * i);
    return out;
}

}  // namespace mmc::engine
