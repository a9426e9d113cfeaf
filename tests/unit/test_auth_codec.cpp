// The authentication codec: exact request bytes written into the caller's buffer and
// never past it, and what each reply means, read with the protocols' own parsers
// whether the bytes arrive whole, one at a time or split anywhere.
#include "codec_replay.h"
#include "guard_page.h"
#include "proto/auth_codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace mmc::proto;
using namespace std::string_literals;

std::string bytes(std::initializer_list<unsigned> list) {
    std::string s;
    for (unsigned b : list) s.push_back(static_cast<char>(b));
    return s;
}

std::string be32(std::uint32_t v) { return bytes({v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff}); }

// ---- requests ---------------------------------------------------------------------------

TEST(EncodeTextAuthProbe, WritesVersion) {
    char buf[32];
    const std::size_t n = encode_text_auth_probe(buf, sizeof buf);
    EXPECT_EQ(std::string(buf, n), "version\r\n");
    EXPECT_EQ(n, kTextAuthProbeSize);
}

TEST(EncodeTextAuthProbe, WritesNothingIntoABufferTooSmall) {
    char buf[kTextAuthProbeSize] = {};
    EXPECT_EQ(encode_text_auth_probe(buf, kTextAuthProbeSize - 1), 0u);
    EXPECT_EQ(std::string(buf, sizeof buf), std::string(sizeof buf, '\0'));
}

TEST(EncodeTextAuthSet, WritesASetWhoseDataIsUserSpacePassword) {
    char buf[64];
    const std::size_t n = encode_text_auth_set(buf, sizeof buf, "alice", "s3cret");
    EXPECT_EQ(std::string(buf, n), "set mmc-auth 0 0 12\r\nalice s3cret\r\n");
    EXPECT_EQ(n, text_auth_set_size("alice", "s3cret"));
}

TEST(EncodeTextAuthSet, SizeFollowsTheDigitsOfTheLength) {
    // 9 bytes of data (one digit), then 10 (two).
    EXPECT_EQ(text_auth_set_size("abcd", "efgh"), "set mmc-auth 0 0 9\r\nabcd efgh\r\n"s.size());
    EXPECT_EQ(text_auth_set_size("abcd", "efghi"), "set mmc-auth 0 0 10\r\nabcd efghi\r\n"s.size());
    const std::string pw(1024, 'p');
    char buf[2048];
    EXPECT_EQ(encode_text_auth_set(buf, sizeof buf, "u", pw), text_auth_set_size("u", pw));
    EXPECT_EQ(std::string(buf, 22), "set mmc-auth 0 0 1026\r");
}

TEST(EncodeTextAuthSet, FillsABufferOfExactlyItsSizeAndNotOneByteMore) {
    mmc::test::GuardPage guard;
    ASSERT_TRUE(guard.ok());
    const std::size_t size = text_auth_set_size("alice", "s3cret");
    char* at = const_cast<char*>(guard.place(std::string(size, 'x')).data());
    EXPECT_EQ(encode_text_auth_set(at, size, "alice", "s3cret"), size);
    EXPECT_EQ(std::string(at, size), "set mmc-auth 0 0 12\r\nalice s3cret\r\n");
}

TEST(EncodeTextAuthSet, WritesNothingIntoABufferOneByteShort) {
    std::string buf(64, 'x');
    const std::size_t size = text_auth_set_size("alice", "s3cret");
    EXPECT_EQ(encode_text_auth_set(buf.data(), size - 1, "alice", "s3cret"), 0u);
    EXPECT_EQ(buf, std::string(64, 'x'));
}

