// The binary protocol codec: exact request bytes (checked against the examples of the
// memcached binary protocol document, byte for byte), and response parsing that gives
// the same events however the bytes arrive, fails cleanly on anything malformed, never
// reads past its input and never allocates.
#include "allocation_counter.h"
#include "codec_replay.h"
#include "guard_page.h"
#include "proto/binary_codec.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <new>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>


namespace {

using namespace mmc::proto;
using namespace std::string_literals;
using Op = BinaryOpcode;

// ---- bytes -----------------------------------------------------------------------------

// Expected wire bytes are written out as the protocol document prints them.
std::string bytes(std::initializer_list<unsigned> list) {
    std::string s;
    for (unsigned b : list) s.push_back(static_cast<char>(b));
    return s;
}

std::string be32(std::uint32_t v) {
    return bytes({v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff});
}

std::string be64(std::uint64_t v) {
    return be32(static_cast<std::uint32_t>(v >> 32)) + be32(static_cast<std::uint32_t>(v));
}

// A response header whose fields a test then changes, e.g. to make it malformed.
template <typename Change>
std::string header(Op op, Change change) {
    BinaryHeader h;
    h.magic = kBinaryResponseMagic;
    h.opcode = static_cast<std::uint8_t>(op);
    change(h);
    std::string out;
    encode_binary_header(out, h);
    return out;
}

// A well-formed response with lengths computed from the parts.
struct Response {
    Op opcode = Op::noop;
    std::uint16_t status = 0;
    std::uint32_t opaque = 0;
    std::uint64_t cas = 0;
    std::string extras;
    std::string key;
    std::string value;

    std::string wire() const {
        return header(opcode,
                      [this](BinaryHeader& h) {
                          h.key_length = static_cast<std::uint16_t>(key.size());
                          h.extras_length = static_cast<std::uint8_t>(extras.size());
                          h.vbucket_or_status = status;
                          h.body_length = static_cast<std::uint32_t>(
                              extras.size() + key.size() + value.size());
                          h.opaque = opaque;
                          h.cas = cas;
                      }) +
               extras + key + value;
    }
    Response with_status(std::uint16_t s) const {
        Response r = *this;
        r.status = s;
        return r;
    }
    Response with_opaque(std::uint32_t o) const {
        Response r = *this;
        r.opaque = o;
        return r;
    }
    Response with_cas(std::uint64_t c) const {
        Response r = *this;
        r.cas = c;
        return r;
    }
    Response with_extras(std::string e) const {
        Response r = *this;
        r.extras = std::move(e);
        return r;
    }
    Response with_key(std::string k) const {
        Response r = *this;
        r.key = std::move(k);
        return r;
    }
    Response with_value(std::string v) const {
        Response r = *this;
        r.value = std::move(v);
        return r;
    }
};

Response response(Op op) {
    Response r;
    r.opcode = op;
    return r;
}

// ---- owning copies of events, so they outlive the parsed buffer ------------------------

struct Event {
    Op opcode = Op::noop;
    BinaryStatus status = BinaryStatus::ok;
    std::uint16_t raw_status = 0;
    bool final = true;
    std::uint32_t opaque = 0;
    std::uint64_t cas = 0;
    std::uint32_t flags = 0;
    std::uint64_t number = 0;
    std::string key;
    std::string value;

    bool operator==(const Event& o) const {
        return opcode == o.opcode && status == o.status && raw_status == o.raw_status &&
               final == o.final && opaque == o.opaque && cas == o.cas && flags == o.flags &&
               number == o.number && key == o.key && value == o.value;
    }

    // Takes the mapped status from the codec; BinaryErrorResponse.EveryStatusCodeMapsToItsKind
    // checks that mapping against the protocol's table on its own.
    Event with_status(std::uint16_t raw) const {
        Event e = *this;
        e.raw_status = raw;
        e.status = binary_status_from_raw(raw);
        return e;
    }
    Event with_opaque(std::uint32_t o) const {
        Event e = *this;
        e.opaque = o;
        return e;
    }
    Event with_cas(std::uint64_t c) const {
        Event e = *this;
        e.cas = c;
        return e;
    }
    Event with_flags(std::uint32_t f) const {
        Event e = *this;
        e.flags = f;
        return e;
    }
    Event with_number(std::uint64_t n) const {
        Event e = *this;
        e.number = n;
        return e;
    }
    Event with_key(std::string k) const {
        Event e = *this;
        e.key = std::move(k);
        return e;
    }
    Event with_value(std::string v) const {
        Event e = *this;
        e.value = std::move(v);
        return e;
    }
    Event not_final() const {
        Event e = *this;
        e.final = false;
        return e;
    }
};

Event event(Op op) {
    Event e;
    e.opcode = op;
    return e;
}

void PrintTo(const Event& e, std::ostream* os) {
    *os << "{op=0x" << std::hex << static_cast<int>(e.opcode) << " status=0x" << e.raw_status
        << std::dec << "(" << static_cast<int>(e.status) << ")" << (e.final ? " final" : "")
        << " opaque=" << e.opaque << " cas=" << e.cas << " flags=" << e.flags
        << " number=" << e.number << " key=" << testing::PrintToString(e.key)
        << " value=" << testing::PrintToString(e.value) << "}";
}

Event own(const BinaryEvent& ev) {
    Event e;
    e.opcode = ev.opcode;
    e.status = ev.status;
    e.raw_status = ev.raw_status;
    e.final = ev.final;
    e.opaque = ev.opaque;
    e.cas = ev.cas;
    e.flags = ev.flags;
    e.number = ev.number;
    e.key = std::string(ev.key);
    e.value = std::string(ev.value);
    return e;
}

// ---- driving the parser the way a connection does --------------------------------------

using Outcome = codec_replay::Outcome<Event>;
using codec_replay::bytewise;
using codec_replay::split_at;
using codec_replay::whole;

class Session {
public:
    explicit Session(std::size_t max_value_size) : parser_(max_value_size) {}

