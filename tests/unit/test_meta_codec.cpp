// The meta protocol codec: exact request bytes, base64 keys, and reply parsing that
// gives the same events however the bytes arrive, fails cleanly on anything malformed,
// never reads past its input and never allocates.
#include "allocation_counter.h"
#include "codec_replay.h"
#include "guard_page.h"
#include "meta_requests.h"
#include "proto/meta_codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using namespace mmc::proto;
using namespace mmc::test_meta;
using namespace std::literals;

// The enums only grow at the end: code built against the earlier set keeps meaning the
// same thing.
static_assert(static_cast<int>(MetaEventType::value) == 0);
static_assert(static_cast<int>(MetaEventType::debug) == 7);
static_assert(static_cast<int>(MetaEventType::server_error) == 10);
static_assert(static_cast<int>(MetaFlag::lease_taken) == 11);
static_assert(static_cast<int>(MetaSetMode::prepend) == 4);

// ==== encoders ==========================================================================

std::string get_line(const MetaGetRequest& req) {
    std::string out;
    EXPECT_TRUE(encode_meta_get(out, req));
    return out;
}

MetaGetRequest get_of(std::string_view key) {
    MetaGetRequest r;
    r.key = key;
    return r;
}

TEST(EncodeMetaGet, KeyAloneAsksOnlyWhetherTheItemExists) {
    EXPECT_EQ(get_line(get_of("user:42")), "mg user:42\r\n");
}

TEST(EncodeMetaGet, WritesEveryBooleanFlagInTheDocumentedOrder) {
    MetaGetRequest r = get_of("k");
    r.value = r.return_key = r.return_flags = r.return_cas = r.return_ttl = true;
    r.return_size = r.return_last_access = r.return_hit_before = true;
    r.no_lru_bump = r.quiet = true;
    EXPECT_EQ(get_line(r), "mg k v k f c t s l h u q\r\n");
}

TEST(EncodeMetaGet, WritesOpaqueAndTimesAsTokens) {
    MetaGetRequest r = get_of("k");
    r.value = true;
    r.opaque = 7;
    r.vivify_ttl = 30;
    r.recache_ttl = 10;
    r.touch_ttl = 60;
    EXPECT_EQ(get_line(r), "mg k v O7 N30 R10 T60\r\n");
}

TEST(EncodeMetaGet, SendsAZeroTimeThatWasAskedFor) {
    // T0 makes the item immortal and N0 vivifies without expiry: both are meaningful.
    MetaGetRequest r = get_of("k");
    r.vivify_ttl = 0;
    r.touch_ttl = 0;
    r.opaque = 0;
    EXPECT_EQ(get_line(r), "mg k O0 N0 T0\r\n");
}

TEST(EncodeMetaGet, WritesLargestNumbersInFull) {
    MetaGetRequest r = get_of("k");
    r.opaque = 4294967295u;
    r.touch_ttl = kMaxMetaTtl;
    r.new_cas = 18446744073709551615u;
    EXPECT_EQ(get_line(r), "mg k O4294967295 T2147483647 E18446744073709551615\r\n");
}

// memcached keeps a time's low 32 bits as a signed number: 2^31 would be a negative
// time, and the item would expire at once.
TEST(EncodeMetaGet, RefusesATimeMemcachedWouldReadAsNegativeAndAppendsNothing) {
    for (int which = 0; which < 3; ++which) {
        MetaGetRequest r = get_of("k");
        std::optional<std::uint32_t>& t = which == 0 ? r.vivify_ttl : which == 1 ? r.recache_ttl : r.touch_ttl;
        t = kMaxMetaTtl + 1u;
        std::string out = "before";
        EXPECT_FALSE(encode_meta_get(out, r)) << which;
        t = 4294967295u;
        EXPECT_FALSE(encode_meta_get(out, r)) << which;
        EXPECT_EQ(out, "before");
    }
}

TEST(EncodeMetaGet, LeaseGetShape) {
    MetaGetRequest r = get_of("hot");
    r.value = r.return_flags = r.return_cas = true;
    r.vivify_ttl = 30;
    r.recache_ttl = 5;
    EXPECT_EQ(get_line(r), "mg hot v f c N30 R5\r\n");
}

TEST(EncodeMetaGet, Base64KeyIsEncodedAndFlaggedWithB) {
    MetaGetRequest r = get_of("a b\0c"sv);
    r.base64_key = true;
    r.value = true;
    EXPECT_EQ(get_line(r), "mg YSBiAGM= b v\r\n");
}

TEST(EncodeMetaGet, KeyLongerThanAnyLimitIsStillWrittenWhole) {
    // Keys are the caller's to check; a long one must not overrun anything here.
    const std::string key(5000, 'k');
    EXPECT_EQ(get_line(get_of(key)), "mg " + key + "\r\n");
    MetaGetRequest r = get_of(key);
    r.base64_key = true;
    EXPECT_EQ(get_line(r).size(), 3 + base64_encoded_size(key.size()) + 2 + 2);
}

TEST(EncodeMetaValueGet, WritesWhatTheGeneralEncoderWritesForThePlainGet) {
    for (const std::string& key : {std::string("k"), std::string("user:42"), std::string(250, 'x'),
                                   std::string(5000, 'y')}) {
        for (bool cas : {false, true}) {
            MetaGetRequest r = get_of(key);
            r.value = r.return_flags = true;
            r.return_cas = cas;
            std::string out = "before";
            encode_meta_value_get(out, key, cas);
            EXPECT_EQ(out, "before" + get_line(r)) << key.size() << " cas " << cas;
        }
    }
    std::string out;
    encode_meta_value_get(out, "user:42", true);
    EXPECT_EQ(out, "mg user:42 v f c\r\n");
}

TEST(EncodeMetaGetMulti, OneQuietGetPerKeyWithConsecutiveOpaquesThenNoop) {
    MetaGetRequest shape;
    shape.value = shape.return_key = shape.return_flags = true;
    const std::string_view keys[] = {"a", "bb", "ccc"};
    std::string out;
    ASSERT_TRUE(encode_meta_get_multi(out, shape, keys, 3, 5));
    EXPECT_EQ(out, "mg a v k f q O5\r\nmg bb v k f q O6\r\nmg ccc v k f q O7\r\nmn\r\n");
}

TEST(EncodeMetaGetMulti, OpaquesWrapAt32Bits) {
    MetaGetRequest shape;
    shape.value = true;
    const std::string_view keys[] = {"a", "b"};
    std::string out;
    ASSERT_TRUE(encode_meta_get_multi(out, shape, keys, 2, 4294967295u));
    EXPECT_EQ(out, "mg a v q O4294967295\r\nmg b v q O0\r\nmn\r\n");
}

TEST(EncodeMetaGetMulti, WithNoKeysAppendsNothing) {
    std::string out = "x";
    EXPECT_TRUE(encode_meta_get_multi(out, MetaGetRequest{}, nullptr, 0, 1));
    EXPECT_EQ(out, "x");
}

TEST(EncodeMetaGetMulti, RefusesATimeMemcachedWouldReadAsNegativeAndAppendsNothing) {
    MetaGetRequest shape;
    shape.touch_ttl = kMaxMetaTtl + 1u;
    const std::string_view keys[] = {"a", "b"};
    std::string out = "x";
    EXPECT_FALSE(encode_meta_get_multi(out, shape, keys, 2, 1));
    EXPECT_EQ(out, "x");
}

TEST(EncodeMetaGetMulti, Base64ShapeEncodesEveryKey) {
    MetaGetRequest shape;
    shape.base64_key = true;
    shape.value = true;
    const std::string_view keys[] = {"foo", "\n"};
    std::string out;
    ASSERT_TRUE(encode_meta_get_multi(out, shape, keys, 2, 1));
    EXPECT_EQ(out, "mg Zm9v b v q O1\r\nmg Cg== b v q O2\r\nmn\r\n");
}

MetaSetRequest set_of(std::string_view key) {
    MetaSetRequest r;
    r.key = key;
    return r;
}

