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

TEST(ValidKey, IsUsableAtCompileTime) {
    static_assert(valid_key("k"));
    static_assert(!valid_key(""));
    SUCCEED();
}

}  // namespace
