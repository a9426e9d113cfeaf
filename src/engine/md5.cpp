#include "engine/md5.h"

#include <cstring>
#include <utility>

#include "engine/md5_steps.h"

namespace mmc::engine {

namespace {

using md5_detail::load_le;

inline void store_le(std::uint32_t v, std::uint8_t* p) {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
    p[2] = static_cast<std::uint8_t>(v >> 16);
    p[3] = static_cast<std::uint8_t>(v >> 24);
}

void compress(std::uint32_t state[4], const std::uint8_t block[64]) {
    std::uint32_t x[16];
    for (int i = 0; i < 16; ++i) x[i] = load_le(block + 4 * i);
    std::uint32_t r[4] = {state[0], state[1], state[2], state[3]};
    md5_detail::steps(r, x, md5_detail::kT, std::make_index_sequence<64>{});
    for (int i = 0; i < 4; ++i) state[i] += r[i];
}

}  // namespace

Md5Digest md5(const void* data, std::size_t len) noexcept {
    std::uint32_t state[4] = {md5_detail::kInit[0], md5_detail::kInit[1], md5_detail::kInit[2],
                              md5_detail::kInit[3]};
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

std::uint32_t md5_first_word(const void* data, std::size_t len) noexcept {
    if (len > md5_detail::kOneBlock) {
        const Md5Digest d = md5(data, len);
        return load_le(d.data());
    }
    std::uint32_t x[16] = {};
    md5_detail::one_block(static_cast<const std::uint8_t*>(data), len,
                          [&](std::size_t w, std::uint32_t word) { x[w] = word; });
    std::uint32_t r[4] = {md5_detail::kInit[0], md5_detail::kInit[1], md5_detail::kInit[2],
                          md5_detail::kInit[3]};
    md5_detail::steps(r, x, md5_detail::kT, std::make_index_sequence<md5_detail::kStepsForFirstWord>{});
    return r[0] + md5_detail::kInit[0];
}

}  // namespace mmc::engine