std::string set_bytes(const MetaSetRequest& req, std::string_view data) {
    std::string out;
    EXPECT_TRUE(encode_meta_set(out, req, data));
    return out;
}

TEST(EncodeMetaSet, PlainSetIsKeyLengthAndData) {
    EXPECT_EQ(set_bytes(set_of("cow"), "moo"), "ms cow 3\r\nmoo\r\n");
}

TEST(EncodeMetaSet, SendsFlagsAndTtlWhenNotZero) {
    MetaSetRequest r = set_of("k");
    r.flags = 5;
    r.ttl = 60;
    EXPECT_EQ(set_bytes(r, "v"), "ms k 1 F5 T60\r\nv\r\n");
    r.flags = 4294967295u;
    r.ttl = kMaxMetaTtl;
    EXPECT_EQ(set_bytes(r, "v"), "ms k 1 F4294967295 T2147483647\r\nv\r\n");
}

TEST(EncodeMetaSet, RefusesATimeMemcachedWouldReadAsNegativeAndAppendsNothing) {
    MetaSetRequest r = set_of("k");
    r.ttl = kMaxMetaTtl + 1u;
    std::string out = "before";
    EXPECT_FALSE(encode_meta_set(out, r, "v"));
    EXPECT_FALSE(encode_meta_set_header(out, r, 1));
    EXPECT_EQ(out, "before");
}

TEST(EncodeMetaSet, EveryModeButSetIsAnMToken) {
    const std::pair<MetaSetMode, const char*> modes[] = {
        {MetaSetMode::set, "ms k 1\r\nv\r\n"},        {MetaSetMode::add, "ms k 1 ME\r\nv\r\n"},
        {MetaSetMode::replace, "ms k 1 MR\r\nv\r\n"}, {MetaSetMode::append, "ms k 1 MA\r\nv\r\n"},
        {MetaSetMode::prepend, "ms k 1 MP\r\nv\r\n"},
    };
    for (const auto& [mode, expected] : modes) {
        MetaSetRequest r = set_of("k");
        r.mode = mode;
        EXPECT_EQ(set_bytes(r, "v"), expected);
    }
}

TEST(EncodeMetaSet, CasIsACompareToken) {
    MetaSetRequest r = set_of("k");
    r.compare_cas = 18446744073709551615u;
    EXPECT_EQ(set_bytes(r, "v"), "ms k 1 C18446744073709551615\r\nv\r\n");
}

TEST(EncodeMetaSet, WritesEveryFlagInTheDocumentedOrder) {
    MetaSetRequest r = set_of("k");
    r.base64_key = false;
    r.return_cas = r.return_key = r.quiet = true;
    r.opaque = 9;
    r.flags = 1;
    r.ttl = 2;
    r.compare_cas = 3;
    r.new_cas = 4;
    r.invalidate = true;
    r.mode = MetaSetMode::replace;
    EXPECT_EQ(set_bytes(r, "v"), "ms k 1 c k q O9 F1 T2 C3 E4 I MR\r\nv\r\n");
}

TEST(EncodeMetaSet, Base64FlagFollowsTheLength) {
    MetaSetRequest r = set_of("foo");
    r.base64_key = true;
    EXPECT_EQ(set_bytes(r, "bar"), "ms Zm9v 3 b\r\nbar\r\n");
}

TEST(EncodeMetaSet, SendsBinaryAndEmptyDataUnchanged) {
    const std::string data = "a\r\nb\0c"s;
    EXPECT_EQ(set_bytes(set_of("k"), data), "ms k 6\r\n" + data + "\r\n");
    EXPECT_EQ(set_bytes(set_of("k"), ""), "ms k 0\r\n\r\n");
}

TEST(EncodeMetaSetHeader, WritesTheLineOnly) {
    std::string out;
    EXPECT_TRUE(encode_meta_set_header(out, set_of("k"), 1048576));
    EXPECT_EQ(out, "ms k 1048576\r\n");
}

TEST(EncodeMetaSetHeader, LongestLengthIsTheOneMemcachedStillReads) {
    std::string out;
    EXPECT_TRUE(encode_meta_set_header(out, set_of("k"), kMaxTextValueLength));
    EXPECT_EQ(out, "ms k 2147483645\r\n");
}

TEST(EncodeMetaSetHeader, RefusesALengthMemcachedCannotReadAndAppendsNothing) {
    std::string out = "before";
    EXPECT_FALSE(encode_meta_set_header(out, set_of("k"), kMaxTextValueLength + 1));
    EXPECT_FALSE(encode_meta_set_header(out, set_of("k"), std::numeric_limits<std::size_t>::max()));
    EXPECT_EQ(out, "before");
}

MetaDeleteRequest delete_of(std::string_view key) {
    MetaDeleteRequest r;
    r.key = key;
    return r;
}

std::string delete_line(const MetaDeleteRequest& req) {
    std::string out;
    EXPECT_TRUE(encode_meta_delete(out, req));
    return out;
}

TEST(EncodeMetaDelete, KeyAloneDeletes) { EXPECT_EQ(delete_line(delete_of("k")), "md k\r\n"); }

TEST(EncodeMetaDelete, InvalidateWithTtlMarksStale) {
    MetaDeleteRequest r = delete_of("k");
    r.invalidate = true;
    r.ttl = 30;
    EXPECT_EQ(delete_line(r), "md k I T30\r\n");
}

TEST(EncodeMetaDelete, WritesEveryFlagInTheDocumentedOrder) {
    MetaDeleteRequest r = delete_of("k");
    r.base64_key = true;
    r.return_key = r.quiet = true;
    r.opaque = 3;
    r.compare_cas = 77;
    r.new_cas = 78;
    r.invalidate = true;
    r.ttl = 0;
    EXPECT_EQ(delete_line(r), "md aw== b k q O3 C77 E78 I T0\r\n");
}

MetaArithmeticRequest arith_of(std::string_view key) {
    MetaArithmeticRequest r;
    r.key = key;
    return r;
}

std::string arith_line(const MetaArithmeticRequest& req) {
    std::string out;
    EXPECT_TRUE(encode_meta_arithmetic(out, req));
    return out;
}

TEST(EncodeMetaDelete, RefusesATimeMemcachedWouldReadAsNegativeAndAppendsNothing) {
    MetaDeleteRequest r = delete_of("k");
    r.invalidate = true;
    r.ttl = kMaxMetaTtl + 1u;
    std::string out = "before";
    EXPECT_FALSE(encode_meta_delete(out, r));
    EXPECT_EQ(out, "before");
}

TEST(EncodeMetaArithmetic, RefusesATimeMemcachedWouldReadAsNegativeAndAppendsNothing) {
    MetaArithmeticRequest r = arith_of("n");
    r.vivify_ttl = kMaxMetaTtl + 1u;
    std::string out = "before";
    EXPECT_FALSE(encode_meta_arithmetic(out, r));
    r.vivify_ttl = kMaxMetaTtl;
    r.ttl = kMaxMetaTtl + 1u;
    EXPECT_FALSE(encode_meta_arithmetic(out, r));
    EXPECT_EQ(out, "before");
}

TEST(EncodeMetaArithmetic, IncrementSendsItsDelta) {
    EXPECT_EQ(arith_line(arith_of("n")), "ma n D1\r\n");
    MetaArithmeticRequest r = arith_of("n");
    r.delta = 18446744073709551615u;
    EXPECT_EQ(arith_line(r), "ma n D18446744073709551615\r\n");
}

TEST(EncodeMetaArithmetic, DecrementIsModeD) {
    MetaArithmeticRequest r = arith_of("n");
    r.mode = MetaArithMode::decrement;
    r.delta = 5;
    EXPECT_EQ(arith_line(r), "ma n D5 MD\r\n");
}

TEST(EncodeMetaArithmetic, InitialValueGoesWithVivify) {
    MetaArithmeticRequest r = arith_of("n");
    r.vivify_ttl = 0;
    r.initial = 10;
    EXPECT_EQ(arith_line(r), "ma n N0 J10 D1\r\n");
    r.initial = 0;
    EXPECT_EQ(arith_line(r), "ma n N0 D1\r\n");
}

