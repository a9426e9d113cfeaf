// What the three reply-parser targets (text, binary, meta) share: feeding one stream to a
// parser whole or in chunks, each parse() seeing its bytes in a GuardedBuffer, and
// comparing the two runs. Each target keeps what depends on its parser: the record of
// an event, and the checks of an event, of an error and of the parser's state.
#ifndef MMC_TESTS_FUZZ_PARSER_TARGET_H
#define MMC_TESTS_FUZZ_PARSER_TARGET_H

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "proto/text_codec.h"  // ParseResult

namespace mmc_fuzz {

// How one way of feeding the stream went: the events (Record is the target's copy of
// one, with an operator==) and how it ended.
template <class Record>
struct Trace {
    std::vector<Record> events;
    mmc::proto::ParseResult last = mmc::proto::ParseResult::need_more;
    std::string_view error;
};

// Feeds `stream` to the parser (plan == nullptr: the whole stream at once), and ends at
// the first error or when the whole stream is in and the parser needs more.
// parse(buf, pos, consumed, trace) makes one parse() call on buf, which starts at stream
// offset pos, checks it and returns its result: with an event it sets consumed and adds
// the event's Record to the trace; with an error it sets trace.error.
template <class Record, class Parse>
Trace<Record> feed_stream(std::string_view stream, ChunkPlan* plan, Parse parse) {
    static GuardedBuffer guarded;
    Trace<Record> t;
    std::size_t pos = 0;  // bytes consumed so far
    std::size_t fed = plan ? std::min(stream.size(), plan->next()) : stream.size();
    for (;;) {
        const std::string_view buf = guarded.place(stream.substr(pos, fed - pos));
        std::size_t consumed = 0;
        const mmc::proto::ParseResult r = parse(buf, pos, consumed, t);
        if (r == mmc::proto::ParseResult::event) {
            pos += consumed;
            continue;
        }
        if (r == mmc::proto::ParseResult::error) {
            t.last = r;
            return t;
        }
        FUZZ_CHECK(r == mmc::proto::ParseResult::need_more, "unknown ParseResult");
        if (fed == stream.size()) {
            t.last = r;
            return t;
        }
        fed = std::min(stream.size(), fed + plan->next());
    }
}

// An input of at least 3 bytes: byte 0 is the target's, bytes 1-2 pick the chunk sizes,
// the rest is the stream. run(stream, plan) gives the Trace of one way of feeding it;
// whole and chunked input must give the same events and end the same way.
template <class Run>
void check_whole_against_chunked(const std::uint8_t* data, std::size_t size, Run run) {
    const std::string_view stream(reinterpret_cast<const char*>(data) + 3, size - 3);
    const auto whole = run(stream, nullptr);
    ChunkPlan plan(data[1], data[2]);
    const auto chunked = run(stream, &plan);

    FUZZ_CHECK(whole.events.size() == chunked.events.size(),
               "whole and chunked input give different numbers of events");
    for (std::size_t i = 0; i < whole.events.size(); ++i) {
        FUZZ_CHECK(whole.events[i] == chunked.events[i], "whole and chunked input give different events");
    }
    FUZZ_CHECK(whole.last == chunked.last, "whole and chunked input end differently");
    FUZZ_CHECK(whole.error == chunked.error, "whole and chunked input fail for different reasons");
}

}  // namespace mmc_fuzz

#endif  // MMC_TESTS_FUZZ_PARSER_TARGET_H
