// Key hashes: CRC-32 and the Perl Cache::Memcached hash apr-util uses for modula.
#ifndef MMC_ENGINE_HASH_H
#define MMC_ENGINE_HASH_H

#include <cstddef>
#include <cstdint>

namespace mmc::engine {

// IEEE CRC-32 (reflected, polynomial 0xEDB88320), identical to zlib's crc32().
std::uint32_t crc32(const char* data, std::size_t len) noexcept;

// (crc32 >> 16) & 0x7fff: Cache::Memcached's and apr-util's default key hash.
inline std::uint32_t perl_hash(const char* data, std::size_t len) noexcept {
    return (crc32(data, len) >> 16) & 0x7fffu;
}

}  // namespace mmc::engine

#endif