TEST(EncodeMetaArithmetic, InitialValueWithoutVivifyIsNotSent) {
    MetaArithmeticRequest r = arith_of("n");
    r.initial = 10;
    EXPECT_EQ(arith_line(r), "ma n D1\r\n");
}

TEST(EncodeMetaArithmetic, WritesEveryFlagInTheDocumentedOrder) {
    MetaArithmeticRequest r = arith_of("n");
    r.base64_key = true;
    r.value = r.return_key = r.return_cas = r.return_ttl = r.quiet = true;
    r.opaque = 1;
    r.vivify_ttl = 2;
    r.initial = 3;
    r.delta = 4;
    r.ttl = 5;
    r.compare_cas = 6;
    r.new_cas = 7;
    r.mode = MetaArithMode::decrement;
    EXPECT_EQ(arith_line(r), "ma bg== b v k c t q O1 N2 J3 D4 T5 C6 E7 MD\r\n");
}

TEST(EncodeMetaNoop, WritesMn) {
    std::string out;
    encode_meta_noop(out);
    EXPECT_EQ(out, "mn\r\n");
}

TEST(EncodeMetaDebug, WritesKeyAndBase64Flag) {
    std::string out;
    encode_meta_debug(out, "foo");
    encode_meta_debug(out, "foo", true);
    EXPECT_EQ(out, "me foo\r\nme Zm9v b\r\n");
}

TEST(MetaEncoders, AppendAfterExistingBytesForPipelining) {
    std::string out = "mn\r\n";
    ASSERT_TRUE(encode_meta_get(out, get_of("a")));
    ASSERT_TRUE(encode_meta_set(out, set_of("b"), "x"));
    ASSERT_TRUE(encode_meta_delete(out, delete_of("c")));
    ASSERT_TRUE(encode_meta_arithmetic(out, arith_of("d")));
    encode_meta_noop(out);
    EXPECT_EQ(out, "mn\r\nmg a\r\nms b 1\r\nx\r\nmd c\r\nma d D1\r\nmn\r\n");
}

// ==== keys and base64 ===================================================================

TEST(ValidMetaKey, PlainKeysFollowTheTextRule) {
    EXPECT_TRUE(valid_meta_key("user:42", false));
    EXPECT_TRUE(valid_meta_key(std::string(250, 'k'), false));
    EXPECT_FALSE(valid_meta_key(std::string(251, 'k'), false));
    EXPECT_FALSE(valid_meta_key("", false));
    EXPECT_FALSE(valid_meta_key("a b", false));
    EXPECT_FALSE(valid_meta_key("a\r\nmn", false));
    EXPECT_FALSE(valid_meta_key("a\x7f", false));
}

TEST(ValidMetaKey, Base64KeysMayHoldAnyBytesUpTo186) {
    EXPECT_TRUE(valid_meta_key("a b\r\n\0"s, true));
    EXPECT_TRUE(valid_meta_key(std::string(kMaxBase64KeyLength, '\0'), true));
    EXPECT_FALSE(valid_meta_key(std::string(kMaxBase64KeyLength + 1, 'k'), true));
    EXPECT_FALSE(valid_meta_key("", true));
}

TEST(ValidMetaKey, LongestBase64KeyFitsMemcachedsTokenLimit) {
    EXPECT_LE(base64_encoded_size(kMaxBase64KeyLength), kMaxKeyLength);
    EXPECT_GT(base64_encoded_size(kMaxBase64KeyLength + 1), kMaxKeyLength);
    EXPECT_EQ(base64_encoded_size(kMaxBase64KeyLength + 1), kMaxMetaKeyToken);
}

std::string b64(std::string_view in) {
    std::string out(base64_encoded_size(in.size()), '?');
    out.resize(base64_encode(in, out.data()));
    return out;
}

TEST(Base64, EncodesTheRfc4648Examples) {
    EXPECT_EQ(b64(""), "");
    EXPECT_EQ(b64("f"), "Zg==");
    EXPECT_EQ(b64("fo"), "Zm8=");
    EXPECT_EQ(b64("foo"), "Zm9v");
    EXPECT_EQ(b64("foob"), "Zm9vYg==");
    EXPECT_EQ(b64("fooba"), "Zm9vYmE=");
    EXPECT_EQ(b64("foobar"), "Zm9vYmFy");
    EXPECT_EQ(b64("\xfb\xff\xbf"), "+/+/");
}

TEST(Base64, DecodeInvertsEncodeForEveryLengthAndByte) {
    std::mt19937 rng(4242);
    std::uniform_int_distribution<int> byte(0, 255);
    for (std::size_t n = 1; n <= 200; ++n) {
        std::string in;
        for (std::size_t i = 0; i < n; ++i) in += static_cast<char>(byte(rng));
        const std::string enc = b64(in);
        ASSERT_EQ(enc.size(), base64_encoded_size(n));
        std::string dec(n, '?');
        std::size_t size = 0;
        ASSERT_TRUE(base64_decode(enc, dec.data(), dec.size(), size)) << n;
        EXPECT_EQ(size, n);
        EXPECT_EQ(dec, in);
    }
}

TEST(Base64, DecodeRefusesWhatIsNotWholeGroupsOfTheAlphabet) {
    char out[16];
    std::size_t size = 0;
    for (const char* bad : {"", "Zg=", "Zm9", "Zm9vY", "Z===", "Zg=a", "Z=g=", "Zm9v\n",
                            "Zm 9", "Zm9-", "Zm9_", "====", "Zg==Zg=="}) {
        EXPECT_FALSE(base64_decode(bad, out, sizeof out, size)) << bad;
    }
}

TEST(Base64, DecodeRefusesOutputLargerThanCapacity) {
    char out[3];
    std::size_t size = 0;
    EXPECT_TRUE(base64_decode("Zm9v", out, 3, size));
    EXPECT_EQ(size, 3u);
    EXPECT_FALSE(base64_decode("Zm9vYg==", out, 3, size));
    EXPECT_FALSE(base64_decode("Zg==", nullptr, 0, size));
}

// ==== owning copies of events, so they outlive the parsed buffer ========================

struct Event {
    MetaEventType type = MetaEventType::ok;
    std::uint16_t returned = 0;
    bool hit_before = false;
    std::uint32_t flags = 0;
    std::uint32_t size = 0;
    std::uint32_t last_access = 0;
    std::int64_t ttl = 0;
    std::uint64_t cas = 0;
    std::string key;
    std::string opaque;
    std::string data;

    bool operator==(const Event& o) const {
        return type == o.type && returned == o.returned && hit_before == o.hit_before &&
               flags == o.flags && size == o.size && last_access == o.last_access &&
               ttl == o.ttl && cas == o.cas && key == o.key && opaque == o.opaque &&
               data == o.data;
    }
};

const char* type_name(MetaEventType t) {
    static const char* const names[] = {"VA", "HD", "EN", "NS", "EX", "NF",
                                        "MN", "ME", "ERROR", "CLIENT_ERROR", "SERVER_ERROR"};
    return names[static_cast<int>(t)];
}

void PrintTo(const Event& e, std::ostream* os) {
    *os << "{" << type_name(e.type) << " returned=0x" << std::hex << e.returned << std::dec
        << " key=\"" << e.key << "\" opaque=\"" << e.opaque << "\" data=\"" << e.data
        << "\" flags=" << e.flags << " size=" << e.size << " l=" << e.last_access
        << " t=" << e.ttl << " cas=" << e.cas << " h=" << e.hit_before << "}";
}

Event own(const MetaEvent& ev) {
    Event e;
    e.type = ev.type;
    e.returned = ev.returned;
    e.hit_before = ev.hit_before;
    e.flags = ev.flags;
    e.size = ev.size;
    e.last_access = ev.last_access;
    e.ttl = ev.ttl;
    e.cas = ev.cas;
    e.key = std::string(ev.key);
    e.opaque = std::string(ev.opaque);
    e.data = std::string(ev.data);
    return e;
}