TEST(EncodeBinarySaslListMechs, WritesABareHeaderWithOpcode0x20) {
    char buf[64];
    const std::size_t n = encode_binary_sasl_list_mechs(buf, sizeof buf, 0x01020304);
    EXPECT_EQ(std::string(buf, n), bytes({0x80, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) + be32(0x01020304) +
                                       std::string(8, '\0'));
    EXPECT_EQ(encode_binary_sasl_list_mechs(buf, kBinarySaslListMechsSize - 1, 0), 0u);
}

TEST(EncodeBinarySaslPlain, WritesMechanismAsKeyAndNulSeparatedCredentialsAsValue) {
    char buf[128];
    const std::size_t n = encode_binary_sasl_plain(buf, sizeof buf, "alice", "s3cret", 7);
    // Key "PLAIN" (5), value "\0alice\0s3cret" (13): body 18.
    EXPECT_EQ(std::string(buf, n), bytes({0x80, 0x21, 0x00, 0x05, 0, 0, 0, 0}) + be32(18) + be32(7) +
                                       std::string(8, '\0') + "PLAIN" + "\0alice\0s3cret"s);
    EXPECT_EQ(n, binary_sasl_plain_size("alice", "s3cret"));
}

TEST(EncodeBinarySaslPlain, FillsABufferOfExactlyItsSizeAndRefusesOneByteLess) {
    mmc::test::GuardPage guard;
    ASSERT_TRUE(guard.ok());
    const std::size_t size = binary_sasl_plain_size("alice", "s3cret");
    char* at = const_cast<char*>(guard.place(std::string(size, 'x')).data());
    EXPECT_EQ(encode_binary_sasl_plain(at, size - 1, "alice", "s3cret", 0), 0u);
    EXPECT_EQ(std::string(at, size), std::string(size, 'x'));
    EXPECT_EQ(encode_binary_sasl_plain(at, size, "alice", "s3cret", 0), size);
}

// ---- text replies -----------------------------------------------------------------------

struct TextCase {
    const char* name;
    std::string input;
    AuthReply expected;
};

// What the final event of `chunks` (one reply to a request of `kind`) means; fails the
// test if the reply does not parse into exactly one final event using every byte.
AuthReply read_text(ReplyKind kind, AuthReply (*meaning)(const TextEvent&),
                    const std::vector<std::string>& chunks) {
    TextReplyParser parser;
    parser.expect(kind);
    std::string buf;
    for (const std::string& chunk : chunks) {
        buf += chunk;
        TextEvent ev;
        std::size_t used = 0;
        const ParseResult r = parser.parse(buf, ev, used);
        EXPECT_NE(r, ParseResult::error) << parser.error_message();
        if (r == ParseResult::event) {
            EXPECT_TRUE(ev.final);
            EXPECT_EQ(used, buf.size());
            return meaning(ev);
        }
    }
    ADD_FAILURE() << "no event";
    return AuthReply::unexpected;
}

void expect_text(ReplyKind kind, AuthReply (*meaning)(const TextEvent&), const std::vector<TextCase>& cases) {
    for (const TextCase& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(read_text(kind, meaning, codec_replay::whole(c.input)), c.expected);
        EXPECT_EQ(read_text(kind, meaning, codec_replay::bytewise(c.input)), c.expected);
        for (std::size_t pos = 0; pos <= c.input.size(); ++pos) {
            EXPECT_EQ(read_text(kind, meaning, codec_replay::split_at(c.input, pos)), c.expected) << pos;
        }
    }
}

TEST(TextAuthProbeReply, OnlyUnauthenticatedAsksForCredentials) {
    expect_text(kTextAuthProbeReply, text_auth_probe_reply,
                {
                    {"minus Y", "CLIENT_ERROR unauthenticated\r\n", AuthReply::asked},
                    {"no auth", "VERSION 1.6.18\r\n", AuthReply::not_asked},
                    {"too many", "ERROR Too many open connections\r\n", AuthReply::error_reply},
                    {"error", "ERROR\r\n", AuthReply::error_reply},
                    {"other client error", "CLIENT_ERROR line too long\r\n", AuthReply::error_reply},
                    {"server error", "SERVER_ERROR out of memory\r\n", AuthReply::error_reply},
                    {"near miss", "CLIENT_ERROR unauthenticated now\r\n", AuthReply::error_reply},
                });
}

TEST(TextAuthSetReply, OnlyAuthenticationFailureIsARefusal) {
    expect_text(kTextAuthSetReply, text_auth_set_reply,
                {
                    {"stored", "STORED\r\n", AuthReply::accepted},
                    {"refused", "CLIENT_ERROR authentication failure\r\n", AuthReply::refused},
                    {"too many", "ERROR Too many open connections\r\n", AuthReply::error_reply},
                    {"unauthenticated", "CLIENT_ERROR unauthenticated\r\n", AuthReply::error_reply},
                    {"server error", "SERVER_ERROR out of memory storing object\r\n", AuthReply::error_reply},
                    {"not stored", "NOT_STORED\r\n", AuthReply::unexpected},
                });
}

// ---- binary responses -------------------------------------------------------------------

std::string response(BinaryOpcode op, std::uint16_t status, const std::string& value) {
    BinaryHeader h;
    h.magic = kBinaryResponseMagic;
    h.opcode = static_cast<std::uint8_t>(op);
    h.vbucket_or_status = status;
    h.body_length = static_cast<std::uint32_t>(value.size());
    std::string out;
    encode_binary_header(out, h);
    return out + value;
}

struct BinaryCase {
    const char* name;
    std::string input;
    AuthReply expected;
};

AuthReply read_binary(AuthReply (*meaning)(const BinaryEvent&), const std::vector<std::string>& chunks) {
    BinaryReplyParser parser;
    std::string buf;
    for (const std::string& chunk : chunks) {
        buf += chunk;
        BinaryEvent ev;
        std::size_t used = 0;
        const ParseResult r = parser.parse(buf, ev, used);
        EXPECT_NE(r, ParseResult::error) << parser.error_message();
        if (r == ParseResult::event) {
            EXPECT_EQ(used, buf.size());
            return meaning(ev);
        }
    }
    ADD_FAILURE() << "no event";
    return AuthReply::unexpected;
}

void expect_binary(AuthReply (*meaning)(const BinaryEvent&), const std::vector<BinaryCase>& cases) {
    for (const BinaryCase& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(read_binary(meaning, codec_replay::whole(c.input)), c.expected);
        EXPECT_EQ(read_binary(meaning, codec_replay::bytewise(c.input)), c.expected);
        for (std::size_t pos = 0; pos <= c.input.size(); ++pos) {
            EXPECT_EQ(read_binary(meaning, codec_replay::split_at(c.input, pos)), c.expected) << pos;
        }
    }
}

TEST(BinarySaslListReply, OnlyAListNamingPlainAsksForCredentials) {
    using Op = BinaryOpcode;
    expect_binary(binary_sasl_list_reply,
                  {
                      {"plain", response(Op::sasl_list_mechs, 0, "PLAIN"), AuthReply::asked},
                      {"plain among others", response(Op::sasl_list_mechs, 0, "CRAM-MD5 PLAIN"), AuthReply::asked},
                      {"no plain", response(Op::sasl_list_mechs, 0, "CRAM-MD5 SCRAM-SHA-1"), AuthReply::not_asked},
                      {"prefix only", response(Op::sasl_list_mechs, 0, "PLAINTEXT"), AuthReply::not_asked},
                      {"empty list", response(Op::sasl_list_mechs, 0, ""), AuthReply::not_asked},
                      {"unknown command", response(Op::sasl_list_mechs, 0x81, "Unknown command"),
                       AuthReply::not_asked},
                      {"busy", response(Op::sasl_list_mechs, 0x85, "Busy"), AuthReply::error_reply},
                      {"other opcode", response(Op::noop, 0, ""), AuthReply::unexpected},
                  });
}

TEST(BinarySaslAuthReply, OnlyTheAuthErrorStatusIsARefusal) {
    using Op = BinaryOpcode;
    expect_binary(binary_sasl_auth_reply,
                  {
                      {"accepted", response(Op::sasl_auth, 0, "Authenticated"), AuthReply::accepted},
                      {"refused", response(Op::sasl_auth, 0x20, "Auth failure"), AuthReply::refused},
                      {"continue", response(Op::sasl_auth, 0x21, ""), AuthReply::error_reply},
                      {"temporary failure", response(Op::sasl_auth, 0x86, ""), AuthReply::error_reply},
                      {"out of memory", response(Op::sasl_auth, 0x82, "Out of memory"), AuthReply::error_reply},
                      {"other opcode", response(Op::sasl_list_mechs, 0x20, ""), AuthReply::unexpected},
                  });
}

TEST(SaslMechanismListed, MatchesWholeWordsOnly) {
    EXPECT_TRUE(sasl_mechanism_listed("PLAIN", "PLAIN"));
    EXPECT_TRUE(sasl_mechanism_listed("CRAM-MD5 PLAIN", "PLAIN"));
    EXPECT_TRUE(sasl_mechanism_listed("PLAIN CRAM-MD5", "PLAIN"));
    EXPECT_FALSE(sasl_mechanism_listed("PLAINX", "PLAIN"));
    EXPECT_FALSE(sasl_mechanism_listed("XPLAIN", "PLAIN"));
    EXPECT_FALSE(sasl_mechanism_listed("plain", "PLAIN"));
    EXPECT_FALSE(sasl_mechanism_listed("", "PLAIN"));
}

}  // namespace
