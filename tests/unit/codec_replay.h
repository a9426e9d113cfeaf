// The replay harness the reply parsers' tests share: a reply fed whole, one byte at a
// time, or split in two at every position must give the same outcome, as it must
// however a socket happens to cut the stream. Each test file keeps its own Session,
// which drives its parser and checks that parser's own contract; this header holds what
// does not depend on the parser.
#ifndef MMC_TESTS_UNIT_CODEC_REPLAY_H
#define MMC_TESTS_UNIT_CODEC_REPLAY_H

#include "proto/text_codec.h"  // kDefaultMaxValueSize

#include <gtest/gtest.h>

#include <cstddef>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace codec_replay {

// What a parser made of a whole stream. Event is the test's owning copy of an event,
// with an operator== and a PrintTo found next to it.
template <class Event>
struct Outcome {
    std::vector<Event> events;
    bool failed = false;
    std::string error;
    bool complete = false;     // every expected reply reached its final event (text only)
    std::size_t leftover = 0;  // bytes never consumed
};

template <class Event>
bool operator==(const Outcome<Event>& a, const Outcome<Event>& b) {
    return a.events == b.events && a.failed == b.failed && a.error == b.error &&
           a.complete == b.complete && a.leftover == b.leftover;
}

template <class Event>
void PrintTo(const Outcome<Event>& o, std::ostream* os) {
    *os << (o.failed ? "failed(" + o.error + ") " : "") << (o.complete ? "complete " : "")
        << "leftover=" << o.leftover << " events=[";
    for (const Event& e : o.events) PrintTo(e, os);
    *os << "]";
}

// ---- how the bytes arrive ---------------------------------------------------------------

inline std::vector<std::string> whole(const std::string& in) { return {in}; }

inline std::vector<std::string> bytewise(const std::string& in) {
    std::vector<std::string> chunks;
    for (char c : in) chunks.emplace_back(1, c);
    return chunks;
}

inline std::vector<std::string> split_at(const std::string& in, std::size_t pos) {
    return {in.substr(0, pos), in.substr(pos)};
}

// Appends each chunk to a buffer as a socket read would, letting the session parse after
// each one. Session has drain(buffer) -> bytes consumed and finish(leftover) -> Outcome.
template <class Session>
auto feed(Session& session, const std::vector<std::string>& chunks) {
    std::string buf;
    for (const std::string& chunk : chunks) {
        buf += chunk;
        buf.erase(0, session.drain(buf));
    }
    return session.finish(buf.size());
}

// ---- replay tables ----------------------------------------------------------------------

enum class Arrival { whole, bytewise, split_everywhere };

// Each replay (a name and an input) arriving as `how` gives expected(replay).
// feed_chunks(replay, chunks) parses the chunks as that replay asks and returns the
// Outcome.
template <class Replay, class FeedChunks, class Expected>
void expect_replays(const std::vector<Replay>& replays, Arrival how, FeedChunks feed_chunks,
                    Expected expected) {
    for (const Replay& r : replays) {
        if (how == Arrival::split_everywhere) {
            for (std::size_t pos = 0; pos <= r.input.size(); ++pos) {
                SCOPED_TRACE(std::string(r.name) + " split at " + std::to_string(pos));
                EXPECT_EQ(feed_chunks(r, split_at(r.input, pos)), expected(r));
            }
            continue;
        }
        SCOPED_TRACE(r.name);
        EXPECT_EQ(feed_chunks(r, how == Arrival::whole ? whole(r.input) : bytewise(r.input)),
                  expected(r));
    }
}

// ---- malformed input ----------------------------------------------------------------------

// A malformed stream as the meta and binary tables give it: the parser's message, and
// how many events come first.
struct Malformed {
    const char* name;
    std::string input;
    const char* error;
    std::size_t events_before_error = 0;
    std::size_t max_value_size = mmc::proto::kDefaultMaxValueSize;
};

inline void PrintTo(const Malformed& m, std::ostream* os) { *os << m.name; }

// Whole, byte by byte and split at every position: always an error, after the same
// events and with the same message, which is `error` when that is not null.
// feed_chunks(chunks) returns the Outcome.
template <class FeedChunks>
void expect_same_failure(const std::string& input, const char* error,
                         std::size_t events_before_error, FeedChunks feed_chunks) {
    const auto all = feed_chunks(whole(input));
    EXPECT_TRUE(all.failed);
    if (error != nullptr) {
        EXPECT_EQ(all.error, error);
    }
    EXPECT_EQ(all.events.size(), events_before_error);
    EXPECT_EQ(feed_chunks(bytewise(input)), all);
    for (std::size_t pos = 0; pos <= input.size(); ++pos) {
        SCOPED_TRACE("split at " + std::to_string(pos));
        EXPECT_EQ(feed_chunks(split_at(input, pos)), all);
    }
}

// Names each instance of a parameterised test after its parameter's `name`.
struct ParamName {
    template <class Param>
    std::string operator()(const ::testing::TestParamInfo<Param>& info) const {
        return std::string(info.param.name);
    }
};

}  // namespace codec_replay

#endif  // MMC_TESTS_UNIT_CODEC_REPLAY_H