// Builds the expected event: R(MetaEventType::ok).cas(5).key("k").
class R {
public:
    explicit R(MetaEventType type, std::string data = {}) {
        e_.type = type;
        e_.data = std::move(data);
    }
    R& cas(std::uint64_t v) { return mark(MetaFlag::cas, e_.cas = v); }
    R& flags(std::uint32_t v) { return mark(MetaFlag::flags, e_.flags = v); }
    R& size(std::uint32_t v) { return mark(MetaFlag::size, e_.size = v); }
    R& last_access(std::uint32_t v) { return mark(MetaFlag::last_access, e_.last_access = v); }
    R& ttl(std::int64_t v) { return mark(MetaFlag::ttl, e_.ttl = v); }
    R& hit_before(bool v) { return mark(MetaFlag::hit_before, e_.hit_before = v); }
    R& key(std::string v) {
        e_.key = std::move(v);
        return mark(MetaFlag::key, 0);
    }
    R& opaque(std::string v) {
        e_.opaque = std::move(v);
        return mark(MetaFlag::opaque, 0);
    }
    R& base64() { return mark(MetaFlag::base64_key, 0); }
    R& won() { return mark(MetaFlag::won, 0); }
    R& stale() { return mark(MetaFlag::stale, 0); }
    R& lease_taken() { return mark(MetaFlag::lease_taken, 0); }
    R& debug_key(std::string v) {
        e_.key = std::move(v);
        return *this;
    }
    operator Event() const { return e_; }

private:
    template <class T>
    R& mark(MetaFlag f, T) {
        e_.returned |= static_cast<std::uint16_t>(1u << static_cast<unsigned>(f));
        return *this;
    }
    Event e_;
};

const MetaEventType VA = MetaEventType::value;
const MetaEventType HD = MetaEventType::ok;
const MetaEventType EN = MetaEventType::miss;
const MetaEventType NS = MetaEventType::not_stored;
const MetaEventType EX = MetaEventType::exists;
const MetaEventType NF = MetaEventType::not_found;
const MetaEventType MN = MetaEventType::noop;
const MetaEventType ME = MetaEventType::debug;

// ==== driving the parser the way a connection does =====================================

using Outcome = codec_replay::Outcome<Event>;
using codec_replay::bytewise;
using codec_replay::split_at;
using codec_replay::whole;

class Session {
public:
    Session(std::size_t max_value_size, bool short_path) : parser_(max_value_size), short_path_(short_path) {}

    // Parses every event `in` holds; returns the bytes consumed.
    std::size_t drain(std::string_view in) {
        std::size_t used = 0;
        while (!out_.failed) {
            MetaEvent ev;
            ev.cas = 0xdead;  // must survive anything but an event
            std::size_t consumed = 99;
            const std::string_view rest = in.substr(used);
            const ParseResult r =
                short_path_ ? parser_.parse(rest, ev, consumed) : parser_.parse_general(rest, ev, consumed);
            if (r != ParseResult::event) {
                EXPECT_EQ(consumed, 0u);
                EXPECT_EQ(ev.cas, 0xdeadu) << "ev written without an event";
                if (r == ParseResult::error) {
                    out_.failed = true;
                    out_.error = parser_.error_message();
                    EXPECT_FALSE(out_.error.empty());
                }
                break;
            }
            EXPECT_GT(consumed, 0u);
            EXPECT_LE(consumed, rest.size());
            for (std::string_view view : {ev.key, ev.opaque, ev.data}) {
                if (view.empty()) continue;
                EXPECT_GE(view.data(), rest.data());
                EXPECT_LE(view.data() + view.size(), rest.data() + consumed);
            }
            out_.events.push_back(own(ev));
            used += consumed;
        }
        return used;
    }

    Outcome finish(std::size_t leftover) {
        out_.leftover = leftover;
        return out_;
    }

private:
    MetaReplyParser parser_;
    bool short_path_;  // parse(), or its general path alone
    Outcome out_;
};

// Every input is parsed twice: as a connection does, and with the short path off. The
// two must agree event for event, error for error.
Outcome feed(const std::vector<std::string>& chunks,
             std::size_t max_value_size = kDefaultMaxValueSize) {
    Session general(max_value_size, false);
    const Outcome slow = codec_replay::feed(general, chunks);
    Session session(max_value_size, true);
    Outcome fast = codec_replay::feed(session, chunks);
    EXPECT_EQ(fast, slow) << "the short path and the general path disagree";
    return fast;
}

Outcome parse_all(const std::string& in, std::size_t max_value_size = kDefaultMaxValueSize) {
    return feed(whole(in), max_value_size);
}

Outcome completed(std::vector<Event> events) {
    Outcome o;
    o.events = std::move(events);
    return o;
}

Outcome one(Event e) { return completed({std::move(e)}); }

// ==== every reply kind ==================================================================

TEST(MetaValueReply, CarriesItsDataAndFlags) {
    EXPECT_EQ(parse_all("VA 5 f3 c99 t-1 s5 kfoo O12\r\nhello\r\n"),
              one(R(VA, "hello").flags(3).cas(99).ttl(-1).size(5).key("foo").opaque("12")));
}

TEST(MetaValueReply, WithoutFlagsIsTheDataAlone) {
    EXPECT_EQ(parse_all("VA 3\r\nmoo\r\n"), one(R(VA, "moo")));
}

TEST(MetaValueReply, EmptyValueHasEmptyData) {
    EXPECT_EQ(parse_all("VA 0 W\r\n\r\n"), one(R(VA).won()));
}

TEST(MetaValueReply, DataIsBinarySafeEvenWhenItLooksLikeAReply) {
    const std::string data = "\r\nMN\r\n\0VA 1\r\n"s;
    EXPECT_EQ(parse_all("VA " + std::to_string(data.size()) + "\r\n" + data + "\r\n"),
              one(R(VA, data)));
}

TEST(MetaValueReply, LengthEqualToMaxValueSizeIsAccepted) {
    EXPECT_EQ(parse_all("VA 16\r\n" + std::string(16, 'a') + "\r\n", 16),
              one(R(VA, std::string(16, 'a'))));
}

TEST(MetaValueReply, LengthAboveMaxValueSizeFailsBeforeAnyData) {
    MetaReplyParser p(16);
    MetaEvent ev;
    std::size_t consumed = 0;
    EXPECT_EQ(p.parse("VA 17 f0\r\n", ev, consumed), ParseResult::error);
    EXPECT_STREQ(p.error_message(), "value larger than max_value_size");
}

TEST(MetaValueReply, LengthOfMaxU64WithUnlimitedValueSizeWaitsWithoutOverflow) {
    MetaReplyParser p(std::numeric_limits<std::size_t>::max());
    MetaEvent ev;
    std::size_t consumed = 0;
    EXPECT_EQ(p.parse("VA 18446744073709551615\r\nabc", ev, consumed), ParseResult::need_more);
    EXPECT_EQ(consumed, 0u);
}

TEST(MetaValueReply, WaitsForItsTrailingCrlf) {
    MetaReplyParser p;
    MetaEvent ev;
    std::size_t consumed = 0;
    EXPECT_EQ(p.parse("VA 1\r\nx", ev, consumed), ParseResult::need_more);
    EXPECT_EQ(p.parse("VA 1\r\nx\r", ev, consumed), ParseResult::need_more);
    EXPECT_EQ(p.parse("VA 1\r\nx\r\n", ev, consumed), ParseResult::event);
    EXPECT_EQ(consumed, 9u);
}

TEST(MetaValueReply, ConsumesLineDataAndCrlfOnly) {
    MetaReplyParser p;
    MetaEvent ev;
    std::size_t consumed = 0;
    EXPECT_EQ(p.parse("VA 1 O1\r\nx\r\nHD O2\r\n", ev, consumed), ParseResult::event);
    EXPECT_EQ(consumed, 12u);
}

