// Fuzz target: the binary protocol's response parser (proto/binary_codec.h).
//
// Input: byte 0, when bit 7 is set, gives a tiny max_value_size of 0..127 bytes (bits
// 0-6) so the size limits are reachable with short inputs; bytes 1-2 pick the chunk
// sizes (see ChunkPlan); the rest is the byte stream from the server.
//
// As the text target: the stream is parsed whole and in chunks, each parse() seeing a
// copy of its bytes that ends at an inaccessible page, and both runs must give the
// same events and end the same way. Beyond that, every event is checked against its own 24-byte header, read
// with decode_binary_header() from the bytes it consumed: the parser must consume
// exactly header + body, and hand back the header's fields, the key and value where
// the header puts them, the flags from 4-byte extras, the counter of a successful
// incr/decr, and `final` as the header documents it.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "parser_target.h"
#include "proto/binary_codec.h"

namespace {

using mmc::proto::BinaryEvent;
using mmc::proto::BinaryHeader;
using mmc::proto::BinaryOpcode;
using mmc::proto::BinaryReplyParser;
using mmc::proto::BinaryStatus;
using mmc::proto::kBinaryHeaderSize;
using mmc::proto::ParseResult;
using mmc_fuzz::ChunkPlan;
using mmc_fuzz::Span;
using mmc_fuzz::span_of;

struct Record {
    BinaryOpcode opcode;
    BinaryStatus status;
    std::uint16_t raw_status;
    bool final;
    std::uint32_t opaque;
    std::uint64_t cas;
    std::uint32_t flags;
    std::uint64_t number;
    Span key;
    Span value;
    std::size_t end;  // stream offset just past the event

