// memcached's key rule, checked before any byte goes on the wire.
#include "proto/key.h"

#include <gtest/gtest.h>

#include <string>

namespace {

using mmc::proto::kMaxKeyLength;
using mmc::proto::valid_key;

TEST(ValidKey, AcceptsOrdinaryKey) { EXPECT_TRUE(valid_key("user:42")); }

TEST(ValidKey, AcceptsSingleByteKey) { EXPECT_TRUE(valid_key("a")); }

TEST(ValidKey, Accepts250Bytes) {
    EXPECT_EQ(kMaxKeyLength, 250u);
    EXPECT_TRUE(valid_key(std::string(250, 'k')));
}

TEST(ValidKey, Rejects251Bytes) { EXPECT_FALSE(valid_key(std::string(251, 'k'))); }

TEST(ValidKey, RejectsEmptyKey) { EXPECT_FALSE(valid_key("")); }

TEST(ValidKey, RejectsSpace) { EXPECT_FALSE(valid_key("a b")); }

TEST(ValidKey, RejectsCarriageReturn) { EXPECT_FALSE(valid_key("a\rb")); }

TEST(ValidKey, RejectsLineFeed) { EXPECT_FALSE(valid_key("a\nb")); }

TEST(ValidKey, RejectsTab) { EXPECT_FALSE(valid_key("a\tb")); }

TEST(ValidKey, RejectsNulByte) { EXPECT_FALSE(valid_key(std::string("a\0b", 3))); }

TEST(ValidKey, RejectsDel) { EXPECT_FALSE(valid_key("a\x7f" "b")); }

TEST(ValidKey, RejectsEveryControlCharacter) {
    for (int c = 0; c <= 0x20; ++c) {
        const std::string key = std::string("k") + static_cast<char>(c);
        EXPECT_FALSE(valid_key(key)) << "byte " << c;
    }
}

TEST(ValidKey, AcceptsEveryPrintableAsciiByte) {
    for (int c = 0x21; c < 0x7f; ++c) {
        EXPECT_TRUE(valid_key(std::string(1, static_cast<char>(c)))) << "byte " << c;
    }
}

TEST(ValidKey, AcceptsBytesFrom0x80) {
    for (int c = 0x80; c <= 0xff; ++c) {
        EXPECT_TRUE(valid_key(std::string(1, static_cast<char>(c)))) << "byte " << c;
    }
    EXPECT_TRUE(valid_key("caf\xc3\xa9"));  // UTF-8
}

TEST(ValidKey, RejectsCommandInjection) { EXPECT_FALSE(valid_key("a\r\ndelete victim")); }

// valid_key() checks eight bytes at a time; it must agree with the byte rule for every
// byte value at every position, in keys short and long (the last word overlaps).
TEST(ValidKey, WordCheckAgreesWithTheByteRuleEverywhere) {
    for (std::size_t len = 1; len <= 40; ++len) {
        for (std::size_t pos = 0; pos < len; ++pos) {
            for (int c = 0; c <= 0xff; ++c) {
                std::string key(len, 'k');
                key[pos] = static_cast<char>(c);
                const bool expected = c > 0x20 && c != 0x7f;
                ASSERT_EQ(valid_key(key), expected) << "length " << len << ", byte " << c
                                                    << " at " << pos;
            }
        }
    }
}

TEST(ValidKey, LongestKeyIsCheckedAtEveryPosition) {
    for (std::size_t pos = 0; pos < kMaxKeyLength; ++pos) {
        for (int c : {0x00, 0x09, 0x20, 0x7f, 0x21, 0x7e, 0x80, 0xff}) {
            std::string key(kMaxKeyLength, 'k');
            key[pos] = static_cast<char>(c);
            ASSERT_EQ(valid_key(key), c > 0x20 && c != 0x7f) << "byte " << c << " at " << pos;
        }
    }
}

TEST(ValidKey, BytesAroundTheLimitsNextToHighBytes) {
    // A borrow out of a 0x00 byte must not hide a bad byte elsewhere, and 0x80-0xff
    // neighbours must not look bad.
    EXPECT_TRUE(valid_key("\x80\x81\xfe\xff\x21\x7e\x80\xa0\x21"));
    EXPECT_FALSE(valid_key(std::string("\x21\x21\x21\x21\x21\x21\x21\x00\x7f", 9)));
    EXPECT_FALSE(valid_key(std::string("\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 9)));
    EXPECT_FALSE(valid_key(std::string(249, 'k') + " "));
    EXPECT_TRUE(valid_key(std::string(250, '\xff')));
}

}  // namespace