TEST(MetaValueReply, ArithmeticValueIsTheNumberInDecimal) {
    MetaReplyParser p;
    MetaEvent ev;
    std::size_t consumed = 0;
    ASSERT_EQ(p.parse("VA 20 c7\r\n18446744073709551615\r\n", ev, consumed), ParseResult::event);
    std::uint64_t n = 0;
    EXPECT_TRUE(parse_meta_number(ev.data, n));
    EXPECT_EQ(n, 18446744073709551615u);
}

TEST(MetaOkReply, AloneHasNoFlags) { EXPECT_EQ(parse_all("HD\r\n"), one(R(HD))); }

TEST(MetaOkReply, CarriesMetadataOfAHitWithoutValue) {
    EXPECT_EQ(parse_all("HD f0 s3 t4294967295 l12 h1 c1\r\n"),
              one(R(HD).flags(0).size(3).ttl(4294967295).last_access(12).hit_before(true).cas(1)));
    EXPECT_EQ(parse_all("HD h0\r\n"), one(R(HD).hit_before(false)));
}

TEST(MetaOkReply, LeaseFlagsComeAsLettersAlone) {
    EXPECT_EQ(parse_all("HD W\r\n"), one(R(HD).won()));
    EXPECT_EQ(parse_all("HD Z\r\n"), one(R(HD).lease_taken()));
    EXPECT_EQ(parse_all("HD X W\r\n"), one(R(HD).stale().won()));
    EXPECT_EQ(parse_all("VA 1 c5 Z X\r\nv\r\n"), one(R(VA, "v").cas(5).lease_taken().stale()));
}

TEST(MetaOkReply, Base64KeyComesWithB) {
    EXPECT_EQ(parse_all("HD kYSBiAGM= b\r\n"), one(R(HD).key("YSBiAGM=").base64()));
}

TEST(MetaOkReply, Base64KeyMayBeLongerThanAPlainOne) {
    const std::string token(kMaxMetaKeyToken, 'A');
    EXPECT_EQ(parse_all("HD k" + token + " b\r\n"), one(R(HD).key(token).base64()));
}

TEST(MetaOkReply, OpaqueMayBeEmptyOrHold32Bytes) {
    EXPECT_EQ(parse_all("HD O\r\n"), one(R(HD).opaque("")));
    const std::string longest(kMaxMetaOpaqueLength, 'o');
    EXPECT_EQ(parse_all("HD O" + longest + "\r\n"), one(R(HD).opaque(longest)));
}

TEST(MetaOkReply, FlagsANewerServerAddsAreSkipped) {
    EXPECT_EQ(parse_all("HD O1 Qwhatever x E5 y\r\n"), one(R(HD).opaque("1")));
    EXPECT_EQ(parse_all("HD x x\r\n"), one(R(HD)));
}

TEST(MetaMissReply, AloneIsAMiss) { EXPECT_EQ(parse_all("EN\r\n"), one(R(EN))); }

TEST(MetaMissReply, CarriesOpaqueAndKey) {
    EXPECT_EQ(parse_all("EN O9 kfoo\r\n"), one(R(EN).opaque("9").key("foo")));
}

TEST(MetaStoreReplies, EachCodeIsItsOwnEvent) {
    EXPECT_EQ(parse_all("NS\r\n"), one(R(NS)));
    EXPECT_EQ(parse_all("EX O1\r\n"), one(R(EX).opaque("1")));
    EXPECT_EQ(parse_all("NF kfoo\r\n"), one(R(NF).key("foo")));
    EXPECT_EQ(parse_all("HD c18446744073709551615\r\n"), one(R(HD).cas(18446744073709551615u)));
}

TEST(MetaNoopReply, IsMn) { EXPECT_EQ(parse_all("MN\r\n"), one(R(MN))); }

TEST(MetaDebugReply, KeyAndTheRestOfTheLine) {
    EXPECT_EQ(parse_all("ME foo exp=-1 la=3 cas=2 fetch=no cls=1 size=63\r\n"),
              one(R(ME, "exp=-1 la=3 cas=2 fetch=no cls=1 size=63").debug_key("foo")));
    EXPECT_EQ(parse_all("ME foo\r\n"), one(R(ME).debug_key("foo")));
}

TEST(MetaErrorReply, ErrorLinesCarryTheirMessage) {
    EXPECT_EQ(parse_all("ERROR\r\n"), one(R(MetaEventType::error)));
    EXPECT_EQ(parse_all("ERROR unknown command\r\n"), one(R(MetaEventType::error, "unknown command")));
    EXPECT_EQ(parse_all("CLIENT_ERROR bad command line format\r\n"),
              one(R(MetaEventType::client_error, "bad command line format")));
    EXPECT_EQ(parse_all("CLIENT_ERROR\r\n"), one(R(MetaEventType::client_error)));
    EXPECT_EQ(parse_all("SERVER_ERROR out of memory storing object\r\n"),
              one(R(MetaEventType::server_error, "out of memory storing object")));
}

TEST(ParseMetaNumber, DigitsOnlyUpTo64Bits) {
    std::uint64_t n = 7;
    EXPECT_TRUE(parse_meta_number("0", n));
    EXPECT_EQ(n, 0u);
    EXPECT_TRUE(parse_meta_number("18446744073709551615", n));
    EXPECT_EQ(n, 18446744073709551615u);
    for (const char* bad : {"", "18446744073709551616", "-1", "+1", " 1", "1 ", "1a"}) {
        EXPECT_FALSE(parse_meta_number(bad, n)) << bad;
    }
}

// ==== the parser's contract =============================================================

TEST(MetaReplyParser, EmptyInputNeedsMore) {
    MetaReplyParser p;
    MetaEvent ev;
    std::size_t consumed = 5;
    EXPECT_EQ(p.parse("", ev, consumed), ParseResult::need_more);
    EXPECT_EQ(consumed, 0u);
}

TEST(MetaReplyParser, PartialLineNeedsMoreAndConsumesNothing) {
    MetaReplyParser p;
    MetaEvent ev;
    std::size_t consumed = 5;
    for (const char* partial : {"H", "HD", "HD c1", "HD c1\r", "VA 3 f1\r\nab"}) {
        EXPECT_EQ(p.parse(partial, ev, consumed), ParseResult::need_more) << partial;
        EXPECT_EQ(consumed, 0u);
    }
}

TEST(MetaReplyParser, EventWritesEveryFieldAfresh) {
    MetaReplyParser p;
    MetaEvent ev;
    std::size_t consumed = 0;
    ASSERT_EQ(p.parse("VA 1 f1 c2 t3 s1 l4 h1 kk Oo b W X Z\r\nv\r\n", ev, consumed), ParseResult::event);
    ASSERT_EQ(p.parse("HD\r\n", ev, consumed), ParseResult::event);
    EXPECT_EQ(own(ev), Event(R(HD)));
}

TEST(MetaReplyParser, ErrorIsStickyUntilReset) {
    MetaReplyParser p;
    MetaEvent ev;
    std::size_t consumed = 0;
    EXPECT_EQ(p.parse("XX\r\n", ev, consumed), ParseResult::error);
    EXPECT_STREQ(p.error_message(), "unknown reply code");
    EXPECT_EQ(p.parse("HD\r\n", ev, consumed), ParseResult::error);
    EXPECT_EQ(p.parse("", ev, consumed), ParseResult::error);
    EXPECT_EQ(consumed, 0u);
    p.reset();
    EXPECT_STREQ(p.error_message(), "");
    EXPECT_EQ(p.parse("HD\r\n", ev, consumed), ParseResult::event);
}

TEST(MetaReplyParser, LineOfExactlyMaxLengthIsAccepted) {
    const std::string line = "HD " + std::string(kMaxLineLength - 5, 'x');
    ASSERT_EQ(line.size() + 2, kMaxLineLength);
    EXPECT_EQ(parse_all(line + "\r\n"), one(R(HD)));
}

TEST(MetaReplyParser, LineOneByteOverMaxLengthIsAnError) {
    const Outcome o = parse_all("HD " + std::string(kMaxLineLength - 4, 'x') + "\r\n");
    EXPECT_TRUE(o.failed);
    EXPECT_EQ(o.error, "reply line too long");
}

