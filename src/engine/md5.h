// MD5 (RFC 1321), for ketama: libmemcached places servers and keys on its ring by MD5,
// so ours must be bit-for-bit the same. Not for anything security-related.
#ifndef MMC_ENGINE_MD5_H
#define MMC_ENGINE_MD5_H

#include <array>
#include <cstddef>
#include <cstdint>

namespace mmc::engine {

using Md5Digest = std::array<std::uint8_t, 16>;

// The MD5 digest of data[0, len), in RFC 1321's byte order (the order of its hex
// rendering). Any bytes, any length; no allocation; thread-safe.
Md5Digest md5(const void* data, std::size_t len) noexcept;

// The digest's first four bytes read as a little-endian number: ketama's key hash.
// Cheaper than md5() for messages of up to 55 bytes (one block, and the last three
// steps, which do not touch that word, are skipped).
std::uint32_t md5_first_word(const void* data, std::size_t len) noexcept;

}  // namespace mmc::engine

#endif
