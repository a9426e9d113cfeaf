// Fuzz target: the meta protocol's reply parser (proto/meta_codec.h).
//
// Input: byte 0, when bit 7 is set, gives a tiny max_value_size of 0..127 bytes (bits
// 0-6) so the size limit is reachable with short inputs; bytes 1-2 pick the chunk sizes
// (see ChunkPlan); the rest is the byte stream from the server. Meta replies describe
// themselves, so there is nothing to expect between them: one input holds any number.
//
// As the text and binary targets: the stream is parsed whole and in chunks, each
// parse() seeing a copy of its bytes that ends at an inaccessible page, and both runs
// must give the same events (same fields, views at the same stream offsets) and end the
// same way (need_more at the end of the stream, or the same error). consumed is within
// the input and non-zero for an event only, `ev` is untouched unless an event is
// returned, errors are sticky and reset() clears them. Beyond that, every event is
// checked against the bytes it consumed: they end in "\r\n", their first two bytes are
// the event's code, a VA event's data is exactly as long as its line says and sits
// between that line and the final "\r\n", the key and opaque views lie in the first
// line, and fields whose flag did not come back are empty. A base64 key (b) is fed to
// base64_decode(), which must not read past the token either.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "meta_requests.h"
#include "parser_target.h"
#include "proto/meta_codec.h"

namespace {

using mmc::proto::MetaEvent;
using mmc::proto::MetaEventType;
using mmc::proto::MetaFlag;
using mmc::proto::MetaReplyParser;
using mmc::proto::ParseResult;
using mmc_fuzz::ChunkPlan;
using mmc_fuzz::GuardedBuffer;
using mmc_fuzz::Span;
using mmc_fuzz::span_of;

struct Record {
    MetaEventType type;
    std::uint16_t returned;
    bool hit_before;
    std::uint32_t flags;
    std::uint32_t size;
    std::uint32_t last_access;
    std::int64_t ttl;
    std::uint64_t cas;
    Span key;
    Span opaque;
    Span data;
    std::size_t end;  // stream offset just past the event