TEST(MetaReplyParser, LineWithoutCrlfFailsOnceItCanNoLongerFit) {
    MetaReplyParser p;
    MetaEvent ev;
    std::size_t consumed = 0;
    const std::string almost(kMaxLineLength - 2, 'x');
    EXPECT_EQ(p.parse(almost, ev, consumed), ParseResult::need_more);
    EXPECT_EQ(p.parse(almost + "\r", ev, consumed), ParseResult::need_more);
    EXPECT_EQ(p.parse(almost + "x", ev, consumed), ParseResult::error);
    EXPECT_STREQ(p.error_message(), "reply line too long");
}

// ==== the same events however the bytes arrive ==========================================

struct Replay {
    const char* name;
    std::string input;
    std::vector<Event> events;
};

const std::vector<Replay>& replays() {
    static const std::vector<Replay> table = [] {
        const std::string tricky = "\r\nMN\r\n\0\r"s;
        std::vector<Replay> t;
        t.push_back({"hit", "VA 3 f5 c9\r\nmoo\r\n", {R(VA, "moo").flags(5).cas(9)}});
        t.push_back({"miss", "EN\r\n", {R(EN)}});
        t.push_back({"quiet_multi_get",
                     "VA 1 ka f0 O5\r\nx\r\nVA 0 kccc f7 O7\r\n\r\nVA " +
                         std::to_string(tricky.size()) + " kd f1 O8\r\n" + tricky + "\r\nMN\r\n",
                     {R(VA, "x").key("a").flags(0).opaque("5"),
                      R(VA, "").key("ccc").flags(7).opaque("7"),
                      R(VA, tricky).key("d").flags(1).opaque("8"), R(MN)}});
        t.push_back({"lease_cycle",
                     "EN\r\nVA 0 c3 W\r\n\r\nVA 0 c3 Z\r\n\r\nHD c4\r\nVA 3 c4\r\nnew\r\n"
                     "HD\r\nVA 3 c5 X W\r\nnew\r\nVA 3 c5 X Z\r\nnew\r\n",
                     {R(EN), R(VA).cas(3).won(), R(VA).cas(3).lease_taken(), R(HD).cas(4),
                      R(VA, "new").cas(4), R(HD), R(VA, "new").cas(5).stale().won(),
                      R(VA, "new").cas(5).stale().lease_taken()}});
        t.push_back({"metadata",
                     "HD t-1 l0 h0 s3\r\nHD t60 l5 h1 s3\r\nME k exp=-1 la=0 cas=1 fetch=no "
                     "cls=1 size=63\r\nEN\r\n",
                     {R(HD).ttl(-1).last_access(0).hit_before(false).size(3),
                      R(HD).ttl(60).last_access(5).hit_before(true).size(3),
                      R(ME, "exp=-1 la=0 cas=1 fetch=no cls=1 size=63").debug_key("k"), R(EN)}});
        t.push_back({"store_outcomes", "HD c1\r\nNS\r\nEX\r\nNF\r\nHD O4 kk\r\n",
                     {R(HD).cas(1), R(NS), R(EX), R(NF), R(HD).opaque("4").key("k")}});
        t.push_back({"arithmetic", "HD\r\nVA 2 c9 t-1\r\n42\r\nNF\r\nNS\r\nEX\r\n",
                     {R(HD), R(VA, "42").cas(9).ttl(-1), R(NF), R(NS), R(EX)}});
        t.push_back({"errors_among_replies",
                     "HD\r\nCLIENT_ERROR bad data chunk\r\nERROR\r\nSERVER_ERROR busy\r\nMN\r\n",
                     {R(HD), R(MetaEventType::client_error, "bad data chunk"),
                      R(MetaEventType::error), R(MetaEventType::server_error, "busy"), R(MN)}});
        t.push_back({"base64_keys", "VA 1 kYSBiAGM= b\r\n\0\r\nEN kCg== b O1\r\n"s,
                     {R(VA, "\0"s).key("YSBiAGM=").base64(), R(EN).key("Cg==").base64().opaque("1")}});
        return t;
    }();
    return table;
}

void replay_all(codec_replay::Arrival how) {
    codec_replay::expect_replays(
        replays(), how, [](const Replay&, const std::vector<std::string>& chunks) { return feed(chunks); },
        [](const Replay& r) { return completed(r.events); });
}

TEST(MetaReplay, WholeInputGivesTheExpectedEvents) { replay_all(codec_replay::Arrival::whole); }

TEST(MetaReplay, OneByteAtATimeGivesTheSameEvents) { replay_all(codec_replay::Arrival::bytewise); }

TEST(MetaReplay, SplitAtEveryPositionGivesTheSameEvents) {
    replay_all(codec_replay::Arrival::split_everywhere);
}

// ==== malformed replies =================================================================

using codec_replay::Malformed;

class MalformedMetaReply : public ::testing::TestWithParam<Malformed> {};

// Whole, byte by byte and split at every position: always the same error, after the
// same events.
TEST_P(MalformedMetaReply, IsTheSameErrorHoweverItArrives) {
    const Malformed& m = GetParam();
    codec_replay::expect_same_failure(m.input, m.error, m.events_before_error,
                                      [&](const std::vector<std::string>& chunks) {
                                          return feed(chunks, m.max_value_size);
                                      });
}

const char* const kUnknown = "unknown reply code";
const char* const kEmptyFlag = "empty flag in reply line";

