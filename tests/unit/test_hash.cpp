// The key hashes must be bit-for-bit apr-util's (and so zlib's and Perl
// Cache::Memcached's): key placement depends on them.
#include <gtest/gtest.h>

#include <string>

#include "engine/hash.h"

namespace mmc::engine {
namespace {

std::uint32_t crc(const std::string& s) { return crc32(s.data(), s.size()); }
std::uint32_t perl(const std::string& s) { return perl_hash(s.data(), s.size()); }

TEST(Crc32, MatchesTheStandardCheckValue) { EXPECT_EQ(crc("123456789"), 0xcbf43926u); }

TEST(Crc32, MatchesZlibForShortKeys) {
    EXPECT_EQ(crc("a"), 0xe8b7be43u);
    EXPECT_EQ(crc("foo"), 0x8c736521u);
}

TEST(Crc32, OfEmptyInputIsZero) { EXPECT_EQ(crc(""), 0u); }

TEST(PerlHash, MatchesAprUtilDefaultHash) {
    EXPECT_EQ(perl("a"), 26807u);
    EXPECT_EQ(perl("x"), 3292u);
    EXPECT_EQ(perl("123456789"), 19444u);
    EXPECT_EQ(perl("foo"), 3187u);
    EXPECT_EQ(perl("testmemcache"), 27716u);
}

TEST(PerlHash, StaysWithinFifteenBits) {
    for (int i = 0; i < 1000; ++i) EXPECT_LE(perl("key" + std::to_string(i)), 0x7fffu);
}

TEST(PerlHash, IsBinarySafe) {
    EXPECT_NE(perl(std::string("a\0b", 3)), perl("a"));
}

}  // namespace
}  // namespace mmc::engine
