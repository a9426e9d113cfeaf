// Fuzz target: the text protocol's reply parser (proto/text_codec.h).
//
// Input: byte 0 picks the ReplyKind (bits 0-2) and, when bit 7 is set, a tiny
// max_value_size of 0..15 bytes (bits 3-6) so the size limit is reachable with short
// inputs; bytes 1-2 pick the chunk sizes (see ChunkPlan); the rest is the byte stream
// from the server. After each final event the parser is told to expect the same kind
// again, as a connection pipelining requests would, so one input can hold many replies.
//
// The stream is parsed twice, once whole and once in chunks, and the two runs must give
// the same events (same fields, views at the same stream offsets) and end the same way
// (need_more at the end of the stream, or the same error). Every parse() call sees a
// copy of its bytes that ends at an inaccessible page, so a read past them faults.
// Further contract checks: consumed is within the input and non-zero for an event and
// zero otherwise, an event's views lie within the bytes it consumed, `ev` is untouched
// unless an event is returned, and an error is sticky. Before each parse(),
// parse_value_of() is tried with the key the input's VALUE line names and with two keys
// that differ from it at the end: a value it takes must be the one parse() then returns,
// for that very key; when it takes none it must leave its outputs alone.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "parser_target.h"
#include "proto/key.h"
#include "proto/text_codec.h"

namespace {

using mmc::proto::EventType;
using mmc::proto::ParseResult;
using mmc::proto::ReplyKind;
using mmc::proto::TextEvent;
using mmc::proto::TextReplyParser;
using mmc_fuzz::ChunkPlan;
using mmc_fuzz::Span;
using mmc_fuzz::span_of;

struct Record {
    EventType type;
    bool final;
    bool has_cas;
    std::uint32_t flags;
    std::uint64_t cas;
    std::uint64_t number;
    Span key;
    Span data;
    std::size_t end;  // stream offset just past the event

    bool operator==(const Record& o) const noexcept {
        return type == o.type && final == o.final && has_cas == o.has_cas && flags == o.flags &&
               cas == o.cas && number == o.number && key == o.key && data == o.data &&
               end == o.end;
    }
};

using Trace = mmc_fuzz::Trace<Record>;

// Values no parser would produce together: every event must overwrite all of them
// (a leftover shows as a difference between the ways of feeding the same stream).
TextEvent sentinel() {
    TextEvent ev;
    ev.type = EventType::ok;
    ev.final = true;
    ev.has_cas = true;
    ev.flags = 0xa5a5a5a5u;
    ev.cas = 0x0123456789abcdefull;
    ev.number = 0xfedcba9876543210ull;
    ev.key = "sentinel-key";
    ev.data = "sentinel-data";
    return ev;
}

// plan == nullptr: the whole stream at once.
Trace run(ReplyKind kind, std::size_t max_value_size, std::string_view stream, ChunkPlan* plan) {
    TextReplyParser parser(max_value_size);
    parser.expect(kind);
    return mmc_fuzz::feed_stream<Record>(stream, plan, [&](std::string_view buf, std::size_t pos,
                                                           std::size_t& consumed, Trace& t) {
        // parse_value_of() first, with the key the input names and two near misses:
        // what it takes, parse() must take the same way; what it refuses, it leaves alone.
        struct Guess {
            std::string key;
            bool took = false;
            TextEvent ev;
            std::size_t consumed = 0;
        };
        std::vector<Guess> guesses;
        if (buf.size() > 6 && buf.substr(0, 6) == "VALUE ") {
            std::size_t end = 6;
            while (end < buf.size() && static_cast<unsigned char>(buf[end]) > 0x20) ++end;
            const std::string named(buf.substr(6, end - 6));
            for (const std::string& key : {named, named + "x", named.substr(0, named.size() ? named.size() - 1 : 0)}) {
                if (mmc::proto::valid_key(key)) guesses.emplace_back().key = key;
            }
        }
        for (Guess& g : guesses) {
            g.ev = sentinel();
            g.consumed = 12345;
            g.took = parser.parse_value_of(buf, g.key, g.ev, g.consumed);
            if (!g.took) {
                FUZZ_CHECK(g.consumed == 12345 && g.ev.key == sentinel().key && g.ev.flags == sentinel().flags,
                           "parse_value_of() changed its outputs without taking a value");
            }
        }

        const TextEvent before = sentinel();
        TextEvent ev = before;
        consumed = 12345;  // must be overwritten on every path
        const ParseResult r = parser.parse(buf, ev, consumed);
        for (const Guess& g : guesses) {
            if (!g.took) continue;
            FUZZ_CHECK(r == ParseResult::event && ev.type == EventType::value && !ev.final,
                       "parse_value_of() took what parse() does not read as a value");
            FUZZ_CHECK(g.ev.key == g.key && ev.key.data() == g.ev.key.data() && ev.key == g.ev.key,
                       "parse_value_of() took a value for another key");
            FUZZ_CHECK(g.consumed == consumed && g.ev.data.data() == ev.data.data() && g.ev.data == ev.data &&
                           g.ev.flags == ev.flags && g.ev.cas == ev.cas && g.ev.has_cas == ev.has_cas &&
                           g.ev.number == ev.number && g.ev.type == ev.type && g.ev.final == ev.final,
                       "parse_value_of() and parse() disagree on a value");
        }

        if (r == ParseResult::event) {
            FUZZ_CHECK(consumed > 0, "an event consumed no bytes");
            FUZZ_CHECK(consumed <= buf.size(), "consumed exceeds the input");
            Record rec{ev.type, ev.final, ev.has_cas, ev.flags, ev.cas, ev.number,
                       span_of(ev.key, buf.data(), consumed, pos, "key view outside the event"),
                       span_of(ev.data, buf.data(), consumed, pos, "data view outside the event"),
                       pos + consumed};
            t.events.push_back(rec);
            if (ev.final) {
                FUZZ_CHECK(!parser.in_reply(), "in_reply() after a final event");
                parser.expect(kind);  // pipelining: the next reply answers the same kind
            } else {
                FUZZ_CHECK(parser.in_reply(), "not in_reply() after a non-final event");
            }
            return r;
        }

        FUZZ_CHECK(consumed == 0, "consumed set without an event");
        // ev's contents are unspecified here (the parser fills it in place).
        if (r == ParseResult::error) {
            t.error = parser.error_message();
            FUZZ_CHECK(!t.error.empty(), "error without a message");
            FUZZ_CHECK(!parser.in_reply(), "in_reply() after an error");
            // Sticky: the same bytes (and any others) keep failing until expect().
            FUZZ_CHECK(parser.parse(buf, ev, consumed) == ParseResult::error && consumed == 0,
                       "error not sticky");
        }
        return r;
    });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return 0;
    const auto kind = static_cast<ReplyKind>(data[0] & 0x07);
    const std::size_t max_value_size =
        (data[0] & 0x80) ? static_cast<std::size_t>((data[0] >> 3) & 0x0f) : mmc::proto::kDefaultMaxValueSize;
    mmc_fuzz::check_whole_against_chunked(data, size, [&](std::string_view stream, ChunkPlan* plan) {
        return run(kind, max_value_size, stream, plan);
    });
    return 0;
}