const Malformed kMalformed[] = {
    // codes
    {"UnknownCode", "XX\r\n", kUnknown},
    {"LowercaseCode", "hd\r\n", kUnknown},
    {"TextProtocolReply", "STORED\r\n", kUnknown},
    {"TextValueLine", "VALUE k 0 1\r\na\r\nEND\r\n", kUnknown},
    {"CodeGluedToFlag", "HDc1\r\n", kUnknown},
    {"OneLetter", "H\r\n", kUnknown},
    {"EmptyLine", "\r\n", kUnknown},
    {"ErrorGluedToNextWord", "ERRORS\r\n", kUnknown},
    {"ClientErrorGluedToMessage", "CLIENT_ERRORbad\r\n", kUnknown},
    {"NoopWithFlag", "MN O1\r\n", "malformed MN line"},
    {"NoopWithTrailingSpace", "MN \r\n", "malformed MN line"},
    // line framing
    {"BareLf", "HD\n", "bare LF without CR"},
    {"CrLfReversed", "HD\n\r", "bare LF without CR"},
    {"StrayCrInsideLine", "H\rD\r\n", "CR not followed by LF"},
    {"LineWithoutCrlfLongerThanMaximum", std::string(kMaxLineLength + 100, 'A'), "reply line too long"},
    // VA line
    {"ValueWithoutLength", "VA\r\n\r\n", "VA line without a length"},
    {"ValueWithEmptyLength", "VA \r\n\r\n", "malformed length in VA line"},
    {"ValueLengthNotDigits", "VA x\r\n\r\n", "malformed length in VA line"},
    {"ValueLengthNegative", "VA -1\r\n\r\n", "malformed length in VA line"},
    {"ValueLengthWithPlus", "VA +1\r\na\r\n", "malformed length in VA line"},
    {"ValueLengthOver64Bits", "VA 18446744073709551616\r\n", "length in VA line exceeds 64 bits"},
    {"ValueLengthOver64BitsThenLetter", "VA 18446744073709551616x\r\n", "malformed length in VA line"},
    {"ValueLength2Pow63", "VA 9223372036854775808\r\n", "value larger than max_value_size"},
    {"ValueLengthOneOverMaxValueSize", "VA 17\r\n" + std::string(17, 'a') + "\r\n",
     "value larger than max_value_size", 0, 16},
    {"ValueDoubleSpaceBeforeLength", "VA  1\r\na\r\n", "malformed length in VA line"},
    {"ValueTrailingSpace", "VA 1 \r\na\r\n", kEmptyFlag},
    {"ValueDataLongerThanLength", "VA 1\r\nab\r\n", "value data not followed by CRLF"},
    {"ValueDataShorterThanLength", "VA 3\r\nab\r\nHD\r\n", "value data not followed by CRLF"},
    {"ValueDataFollowedByBareLf", "VA 1\r\na\nHD\r\n", "value data not followed by CRLF"},
    {"ValueDataFollowedByCrOnly", "VA 1\r\na\rHD\r\n", "value data not followed by CRLF"},
    {"ValueWithBadFlagFailsBeforeData", "VA 1 c\r\n", "malformed c (cas) flag"},
    // flag shapes
    {"DoubleSpaceBetweenFlags", "HD c1  f2\r\n", kEmptyFlag},
    {"TrailingSpace", "HD \r\n", kEmptyFlag},
    {"FlagStartingWithDigit", "HD 5\r\n", "reply flag does not start with a letter"},
    {"FlagStartingWithPunctuation", "HD -1\r\n", "reply flag does not start with a letter"},
    {"FlagStartingWithHighByte", "HD \xff\r\n", "reply flag does not start with a letter"},
    {"RepeatedFlag", "HD c1 c2\r\n", "flag repeated in reply line"},
    {"RepeatedWon", "HD W W\r\n", "flag repeated in reply line"},
    // numeric flags
    {"CasEmpty", "HD c\r\n", "malformed c (cas) flag"},
    {"CasNotDigits", "HD c12z\r\n", "malformed c (cas) flag"},
    {"CasOver64Bits", "HD c18446744073709551616\r\n", "c (cas) flag exceeds 64 bits"},
    {"FlagsOver32Bits", "HD f4294967296\r\n", "f (flags) flag exceeds 32 bits"},
    {"FlagsNegative", "HD f-1\r\n", "malformed f (flags) flag"},
    {"SizeOver32Bits", "HD s4294967296\r\n", "s (size) flag exceeds 32 bits"},
    {"SizeEmpty", "HD s\r\n", "malformed s (size) flag"},
    {"LastAccessOver32Bits", "HD l99999999999\r\n", "l (last access) flag exceeds 32 bits"},
    {"LastAccessNotDigits", "HD l1.5\r\n", "malformed l (last access) flag"},
    {"TtlOver32Bits", "HD t4294967296\r\n", "t (ttl) flag exceeds 32 bits"},
    {"TtlMinusTwo", "HD t-2\r\n", "malformed t (ttl) flag"},
    {"TtlMinusAlone", "HD t-\r\n", "malformed t (ttl) flag"},
    {"TtlEmpty", "HD t\r\n", "malformed t (ttl) flag"},
    {"HitBeforeTwo", "HD h2\r\n", "malformed h (hit before) flag"},
    {"HitBeforeEmpty", "HD h\r\n", "malformed h (hit before) flag"},
    {"HitBeforeTwoDigits", "HD h10\r\n", "malformed h (hit before) flag"},
    // letter flags, key and opaque
    {"WonWithToken", "HD W1\r\n", "malformed b, W, X or Z flag in reply line"},
    {"StaleWithToken", "HD Xx\r\n", "malformed b, W, X or Z flag in reply line"},
    {"Base64WithToken", "HD kfoo b64\r\n", "malformed b, W, X or Z flag in reply line"},
    {"EmptyKey", "HD k\r\n", "empty k (key) flag"},
    {"KeyOf251BytesWithoutB", "HD k" + std::string(251, 'k') + "\r\n", "k (key) flag too long"},
    {"KeyOf253BytesWithB", "HD k" + std::string(253, 'k') + " b\r\n", "k (key) flag too long"},
    {"OpaqueOf33Bytes", "HD O" + std::string(33, 'o') + "\r\n", "O (opaque) flag longer than 32 bytes"},
    // ME line
    {"DebugWithoutKey", "ME\r\n", "ME line without a key"},
    {"DebugWithEmptyKey", "ME  exp=1\r\n", "ME line without a key"},
    {"DebugKeyTooLong", "ME " + std::string(kMaxMetaKeyToken + 1, 'k') + " exp=1\r\n",
     "key in ME line too long"},
    // after good replies
    {"GarbageAfterAReply", "HD\r\nVA 1\r\nx\r\nZZ\r\n", kUnknown, 2},
    {"TextEndAfterAQuietBatch", "VA 1 O1\r\nx\r\nEND\r\n", kUnknown, 1},
};

INSTANTIATE_TEST_SUITE_P(MetaReplyParser, MalformedMetaReply, ::testing::ValuesIn(kMalformed),
                         codec_replay::ParamName());

// ==== arbitrary bytes ===================================================================

// Random sequences of protocol fragments reach far more parser states than the tables
// above: none may crash, and byte-by-byte must agree with whole for every one.
TEST(MetaReplyParser, RandomFragmentsAgreeWholeAndByteByByte) {
    static const char* const fragments[] = {
        "VA ", "HD", "EN", "NS", "EX", "NF", "MN", "ME ", " ", "0", "1", "3", "\r\n", "\r",
        "\n", " c", " f", " t-1", " s", " l", " h", " k", " O", " b", " W", " X", " Z", "abc",
        "x", "\x7f", "\x80", "ERROR", "SERVER_ERROR ", "18446744073709551616", "4294967296"};
    std::mt19937 rng(12345);
    std::uniform_int_distribution<std::size_t> pick(0, std::size(fragments) - 1);
    std::uniform_int_distribution<int> length(0, 14);
    for (int i = 0; i < 5000; ++i) {
        std::string in;
        for (int n = length(rng); n > 0; --n) in += fragments[pick(rng)];
        SCOPED_TRACE(testing::PrintToString(in));
        EXPECT_EQ(feed(bytewise(in)), feed(whole(in)));
    }
}

TEST(MetaReplyParser, RandomBytesNeverCrash) {
    std::mt19937 rng(6789);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<int> length(0, 64);
    for (int i = 0; i < 3000; ++i) {
        std::string in;
        for (int n = length(rng); n > 0; --n) in += static_cast<char>(byte(rng));
        const Outcome o = feed(whole(in));
        EXPECT_TRUE(o.failed || o.leftover <= in.size());
    }
}

// ==== no over-read ======================================================================

TEST(MetaReplyParser, NeverReadsPastTheEndOfItsInput) {
    mmc::test::GuardPage guard;
    ASSERT_TRUE(guard.ok());
    std::vector<std::string> inputs;
    for (const Replay& r : replays()) inputs.push_back(r.input);
    for (const Malformed& m : kMalformed) inputs.push_back(m.input);
    for (const std::string& input : inputs) {
        ASSERT_LE(input.size(), guard.capacity());
        // Every prefix, so that each way a reply can be cut short ends at the guard.
        for (std::size_t len = 0; len <= input.size(); ++len) {
            Session session(kDefaultMaxValueSize, true);
            session.drain(guard.place(std::string_view(input).substr(0, len)));
        }
    }
}

TEST(MetaReplyParser, NeverReadsPastTheEndOfAnOverlongLine) {
    mmc::test::GuardPage guard;
    ASSERT_TRUE(guard.ok());
    const std::string line(kMaxLineLength - 2, 'x');
    for (const std::string& in : {line, line + "\r", std::string(kMaxLineLength, 'x')}) {
        Session session(kDefaultMaxValueSize, true);
        session.drain(guard.place(in));
    }
}

TEST(Base64, DecodeNeverReadsPastTheEndOfItsInput) {
    mmc::test::GuardPage guard;
    ASSERT_TRUE(guard.ok());
    char out[64];
    std::size_t size = 0;
    for (const char* in : {"Zg==", "Zm9v", "Zm9vYg==", "Zg=", "Z"}) {
        (void)base64_decode(guard.place(in), out, sizeof out, size);
    }
}

// ==== no allocation =====================================================================