    // Parses every event `in` holds; returns the bytes consumed.
    std::size_t drain(std::string_view in) {
        std::size_t used = 0;
        while (!out_.failed) {
            BinaryEvent ev;
            std::size_t consumed = 99;
            const std::string_view rest = in.substr(used);
            const ParseResult r = parser_.parse(rest, ev, consumed);
            if (r == ParseResult::need_more) {
                EXPECT_EQ(consumed, 0u);
                break;
            }
            if (r == ParseResult::error) {
                EXPECT_EQ(consumed, 0u);
                out_.failed = true;
                out_.error = parser_.error_message();
                EXPECT_FALSE(out_.error.empty());
                break;
            }
            EXPECT_GE(consumed, kBinaryHeaderSize);
            EXPECT_LE(consumed, rest.size());
            expect_inside(ev.key, rest.substr(0, consumed));
            expect_inside(ev.value, rest.substr(0, consumed));
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
    static void expect_inside(std::string_view view, std::string_view buf) {
        if (view.empty()) return;
        EXPECT_GE(view.data(), buf.data());
        EXPECT_LE(view.data() + view.size(), buf.data() + buf.size());
    }

    BinaryReplyParser parser_;
    Outcome out_;
};

Outcome feed(const std::vector<std::string>& chunks,
             std::size_t max_value_size = kDefaultMaxValueSize) {
    Session session(max_value_size);
    return codec_replay::feed(session, chunks);
}

Outcome parse_all(const std::string& in, std::size_t max_value_size = kDefaultMaxValueSize) {
    return feed(whole(in), max_value_size);
}

Outcome parsed(std::vector<Event> events) {
    Outcome o;
    o.events = std::move(events);
    return o;
}

// The examples of the protocol document, as printed there.
const std::string kSpecGetHit = bytes({0x81, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00,
                                       0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00,
                                       0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
                                       0xde, 0xad, 0xbe, 0xef}) +
                                "World";
const std::string kSpecGetMiss = bytes({0x81, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
                                        0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00,
                                        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}) +
                                 "Not found";
const std::string kSpecGetKHit = bytes({0x81, 0x0c, 0x00, 0x05, 0x04, 0x00, 0x00, 0x00,
                                        0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x00,
                                        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
                                        0xde, 0xad, 0xbe, 0xef}) +
                                 "HelloWorld";
const std::string kSpecSetOk = bytes({0x81, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01});
const std::string kSpecAddExists = bytes({0x81, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
                                          0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00,
                                          0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}) +
                                   "Data exists for key.";
const std::string kSpecIncrOk = bytes({0x81, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                       0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00,
                                       0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
                                       0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});
const std::string kSpecVersion = bytes({0x81, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                        0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00,
                                        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}) +
                                 "1.3.1";
const std::string kSpecStatPid = bytes({0x81, 0x10, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00,
                                        0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00,
                                        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}) +
                                 "pid3078";
const std::string kStatEnd = response(Op::stat).wire();
const std::string kNoop = response(Op::noop).wire();

// ==== header ============================================================================

TEST(EncodeBinaryHeader, WritesEveryFieldInNetworkOrder) {
    BinaryHeader h;
    h.magic = 0x80;
    h.opcode = 0x01;
    h.key_length = 0x0203;
    h.extras_length = 0x04;
    h.data_type = 0x05;
    h.vbucket_or_status = 0x0607;
    h.body_length = 0x08090a0b;
    h.opaque = 0x0c0d0e0f;
    h.cas = 0x1011121314151617;
    std::string out;
    encode_binary_header(out, h);
    EXPECT_EQ(out, bytes({0x80, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
                          0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
                          0x16, 0x17}));
}

TEST(DecodeBinaryHeader, ReadsBackEveryFieldIncludingHighBytes) {
    BinaryHeader h;
    h.magic = 0x81;
    h.opcode = 0xfe;
    h.key_length = 0xfffe;
    h.extras_length = 0xfd;
    h.data_type = 0xfc;
    h.vbucket_or_status = 0xfbfa;
    h.body_length = 0xf9f8f7f6;
    h.opaque = 0xf5f4f3f2;
    h.cas = 0xf1f0efeeedecebea;
    std::string wire;
    encode_binary_header(wire, h);

    BinaryHeader d;
    ASSERT_TRUE(decode_binary_header(wire, d));
    EXPECT_EQ(d.magic, h.magic);
    EXPECT_EQ(d.opcode, h.opcode);
    EXPECT_EQ(d.key_length, h.key_length);
    EXPECT_EQ(d.extras_length, h.extras_length);
    EXPECT_EQ(d.data_type, h.data_type);
    EXPECT_EQ(d.vbucket_or_status, h.vbucket_or_status);
    EXPECT_EQ(d.body_length, h.body_length);
    EXPECT_EQ(d.opaque, h.opaque);
    EXPECT_EQ(d.cas, h.cas);
}

TEST(DecodeBinaryHeader, FewerThan24BytesFailsAndLeavesHeaderUntouched) {
    BinaryHeader d;
    d.opaque = 77;
    EXPECT_FALSE(decode_binary_header(std::string(23, '\x81'), d));
    EXPECT_EQ(d.opaque, 77u);
}

// ==== encoders ==========================================================================

const std::string kSpecGetHello = bytes({0x80, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00,
                                         0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00,
                                         0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}) +
                                  "Hello";

// The same bytes with another opcode.
std::string with_opcode(std::string wire, unsigned opcode) {
    wire[1] = static_cast<char>(opcode);
    return wire;
}

TEST(EncodeBinaryGet, MatchesTheProtocolDocumentExample) {
    std::string out;
    encode_binary_get(out, BinaryGetCommand::get, "Hello", 0);
    EXPECT_EQ(out, kSpecGetHello);
}

TEST(EncodeBinaryGet, QuietAndKeyVariantsDifferOnlyInOpcode) {
    const std::pair<BinaryGetCommand, unsigned> variants[] = {
        {BinaryGetCommand::getq, 0x09},
        {BinaryGetCommand::getk, 0x0c},
        {BinaryGetCommand::getkq, 0x0d}};
    for (const auto& [cmd, opcode] : variants) {
        std::string out;
        encode_binary_get(out, cmd, "Hello", 0);
        EXPECT_EQ(out, with_opcode(kSpecGetHello, opcode)) << "opcode " << opcode;
    }
}

TEST(EncodeBinaryGet, WritesOpaqueInNetworkOrder) {
    std::string out;
    encode_binary_get(out, BinaryGetCommand::get, "k", 0xdeadbeef);
    EXPECT_EQ(out.substr(12, 4), bytes({0xde, 0xad, 0xbe, 0xef}));
}

TEST(EncodeBinaryGetMulti, SendsGetkqPerKeyThenNoopWithConsecutiveOpaques) {
    const std::string_view keys[] = {"a", "bb"};
    std::string out;
    encode_binary_get_multi(out, keys, 2, 10);
    const std::string expected =
        bytes({0x80, 0x0d, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
               0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}) +
        "a" +
        bytes({0x80, 0x0d, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
               0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}) +
        "bb" +
        bytes({0x80, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
               0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});
    EXPECT_EQ(out, expected);
}

TEST(EncodeBinaryGetMulti, OpaquesWrapAround) {
    const std::string_view keys[] = {"a"};
    std::string out;
    encode_binary_get_multi(out, keys, 1, 0xffffffff);
    BinaryHeader get;
    BinaryHeader noop;
    ASSERT_TRUE(decode_binary_header(out, get));
    ASSERT_TRUE(decode_binary_header(std::string_view(out).substr(kBinaryHeaderSize + 1), noop));
    EXPECT_EQ(get.opaque, 0xffffffffu);
    EXPECT_EQ(noop.opaque, 0u);
}

TEST(EncodeBinaryGetMulti, WithNoKeysAppendsNothing) {
    std::string out = "x";
    encode_binary_get_multi(out, nullptr, 0, 1);
    EXPECT_EQ(out, "x");
}

const std::string kSpecSetHelloHeader =
    bytes({0x80, 0x01, 0x00, 0x05, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12,
           0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
           0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x1c, 0x20}) +
    "Hello";

TEST(EncodeBinaryStore, MatchesTheProtocolDocumentSetExample) {
    std::string out;
    encode_binary_store(out, BinaryStoreCommand::set, "Hello", 0xdeadbeef, 0x1c20, "World", 0);
    EXPECT_EQ(out, kSpecSetHelloHeader + "World");
}

TEST(EncodeBinaryStoreHeader, StopsBeforeTheValueButCountsItInTheBodyLength) {
    std::string out;
    encode_binary_store_header(out, BinaryStoreCommand::set, "Hello", 0xdeadbeef, 0x1c20, 5,
                               0);
    EXPECT_EQ(out, kSpecSetHelloHeader);
}

TEST(EncodeBinaryStore, OtherCommandsDifferOnlyInOpcode) {
    const std::pair<BinaryStoreCommand, unsigned> variants[] = {
        {BinaryStoreCommand::add, 0x02},  {BinaryStoreCommand::replace, 0x03},
        {BinaryStoreCommand::setq, 0x11}, {BinaryStoreCommand::addq, 0x12},
        {BinaryStoreCommand::replaceq, 0x13}};
    for (const auto& [cmd, opcode] : variants) {
        std::string out;
        encode_binary_store(out, cmd, "Hello", 0xdeadbeef, 0x1c20, "World", 0);
        EXPECT_EQ(out, with_opcode(kSpecSetHelloHeader + "World", opcode)) << "opcode " << opcode;
    }
}

TEST(EncodeBinaryStore, WritesOpaqueAndCas) {
    std::string out;
    encode_binary_store(out, BinaryStoreCommand::set, "k", 0, 0, "v", 0x01020304,
                        0x0a0b0c0d0e0f1011);
    EXPECT_EQ(out.substr(12, 12), bytes({0x01, 0x02, 0x03, 0x04, 0x0a, 0x0b, 0x0c, 0x0d,
                                         0x0e, 0x0f, 0x10, 0x11}));
}

TEST(EncodeBinaryStore, SendsBinaryValueUnchanged) {
    const std::string value = "\x81\0\r\n\xff"s;
    std::string out;
    encode_binary_store(out, BinaryStoreCommand::set, "k", 0, 0, value, 0);
    EXPECT_EQ(out.substr(out.size() - value.size()), value);
    EXPECT_EQ(out.substr(8, 4), be32(8 + 1 + 5));
}

TEST(EncodeBinaryStore, SendsEmptyValue) {
    std::string out;
    encode_binary_store(out, BinaryStoreCommand::set, "k", 7, 9, "", 0);
    EXPECT_EQ(out, bytes({0x80, 0x01, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                          0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                          0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x09}) +
                       "k");
}

// ---- lengths the 32-bit body length cannot carry ------------------------------------------

TEST(BinaryRequestFits, AllowsBodiesUpTo32BitsAndNoMore) {
    const std::size_t room = 0xffffffffu - 8 - 5;  // store extras and the key "Hello"
    EXPECT_TRUE(binary_request_fits(8, 5, room));
    EXPECT_FALSE(binary_request_fits(8, 5, room + 1));
    EXPECT_TRUE(binary_request_fits(0, 250, 0xffffffffu - 250));
    EXPECT_FALSE(binary_request_fits(0, 250, 0xffffffffu - 249));
    EXPECT_FALSE(binary_request_fits(0, 0, std::size_t{1} << 32));
    EXPECT_FALSE(binary_request_fits(0, 0, std::size_t{18446744073709551615u}));
    EXPECT_FALSE(binary_request_fits(0, 0x10000, 0));  // the key length field is 16 bits
}

TEST(EncodeBinaryStoreHeader, WritesTheLongestBodyLengthInFull) {
    std::string out;
    EXPECT_TRUE(encode_binary_store_header(out, BinaryStoreCommand::set, "Hello", 0, 0,
                                           0xffffffffu - 8 - 5, 0));
    EXPECT_EQ(out.substr(8, 4), be32(0xffffffffu));
}

TEST(EncodeBinaryStoreHeader, RefusesABodyLongerThan32BitsAndAppendsNothing) {
    // 4 GiB + 5 once went out as a body length of 18: memcached would have read the
    // value's tail as further requests.
    const std::size_t too_long[] = {0xffffffffu - 8 - 5 + 1, std::size_t{1} << 32,
                                    (std::size_t{1} << 32) + 5,
                                    std::size_t{18446744073709551615u}};
    for (std::size_t bytes : too_long) {
        for (BinaryStoreCommand cmd : {BinaryStoreCommand::set, BinaryStoreCommand::add,
                                       BinaryStoreCommand::replace, BinaryStoreCommand::setq}) {
            std::string out = "before";
            EXPECT_FALSE(encode_binary_store_header(out, cmd, "Hello", 0, 0, bytes, 0)) << bytes;
            EXPECT_EQ(out, "before") << bytes;
        }
    }
}

TEST(EncodeBinaryConcatHeader, RefusesABodyLongerThan32BitsAndAppendsNothing) {
    std::string out = "before";
    EXPECT_TRUE(encode_binary_concat_header(out, BinaryConcatCommand::append, "Hello",
                                            0xffffffffu - 5, 0));
    EXPECT_EQ(out.substr(6 + 8, 4), be32(0xffffffffu));
    out = "before";
    for (std::size_t bytes : {std::size_t{0xffffffffu - 5 + 1}, std::size_t{1} << 32}) {
        EXPECT_FALSE(encode_binary_concat_header(out, BinaryConcatCommand::prepend, "Hello",
                                                 bytes, 0)) << bytes;
        EXPECT_EQ(out, "before") << bytes;
    }
}

TEST(EncodeBinaryStore, RefusesAValueLongerThan32BitsAndAppendsNothing) {
    // Only the views' length matters: the encoders refuse before they read a byte.
    const char byte = 'x';
    const std::string_view huge(&byte, std::size_t{1} << 32);
    std::string out = "before";
    EXPECT_FALSE(encode_binary_store(out, BinaryStoreCommand::set, "k", 0, 0, huge, 0));
    EXPECT_FALSE(encode_binary_concat(out, BinaryConcatCommand::append, "k", huge, 0));
    EXPECT_EQ(out, "before");
}

TEST(EncodeBinaryStore, ReportsSuccess) {
    std::string out;
    EXPECT_TRUE(encode_binary_store(out, BinaryStoreCommand::set, "Hello", 0xdeadbeef, 0x1c20,
                                    "World", 0));
    EXPECT_EQ(out, kSpecSetHelloHeader + "World");
}

const std::string kSpecAppendHello = bytes({0x80, 0x0e, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00,
                                            0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00,
                                            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}) +
                                     "Hello!";

TEST(EncodeBinaryConcat, MatchesTheProtocolDocumentAppendExample) {
    std::string out;
    encode_binary_concat(out, BinaryConcatCommand::append, "Hello", "!", 0);
    EXPECT_EQ(out, kSpecAppendHello);
}

TEST(EncodeBinaryConcatHeader, StopsBeforeTheValueButCountsItInTheBodyLength) {
    std::string out;
    encode_binary_concat_header(out, BinaryConcatCommand::append, "Hello", 1, 0);
    EXPECT_EQ(out, kSpecAppendHello.substr(0, kSpecAppendHello.size() - 1));
}

TEST(EncodeBinaryConcat, OtherCommandsDifferOnlyInOpcode) {
    const std::pair<BinaryConcatCommand, unsigned> variants[] = {
        {BinaryConcatCommand::prepend, 0x0f},
        {BinaryConcatCommand::appendq, 0x19},
        {BinaryConcatCommand::prependq, 0x1a}};
    for (const auto& [cmd, opcode] : variants) {
        std::string out;
        encode_binary_concat(out, cmd, "Hello", "!", 0);
        EXPECT_EQ(out, with_opcode(kSpecAppendHello, opcode)) << "opcode " << opcode;
    }
}

TEST(EncodeBinaryConcat, WritesCas) {
    std::string out;
    encode_binary_concat(out, BinaryConcatCommand::prepend, "k", "v", 0, 42);
    EXPECT_EQ(out.substr(16, 8), be64(42));
}

const std::string kSpecDeleteHello = bytes({0x80, 0x04, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00,
                                            0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00,
                                            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}) +
                                     "Hello";

TEST(EncodeBinaryDelete, MatchesTheProtocolDocumentExample) {
    std::string out;
    encode_binary_delete(out, "Hello", 0);
    EXPECT_EQ(out, kSpecDeleteHello);
}

TEST(EncodeBinaryDeleteq, DiffersFromDeleteOnlyInOpcode) {
    std::string out;
    encode_binary_deleteq(out, "Hello", 0);
    EXPECT_EQ(out, with_opcode(kSpecDeleteHello, 0x14));
}

TEST(EncodeBinaryDelete, WritesCas) {
    std::string out;
    encode_binary_delete(out, "k", 3, 0xffffffffffffffff);
    EXPECT_EQ(out.substr(12, 12), be32(3) + be64(0xffffffffffffffff));
}

const std::string kSpecIncrCounter =
    bytes({0x80, 0x05, 0x00, 0x07, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1b,
           0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
           0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
           0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
           0x00, 0x00, 0x0e, 0x10}) +
    "counter";

TEST(EncodeBinaryArith, MatchesTheProtocolDocumentIncrementExample) {
    std::string out;
    encode_binary_arith(out, BinaryArithCommand::increment, "counter", 1, 0, 0x0e10, 0);
    EXPECT_EQ(out, kSpecIncrCounter);
}

TEST(EncodeBinaryArith, OtherCommandsDifferOnlyInOpcode) {
    const std::pair<BinaryArithCommand, unsigned> variants[] = {
        {BinaryArithCommand::decrement, 0x06},
        {BinaryArithCommand::incrementq, 0x15},
        {BinaryArithCommand::decrementq, 0x16}};
    for (const auto& [cmd, opcode] : variants) {
        std::string out;
        encode_binary_arith(out, cmd, "counter", 1, 0, 0x0e10, 0);
        EXPECT_EQ(out, with_opcode(kSpecIncrCounter, opcode)) << "opcode " << opcode;
    }
}

TEST(EncodeBinaryArith, WritesFull64BitDeltaAndInitialAndNoCreateExpiration) {
    std::string out;
    encode_binary_arith(out, BinaryArithCommand::decrement, "n", 0xfedcba9876543210,
                        0x0123456789abcdef, kBinaryArithNoCreate, 0);
    EXPECT_EQ(out.substr(kBinaryHeaderSize, 20),
              be64(0xfedcba9876543210) + be64(0x0123456789abcdef) + be32(0xffffffff));
}

TEST(EncodeBinaryArith, WritesOpaqueAndCas) {
    std::string out;
    encode_binary_arith(out, BinaryArithCommand::increment, "n", 1, 0, 0, 9, 8);
    EXPECT_EQ(out.substr(12, 12), be32(9) + be64(8));
}

TEST(EncodeBinaryTouch, SendsExpirationAsExtrasAndTheKey) {
    std::string out;
    encode_binary_touch(out, "Hello", 0x0e10, 5);
    EXPECT_EQ(out, bytes({0x80, 0x1c, 0x00, 0x05, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                          0x09, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                          0x00, 0x00, 0x00, 0x00, 0x0e, 0x10}) +
                       "Hello");
}

const std::string kGatHello = bytes({0x80, 0x1d, 0x00, 0x05, 0x04, 0x00, 0x00, 0x00,
                                     0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00,
                                     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                     0x00, 0x00, 0x0e, 0x10}) +
                              "Hello";

TEST(EncodeBinaryGat, SendsExpirationAsExtrasAndTheKey) {
    std::string out;
    encode_binary_gat(out, BinaryGatCommand::gat, "Hello", 0x0e10, 0);
    EXPECT_EQ(out, kGatHello);
}

TEST(EncodeBinaryGat, QuietAndKeyVariantsDifferOnlyInOpcode) {
    const std::pair<BinaryGatCommand, unsigned> variants[] = {
        {BinaryGatCommand::gatq, 0x1e},
        {BinaryGatCommand::gatk, 0x23},
        {BinaryGatCommand::gatkq, 0x24}};
    for (const auto& [cmd, opcode] : variants) {
        std::string out;
        encode_binary_gat(out, cmd, "Hello", 0x0e10, 0);
        EXPECT_EQ(out, with_opcode(kGatHello, opcode)) << "opcode " << opcode;
    }
}

TEST(EncodeBinaryFlush, MatchesTheProtocolDocumentExampleWithDelay) {
    std::string out;
    encode_binary_flush(out, 0, 0x0e10);
    EXPECT_EQ(out, bytes({0x80, 0x08, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                          0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                          0x00, 0x00, 0x00, 0x00, 0x0e, 0x10}));
}

TEST(EncodeBinaryFlush, WithoutDelaySendsNoExtras) {
    std::string out;
    encode_binary_flush(out, 0);
    EXPECT_EQ(out, bytes({0x80, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                          0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                          0x00, 0x00}));
}

TEST(EncodeBinaryFlushq, DiffersFromFlushOnlyInOpcode) {
    std::string flush;
    std::string flushq;
    encode_binary_flush(flush, 4, 60);
    encode_binary_flushq(flushq, 4, 60);
    EXPECT_EQ(flushq, with_opcode(flush, 0x18));
}

// A request that is the header alone: opcode and opaque, every other byte zero.
std::string bare_request(unsigned opcode, std::uint32_t opaque) {
    return bytes({0x80, opcode, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) + be32(opaque) + be64(0);
}

TEST(EncodeBinaryNoop, IsAHeaderAlone) {
    std::string out;
    encode_binary_noop(out, 0x01020304);
    EXPECT_EQ(out, bare_request(0x0a, 0x01020304));
}

TEST(EncodeBinaryVersion, IsAHeaderAlone) {
    std::string out;
    encode_binary_version(out, 6);
    EXPECT_EQ(out, bare_request(0x0b, 6));
}

TEST(EncodeBinaryQuit, IsAHeaderAlone) {
    std::string out;
    encode_binary_quit(out, 0);
    EXPECT_EQ(out, bare_request(0x07, 0));
}

TEST(EncodeBinaryQuitq, IsAHeaderAlone) {
    std::string out;
    encode_binary_quitq(out, 1);
    EXPECT_EQ(out, bare_request(0x17, 1));
}

TEST(EncodeBinaryStat, WithoutGroupIsAHeaderAlone) {
    std::string out;
    encode_binary_stat(out, 2);
    EXPECT_EQ(out, bare_request(0x10, 2));
}

TEST(EncodeBinaryStat, SendsGroupAsTheKey) {
    std::string out;
    encode_binary_stat(out, 0, "slabs");
    EXPECT_EQ(out, bytes({0x80, 0x10, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                          0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                          0x00, 0x00}) +
                       "slabs");
}

TEST(BinaryEncoders, AppendAfterExistingBytesForPipelining) {
    std::string out = "x";
    encode_binary_get(out, BinaryGetCommand::get, "Hello", 0);
    encode_binary_delete(out, "Hello", 0);
    encode_binary_noop(out, 7);
    EXPECT_EQ(out, "x" + kSpecGetHello + kSpecDeleteHello + bare_request(0x0a, 7));
}

// ==== responses =========================================================================

TEST(BinaryGetResponse, HitCarriesFlagsValueAndCas) {
    EXPECT_EQ(parse_all(kSpecGetHit),
              parsed({event(Op::get).with_cas(1).with_flags(0xdeadbeef).with_value("World")}));
}

TEST(BinaryGetResponse, MissIsKeyNotFoundWithTheServerMessage) {
    EXPECT_EQ(parse_all(kSpecGetMiss),
              parsed({event(Op::get).with_status(0x0001).with_value("Not found")}));
}

TEST(BinaryGetResponse, MissStatusMapsToKeyNotFound) {
    const Outcome o = parse_all(kSpecGetMiss);
    ASSERT_EQ(o.events.size(), 1u);
    EXPECT_EQ(o.events[0].status, BinaryStatus::key_not_found);
    EXPECT_EQ(o.events[0].raw_status, 1u);
}

TEST(BinaryGetResponse, GetkHitCarriesTheKey) {
    EXPECT_EQ(parse_all(kSpecGetKHit),
              parsed({event(Op::getk).with_cas(1).with_flags(0xdeadbeef).with_key("Hello")
                          .with_value("World")}));
}

TEST(BinaryGetResponse, GetkqHitCarriesKeyAndOpaque) {
    const std::string in = response(Op::getkq).with_opaque(42).with_cas(9)
                               .with_extras(be32(3)).with_key("k").with_value("v").wire();
    EXPECT_EQ(parse_all(in), parsed({event(Op::getkq).with_opaque(42).with_cas(9)
                                         .with_flags(3).with_key("k").with_value("v")}));
}

TEST(BinaryGetResponse, HitWithoutExtrasHasZeroFlags) {
    EXPECT_EQ(parse_all(response(Op::get).with_value("v").wire()),
              parsed({event(Op::get).with_value("v")}));
}

TEST(BinaryGetResponse, EmptyValueIsAHitWithEmptyValue) {
    EXPECT_EQ(parse_all(response(Op::get).with_extras(be32(1)).wire()),
              parsed({event(Op::get).with_flags(1)}));
}

TEST(BinaryGetResponse, ValueIsBinarySafeEvenWhenItLooksLikeAHeader) {
    const std::string value = kSpecGetHit + "\0\r\n"s;
    EXPECT_EQ(parse_all(response(Op::get).with_extras(be32(0)).with_value(value).wire()),
              parsed({event(Op::get).with_value(value)}));
}

TEST(BinaryGatResponse, HitCarriesFlagsAndValueLikeGet) {
    EXPECT_EQ(parse_all(response(Op::gatk).with_extras(be32(5)).with_key("k")
                            .with_value("v").wire()),
              parsed({event(Op::gatk).with_flags(5).with_key("k").with_value("v")}));
}

TEST(BinaryTouchResponse, CarriesFlagsAsMemcachedSendsThem) {
    EXPECT_EQ(parse_all(response(Op::touch).with_extras(be32(7)).with_cas(3).wire()),
              parsed({event(Op::touch).with_flags(7).with_cas(3)}));
}

TEST(BinaryStoreResponse, SetOkCarriesTheNewCas) {
    EXPECT_EQ(parse_all(kSpecSetOk), parsed({event(Op::set).with_cas(1)}));
}

TEST(BinaryStoreResponse, AddOfExistingKeyIsKeyExists) {
    EXPECT_EQ(parse_all(kSpecAddExists),
              parsed({event(Op::add).with_status(0x0002).with_value("Data exists for key.")}));
}

TEST(BinaryStoreResponse, ReplaceOfMissingKeyIsItemNotStored) {
    const Outcome o = parse_all(response(Op::replace).with_status(0x0005).wire());
    ASSERT_EQ(o.events.size(), 1u);
    EXPECT_EQ(o.events[0].status, BinaryStatus::item_not_stored);
}

TEST(BinaryStoreResponse, QuietSetFailureIsReported) {
    EXPECT_EQ(parse_all(response(Op::setq).with_status(0x0003).with_opaque(4)
                            .with_value("Too large.").wire()),
              parsed({event(Op::setq).with_status(0x0003).with_opaque(4)
                          .with_value("Too large.")}));
}

TEST(BinaryDeleteResponse, OkHasNoValue) {
    EXPECT_EQ(parse_all(response(Op::del).wire()), parsed({event(Op::del)}));
}

TEST(BinaryArithResponse, IncrementValueIsDecodedAsNumber) {
    EXPECT_EQ(parse_all(kSpecIncrOk),
              parsed({event(Op::increment).with_cas(5).with_number(0).with_value(be64(0))}));
}

TEST(BinaryArithResponse, Full64BitNumberIsDecoded) {
    const std::string value = be64(0xfedcba9876543210);
    EXPECT_EQ(parse_all(response(Op::decrement).with_value(value).wire()),
              parsed({event(Op::decrement).with_number(0xfedcba9876543210).with_value(value)}));
}

TEST(BinaryArithResponse, NonNumericValueIsAStatusNotAParseError) {
    const std::string msg = "Non-numeric server-side value for incr or decr";
    EXPECT_EQ(parse_all(response(Op::increment).with_status(0x0006).with_value(msg).wire()),
              parsed({event(Op::increment).with_status(0x0006).with_value(msg)}));
}

TEST(BinaryArithResponse, MissWithNoCreateIsKeyNotFoundWithoutNumber) {
    EXPECT_EQ(parse_all(response(Op::incrementq).with_status(0x0001).wire()),
              parsed({event(Op::incrementq).with_status(0x0001)}));
}

TEST(BinaryVersionResponse, ValueIsTheVersionString) {
    EXPECT_EQ(parse_all(kSpecVersion), parsed({event(Op::version).with_value("1.3.1")}));
}

TEST(BinaryStatResponse, SequenceEndsWithAnEmptyKeyStat) {
    EXPECT_EQ(parse_all(kSpecStatPid + kStatEnd),
              parsed({event(Op::stat).with_key("pid").with_value("3078").not_final(),
                      event(Op::stat)}));
}

TEST(BinaryStatResponse, StatWithEmptyValueIsNotTheEnd) {
    EXPECT_EQ(parse_all(response(Op::stat).with_key("ssl_ciphers").wire()),
              parsed({event(Op::stat).with_key("ssl_ciphers").not_final()}));
}

TEST(BinaryStatResponse, FailureEndsTheSequence) {
    EXPECT_EQ(parse_all(response(Op::stat).with_status(0x0001).with_key("x").wire()),
              parsed({event(Op::stat).with_status(0x0001).with_key("x")}));
}

TEST(BinaryNoopResponse, IsAnEmptyOkResponse) {
    EXPECT_EQ(parse_all(response(Op::noop).with_opaque(100).wire()),
              parsed({event(Op::noop).with_opaque(100)}));
}

TEST(BinaryQuitResponse, IsAnEmptyOkResponse) {
    EXPECT_EQ(parse_all(response(Op::quit).wire()), parsed({event(Op::quit)}));
}

TEST(BinaryFlushResponse, IsAnEmptyOkResponse) {
    EXPECT_EQ(parse_all(response(Op::flush).wire()), parsed({event(Op::flush)}));
}

TEST(BinaryErrorResponse, UnknownCommandEchoesTheOpcode) {
    EXPECT_EQ(parse_all(response(Op::verbosity).with_status(0x0081)
                            .with_value("Unknown command").wire()),
              parsed({event(Op::verbosity).with_status(0x0081).with_value("Unknown command")}));
}

TEST(BinaryErrorResponse, EveryStatusCodeMapsToItsKind) {
    const std::pair<std::uint16_t, BinaryStatus> table[] = {
        {0x0000, BinaryStatus::ok},
        {0x0001, BinaryStatus::key_not_found},
        {0x0002, BinaryStatus::key_exists},
        {0x0003, BinaryStatus::value_too_large},
        {0x0004, BinaryStatus::invalid_arguments},
        {0x0005, BinaryStatus::item_not_stored},
        {0x0006, BinaryStatus::non_numeric},
        {0x0007, BinaryStatus::other},
        {0x0008, BinaryStatus::auth_error},
        {0x0009, BinaryStatus::auth_continue},
        {0x0020, BinaryStatus::auth_error},
        {0x0021, BinaryStatus::auth_continue},
        {0x0081, BinaryStatus::unknown_command},
        {0x0082, BinaryStatus::out_of_memory},
        {0x0083, BinaryStatus::not_supported},
        {0x0084, BinaryStatus::internal_error},
        {0x0085, BinaryStatus::busy},
        {0x0086, BinaryStatus::temporary_failure},
        {0x0087, BinaryStatus::other},
        {0xffff, BinaryStatus::other},
    };
    for (const auto& [raw, status] : table) {
        const Outcome o = parse_all(response(Op::set).with_status(raw).wire());
        ASSERT_EQ(o.events.size(), 1u) << "status " << raw;
        EXPECT_EQ(o.events[0].status, status) << "status " << raw;
        EXPECT_EQ(o.events[0].raw_status, raw);
    }
}

// ==== parser contract ===================================================================

TEST(BinaryReplyParser, EmptyInputNeedsMore) {
    BinaryReplyParser p;
    BinaryEvent ev;
    std::size_t consumed = 5;
    EXPECT_EQ(p.parse("", ev, consumed), ParseResult::need_more);
    EXPECT_EQ(consumed, 0u);
}

TEST(BinaryReplyParser, PartialHeaderNeedsMoreAndLeavesEventUntouched) {
    BinaryReplyParser p;
    BinaryEvent ev;
    ev.opaque = 1234;
    std::size_t consumed = 5;
    EXPECT_EQ(p.parse(std::string_view(kSpecGetHit).substr(0, 23), ev, consumed),
              ParseResult::need_more);
    EXPECT_EQ(consumed, 0u);
    EXPECT_EQ(ev.opaque, 1234u);
}

TEST(BinaryReplyParser, PartialBodyNeedsMoreAndLeavesEventUntouched) {
    BinaryReplyParser p;
    BinaryEvent ev;
    ev.opaque = 1234;
    std::size_t consumed = 5;
    EXPECT_EQ(p.parse(std::string_view(kSpecGetHit).substr(0, kSpecGetHit.size() - 1), ev,
                      consumed),
              ParseResult::need_more);
    EXPECT_EQ(consumed, 0u);
    EXPECT_EQ(ev.opaque, 1234u);
}

TEST(BinaryReplyParser, ConsumesOneResponseAndPointsIntoTheInput) {
    BinaryReplyParser p;
    BinaryEvent ev;
    std::size_t consumed = 0;
    const std::string in = kSpecGetKHit + kNoop;
    ASSERT_EQ(p.parse(in, ev, consumed), ParseResult::event);
    EXPECT_EQ(consumed, kSpecGetKHit.size());
    EXPECT_EQ(ev.key.data(), in.data() + 28);
    EXPECT_EQ(ev.value.data(), in.data() + 33);
}

TEST(BinaryReplyParser, ErrorIsStickyUntilReset) {
    BinaryReplyParser p;
    BinaryEvent ev;
    std::size_t consumed = 0;
    EXPECT_EQ(p.parse("\x80", ev, consumed), ParseResult::error);
    EXPECT_STREQ(p.error_message(), "wrong magic byte in response");
    EXPECT_EQ(p.parse(kNoop, ev, consumed), ParseResult::error);
    p.reset();
    EXPECT_STREQ(p.error_message(), "");
    EXPECT_EQ(p.parse(kNoop, ev, consumed), ParseResult::event);
}

TEST(BinaryReplyParser, WrongMagicFailsOnTheFirstByte) {
    BinaryReplyParser p;
    BinaryEvent ev;
    std::size_t consumed = 0;
    EXPECT_EQ(p.parse("E", ev, consumed), ParseResult::error);
}

TEST(BinaryReplyParser, HostileBodyLengthFailsAfterOnlyTheHeader) {
    BinaryReplyParser p;
    BinaryEvent ev;
    std::size_t consumed = 0;
    const std::string in = header(Op::get, [](BinaryHeader& h) { h.body_length = 0xffffffff; });
    ASSERT_EQ(in.size(), kBinaryHeaderSize);
    EXPECT_EQ(p.parse(in, ev, consumed), ParseResult::error);
    EXPECT_STREQ(p.error_message(), "response body larger than max_value_size allows");
}

TEST(BinaryReplyParser, ValueOfMaxValueSizeIsAccepted) {
    const std::string in = response(Op::get).with_extras(be32(0)).with_value("abcd").wire();
    EXPECT_EQ(parse_all(in, 4), parsed({event(Op::get).with_value("abcd")}));
}

TEST(BinaryReplyParser, ValueOneOverMaxValueSizeFailsBeforeTheBody) {
    BinaryReplyParser p(4);
    BinaryEvent ev;
    std::size_t consumed = 0;
    const std::string in = response(Op::get).with_extras(be32(0)).with_value("abcde").wire();
    EXPECT_EQ(p.parse(std::string_view(in).substr(0, kBinaryHeaderSize), ev, consumed),
              ParseResult::error);
    EXPECT_STREQ(p.error_message(), "value larger than max_value_size");
}

TEST(BinaryReplyParser, LargestBodyWithUnlimitedValueSizeWaitsWithoutOverflow) {
    BinaryReplyParser p(SIZE_MAX);
    BinaryEvent ev;
    std::size_t consumed = 0;
    const std::string in =
        header(Op::get, [](BinaryHeader& h) { h.body_length = 0xffffffff; }) + "abc";
    EXPECT_EQ(p.parse(in, ev, consumed), ParseResult::need_more);
}

TEST(BinaryReplyParser, QuietMultiGetHitsThenNoopEndTheBatch) {
    // Two keys asked for with opaques 10 and 11, only the second one hits.
    const std::string in = response(Op::getkq).with_opaque(11).with_extras(be32(0))
                               .with_key("b").with_value("B").wire() +
                           response(Op::noop).with_opaque(12).wire();
    EXPECT_EQ(parse_all(in),
              parsed({event(Op::getkq).with_opaque(11).with_key("b").with_value("B"),
                      event(Op::noop).with_opaque(12)}));
}

// ==== replays: however the bytes arrive, the same events ================================

struct Replay {
    const char* name;
    std::string input;
    std::vector<Event> events;
};

const std::vector<Replay>& replays() {
    static const std::vector<Replay> table = [] {
        std::vector<Replay> t;
        t.push_back({"SpecGetHit", kSpecGetHit,
                     {event(Op::get).with_cas(1).with_flags(0xdeadbeef).with_value("World")}});
        t.push_back({"SpecGetMissThenGetkHit", kSpecGetMiss + kSpecGetKHit,
                     {event(Op::get).with_status(1).with_value("Not found"),
                      event(Op::getk).with_cas(1).with_flags(0xdeadbeef).with_key("Hello")
                          .with_value("World")}});
        {
            Replay r{"MultiGetHitsThenNoop", {}, {}};
            for (std::uint32_t i = 0; i < 3; ++i) {
                const std::string key = "key" + std::to_string(i);
                const std::string value(i * 7, static_cast<char>(0x80 + i));
                r.input += response(Op::getkq).with_opaque(i).with_cas(100 + i)
                               .with_extras(be32(i)).with_key(key).with_value(value).wire();
                r.events.push_back(event(Op::getkq).with_opaque(i).with_cas(100 + i)
                                       .with_flags(i).with_key(key).with_value(value));
            }
            r.input += response(Op::noop).with_opaque(3).wire();
            r.events.push_back(event(Op::noop).with_opaque(3));
            t.push_back(r);
        }
        t.push_back({"StorageDeleteArith",
                     kSpecSetOk + kSpecAddExists + response(Op::del).with_opaque(2).wire() +
                         kSpecIncrOk +
                         response(Op::decrement).with_status(6).with_value("nn").wire(),
                     {event(Op::set).with_cas(1),
                      event(Op::add).with_status(2).with_value("Data exists for key."),
                      event(Op::del).with_opaque(2),
                      event(Op::increment).with_cas(5).with_value(be64(0)),
                      event(Op::decrement).with_status(6).with_value("nn")}});
        t.push_back({"StatSequence",
                     kSpecStatPid + response(Op::stat).with_key("uptime").with_value("5").wire() +
                         kStatEnd,
                     {event(Op::stat).with_key("pid").with_value("3078").not_final(),
                      event(Op::stat).with_key("uptime").with_value("5").not_final(),
                      event(Op::stat)}});
        t.push_back({"VersionTouchGatFlushQuit",
                     kSpecVersion + response(Op::touch).with_extras(be32(2)).wire() +
                         response(Op::gat).with_extras(be32(3)).with_value("g").wire() +
                         response(Op::flush).wire() + response(Op::quit).wire(),
                     {event(Op::version).with_value("1.3.1"), event(Op::touch).with_flags(2),
                      event(Op::gat).with_flags(3).with_value("g"), event(Op::flush),
                      event(Op::quit)}});
        t.push_back({"ErrorsOfEveryKind",
                     response(Op::get).with_status(0x81).wire() +
                         response(Op::set).with_status(0x82).with_value("oom").wire() +
                         response(Op::append).with_status(0x85).wire() +
                         response(Op::sasl_auth).with_status(0x20).wire(),
                     {event(Op::get).with_status(0x81),
                      event(Op::set).with_status(0x82).with_value("oom"),
                      event(Op::append).with_status(0x85),
                      event(Op::sasl_auth).with_status(0x20)}});
        {
            const std::string big(1000, '\x81');
            t.push_back({"LargeValueOfMagicBytes",
                         response(Op::get).with_extras(be32(0)).with_value(big).wire() + kNoop,
                         {event(Op::get).with_value(big), event(Op::noop)}});
        }
        return t;
    }();
    return table;
}

void replay_all(codec_replay::Arrival how) {
    codec_replay::expect_replays(
        replays(), how, [](const Replay&, const std::vector<std::string>& chunks) { return feed(chunks); },
        [](const Replay& r) { return parsed(r.events); });
}

TEST(BinaryReplay, WholeInputGivesTheExpectedEvents) { replay_all(codec_replay::Arrival::whole); }

TEST(BinaryReplay, OneByteAtATimeGivesTheSameEvents) { replay_all(codec_replay::Arrival::bytewise); }

TEST(BinaryReplay, SplitAtEveryPositionGivesTheSameEvents) {
    replay_all(codec_replay::Arrival::split_everywhere);
}

// ==== malformed responses ===============================================================

using codec_replay::Malformed;

class BinaryMalformedResponse : public ::testing::TestWithParam<Malformed> {};

// Whole, byte by byte and split at every position: always the same error, after the
// same events.
TEST_P(BinaryMalformedResponse, IsAnErrorHoweverItArrives) {
    const Malformed& m = GetParam();
    codec_replay::expect_same_failure(m.input, m.error, m.events_before_error,
                                      [&](const std::vector<std::string>& chunks) {
                                          return feed(chunks, m.max_value_size);
                                      });
}

constexpr const char* kWrongMagic = "wrong magic byte in response";
constexpr const char* kUnknownOpcode = "unknown opcode in response";
constexpr const char* kDataType = "unsupported data type in response";
constexpr const char* kBodyTooLarge = "response body larger than max_value_size allows";
constexpr const char* kKeyTooLong = "key in response longer than 250 bytes";
constexpr const char* kBodyShort = "response body shorter than its extras and key";
constexpr const char* kValueTooLarge = "value larger than max_value_size";
constexpr const char* kGetExtras = "extras in a get, gat or touch response are not 0 or 4 bytes";
constexpr const char* kNoExtras = "extras in a response that has none";
constexpr const char* kArithValue = "incr/decr response value is not 8 bytes";

const Malformed kMalformed[] = {
    // framing
    {"RequestMagic", "\x80"s + kNoop.substr(1), kWrongMagic},
    {"TextProtocolReply", "ERROR\r\n", kWrongMagic},
    {"ZeroByte", "\0"s, kWrongMagic},
    {"WrongMagicAfterAGoodResponse", kNoop + "\x82" + kNoop.substr(1), kWrongMagic, 1},
    {"ResponseLongerThanItsBodyLength", kSpecSetOk + "X", kWrongMagic, 1},
    {"OpcodeInTheGap", header(Op::noop, [](BinaryHeader& h) { h.opcode = 0x1f; }),
     kUnknownOpcode},
    {"OpcodeAfterGatkq", header(Op::noop, [](BinaryHeader& h) { h.opcode = 0x25; }),
     kUnknownOpcode},
    {"OpcodeFF", header(Op::noop, [](BinaryHeader& h) { h.opcode = 0xff; }), kUnknownOpcode},
    {"NonZeroDataType", header(Op::noop, [](BinaryHeader& h) { h.data_type = 1; }), kDataType},
    // lengths
    {"HostileBodyLength", header(Op::get, [](BinaryHeader& h) { h.body_length = 0xffffffff; }),
     kBodyTooLarge},
    {"BodyOneOverTheBound",
     header(Op::get, [](BinaryHeader& h) { h.body_length = 16 + kBinaryMaxBodyOverhead + 1; }),
     kBodyTooLarge, 0, 16},
    {"KeyOf251Bytes",
     header(Op::getk,
         [](BinaryHeader& h) {
             h.key_length = 251;
             h.body_length = 251;
         }) +
         std::string(251, 'k'),
     kKeyTooLong},
    {"BodyShorterThanExtrasPlusKey",
     header(Op::getk,
         [](BinaryHeader& h) {
             h.extras_length = 4;
             h.key_length = 2;
             h.body_length = 5;
         }) +
         "abcde",
     kBodyShort},
    {"BodyShorterThanExtras",
     header(Op::get,
         [](BinaryHeader& h) {
             h.extras_length = 4;
             h.body_length = 3;
         }) +
         "abc",
     kBodyShort},
    {"ValueOneOverMaxValueSize",
     response(Op::get).with_extras(be32(0)).with_value(std::string(17, 'v')).wire(),
     kValueTooLarge, 0, 16},
    // extras per opcode
    {"GetWithEightBytesOfExtras",
     response(Op::get).with_extras(be64(1)).with_value("v").wire(), kGetExtras},
    {"GetkWithOneByteOfExtras", response(Op::getk).with_extras("x").with_key("k").wire(),
     kGetExtras},
    {"TouchWithThreeBytesOfExtras", response(Op::touch).with_extras("xyz").wire(), kGetExtras},
    {"SetWithExtras", response(Op::set).with_extras(be32(0)).wire(), kNoExtras},
    {"NoopWithExtras", response(Op::noop).with_extras("x").wire(), kNoExtras},
    {"StatWithExtras", response(Op::stat).with_extras(be32(0)).with_key("a").wire(),
     kNoExtras},
    {"IncrementWithExtras",
     response(Op::increment).with_extras(be32(0)).with_value(be64(1)).wire(), kNoExtras},
    // incr/decr value
    {"IncrementValueOfFourBytes", response(Op::increment).with_value(be32(1)).wire(),
     kArithValue},
    {"DecrementWithoutValue", response(Op::decrement).wire(), kArithValue},
    {"IncrementqValueOfNineBytes", response(Op::incrementq).with_value(be64(1) + "x").wire(),
     kArithValue},
    {"IncrementValueAfterAGoodResponse", kSpecIncrOk + response(Op::increment).wire(),
     kArithValue, 1},
};

INSTANTIATE_TEST_SUITE_P(BinaryReplyParser, BinaryMalformedResponse,
                         ::testing::ValuesIn(kMalformed), codec_replay::ParamName());

// ==== arbitrary bytes ===================================================================

TEST(BinaryReplyParser, RandomBytesNeverCrash) {
    std::mt19937 rng(6789);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<int> length(0, 64);
    for (int i = 0; i < 3000; ++i) {
        std::string in;
        for (int n = length(rng); n > 0; --n) in += static_cast<char>(byte(rng));
        // Half of them past the magic check, or nearly all would stop at the first byte.
        if (i % 2 == 0 && !in.empty()) in[0] = '\x81';
        const Outcome o = feed(whole(in));
        EXPECT_TRUE(o.failed || o.leftover <= in.size());
    }
}

// Random headers from values that matter (small lengths, edge opcodes and statuses)
// followed by random bodies reach far more of the parser than random bytes: none may
// crash, and byte-by-byte must agree with whole for every one.
TEST(BinaryReplyParser, RandomHeadersAgreeWholeAndByteByByte) {
    static const std::uint8_t opcodes[] = {0x00, 0x05, 0x0a, 0x0c, 0x10, 0x1c,
                                           0x1f, 0x24, 0x25, 0x16, 0x01, 0xff};
    static const std::uint8_t extras[] = {0, 0, 4, 8, 1, 255};
    static const std::uint16_t keys[] = {0, 0, 1, 5, 250, 251};
    static const std::uint16_t statuses[] = {0, 0, 1, 6, 0x81};
    std::mt19937 rng(12345);
    auto pick = [&rng](const auto& a) {
        return a[std::uniform_int_distribution<std::size_t>(0, std::size(a) - 1)(rng)];
    };
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<std::uint32_t> value_length(0, 12);
    for (int i = 0; i < 3000; ++i) {
        std::string in;
        for (int responses = 1 + i % 3; responses > 0; --responses) {
            BinaryHeader h;
            h.magic = i % 97 == 0 ? 0x80 : kBinaryResponseMagic;
            h.opcode = pick(opcodes);
            h.extras_length = pick(extras);
            h.key_length = pick(keys);
            h.vbucket_or_status = pick(statuses);
            h.data_type = i % 89 == 0 ? 1 : 0;
            h.body_length = h.extras_length + h.key_length + value_length(rng);
            if (i % 13 == 0) h.body_length -= std::min<std::uint32_t>(h.body_length, 3);
            encode_binary_header(in, h);
            for (std::uint32_t n = h.body_length; n > 0; --n) in += static_cast<char>(byte(rng));
        }
        SCOPED_TRACE(testing::PrintToString(in));
        EXPECT_EQ(feed(bytewise(in), 16), feed(whole(in), 16));
    }
}

// ==== no over-read ======================================================================

TEST(BinaryReplyParser, NeverReadsPastTheEndOfItsInput) {
    mmc::test::GuardPage guard;
    ASSERT_TRUE(guard.ok());
    std::vector<std::pair<std::string, std::size_t>> inputs;
    for (const Replay& r : replays()) inputs.emplace_back(r.input, kDefaultMaxValueSize);
    for (const Malformed& m : kMalformed) inputs.emplace_back(m.input, m.max_value_size);
    for (const auto& [input, max_value_size] : inputs) {
        ASSERT_LE(input.size(), guard.capacity());
        // Every prefix, so that each way a response can be cut short ends at the guard.
        for (std::size_t len = 0; len <= input.size(); ++len) {
            Session session(max_value_size);
            session.drain(guard.place(std::string_view(input).substr(0, len)));
        }
    }
}

// ==== no allocation =====================================================================

// What a 100-key multi-get earns when every key hits: 100 getkq responses, then noop.
std::string hundred_value_stream() {
    std::string in;
    for (std::uint32_t i = 0; i < 100; ++i) {
        in += response(Op::getkq).with_opaque(i).with_cas(1000 + i).with_extras(be32(i))
                  .with_key("key" + std::to_string(i)).with_value(std::string(i, 'd')).wire();
    }
    return in + response(Op::noop).with_opaque(100).wire();
}

TEST(BinaryReplyParser, HundredValueStreamParsesWithoutAllocating) {
    const std::string stream = hundred_value_stream();
    BinaryReplyParser p;
    BinaryEvent ev;
    std::size_t values = 0;
    bool ended = false;
    bool failed = false;

    const std::size_t before = mmc::test::allocations();
    std::string_view in = stream;
    while (!ended && !failed) {
        std::size_t consumed = 0;
        if (p.parse(in, ev, consumed) != ParseResult::event) {
            failed = true;
            break;
        }
        in.remove_prefix(consumed);
        if (ev.opcode == BinaryOpcode::getkq) ++values;
        ended = ev.opcode == BinaryOpcode::noop;
    }
    const std::size_t after = mmc::test::allocations();

    EXPECT_EQ(after - before, 0u);
    EXPECT_FALSE(failed);
    EXPECT_TRUE(ended);
    EXPECT_EQ(values, 100u);
    EXPECT_TRUE(in.empty());
}

TEST(BinaryReplyParser, ByteByByteParsingDoesNotAllocate) {
    const std::string stream = hundred_value_stream();
    BinaryReplyParser p;
    BinaryEvent ev;
    std::size_t values = 0;
    std::size_t start = 0;
    bool failed = false;

    const std::size_t before = mmc::test::allocations();
    for (std::size_t arrived = 1; arrived <= stream.size() && !failed; ++arrived) {
        for (;;) {
            std::size_t consumed = 0;
            const ParseResult r =
                p.parse(std::string_view(stream).substr(start, arrived - start), ev, consumed);
            if (r == ParseResult::need_more) break;
            if (r == ParseResult::error) {
                failed = true;
                break;
            }
            start += consumed;
            if (ev.opcode == BinaryOpcode::getkq) ++values;
        }
    }
    const std::size_t after = mmc::test::allocations();

    EXPECT_EQ(after - before, 0u);
    EXPECT_FALSE(failed);
    EXPECT_EQ(values, 100u);
    EXPECT_EQ(start, stream.size());
}

TEST(BinaryAllocationCounter, SeesAllocations) {
    // Guards the zero-allocation tests against a counter that silently counts nothing.
    // A direct call, unlike a new-expression, may not be optimised away.
    const std::size_t before = mmc::test::allocations();
    void* volatile p = ::operator new(100);
    const std::size_t after = mmc::test::allocations();
    ::operator delete(p);
    EXPECT_EQ(after - before, 1u);
}

}  // namespace