    bool operator==(const Record& o) const noexcept {
        return type == o.type && returned == o.returned && hit_before == o.hit_before &&
               flags == o.flags && size == o.size && last_access == o.last_access && ttl == o.ttl &&
               cas == o.cas && key == o.key && opaque == o.opaque && data == o.data && end == o.end;
    }
};

using Trace = mmc_fuzz::Trace<Record>;

// Values no parser would produce together: a leftover of them shows as a difference.
MetaEvent sentinel() {
    MetaEvent ev;
    ev.type = MetaEventType::server_error;
    ev.returned = 0xffff;
    ev.hit_before = true;
    ev.flags = 0xa5a5a5a5u;
    ev.size = 0x5a5a5a5au;
    ev.last_access = 0x12345678u;
    ev.ttl = -12345;
    ev.cas = 0x0123456789abcdefull;
    ev.key = "sentinel-key";
    ev.opaque = "sentinel-opaque";
    ev.data = "sentinel-data";
    return ev;
}

bool same(const MetaEvent& a, const MetaEvent& b) {
    return a.type == b.type && a.returned == b.returned && a.hit_before == b.hit_before &&
           a.flags == b.flags && a.size == b.size && a.last_access == b.last_access && a.ttl == b.ttl &&
           a.cas == b.cas && a.key.data() == b.key.data() && a.key.size() == b.key.size() &&
           a.opaque.data() == b.opaque.data() && a.opaque.size() == b.opaque.size() &&
           a.data.data() == b.data.data() && a.data.size() == b.data.size();
}

const char* code_of(MetaEventType t) {
    switch (t) {
        case MetaEventType::value: return "VA";
        case MetaEventType::ok: return "HD";
        case MetaEventType::miss: return "EN";
        case MetaEventType::not_stored: return "NS";
        case MetaEventType::exists: return "EX";
        case MetaEventType::not_found: return "NF";
        case MetaEventType::noop: return "MN";
        case MetaEventType::debug: return "ME";
        case MetaEventType::error: return "ER";
        case MetaEventType::client_error: return "CL";
        case MetaEventType::server_error: return "SE";
    }
    return "??";
}

bool inside(std::string_view view, const char* begin, std::size_t size) {
    if (view.empty()) return true;
    return view.data() >= begin && view.data() + view.size() <= begin + size;
}

// What the event must agree with in the bytes it consumed.
void check_against_bytes(const MetaEvent& ev, std::string_view bytes) {
    FUZZ_CHECK(bytes.size() >= 4, "an event shorter than a code and CRLF");
    FUZZ_CHECK(bytes.substr(bytes.size() - 2) == "\r\n", "an event that does not end in CRLF");
    FUZZ_CHECK(std::memcmp(bytes.data(), code_of(ev.type), 2) == 0, "event type is not the line's code");
    const std::size_t line_end = bytes.find("\r\n");  // the first line, without its CRLF
    FUZZ_CHECK(inside(ev.key, bytes.data(), line_end) && inside(ev.opaque, bytes.data(), line_end),
               "key or opaque outside the reply line");
    if (ev.type == MetaEventType::value) {
        // "VA <length>...\r\n<data>\r\n": the data is what the line announces.
        std::uint64_t length = 0;
        const std::string_view after = bytes.substr(3, line_end - 3);
        FUZZ_CHECK(mmc::proto::parse_meta_number(after.substr(0, after.find(' ')), length),
                   "VA event without a decimal length");
        FUZZ_CHECK(ev.data.size() == length, "VA data of another length than its line says");
        FUZZ_CHECK(ev.data.data() == bytes.data() + line_end + 2 &&
                       line_end + 2 + ev.data.size() + 2 == bytes.size(),
                   "VA data not between its line and the final CRLF");
    } else {
        FUZZ_CHECK(line_end + 2 == bytes.size(), "a line event consumed more than its line");
        FUZZ_CHECK(inside(ev.data, bytes.data(), line_end), "data outside the reply line");
    }
    if (ev.type != MetaEventType::debug) {
        FUZZ_CHECK(ev.has(MetaFlag::key) || ev.key.empty(), "key without the k flag");
    } else {
        FUZZ_CHECK(!ev.key.empty() && ev.key.size() <= mmc::proto::kMaxMetaKeyToken, "ME event key length");
    }
    FUZZ_CHECK(ev.has(MetaFlag::opaque) || ev.opaque.empty(), "opaque without the O flag");
    FUZZ_CHECK(ev.opaque.size() <= mmc::proto::kMaxMetaOpaqueLength, "opaque too long");
    FUZZ_CHECK(ev.has(MetaFlag::cas) || ev.cas == 0, "cas without the c flag");
    FUZZ_CHECK(ev.has(MetaFlag::ttl) || ev.ttl == 0, "ttl without the t flag");
    FUZZ_CHECK(ev.ttl >= -1 && ev.ttl <= 0xffffffffll, "ttl out of range");
    FUZZ_CHECK(ev.returned < (1u << (static_cast<unsigned>(MetaFlag::lease_taken) + 1)), "unknown flag bit");
    if (ev.has(MetaFlag::base64_key) && ev.has(MetaFlag::key)) {
        char decoded[mmc::proto::kMaxMetaKeyToken];
        std::size_t n = 0;
        static GuardedBuffer token;
        if (mmc::test_meta::base64_decode(token.place(ev.key), decoded, sizeof decoded, n)) {
            FUZZ_CHECK(n <= ev.key.size() / 4 * 3 && n + 2 >= ev.key.size() / 4 * 3, "base64 length");
        }
    }
}

// plan == nullptr: the whole stream at once.
Trace run(std::size_t max_value_size, std::string_view stream, ChunkPlan* plan) {
    MetaReplyParser parser(max_value_size);
    return mmc_fuzz::feed_stream<Record>(stream, plan, [&](std::string_view buf, std::size_t pos,
                                                           std::size_t& consumed, Trace& t) {
        const MetaEvent before = sentinel();
        MetaEvent ev = before;
        consumed = 12345;  // must be overwritten on every path
        const ParseResult r = parser.parse(buf, ev, consumed);

        if (r == ParseResult::event) {
            FUZZ_CHECK(consumed > 0, "an event consumed no bytes");
            FUZZ_CHECK(consumed <= buf.size(), "consumed exceeds the input");
            check_against_bytes(ev, buf.substr(0, consumed));
            t.events.push_back(Record{
                ev.type, ev.returned, ev.hit_before, ev.flags, ev.size, ev.last_access, ev.ttl, ev.cas,
                span_of(ev.key, buf.data(), consumed, pos, "key view outside the event"),
                span_of(ev.opaque, buf.data(), consumed, pos, "opaque view outside the event"),
                span_of(ev.data, buf.data(), consumed, pos, "data view outside the event"),
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
            // reset() makes the parser usable again.
            MetaReplyParser fresh = parser;
            fresh.reset();
            FUZZ_CHECK(fresh.parse("MN\r\n", ev, consumed) == ParseResult::event && consumed == 4 &&
                           ev.type == MetaEventType::noop,
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