// What a quiet hundred-key multi-get brings back: a hundred VA lines with key, flags
// and opaque, then MN.
std::string hundred_value_reply() {
    std::string in;
    for (int i = 0; i < 100; ++i) {
        const std::string data(static_cast<std::size_t>(i), 'd');
        in += "VA " + std::to_string(data.size()) + " kkey" + std::to_string(i) + " f" +
              std::to_string(i) + " c" + std::to_string(1000 + i) + " O" + std::to_string(i) +
              "\r\n" + data + "\r\n";
    }
    return in + "MN\r\n";
}

TEST(MetaReplyParser, HundredValueReplyParsesWithoutAllocating) {
    const std::string reply = hundred_value_reply();
    MetaReplyParser p;
    MetaEvent ev;
    std::size_t values = 0;
    std::size_t right = 0;
    bool ended = false;
    bool failed = false;

    const std::size_t before = mmc::test::allocations();
    std::string_view in = reply;
    while (!ended && !failed) {
        std::size_t consumed = 0;
        if (p.parse(in, ev, consumed) != ParseResult::event) {
            failed = true;
            break;
        }
        in.remove_prefix(consumed);
        if (ev.type == MetaEventType::value) {
            std::uint64_t opaque = 0;
            if (ev.cas == 1000 + values && ev.flags == values && ev.data.size() == values &&
                parse_meta_number(ev.opaque, opaque) && opaque == values) {
                ++right;
            }
            ++values;
        }
        ended = ev.type == MetaEventType::noop;
    }
    const std::size_t after = mmc::test::allocations();

    EXPECT_EQ(after - before, 0u);
    EXPECT_FALSE(failed);
    EXPECT_TRUE(ended);
    EXPECT_EQ(values, 100u);
    EXPECT_EQ(right, 100u);
}

TEST(MetaReplyParser, ByteByByteParsingDoesNotAllocate) {
    const std::string reply = hundred_value_reply();
    MetaReplyParser p;
    MetaEvent ev;
    std::size_t events = 0;
    std::size_t start = 0;
    bool failed = false;

    const std::size_t before = mmc::test::allocations();
    for (std::size_t arrived = 1; arrived <= reply.size() && !failed; ++arrived) {
        for (;;) {
            std::size_t consumed = 0;
            const ParseResult r =
                p.parse(std::string_view(reply).substr(start, arrived - start), ev, consumed);
            if (r == ParseResult::need_more) break;
            if (r == ParseResult::error) {
                failed = true;
                break;
            }
            start += consumed;
            ++events;
        }
    }
    const std::size_t after = mmc::test::allocations();

    EXPECT_EQ(after - before, 0u);
    EXPECT_FALSE(failed);
    EXPECT_EQ(events, 101u);
    EXPECT_EQ(start, reply.size());
}

TEST(MetaReplyParser, EveryReplayParsesWithoutAllocating) {
    const std::vector<Replay>& table = replays();
    for (const Replay& r : table) {
        MetaReplyParser p;
        MetaEvent ev;
        std::size_t events = 0;
        bool failed = false;

        const std::size_t before = mmc::test::allocations();
        std::string_view in = r.input;
        while (!in.empty()) {
            std::size_t consumed = 0;
            if (p.parse(in, ev, consumed) != ParseResult::event) {
                failed = true;
                break;
            }
            in.remove_prefix(consumed);
            ++events;
        }
        const std::size_t after = mmc::test::allocations();

        SCOPED_TRACE(r.name);
        EXPECT_EQ(after - before, 0u);
        EXPECT_FALSE(failed);
        EXPECT_EQ(events, r.events.size());
    }
}

// Encoding into a buffer that already has room allocates nothing either: the base64
// key is written in place, not built aside.
TEST(MetaEncoders, EncodingIntoAReservedBufferDoesNotAllocate) {
    std::string out;
    out.reserve(4096);
    MetaGetRequest get = get_of("a key with any bytes\0"sv);
    get.base64_key = get.value = get.return_flags = true;
    get.opaque = 4294967295u;
    MetaSetRequest set = set_of("k");
    set.mode = MetaSetMode::append;
    set.compare_cas = 18446744073709551615u;
    const std::string_view keys[] = {"a", "b", "c"};

    const std::size_t before = mmc::test::allocations();
    const bool got = encode_meta_get(out, get);
    const bool stored = encode_meta_set(out, set, "value");
    const bool multi = encode_meta_get_multi(out, get, keys, 3, 0);
    const std::size_t after = mmc::test::allocations();

    EXPECT_EQ(after - before, 0u);
    EXPECT_TRUE(got && stored && multi);
    const std::string first = "mg " + b64("a key with any bytes\0"s) + " b v f O4294967295\r\n";
    EXPECT_EQ(out.substr(0, first.size()), first);
    EXPECT_EQ(b64("a key with any bytes\0"s), "YSBrZXkgd2l0aCBhbnkgYnl0ZXMA");
}

TEST(AllocationCounter, SeesAllocations) {
    // Guards the zero-allocation tests against a counter that silently counts nothing.
    const std::size_t before = mmc::test::allocations();
    void* volatile p = ::operator new(100);
    const std::size_t after = mmc::test::allocations();
    ::operator delete(p);
    EXPECT_EQ(after - before, 1u);
}

// The short path takes ordinary complete replies and leaves everything else to the
// general path; feed() checks that both give the same events. These are its edges.
TEST(MetaShortPath, AgreesWithTheGeneralPathAtItsEdges) {
    const std::string big_flags = "VA 1 f4294967295 c18446744073709551615\r\nx\r\n";
    const std::string cases[] = {
        "HD\r\n", "EN\r\n", "MN\r\n", "NS\r\n", "HD \r\n", "HD\rx",
        "VA 2 f7 kkey O42 c9\r\nab\r\nMN\r\n",
        "VA 2 f123456789 c1234567890123456789\r\nab\r\n",
        big_flags,
        "VA 1 f4294967296\r\nx\r\n",
        "VA 1 c18446744073709551616\r\nx\r\n",
        "VA 1 f1 f2\r\nx\r\n",
        "VA 1 kk kk\r\nx\r\n",
        "VA 1 k\x01\r\nx\r\n",
        "VA 1 k\x7f\r\nx\r\n",
        "VA 1 k\xff\r\nx\r\n",
        "VA 1 O" + std::string(32, 'o') + "\r\nx\r\n",
        "VA 1 O" + std::string(33, 'o') + "\r\nx\r\n",
        "VA 1 k" + std::string(250, 'k') + "\r\nx\r\n",
        "VA 1 k" + std::string(251, 'k') + "\r\nx\r\n",
        "VA 1 O\r\nx\r\n",
        "VA 1 k\r\nx\r\n",
        "VA 1 f\r\nx\r\n",
        "VA 1  f1\r\nx\r\n",
        "VA 1 f1 \r\nx\r\n",
        "VA 1x\r\nx\r\n",
        "VA 01\r\nx\r\n",
        "VA 00000000001\r\nx\r\n",
        "VA 1\r\nxy\r\n",
        "VA 1\r\nx\n\r",
        "VA 1 f1\nx\r\n",
        "VA 1 t-1\r\nx\r\n",
        "VA 1 W\r\nx\r\n",
        "VA 1 kk O1 f0 " + std::string(1000, 'z') + "\r\nx\r\n",
        "VA 1 kk O1 " + std::string(1008, 'z') + "\r\nx\r\n",
        "VA 3 f0 kabc O7\r\n\r\n\r\r\nEN\r\nHD\r\n",
        // Tokens long enough for the sixteen-byte scan, with an odd byte at every place.
        "VA 1 f0 k" + std::string(40, 'a') + " O12345\r\nx\r\n",
    };
    std::vector<std::string> all(std::begin(cases), std::end(cases));
    for (char odd : {'\x01', '\x7f', '\xff', '\x80', '\t'}) {
        for (std::size_t at = 0; at < 40; ++at) {
            std::string key(40, 'k');
            key[at] = odd;
            all.push_back("VA 1 k" + key + " O1\r\nx\r\n");
        }
    }
    for (const std::string& in : all) {
        SCOPED_TRACE(in);
        feed(whole(in));
        feed(bytewise(in));
        feed(whole(in), 1);  // a value over max_value_size
    }
}

}  // namespace