    bool operator==(const Record& o) const noexcept {
        return opcode == o.opcode && status == o.status && raw_status == o.raw_status &&
               final == o.final && opaque == o.opaque && cas == o.cas && flags == o.flags &&
               number == o.number && key == o.key && value == o.value && end == o.end;
    }
};

using Trace = mmc_fuzz::Trace<Record>;

BinaryEvent sentinel() {
    BinaryEvent ev;
    ev.opcode = BinaryOpcode::gatkq;
    ev.status = BinaryStatus::busy;
    ev.raw_status = 0xbeef;
    ev.final = false;
    ev.opaque = 0xa5a5a5a5u;
    ev.cas = 0x0123456789abcdefull;
    ev.flags = 0x5a5a5a5au;
    ev.number = 0xfedcba9876543210ull;
    ev.key = "sentinel-key";
    ev.value = "sentinel-value";
    return ev;
}

bool same(const BinaryEvent& a, const BinaryEvent& b) {
    return a.opcode == b.opcode && a.status == b.status && a.raw_status == b.raw_status &&
           a.final == b.final && a.opaque == b.opaque && a.cas == b.cas && a.flags == b.flags &&
           a.number == b.number && a.key.data() == b.key.data() && a.key.size() == b.key.size() &&
           a.value.data() == b.value.data() && a.value.size() == b.value.size();
}

std::uint64_t big_endian(std::string_view bytes) {
    std::uint64_t v = 0;
    for (unsigned char c : bytes) v = v << 8 | c;
    return v;
}

bool is_arith(BinaryOpcode op) {
    return op == BinaryOpcode::increment || op == BinaryOpcode::decrement ||
           op == BinaryOpcode::incrementq || op == BinaryOpcode::decrementq;
}

// What the header of an accepted response promises about its event.
void check_against_header(const BinaryEvent& ev, std::string_view bytes, std::size_t consumed) {
    BinaryHeader h;
    FUZZ_CHECK(mmc::proto::decode_binary_header(bytes, h), "an event from fewer than 24 bytes");
    FUZZ_CHECK(h.magic == mmc::proto::kBinaryResponseMagic, "an event from a non-response magic");
    FUZZ_CHECK(consumed == kBinaryHeaderSize + h.body_length, "consumed is not header + body");
    FUZZ_CHECK(static_cast<std::uint8_t>(ev.opcode) == h.opcode, "opcode differs from the header");
    FUZZ_CHECK(mmc::proto::known_binary_opcode(h.opcode), "an event with an unknown opcode");
    FUZZ_CHECK(ev.raw_status == h.vbucket_or_status, "raw_status differs from the header");
    FUZZ_CHECK(ev.status == mmc::proto::binary_status_from_raw(h.vbucket_or_status),
               "status is not binary_status_from_raw(raw_status)");
    FUZZ_CHECK(ev.opaque == h.opaque, "opaque differs from the header");
    FUZZ_CHECK(ev.cas == h.cas, "cas differs from the header");
    FUZZ_CHECK(h.data_type == 0, "an event with a data type other than 0");

    const std::size_t key_at = kBinaryHeaderSize + h.extras_length;
    FUZZ_CHECK(key_at + h.key_length <= consumed, "key beyond the body");
    FUZZ_CHECK(ev.key.data() == bytes.data() + key_at && ev.key.size() == h.key_length,
               "key is not where the header puts it");
    const std::size_t value_at = key_at + h.key_length;
    FUZZ_CHECK(ev.value.data() == bytes.data() + value_at && ev.value.size() == consumed - value_at,
               "value is not where the header puts it");
    if (h.extras_length == 4) {
        FUZZ_CHECK(ev.flags == big_endian(bytes.substr(kBinaryHeaderSize, 4)),
                   "flags differ from the extras");
    } else {
        FUZZ_CHECK(ev.flags == 0, "flags without 4-byte extras");
    }
    if (ev.status == BinaryStatus::ok && is_arith(ev.opcode)) {
        FUZZ_CHECK(ev.value.size() == 8, "a successful incr/decr without an 8-byte value");
        FUZZ_CHECK(ev.number == big_endian(ev.value), "number differs from the value");
    }
    const bool more_stats = ev.opcode == BinaryOpcode::stat && ev.status == BinaryStatus::ok &&
                            !ev.key.empty();
    FUZZ_CHECK(ev.final == !more_stats, "final is wrong for this response");
}

// plan == nullptr: the whole stream at once.
Trace run(std::size_t max_value_size, std::string_view stream, ChunkPlan* plan) {
    BinaryReplyParser parser(max_value_size);
    return mmc_fuzz::feed_stream<Record>(stream, plan, [&](std::string_view buf, std::size_t pos,
                                                           std::size_t& consumed, Trace& t) {
        const BinaryEvent before = sentinel();
        BinaryEvent ev = before;
        consumed = 12345;  // must be overwritten on every path
        const ParseResult r = parser.parse(buf, ev, consumed);

        if (r == ParseResult::event) {
            FUZZ_CHECK(consumed >= kBinaryHeaderSize, "an event consumed less than a header");
            FUZZ_CHECK(consumed <= buf.size(), "consumed exceeds the input");
            check_against_header(ev, buf, consumed);
            t.events.push_back(Record{
                ev.opcode, ev.status, ev.raw_status, ev.final, ev.opaque, ev.cas, ev.flags, ev.number,
                span_of(ev.key, buf.data(), consumed, pos, "key view outside the event"),
                span_of(ev.value, buf.data(), consumed, pos, "value view outside the event"),
                pos + consumed});
            return r;
        }

        FUZZ_CHECK(consumed == 0, "consumed set without an event");
        FUZZ_CHECK(same(ev, before), "ev written without an event");
        if (r == ParseResult::error) {
            t.error = parser.error_message();
            FUZZ_CHECK(!t.error.empty(), "error without a message");
            FUZZ_CHECK(parser.parse(buf, ev, consumed) == ParseResult::error && consumed == 0,
                       "error not sticky");
            // reset() makes the parser usable again, e.g. for a well-formed noop.
            BinaryReplyParser fresh_check = parser;
            fresh_check.reset();
            std::string noop;
            mmc::proto::BinaryHeader h;
            h.magic = mmc::proto::kBinaryResponseMagic;
            h.opcode = static_cast<std::uint8_t>(BinaryOpcode::noop);
            mmc::proto::encode_binary_header(noop, h);
            FUZZ_CHECK(fresh_check.parse(noop, ev, consumed) == ParseResult::event &&
                           consumed == kBinaryHeaderSize,
                       "reset() does not clear an error");
        }
        return r;
    });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return 0;
    const std::size_t max_value_size =
        (data[0] & 0x80) ? static_cast<std::size_t>(data[0] & 0x7f) : mmc::proto::kDefaultMaxValueSize;
    mmc_fuzz::check_whole_against_chunked(data, size, [&](std::string_view stream, ChunkPlan* plan) {
        return run(max_value_size, stream, plan);
    });
    return 0;
}
