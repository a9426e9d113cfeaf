// The text protocol codec: exact request bytes, and reply parsing that gives the same
// events however the bytes arrive, fails cleanly on anything malformed, never reads
// past its input and never allocates.
#include "allocation_counter.h"
#include "codec_replay.h"
#include "guard_page.h"
#include "proto/text_codec.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>


namespace {

using namespace mmc::proto;
using namespace std::string_literals;

// ---- owning copies of events, so they outlive the parsed buffer ------------------------

struct Event {
    EventType type = EventType::end;
    bool final = false;
    bool has_cas = false;
    std::uint32_t flags = 0;
    std::uint64_t cas = 0;
    std::uint64_t number = 0;
    std::string key;
    std::string data;

    bool operator==(const Event& o) const {
        return type == o.type && final == o.final && has_cas == o.has_cas &&
               flags == o.flags && cas == o.cas && number == o.number && key == o.key &&
               data == o.data;
    }
};

const char* type_name(EventType t) {
    static const char* const names[] = {
        "value",     "end",     "stored", "not_stored", "exists",       "not_found",
        "deleted",   "number",  "version", "stat",      "error",        "client_error",
        "server_error", "touched", "ok"};
    return names[static_cast<int>(t)];
}

void PrintTo(const Event& e, std::ostream* os) {
    *os << "{" << type_name(e.type) << (e.final ? " final" : "") << " key=\"" << e.key
        << "\" data=\"" << e.data << "\" flags=" << e.flags << " cas=" << e.cas
        << (e.has_cas ? "(set)" : "") << " number=" << e.number << "}";
}

Event own(const TextEvent& ev) {
    Event e;
    e.type = ev.type;
    e.final = ev.final;
    e.has_cas = ev.has_cas;
    e.flags = ev.flags;
    e.cas = ev.cas;
    e.number = ev.number;
    e.key = std::string(ev.key);
    e.data = std::string(ev.data);
    return e;
}

Event final_event(EventType type, std::string data = {}) {
    Event e;
    e.type = type;
    e.final = true;
    e.data = std::move(data);
    return e;
}

Event value(std::string key, std::uint32_t flags, std::string data) {
    Event e;
    e.type = EventType::value;
    e.key = std::move(key);
    e.flags = flags;
    e.data = std::move(data);
    return e;
}

Event value_cas(std::string key, std::uint32_t flags, std::string data, std::uint64_t cas) {
    Event e = value(std::move(key), flags, std::move(data));
    e.has_cas = true;
    e.cas = cas;
    return e;
}

Event stat(std::string name, std::string val) {
    Event e;
    e.type = EventType::stat;
    e.key = std::move(name);
    e.data = std::move(val);
    return e;
}

Event number(std::uint64_t n) {
    Event e = final_event(EventType::number);
    e.number = n;
    return e;
}

Event end() { return final_event(EventType::end); }

// ---- driving the parser the way a connection does --------------------------------------

using Outcome = codec_replay::Outcome<Event>;
using codec_replay::bytewise;
using codec_replay::split_at;
using codec_replay::whole;

// Expects each kind in turn, the next one as soon as a reply has ended (pipelining).
class Session {
public:
    Session(std::vector<ReplyKind> kinds, std::size_t max_value_size)
        : parser_(max_value_size), kinds_(std::move(kinds)) {
        parser_.expect(kinds_[next_++]);
    }

    // Parses every event `in` holds; returns the bytes consumed.
    std::size_t drain(std::string_view in) {
        std::size_t used = 0;
        while (!out_.failed) {
            if (!parser_.in_reply() && next_ < kinds_.size()) parser_.expect(kinds_[next_++]);
            TextEvent ev;
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
            EXPECT_GT(consumed, 0u);
            EXPECT_LE(consumed, rest.size());
            expect_inside(ev.key, rest);
            expect_inside(ev.data, rest);
            out_.events.push_back(own(ev));
            used += consumed;
        }
        return used;
    }

    Outcome finish(std::size_t leftover) {
        out_.complete = !out_.failed && !parser_.in_reply() && next_ == kinds_.size();
        out_.leftover = leftover;
        return out_;
    }

private:
    static void expect_inside(std::string_view view, std::string_view buf) {
        if (view.empty()) return;
        EXPECT_GE(view.data(), buf.data());
        EXPECT_LE(view.data() + view.size(), buf.data() + buf.size());
    }

    TextReplyParser parser_;
    std::vector<ReplyKind> kinds_;
    std::size_t next_ = 0;
    Outcome out_;
};

Outcome feed(const std::vector<ReplyKind>& kinds, const std::vector<std::string>& chunks,
             std::size_t max_value_size = kDefaultMaxValueSize) {
    Session session(kinds, max_value_size);
    return codec_replay::feed(session, chunks);
}

Outcome parse_all(ReplyKind kind, const std::string& in,
                  std::size_t max_value_size = kDefaultMaxValueSize) {
    return feed({kind}, whole(in), max_value_size);
}

Outcome completed(std::vector<Event> events) {
    Outcome o;
    o.events = std::move(events);
    o.complete = true;
    return o;
}

constexpr ReplyKind kAllKinds[] = {ReplyKind::retrieval,  ReplyKind::storage,
                                   ReplyKind::deletion,   ReplyKind::arithmetic,
                                   ReplyKind::version,    ReplyKind::stats,
                                   ReplyKind::touch,      ReplyKind::ok};

// The enums only grow at the end: code built against the earlier set (the engine, type
// names above, anything that stored a number) keeps meaning the same thing.
static_assert(static_cast<int>(EventType::server_error) == 12);
static_assert(static_cast<int>(EventType::touched) == 13);
static_assert(static_cast<int>(EventType::ok) == 14);
static_assert(static_cast<int>(ReplyKind::stats) == 5);
static_assert(static_cast<int>(ReplyKind::touch) == 6);
static_assert(static_cast<int>(ReplyKind::ok) == 7);
static_assert(static_cast<int>(StoreCommand::replace) == 2);
static_assert(static_cast<int>(StoreCommand::cas) == 5);

// ==== encoders ==========================================================================

TEST(EncodeGet, WritesGetKeyCrlf) {
    std::string out;
    encode_get(out, "user:42");
    EXPECT_EQ(out, "get user:42\r\n");
}

TEST(EncodeGetMulti, SeparatesKeysWithSingleSpaces) {
    const std::string_view keys[] = {"a", "bb", "ccc"};
    std::string out;
    encode_get_multi(out, keys, 3);
    EXPECT_EQ(out, "get a bb ccc\r\n");
}

TEST(EncodeGetMulti, WithOneKeyMatchesEncodeGet) {
    const std::string_view key = "k";
    std::string multi;
    std::string single;
    encode_get_multi(multi, &key, 1);
    encode_get(single, key);
    EXPECT_EQ(multi, single);
}

TEST(EncodeGetMulti, WithNoKeysAppendsNothing) {
    std::string out = "x";
    encode_get_multi(out, nullptr, 0);
    EXPECT_EQ(out, "x");
}

TEST(EncodeStoreHeader, WritesSetLineWithoutData) {
    std::string out;
    encode_store_header(out, StoreCommand::set, "cow", 7, 60, 3);
    EXPECT_EQ(out, "set cow 7 60 3\r\n");
}

TEST(EncodeStoreHeader, WritesAddLine) {
    std::string out;
    encode_store_header(out, StoreCommand::add, "k", 0, 0, 0);
    EXPECT_EQ(out, "add k 0 0 0\r\n");
}

TEST(EncodeStoreHeader, WritesReplaceLine) {
    std::string out;
    encode_store_header(out, StoreCommand::replace, "k", 1, 2, 10);
    EXPECT_EQ(out, "replace k 1 2 10\r\n");
}

TEST(EncodeStoreHeader, WritesLargestNumbersInFull) {
    std::string out;
    EXPECT_TRUE(encode_store_header(out, StoreCommand::set, "k", 4294967295u, 4294967295u,
                                    kMaxTextValueLength));
    EXPECT_EQ(out, "set k 4294967295 4294967295 2147483645\r\n");
}

TEST(EncodeStoreHeader, LongestLengthIsTheOneMemcachedStillReads) {
    // memcached parses <bytes> as a signed 32-bit int and adds 2 for the CRLF.
    EXPECT_EQ(kMaxTextValueLength, std::size_t{2147483647 - 2});
}

TEST(EncodeStoreHeader, RefusesALengthMemcachedCannotReadAndAppendsNothing) {
    const std::size_t too_long[] = {kMaxTextValueLength + 1, std::size_t{2147483647},
                                    std::size_t{1} << 32, (std::size_t{1} << 32) + 3,
                                    std::size_t{18446744073709551615u}};
    for (std::size_t bytes : too_long) {
        for (StoreCommand cmd : {StoreCommand::set, StoreCommand::add, StoreCommand::replace,
                                 StoreCommand::append, StoreCommand::prepend, StoreCommand::cas}) {
            std::string out = "before";
            EXPECT_FALSE(encode_store_header(out, cmd, "k", 0, 0, bytes, 1)) << bytes;
            EXPECT_EQ(out, "before") << bytes;
        }
    }
}

TEST(EncodeStore, RefusesDataLongerThanMemcachedReadsAndAppendsNothing) {
    // Only the view's length matters: the encoder refuses before it reads a byte.
    const char byte = 'x';
    const std::string_view huge(&byte, kMaxTextValueLength + 1);
    std::string out = "before";
    EXPECT_FALSE(encode_store(out, StoreCommand::set, "k", 0, 0, huge));
    EXPECT_EQ(out, "before");
}

TEST(EncodeStore, ReportsSuccess) {
    std::string out;
    EXPECT_TRUE(encode_store(out, StoreCommand::set, "cow", 0, 0, "moo"));
    EXPECT_EQ(out, "set cow 0 0 3\r\nmoo\r\n");
}

TEST(EncodeStore, AppendsDataAndCrlfAfterHeader) {
    std::string out;
    encode_store(out, StoreCommand::set, "cow", 0, 0, "moo");
    EXPECT_EQ(out, "set cow 0 0 3\r\nmoo\r\n");
}

TEST(EncodeStore, SendsBinaryDataUnchanged) {
    std::string out;
    const std::string data = "a\r\nEND\r\n\0z"s;
    encode_store(out, StoreCommand::add, "k", 5, 9, data);
    EXPECT_EQ(out, "add k 5 9 10\r\n"s + data + "\r\n");
}

TEST(EncodeStore, SendsEmptyValue) {
    std::string out;
    encode_store(out, StoreCommand::replace, "k", 0, 0, "");
    EXPECT_EQ(out, "replace k 0 0 0\r\n\r\n");
}

TEST(EncodeDelete, SendsNoTime) {
    std::string out;
    encode_delete(out, "cow");
    EXPECT_EQ(out, "delete cow\r\n");
}

TEST(EncodeArith, WritesIncr) {
    std::string out;
    encode_arith(out, ArithCommand::incr, "n", 5);
    EXPECT_EQ(out, "incr n 5\r\n");
}

TEST(EncodeArith, WritesDecr) {
    std::string out;
    encode_arith(out, ArithCommand::decr, "n", 0);
    EXPECT_EQ(out, "decr n 0\r\n");
}

TEST(EncodeArith, WritesFull64BitDelta) {
    std::string out;
    encode_arith(out, ArithCommand::incr, "n", 18446744073709551615u);
    EXPECT_EQ(out, "incr n 18446744073709551615\r\n");
}

TEST(EncodeVersion, WritesVersionCommand) {
    std::string out;
    encode_version(out);
    EXPECT_EQ(out, "version\r\n");
}

TEST(EncodeStats, WritesPlainStatsWithoutGroup) {
    std::string out;
    encode_stats(out);
    EXPECT_EQ(out, "stats\r\n");
}

TEST(EncodeStats, WritesGroupAfterStats) {
    std::string out;
    encode_stats(out, "slabs");
    EXPECT_EQ(out, "stats slabs\r\n");
}

TEST(EncodeQuit, WritesQuitCommand) {
    std::string out;
    encode_quit(out);
    EXPECT_EQ(out, "quit\r\n");
}

TEST(EncodeGets, WritesGetsKeyCrlf) {
    std::string out;
    encode_gets(out, "user:42");
    EXPECT_EQ(out, "gets user:42\r\n");
}

TEST(EncodeGetsMulti, SeparatesKeysWithSingleSpaces) {
    const std::string_view keys[] = {"a", "bb", "ccc"};
    std::string out;
    encode_gets_multi(out, keys, 3);
    EXPECT_EQ(out, "gets a bb ccc\r\n");
}

TEST(EncodeGetsMulti, WithOneKeyMatchesEncodeGets) {
    const std::string_view key = "k";
    std::string multi;
    std::string single;
    encode_gets_multi(multi, &key, 1);
    encode_gets(single, key);
    EXPECT_EQ(multi, single);
}

TEST(EncodeGetsMulti, WithNoKeysAppendsNothing) {
    std::string out = "x";
    encode_gets_multi(out, nullptr, 0);
    EXPECT_EQ(out, "x");
}

TEST(EncodeGat, WritesExptimeBeforeTheKey) {
    std::string out;
    encode_gat(out, 300, "cow");
    EXPECT_EQ(out, "gat 300 cow\r\n");
}

TEST(EncodeGatMulti, WritesExptimeThenKeys) {
    const std::string_view keys[] = {"a", "bb", "ccc"};
    std::string out;
    encode_gat_multi(out, 0, keys, 3);
    EXPECT_EQ(out, "gat 0 a bb ccc\r\n");
}

TEST(EncodeGatMulti, WithNoKeysAppendsNothing) {
    std::string out = "x";
    encode_gat_multi(out, 10, nullptr, 0);
    EXPECT_EQ(out, "x");
}

TEST(EncodeGats, WritesExptimeBeforeTheKey) {
    std::string out;
    encode_gats(out, 4294967295u, "cow");
    EXPECT_EQ(out, "gats 4294967295 cow\r\n");
}

TEST(EncodeGatsMulti, WritesExptimeThenKeys) {
    const std::string_view keys[] = {"a", "bb"};
    std::string out;
    encode_gats_multi(out, 60, keys, 2);
    EXPECT_EQ(out, "gats 60 a bb\r\n");
}

TEST(EncodeGatsMulti, WithNoKeysAppendsNothing) {
    std::string out = "x";
    encode_gats_multi(out, 10, nullptr, 0);
    EXPECT_EQ(out, "x");
}

TEST(EncodeStoreHeader, WritesAppendLine) {
    std::string out;
    encode_store_header(out, StoreCommand::append, "k", 0, 0, 4);
    EXPECT_EQ(out, "append k 0 0 4\r\n");
}

TEST(EncodeStoreHeader, WritesPrependLine) {
    std::string out;
    encode_store_header(out, StoreCommand::prepend, "k", 3, 9, 1);
    EXPECT_EQ(out, "prepend k 3 9 1\r\n");
}

TEST(EncodeStoreHeader, WritesCasLineWithCasUniqueLast) {
    std::string out;
    encode_store_header(out, StoreCommand::cas, "cow", 7, 60, 3, 12345);
    EXPECT_EQ(out, "cas cow 7 60 3 12345\r\n");
}

TEST(EncodeStoreHeader, WritesFull64BitCasUnique) {
    std::string out;
    encode_store_header(out, StoreCommand::cas, "k", 0, 0, 1, 18446744073709551615u);
    EXPECT_EQ(out, "cas k 0 0 1 18446744073709551615\r\n");
}

TEST(EncodeStoreHeader, WritesCasUniqueOfZero) {
    std::string out;
    encode_store_header(out, StoreCommand::cas, "k", 0, 0, 1);
    EXPECT_EQ(out, "cas k 0 0 1 0\r\n");
}

TEST(EncodeStoreHeader, IgnoresCasUniqueForOtherCommands) {
    for (StoreCommand cmd : {StoreCommand::set, StoreCommand::add, StoreCommand::replace,
                             StoreCommand::append, StoreCommand::prepend}) {
        std::string with_cas;
        std::string without;
        encode_store_header(with_cas, cmd, "k", 1, 2, 3, 99);
        encode_store_header(without, cmd, "k", 1, 2, 3);
        EXPECT_EQ(with_cas, without) << "command " << static_cast<int>(cmd);
    }
}

TEST(EncodeStoreHeader, WritesNoreplyLast) {
    std::string out;
    encode_store_header(out, StoreCommand::set, "k", 1, 2, 3, 0, Noreply::yes);
    EXPECT_EQ(out, "set k 1 2 3 noreply\r\n");
}

TEST(EncodeStoreHeader, WritesNoreplyAfterCasUnique) {
    std::string out;
    encode_store_header(out, StoreCommand::cas, "k", 1, 2, 3, 4, Noreply::yes);
    EXPECT_EQ(out, "cas k 1 2 3 4 noreply\r\n");
}

TEST(EncodeStoreHeader, NoreplyNoWritesNothingExtra) {
    std::string out;
    encode_store_header(out, StoreCommand::add, "k", 1, 2, 3, 0, Noreply::no);
    EXPECT_EQ(out, "add k 1 2 3\r\n");
}

TEST(EncodeStore, WritesCasRequestWithData) {
    std::string out;
    encode_store(out, StoreCommand::cas, "cow", 0, 0, "moo", 991);
    EXPECT_EQ(out, "cas cow 0 0 3 991\r\nmoo\r\n");
}

TEST(EncodeStore, WritesAppendAndPrependRequests) {
    std::string out;
    encode_store(out, StoreCommand::append, "k", 0, 0, "tail");
    encode_store(out, StoreCommand::prepend, "k", 0, 0, "head");
    EXPECT_EQ(out, "append k 0 0 4\r\ntail\r\nprepend k 0 0 4\r\nhead\r\n");
}

TEST(EncodeStore, PutsNoreplyOnTheCommandLineNotAfterTheData) {
    std::string out;
    encode_store(out, StoreCommand::set, "k", 0, 0, "x", 0, Noreply::yes);
    EXPECT_EQ(out, "set k 0 0 1 noreply\r\nx\r\n");
}

TEST(EncodeStore, WritesCasWithNoreply) {
    std::string out;
    encode_store(out, StoreCommand::cas, "k", 5, 6, "xy", 7, Noreply::yes);
    EXPECT_EQ(out, "cas k 5 6 2 7 noreply\r\nxy\r\n");
}

TEST(EncodeDelete, WritesNoreplyAfterTheKey) {
    std::string out;
    encode_delete(out, "cow", Noreply::yes);
    EXPECT_EQ(out, "delete cow noreply\r\n");
}

TEST(EncodeArith, WritesNoreplyAfterTheDelta) {
    std::string out;
    encode_arith(out, ArithCommand::incr, "n", 5, Noreply::yes);
    encode_arith(out, ArithCommand::decr, "n", 1, Noreply::yes);
    EXPECT_EQ(out, "incr n 5 noreply\r\ndecr n 1 noreply\r\n");
}

TEST(EncodeTouch, WritesKeyThenExptime) {
    std::string out;
    encode_touch(out, "cow", 60);
    EXPECT_EQ(out, "touch cow 60\r\n");
}

TEST(EncodeTouch, WritesLargestExptimeInFull) {
    std::string out;
    encode_touch(out, "k", 4294967295u);
    EXPECT_EQ(out, "touch k 4294967295\r\n");
}

TEST(EncodeTouch, WritesNoreplyAfterTheExptime) {
    std::string out;
    encode_touch(out, "k", 0, Noreply::yes);
    EXPECT_EQ(out, "touch k 0 noreply\r\n");
}

// Times after January 2038 are capped at the last one memcached reads as meant.
TEST(CappedTime, KeepsEveryTimeMemcachedReadsAsMeant) {
    EXPECT_EQ(capped_time(0u), 0u);
    EXPECT_EQ(capped_time(60u), 60u);
    EXPECT_EQ(capped_time(1800000000u), 1800000000u);
    EXPECT_EQ(capped_time(kMaxTextTime), kMaxTextTime);
}

TEST(CappedTime, CapsTimesAfter2038AtTheLastOneMemcachedReadsAsMeant) {
    EXPECT_EQ(kMaxTextTime, 2147483647u);
    EXPECT_EQ(capped_time(kMaxTextTime + 1u), kMaxTextTime);
    EXPECT_EQ(capped_time(3000000000u), kMaxTextTime);
    EXPECT_EQ(capped_time(4294967295u), kMaxTextTime);
}

TEST(EncodeFlushAll, WritesNoDelayByDefault) {
    std::string out;
    encode_flush_all(out);
    EXPECT_EQ(out, "flush_all\r\n");
}

TEST(EncodeFlushAll, SendsZeroDelayAsNoDelay) {
    std::string out;
    encode_flush_all(out, 0);
    EXPECT_EQ(out, "flush_all\r\n");
}

TEST(EncodeFlushAll, WritesDelay) {
    std::string out;
    encode_flush_all(out, 4294967295u);
    EXPECT_EQ(out, "flush_all 4294967295\r\n");
}

TEST(EncodeFlushAll, WritesNoreplyWithoutDelay) {
    std::string out;
    encode_flush_all(out, 0, Noreply::yes);
    EXPECT_EQ(out, "flush_all noreply\r\n");
}

TEST(EncodeFlushAll, WritesNoreplyAfterDelay) {
    std::string out;
    encode_flush_all(out, 10, Noreply::yes);
    EXPECT_EQ(out, "flush_all 10 noreply\r\n");
}

TEST(EncodeVerbosity, WritesLevel) {
    std::string out;
    encode_verbosity(out, 1);
    EXPECT_EQ(out, "verbosity 1\r\n");
}

TEST(EncodeVerbosity, WritesNoreplyAfterLevel) {
    std::string out;
    encode_verbosity(out, 0, Noreply::yes);
    EXPECT_EQ(out, "verbosity 0 noreply\r\n");
}

TEST(Encoders, NewCommandsAppendAfterExistingBytesForPipelining) {
    const std::string_view keys[] = {"b", "c"};
    std::string out = "get a\r\n";
    encode_gets_multi(out, keys, 2);
    encode_store(out, StoreCommand::cas, "b", 0, 0, "x", 8);
    encode_touch(out, "c", 5);
    encode_gats(out, 9, "c");
    encode_flush_all(out, 0, Noreply::yes);
    encode_verbosity(out, 1);
    EXPECT_EQ(out,
              "get a\r\ngets b c\r\ncas b 0 0 1 8\r\nx\r\ntouch c 5\r\ngats 9 c\r\n"
              "flush_all noreply\r\nverbosity 1\r\n");
}

TEST(Encoders, AppendAfterExistingBytesForPipelining) {
    std::string out = "get a\r\n";
    encode_delete(out, "b");
    encode_arith(out, ArithCommand::decr, "c", 2);
    encode_store(out, StoreCommand::set, "d", 0, 0, "x");
    encode_version(out);
    EXPECT_EQ(out, "get a\r\ndelete b\r\ndecr c 2\r\nset d 0 0 1\r\nx\r\nversion\r\n");
}

// ==== retrieval replies =================================================================

TEST(RetrievalReply, EndAloneIsAFinalMiss) {
    EXPECT_EQ(parse_all(ReplyKind::retrieval, "END\r\n"), completed({end()}));
}

TEST(RetrievalReply, ValueWithoutCasCarriesKeyFlagsAndData) {
    EXPECT_EQ(parse_all(ReplyKind::retrieval, "VALUE cow 7 3\r\nmoo\r\nEND\r\n"),
              completed({value("cow", 7, "moo"), end()}));
}

TEST(RetrievalReply, ValueWithCasCarriesCas) {
    EXPECT_EQ(parse_all(ReplyKind::retrieval, "VALUE cow 0 3 991\r\nmoo\r\nEND\r\n"),
              completed({value_cas("cow", 0, "moo", 991), end()}));
}

TEST(RetrievalReply, ValueIsNotFinal) {
    const Outcome o = parse_all(ReplyKind::retrieval, "VALUE k 0 1\r\na\r\n");
    EXPECT_EQ(o.events, std::vector<Event>{value("k", 0, "a")});
    EXPECT_FALSE(o.complete);
}

TEST(RetrievalReply, EmptyValueHasEmptyData) {
    EXPECT_EQ(parse_all(ReplyKind::retrieval, "VALUE k 0 0\r\n\r\nEND\r\n"),
              completed({value("k", 0, ""), end()}));
}

TEST(RetrievalReply, DataIsBinarySafeEvenWhenItLooksLikeTheEnd) {
    const std::string data = "x\r\nEND\r\n\0\r\nVALUE y 0 1\r\n"s;
    const std::string in = "VALUE k 0 " + std::to_string(data.size()) + "\r\n" + data +
                           "\r\nEND\r\n";
    EXPECT_EQ(parse_all(ReplyKind::retrieval, in), completed({value("k", 0, data), end()}));
}

TEST(RetrievalReply, LargestFlagsAndCasAreAccepted) {
    EXPECT_EQ(parse_all(ReplyKind::retrieval,
                        "VALUE k 4294967295 1 18446744073709551615\r\na\r\nEND\r\n"),
              completed({value_cas("k", 4294967295u, "a", 18446744073709551615u), end()}));
}

TEST(RetrievalReply, NumbersOfEveryLengthReadTheSameWholeAndByteByByte) {
    // Whole input goes through the short path, input fed byte by byte through the
    // general one: numbers of every length, leading zeros and the largest values must
    // come out the same from both.
    const std::vector<std::uint64_t> flags = {0,       1,        9,         10,         99,        100,
                                              1234567, 9999999,  10000000,  12345678,   99999999,  100000000,
                                              1u << 31, 4294967295u};
    for (std::uint64_t f : flags) {
        for (std::size_t len : {0u, 1u, 9u, 10u, 100u, 999u, 1000u, 1048576u}) {
            const std::string data(len, 'd');
            const std::string in = "VALUE key " + std::to_string(f) + " " + std::to_string(len) + "\r\n" + data +
                                   "\r\nEND\r\n";
            const Outcome expected = completed({value("key", static_cast<std::uint32_t>(f), data), end()});
            EXPECT_EQ(parse_all(ReplyKind::retrieval, in), expected) << "flags " << f << " length " << len;
            if (len < 1000) {
                EXPECT_EQ(feed({ReplyKind::retrieval}, bytewise(in)), expected) << "flags " << f << " length " << len;
            }
        }
    }
    for (std::uint64_t cas : {std::uint64_t{1}, std::uint64_t{9999999}, std::uint64_t{12345678},
                              std::uint64_t{123456789012345678u}, std::uint64_t{18446744073709551615u}}) {
        const std::string in = "VALUE k 7 1 " + std::to_string(cas) + "\r\na\r\nEND\r\n";
        EXPECT_EQ(parse_all(ReplyKind::retrieval, in), completed({value_cas("k", 7, "a", cas), end()})) << "cas " << cas;
        EXPECT_EQ(feed({ReplyKind::retrieval}, bytewise(in)), parse_all(ReplyKind::retrieval, in)) << "cas " << cas;
    }
    // Flags of random lengths and digits, against the byte-by-byte path.
    std::uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int t = 0; t < 2000; ++t) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const std::uint32_t f = static_cast<std::uint32_t>(x >> (32 + x % 32));
        const std::string in = "VALUE k " + std::to_string(f) + " 12\r\nabcdefghijkl\r\nEND\r\n";
        ASSERT_EQ(parse_all(ReplyKind::retrieval, in), completed({value("k", f, "abcdefghijkl"), end()})) << in;
        ASSERT_EQ(feed({ReplyKind::retrieval}, bytewise(in)), parse_all(ReplyKind::retrieval, in)) << in;
    }
    // Leading zeros are read as the general path reads them.
    EXPECT_EQ(parse_all(ReplyKind::retrieval, "VALUE k 0000007 0000003\r\nabc\r\nEND\r\n"),
              completed({value("k", 7, "abc"), end()}));
    // A digit run that ends in a byte other than a space or CR is an error either way.
    EXPECT_TRUE(parse_all(ReplyKind::retrieval, "VALUE k 12x4 1\r\na\r\nEND\r\n").failed);
    EXPECT_TRUE(parse_all(ReplyKind::retrieval, "VALUE k 1 3:\r\nabc\r\nEND\r\n").failed);
    EXPECT_TRUE(parse_all(ReplyKind::retrieval, "VALUE k 4294967296 1\r\na\r\nEND\r\n").failed);
}

TEST(RetrievalReply, KeyOf250BytesAndHighBytesIsAccepted) {
    const std::string key = "\x80\xff" + std::string(248, 'k');
    EXPECT_EQ(parse_all(ReplyKind::retrieval, "VALUE " + key + " 0 1\r\na\r\nEND\r\n"),
              completed({value(key, 0, "a"), end()}));
}

// The parser checks a VALUE key's length only; matching it against the keys asked for
// (which rejects these) is the caller's job, done by the engine for every reply.
TEST(RetrievalReply, KeyBytesArePassedOnVerbatim) {
    EXPECT_EQ(parse_all(ReplyKind::retrieval, "VALUE a\x01z 0 1\r\na\r\nEND\r\n"),
              completed({value("a\x01z", 0, "a"), end()}));
    EXPECT_EQ(parse_all(ReplyKind::retrieval, "VALUE a\x7fz 0 1\r\na\r\nEND\r\n"),
              completed({value("a\x7fz", 0, "a"), end()}));
}

TEST(RetrievalReply, LengthEqualToMaxValueSizeIsAccepted) {
    EXPECT_EQ(parse_all(ReplyKind::retrieval, "VALUE k 0 4\r\nabcd\r\nEND\r\n", 4),
              completed({value("k", 0, "abcd"), end()}));
}

TEST(RetrievalReply, LengthAboveMaxValueSizeFailsBeforeAnyData) {
    TextReplyParser p(4);
    p.expect(ReplyKind::retrieval);
    TextEvent ev;
    std::size_t consumed = 0;
    EXPECT_EQ(p.parse("VALUE k 0 5\r\n", ev, consumed), ParseResult::error);
    EXPECT_STREQ(p.error_message(), "value larger than max_value_size");
}

TEST(RetrievalReply, LengthOf2Pow63FailsBeforeAnyData) {
    TextReplyParser p;
    p.expect(ReplyKind::retrieval);
    TextEvent ev;
    std::size_t consumed = 0;
    EXPECT_EQ(p.parse("VALUE k 0 9223372036854775808\r\n", ev, consumed), ParseResult::error);
}

TEST(RetrievalReply, LengthOfMaxU64WithUnlimitedValueSizeWaitsWithoutOverflow) {
    TextReplyParser p(SIZE_MAX);
    p.expect(ReplyKind::retrieval);
    TextEvent ev;
    std::size_t consumed = 0;
    EXPECT_EQ(p.parse("VALUE k 0 18446744073709551615\r\nabc", ev, consumed),
              ParseResult::need_more);
}

TEST(RetrievalReply, ValueWaitsForItsTrailingCrlf) {
    TextReplyParser p;
    p.expect(ReplyKind::retrieval);
    TextEvent ev;
    std::size_t consumed = 7;
    EXPECT_EQ(p.parse("VALUE k 0 2\r\nab", ev, consumed), ParseResult::need_more);
    EXPECT_EQ(consumed, 0u);
    EXPECT_EQ(p.parse("VALUE k 0 2\r\nab\r", ev, consumed), ParseResult::need_more);
    EXPECT_EQ(consumed, 0u);
    EXPECT_EQ(p.parse("VALUE k 0 2\r\nab\r\n", ev, consumed), ParseResult::event);
}

TEST(RetrievalReply, ValueConsumesHeaderDataAndCrlfOnly) {
    TextReplyParser p;
    p.expect(ReplyKind::retrieval);
    TextEvent ev;
    std::size_t consumed = 0;
    const std::string_view in = "VALUE k 0 2\r\nab\r\nEND\r\n";
    ASSERT_EQ(p.parse(in, ev, consumed), ParseResult::event);
    EXPECT_EQ(consumed, std::string_view("VALUE k 0 2\r\nab\r\n").size());
    EXPECT_EQ(ev.data.data(), in.data() + 13);
    EXPECT_EQ(ev.key.data(), in.data() + 6);
}

TEST(RetrievalReply, ServerErrorAfterAValueEndsTheReply) {
    EXPECT_EQ(parse_all(ReplyKind::retrieval,
                        "VALUE k 0 1\r\na\r\nSERVER_ERROR out of memory\r\n"),
              completed({value("k", 0, "a"),
                         final_event(EventType::server_error, "out of memory")}));
}

// ==== storage, deletion, arithmetic, version, stats replies =============================

TEST(StorageReply, StoredIsFinal) {
    EXPECT_EQ(parse_all(ReplyKind::storage, "STORED\r\n"),
              completed({final_event(EventType::stored)}));
}

TEST(StorageReply, NotStoredIsFinal) {
    EXPECT_EQ(parse_all(ReplyKind::storage, "NOT_STORED\r\n"),
              completed({final_event(EventType::not_stored)}));
}

TEST(StorageReply, ExistsIsFinal) {
    EXPECT_EQ(parse_all(ReplyKind::storage, "EXISTS\r\n"),
              completed({final_event(EventType::exists)}));
}

TEST(StorageReply, NotFoundIsFinal) {
    EXPECT_EQ(parse_all(ReplyKind::storage, "NOT_FOUND\r\n"),
              completed({final_event(EventType::not_found)}));
}

TEST(DeletionReply, DeletedIsFinal) {
    EXPECT_EQ(parse_all(ReplyKind::deletion, "DELETED\r\n"),
              completed({final_event(EventType::deleted)}));
}

TEST(DeletionReply, NotFoundIsFinal) {
    EXPECT_EQ(parse_all(ReplyKind::deletion, "NOT_FOUND\r\n"),
              completed({final_event(EventType::not_found)}));
}

TEST(ArithmeticReply, NumberIsFinal) {
    EXPECT_EQ(parse_all(ReplyKind::arithmetic, "42\r\n"), completed({number(42)}));
}

TEST(ArithmeticReply, ZeroIsANumber) {
    EXPECT_EQ(parse_all(ReplyKind::arithmetic, "0\r\n"), completed({number(0)}));
}

TEST(ArithmeticReply, Full64BitNumberIsAccepted) {
    EXPECT_EQ(parse_all(ReplyKind::arithmetic, "18446744073709551615\r\n"),
              completed({number(18446744073709551615u)}));
}

TEST(ArithmeticReply, TrailingSpacePaddingIsIgnored) {
    EXPECT_EQ(parse_all(ReplyKind::arithmetic, "9     \r\n"), completed({number(9)}));
}

TEST(ArithmeticReply, NotFoundIsFinal) {
    EXPECT_EQ(parse_all(ReplyKind::arithmetic, "NOT_FOUND\r\n"),
              completed({final_event(EventType::not_found)}));
}

TEST(VersionReply, DataIsTheVersionStringWithoutCr) {
    EXPECT_EQ(parse_all(ReplyKind::version, "VERSION 1.6.18\r\n"),
              completed({final_event(EventType::version, "1.6.18")}));
}

TEST(StatsReply, StatLinesThenEnd) {
    EXPECT_EQ(parse_all(ReplyKind::stats, "STAT pid 1234\r\nSTAT uptime 5\r\nEND\r\n"),
              completed({stat("pid", "1234"), stat("uptime", "5"), end()}));
}

TEST(StatsReply, ValueIsTheRestOfTheLineWithSpaces) {
    EXPECT_EQ(parse_all(ReplyKind::stats, "STAT rusage 0.1 0.2  x\r\nEND\r\n"),
              completed({stat("rusage", "0.1 0.2  x"), end()}));
}

TEST(StatsReply, ValueMayBeEmpty) {
    EXPECT_EQ(parse_all(ReplyKind::stats, "STAT ssl_ciphers \r\nEND\r\n"),
              completed({stat("ssl_ciphers", ""), end()}));
}

TEST(StatsReply, EndAloneIsAnEmptyReply) {
    EXPECT_EQ(parse_all(ReplyKind::stats, "END\r\n"), completed({end()}));
}

TEST(TouchReply, TouchedIsFinal) {
    EXPECT_EQ(parse_all(ReplyKind::touch, "TOUCHED\r\n"),
              completed({final_event(EventType::touched)}));
}

TEST(TouchReply, NotFoundIsFinal) {
    EXPECT_EQ(parse_all(ReplyKind::touch, "NOT_FOUND\r\n"),
              completed({final_event(EventType::not_found)}));
}

TEST(OkReply, OkIsFinal) {
    EXPECT_EQ(parse_all(ReplyKind::ok, "OK\r\n"), completed({final_event(EventType::ok)}));
}

TEST(OkReply, FlushAllRefusedIsAClientError) {
    // What memcached -F (flush_all disabled) answers.
    EXPECT_EQ(parse_all(ReplyKind::ok, "CLIENT_ERROR flush_all not allowed\r\n"),
              completed({final_event(EventType::client_error, "flush_all not allowed")}));
}

TEST(RetrievalReply, GetsReplyCarriesCasOnEveryValue) {
    EXPECT_EQ(parse_all(ReplyKind::retrieval,
                        "VALUE a 0 1 10\r\nx\r\n"
                        "VALUE b 2 0 18446744073709551615\r\n\r\nEND\r\n"),
              completed({value_cas("a", 0, "x", 10),
                         value_cas("b", 2, "", 18446744073709551615u), end()}));
}

TEST(RetrievalReply, GetsReplyWithCasOfZeroStillHasCas) {
    EXPECT_EQ(parse_all(ReplyKind::retrieval, "VALUE a 0 1 0\r\nx\r\nEND\r\n"),
              completed({value_cas("a", 0, "x", 0), end()}));
}

// gat answers as get (no cas), gats as gets: both are retrieval replies.
TEST(RetrievalReply, GatReplyIsAGetReply) {
    EXPECT_EQ(parse_all(ReplyKind::retrieval, "VALUE k 1 2\r\nab\r\nEND\r\n"),
              completed({value("k", 1, "ab"), end()}));
}

TEST(RetrievalReply, GatsReplyIsAGetsReply) {
    EXPECT_EQ(parse_all(ReplyKind::retrieval, "VALUE k 1 2 77\r\nab\r\nEND\r\n"),
              completed({value_cas("k", 1, "ab", 77), end()}));
}

// ==== error replies, valid for every kind ===============================================

TEST(ErrorReply, ErrorEndsEveryKindOfReply) {
    for (ReplyKind kind : kAllKinds) {
        EXPECT_EQ(parse_all(kind, "ERROR\r\n"), completed({final_event(EventType::error)}))
            << "kind " << static_cast<int>(kind);
    }
}

TEST(ErrorReply, ErrorMessageIsData) {
    for (ReplyKind kind : kAllKinds) {
        EXPECT_EQ(parse_all(kind, "ERROR unknown command\r\n"),
                  completed({final_event(EventType::error, "unknown command")}))
            << "kind " << static_cast<int>(kind);
    }
}

TEST(ErrorReply, ClientErrorEndsEveryKindOfReply) {
    for (ReplyKind kind : kAllKinds) {
        EXPECT_EQ(parse_all(kind, "CLIENT_ERROR bad data chunk\r\n"),
                  completed({final_event(EventType::client_error, "bad data chunk")}))
            << "kind " << static_cast<int>(kind);
    }
}

TEST(ErrorReply, ServerErrorEndsEveryKindOfReply) {
    for (ReplyKind kind : kAllKinds) {
        EXPECT_EQ(parse_all(kind, "SERVER_ERROR object too large for cache\r\n"),
                  completed({final_event(EventType::server_error,
                                         "object too large for cache")}))
            << "kind " << static_cast<int>(kind);
    }
}

TEST(ErrorReply, ClientErrorWithoutMessageHasEmptyData) {
    EXPECT_EQ(parse_all(ReplyKind::storage, "CLIENT_ERROR\r\n"),
              completed({final_event(EventType::client_error)}));
}

// ==== parser state ======================================================================

TEST(TextReplyParser, ParseBeforeAnyExpectIsAnError) {
    TextReplyParser p;
    TextEvent ev;
    std::size_t consumed = 0;
    EXPECT_EQ(p.parse("END\r\n", ev, consumed), ParseResult::error);
    EXPECT_STRNE(p.error_message(), "");
}

TEST(TextReplyParser, EmptyInputNeedsMore) {
    TextReplyParser p;
    p.expect(ReplyKind::storage);
    TextEvent ev;
    std::size_t consumed = 5;
    EXPECT_EQ(p.parse("", ev, consumed), ParseResult::need_more);
    EXPECT_EQ(consumed, 0u);
}

TEST(TextReplyParser, PartialLineNeedsMoreAndConsumesNothing) {
    TextReplyParser p;
    p.expect(ReplyKind::storage);
    TextEvent ev;
    std::size_t consumed = 5;
    EXPECT_EQ(p.parse("STOR", ev, consumed), ParseResult::need_more);
    EXPECT_EQ(consumed, 0u);
}

TEST(TextReplyParser, NoEventMeansNothingConsumed) {
    TextReplyParser p;
    p.expect(ReplyKind::retrieval);
    TextEvent ev;
    std::size_t consumed = 7;
    EXPECT_EQ(p.parse("VALUE k 0 3\r\nab", ev, consumed), ParseResult::need_more);
    EXPECT_EQ(consumed, 0u);
    consumed = 7;
    EXPECT_EQ(p.parse("VALUE k x 3\r\n", ev, consumed), ParseResult::error);
    EXPECT_EQ(consumed, 0u);
}

// An event's fields are its own: nothing is left over from the event before.
TEST(TextReplyParser, EachEventStartsFromEmptyFields) {
    TextReplyParser p;
    p.expect(ReplyKind::retrieval);
    TextEvent ev;
    std::size_t consumed = 0;
    ASSERT_EQ(p.parse("VALUE k 7 1 99\r\na\r\nEND\r\n", ev, consumed), ParseResult::event);
    EXPECT_TRUE(ev.has_cas);
    ASSERT_EQ(p.parse(std::string_view("END\r\n"), ev, consumed), ParseResult::event);
    EXPECT_EQ(ev.type, EventType::end);
    EXPECT_FALSE(ev.has_cas);
    EXPECT_EQ(ev.cas, 0u);
    EXPECT_EQ(ev.flags, 0u);
    EXPECT_TRUE(ev.key.empty());
    EXPECT_TRUE(ev.data.empty());
}

TEST(TextReplyParser, InReplyFromExpectUntilTheFinalEvent) {
    TextReplyParser p;
    EXPECT_FALSE(p.in_reply());
    p.expect(ReplyKind::retrieval);
    EXPECT_TRUE(p.in_reply());
    TextEvent ev;
    std::size_t consumed = 0;
    ASSERT_EQ(p.parse("VALUE k 0 1\r\na\r\n", ev, consumed), ParseResult::event);
    EXPECT_TRUE(p.in_reply());
    ASSERT_EQ(p.parse("END\r\n", ev, consumed), ParseResult::event);
    EXPECT_TRUE(ev.final);
    EXPECT_FALSE(p.in_reply());
}

TEST(TextReplyParser, EmptyInputAfterTheFinalEventNeedsMore) {
    TextReplyParser p;
    p.expect(ReplyKind::storage);
    TextEvent ev;
    std::size_t consumed = 0;
    ASSERT_EQ(p.parse("STORED\r\n", ev, consumed), ParseResult::event);
    EXPECT_EQ(p.parse("", ev, consumed), ParseResult::need_more);
}

TEST(TextReplyParser, BytesAfterTheFinalEventAreAnError) {
    TextReplyParser p;
    p.expect(ReplyKind::storage);
    TextEvent ev;
    std::size_t consumed = 0;
    ASSERT_EQ(p.parse("STORED\r\nSTORED\r\n", ev, consumed), ParseResult::event);
    EXPECT_EQ(p.parse("STORED\r\n", ev, consumed), ParseResult::error);
}

TEST(TextReplyParser, ErrorIsStickyUntilExpect) {
    TextReplyParser p;
    p.expect(ReplyKind::storage);
    TextEvent ev;
    std::size_t consumed = 0;
    ASSERT_EQ(p.parse("BOGUS\r\n", ev, consumed), ParseResult::error);
    const std::string why = p.error_message();
    EXPECT_EQ(p.parse("STORED\r\n", ev, consumed), ParseResult::error);
    EXPECT_EQ(p.error_message(), why);
    EXPECT_FALSE(p.in_reply());
}

TEST(TextReplyParser, ExpectClearsAnError) {
    TextReplyParser p;
    p.expect(ReplyKind::storage);
    TextEvent ev;
    std::size_t consumed = 0;
    ASSERT_EQ(p.parse("BOGUS\r\n", ev, consumed), ParseResult::error);
    p.expect(ReplyKind::storage);
    EXPECT_STREQ(p.error_message(), "");
    EXPECT_EQ(p.parse("STORED\r\n", ev, consumed), ParseResult::event);
}

TEST(TextReplyParser, ErrorMessageNamesTheProblem) {
    TextReplyParser p;
    p.expect(ReplyKind::retrieval);
    TextEvent ev;
    std::size_t consumed = 0;
    ASSERT_EQ(p.parse("VALUE k 4294967296 1\r\n", ev, consumed), ParseResult::error);
    EXPECT_STREQ(p.error_message(), "flags in VALUE line exceed 32 bits");
}

TEST(TextReplyParser, LineOfExactlyMaxLengthIsAccepted) {
    const std::string name = "n";
    const std::string val(kMaxLineLength - 2 - 5 - name.size() - 1, 'v');
    const std::string line = "STAT " + name + " " + val + "\r\n";
    ASSERT_EQ(line.size(), kMaxLineLength);
    EXPECT_EQ(parse_all(ReplyKind::stats, line + "END\r\n"),
              completed({stat(name, val), end()}));
}

TEST(TextReplyParser, LineOneByteOverMaxLengthIsAnError) {
    const std::string line = "STAT n " + std::string(kMaxLineLength - 2 - 6, 'v') + "\r\n";
    ASSERT_EQ(line.size(), kMaxLineLength + 1);
    EXPECT_TRUE(parse_all(ReplyKind::stats, line + "END\r\n").failed);
}

TEST(TextReplyParser, LineWithoutCrlfFailsOnceItCanNoLongerFit) {
    TextReplyParser p;
    p.expect(ReplyKind::stats);
    TextEvent ev;
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
    std::vector<ReplyKind> kinds;
    std::string input;
    std::vector<Event> events;
};

const std::vector<Replay>& replays() {
    static const std::vector<Replay> table = [] {
        const std::string tricky = "\r\nEND\r\n\0\r"s;
        std::vector<Replay> t;
        t.push_back({"miss", {ReplyKind::retrieval}, "END\r\n", {end()}});
        t.push_back({"hit",
                     {ReplyKind::retrieval},
                     "VALUE cow 5 3\r\nmoo\r\nEND\r\n",
                     {value("cow", 5, "moo"), end()}});
        t.push_back({"multi_get_with_cas_empty_and_binary_values",
                     {ReplyKind::retrieval},
                     "VALUE a 0 0 1\r\n\r\nVALUE b 4294967295 9 18446744073709551615\r\n" +
                         tricky + "\r\nVALUE c 3 2\r\nzz\r\nEND\r\n",
                     {value_cas("a", 0, "", 1),
                      value_cas("b", 4294967295u, tricky, 18446744073709551615u),
                      value("c", 3, "zz"), end()}});
        t.push_back({"error_after_value",
                     {ReplyKind::retrieval},
                     "VALUE k 0 1\r\nx\r\nSERVER_ERROR busy\r\n",
                     {value("k", 0, "x"), final_event(EventType::server_error, "busy")}});
        t.push_back({"stats",
                     {ReplyKind::stats},
                     "STAT pid 1\r\nSTAT version 1.6.18\r\nSTAT rusage_user 0.1 0.2\r\nEND\r\n",
                     {stat("pid", "1"), stat("version", "1.6.18"),
                      stat("rusage_user", "0.1 0.2"), end()}});
        t.push_back({"padded_number", {ReplyKind::arithmetic}, "12   \r\n", {number(12)}});
        t.push_back({"touched", {ReplyKind::touch}, "TOUCHED\r\n",
                     {final_event(EventType::touched)}});
        t.push_back({"touch_miss", {ReplyKind::touch}, "NOT_FOUND\r\n",
                     {final_event(EventType::not_found)}});
        t.push_back({"flush_all_ok", {ReplyKind::ok}, "OK\r\n", {final_event(EventType::ok)}});
        t.push_back({"gets_with_cas_empty_and_binary_values",
                     {ReplyKind::retrieval},
                     "VALUE a 0 0 0\r\n\r\nVALUE b 7 9 18446744073709551615\r\n" + tricky +
                         "\r\nEND\r\n",
                     {value_cas("a", 0, "", 0),
                      value_cas("b", 7, tricky, 18446744073709551615u), end()}});
        t.push_back({"gat_hit_then_miss",
                     {ReplyKind::retrieval, ReplyKind::retrieval},
                     "VALUE k 0 1\r\nv\r\nEND\r\nEND\r\n",
                     {value("k", 0, "v"), end(), end()}});
        t.push_back({"error_instead_of_touched",
                     {ReplyKind::touch},
                     "CLIENT_ERROR invalid exptime argument\r\n",
                     {final_event(EventType::client_error, "invalid exptime argument")}});
        // Every kind, old and new, back to back: each reply must end exactly where the
        // next begins, since a reply of one kind can hold words of another.
        t.push_back({"pipeline_of_every_kind",
                     {ReplyKind::storage, ReplyKind::storage, ReplyKind::retrieval,
                      ReplyKind::deletion, ReplyKind::arithmetic, ReplyKind::arithmetic,
                      ReplyKind::version, ReplyKind::stats, ReplyKind::storage,
                      ReplyKind::deletion, ReplyKind::storage, ReplyKind::touch,
                      ReplyKind::touch, ReplyKind::ok, ReplyKind::retrieval, ReplyKind::storage,
                      ReplyKind::ok, ReplyKind::touch},
                     "STORED\r\nEXISTS\r\nVALUE k 1 2 3\r\nab\r\nEND\r\nDELETED\r\n"
                     "18446744073709551615\r\nNOT_FOUND\r\nVERSION 1.4.5\r\n"
                     "STAT a b\r\nEND\r\nCLIENT_ERROR bad command line format\r\n"
                     "ERROR\r\nNOT_STORED\r\nTOUCHED\r\nNOT_FOUND\r\nOK\r\n"
                     "VALUE k 0 2 4\r\nOK\r\nEND\r\nEXISTS\r\nSERVER_ERROR busy\r\n"
                     "TOUCHED\r\n",
                     {final_event(EventType::stored), final_event(EventType::exists),
                      value_cas("k", 1, "ab", 3), end(), final_event(EventType::deleted),
                      number(18446744073709551615u), final_event(EventType::not_found),
                      final_event(EventType::version, "1.4.5"), stat("a", "b"), end(),
                      final_event(EventType::client_error, "bad command line format"),
                      final_event(EventType::error), final_event(EventType::not_stored),
                      final_event(EventType::touched), final_event(EventType::not_found),
                      final_event(EventType::ok), value_cas("k", 0, "OK", 4), end(),
                      final_event(EventType::exists),
                      final_event(EventType::server_error, "busy"),
                      final_event(EventType::touched)}});
        // What a client sends after gets: cas, then gats to read the result back.
        t.push_back({"gets_cas_gats_pipeline",
                     {ReplyKind::retrieval, ReplyKind::storage, ReplyKind::storage,
                      ReplyKind::retrieval, ReplyKind::touch, ReplyKind::ok},
                     "VALUE k 0 1 41\r\na\r\nEND\r\nSTORED\r\nEXISTS\r\n"
                     "VALUE k 0 1 42\r\nb\r\nEND\r\nTOUCHED\r\nOK\r\n",
                     {value_cas("k", 0, "a", 41), end(), final_event(EventType::stored),
                      final_event(EventType::exists), value_cas("k", 0, "b", 42), end(),
                      final_event(EventType::touched), final_event(EventType::ok)}});
        return t;
    }();
    return table;
}

void replay_all(codec_replay::Arrival how) {
    codec_replay::expect_replays(
        replays(), how,
        [](const Replay& r, const std::vector<std::string>& chunks) { return feed(r.kinds, chunks); },
        [](const Replay& r) { return completed(r.events); });
}

TEST(Replay, WholeInputGivesTheExpectedEvents) { replay_all(codec_replay::Arrival::whole); }

TEST(Replay, OneByteAtATimeGivesTheSameEvents) { replay_all(codec_replay::Arrival::bytewise); }

TEST(Replay, SplitAtEveryPositionGivesTheSameEvents) {
    replay_all(codec_replay::Arrival::split_everywhere);
}

// ==== malformed replies =================================================================

struct Malformed {
    const char* name;
    ReplyKind kind;
    std::string input;
    std::size_t events_before_error = 0;
    std::size_t max_value_size = kDefaultMaxValueSize;
};

void PrintTo(const Malformed& m, std::ostream* os) { *os << m.name; }

class MalformedReply : public ::testing::TestWithParam<Malformed> {};

// Whole, byte by byte and split at every position: always an error, after the same
// events and with the same message.
TEST_P(MalformedReply, IsAnErrorHoweverItArrives) {
    const Malformed& m = GetParam();
    codec_replay::expect_same_failure(m.input, nullptr, m.events_before_error,
                                      [&](const std::vector<std::string>& chunks) {
                                          return feed({m.kind}, chunks, m.max_value_size);
                                      });
}

const ReplyKind R = ReplyKind::retrieval;
const ReplyKind S = ReplyKind::storage;
const ReplyKind D = ReplyKind::deletion;
const ReplyKind A = ReplyKind::arithmetic;
const ReplyKind V = ReplyKind::version;
const ReplyKind T = ReplyKind::stats;
const ReplyKind Tch = ReplyKind::touch;  // T is taken by stats
const ReplyKind Ok = ReplyKind::ok;

const Malformed kMalformed[] = {
    // VALUE line numbers
    {"FlagsNotDigits", R, "VALUE k x 1\r\na\r\nEND\r\n"},
    {"FlagsNegative", R, "VALUE k -1 1\r\na\r\nEND\r\n"},
    {"FlagsOver32Bits", R, "VALUE k 4294967296 1\r\na\r\nEND\r\n"},
    {"LengthNotDigits", R, "VALUE k 0 1x\r\na\r\nEND\r\n"},
    {"LengthNegative", R, "VALUE k 0 -1\r\na\r\nEND\r\n"},
    {"LengthWithPlusSign", R, "VALUE k 0 +1\r\na\r\nEND\r\n"},
    {"LengthOver64Bits", R, "VALUE k 0 18446744073709551616\r\na\r\nEND\r\n"},
    {"Length2Pow63", R, "VALUE k 0 9223372036854775808\r\na\r\nEND\r\n"},
    {"LengthOneOverMaxValueSize", R, "VALUE k 0 17\r\n" + std::string(17, 'a') + "\r\nEND\r\n",
     0, 16},
    {"CasNotDigits", R, "VALUE k 0 1 12z\r\na\r\nEND\r\n"},
    {"CasOver64Bits", R, "VALUE k 0 1 18446744073709551616\r\na\r\nEND\r\n"},
    // VALUE line shape
    {"ExtraTokenAfterCas", R, "VALUE k 0 1 5 6\r\na\r\nEND\r\n"},
    {"MissingLength", R, "VALUE k 0\r\na\r\nEND\r\n"},
    {"MissingEverythingAfterValue", R, "VALUE \r\nEND\r\n"},
    {"ValueWordAlone", R, "VALUE\r\nEND\r\n"},
    {"DoubleSpaceInValueLine", R, "VALUE k  0 1\r\na\r\nEND\r\n"},
    {"TrailingSpaceInValueLine", R, "VALUE k 0 1 \r\na\r\nEND\r\n"},
    {"KeyOf251Bytes", R, "VALUE " + std::string(251, 'k') + " 0 1\r\na\r\nEND\r\n"},
    // VALUE data
    {"DataLongerThanLength", R, "VALUE k 0 1\r\nab\r\nEND\r\n"},
    {"DataShorterThanLength", R, "VALUE k 0 3\r\nab\r\nEND\r\n"},
    {"DataFollowedByBareLf", R, "VALUE k 0 1\r\na\nEND\r\n"},
    {"DataFollowedByCrOnly", R, "VALUE k 0 1\r\na\rEND\r\n"},
    // line framing
    {"BareLfEndsLine", R, "END\n"},
    {"CrLfReversed", S, "STORED\n\r"},
    {"StrayCrInsideLine", R, "EN\rD\r\n"},
    {"StrayCrInsideStatValue", T, "STAT a b\rc\r\nEND\r\n"},
    {"LineWithoutCrlfLongerThanMaximum", R, std::string(kMaxLineLength + 100, 'A')},
    {"EmptyLine", R, "\r\nEND\r\n"},
    // unexpected lines for the kind
    {"LowercaseEnd", R, "end\r\n"},
    {"EndWithTrailingSpace", R, "END \r\n"},
    {"UnknownWord", R, "HELLO\r\n"},
    {"StoredWhileExpectingRetrieval", R, "STORED\r\n"},
    {"StatWhileExpectingRetrieval", R, "STAT a b\r\nEND\r\n"},
    {"StoredAfterAValue", R, "VALUE k 0 1\r\na\r\nSTORED\r\n", 1},
    {"ValueWhileExpectingStorage", S, "VALUE k 0 1\r\na\r\nEND\r\n"},
    {"EndWhileExpectingStorage", S, "END\r\n"},
    {"DeletedWhileExpectingStorage", S, "DELETED\r\n"},
    {"StoredWithTrailingSpace", S, "STORED \r\n"},
    {"StoredWhileExpectingDeletion", D, "STORED\r\n"},
    {"NumberWhileExpectingDeletion", D, "1\r\n"},
    {"EndWhileExpectingArithmetic", A, "END\r\n"},
    {"StoredWhileExpectingArithmetic", A, "STORED\r\n"},
    {"EndWhileExpectingVersion", V, "END\r\n"},
    {"ValueWhileExpectingStats", T, "VALUE k 0 1\r\na\r\nEND\r\n"},
    {"VersionWhileExpectingStats", T, "VERSION 1.6\r\n"},
    {"ErrorGluedToNextWord", S, "ERRORS\r\n"},
    {"ClientErrorGluedToMessage", S, "CLIENT_ERRORbad\r\n"},
    // unexpected lines for the touch and ok kinds, and their words where they do not belong
    {"TouchedWhileExpectingRetrieval", R, "TOUCHED\r\n"},
    {"TouchedAfterAValue", R, "VALUE k 0 1\r\na\r\nTOUCHED\r\n", 1},
    {"OkWhileExpectingRetrieval", R, "OK\r\n"},
    {"TouchedWhileExpectingStorage", S, "TOUCHED\r\n"},
    {"OkWhileExpectingStorage", S, "OK\r\n"},
    {"TouchedWhileExpectingDeletion", D, "TOUCHED\r\n"},
    {"TouchedWhileExpectingArithmetic", A, "TOUCHED\r\n"},
    {"OkWhileExpectingArithmetic", A, "OK\r\n"},
    {"OkWhileExpectingVersion", V, "OK\r\n"},
    {"OkWhileExpectingStats", T, "OK\r\n"},
    {"OkWhileExpectingTouch", Tch, "OK\r\n"},
    {"StoredWhileExpectingTouch", Tch, "STORED\r\n"},
    {"DeletedWhileExpectingTouch", Tch, "DELETED\r\n"},
    {"EndWhileExpectingTouch", Tch, "END\r\n"},
    {"ValueWhileExpectingTouch", Tch, "VALUE k 0 1\r\na\r\nEND\r\n"},
    {"NumberWhileExpectingTouch", Tch, "1\r\n"},
    {"LowercaseTouched", Tch, "touched\r\n"},
    {"TouchedWithTrailingSpace", Tch, "TOUCHED \r\n"},
    {"TouchedGluedToNextWord", Tch, "TOUCHEDX\r\n"},
    {"TouchedWhileExpectingOk", Ok, "TOUCHED\r\n"},
    {"NotFoundWhileExpectingOk", Ok, "NOT_FOUND\r\n"},
    {"EndWhileExpectingOk", Ok, "END\r\n"},
    {"StoredWhileExpectingOk", Ok, "STORED\r\n"},
    {"LowercaseOk", Ok, "ok\r\n"},
    {"OkWithTrailingSpace", Ok, "OK \r\n"},
    {"OkWithMessage", Ok, "OK done\r\n"},
    {"OkGluedToNextWord", Ok, "OKAY\r\n"},
    {"OkWithBareLf", Ok, "OK\n"},
    // arithmetic numbers
    {"EmptyNumber", A, "\r\n"},
    {"OnlySpacesAsNumber", A, "   \r\n"},
    {"NumberOver64Bits", A, "18446744073709551616\r\n"},
    {"NumberWithLetters", A, "12a\r\n"},
    {"NumberWithLeadingSpace", A, " 12\r\n"},
    {"NegativeNumber", A, "-1\r\n"},
    {"NumberWithInnerSpace", A, "1 2\r\n"},
    // version and stats shape
    {"VersionWithoutString", V, "VERSION\r\n"},
    {"VersionWithEmptyString", V, "VERSION \r\n"},
    {"StatWithEmptyName", T, "STAT  x\r\nEND\r\n"},
    {"StatWithoutValue", T, "STAT name\r\nEND\r\n"},
    // bytes after the final event
    {"GarbageAfterEnd", R, "END\r\nX", 1},
    {"SecondReplyWithoutExpect", S, "STORED\r\nSTORED\r\n", 1},
    {"GarbageAfterError", T, "ERROR\r\n\r\n", 1},
    {"GarbageAfterStatsEnd", T, "STAT a 1\r\nEND\r\nEND\r\n", 2},
    {"SecondTouchedWithoutExpect", Tch, "TOUCHED\r\nTOUCHED\r\n", 1},
    {"SecondOkWithoutExpect", Ok, "OK\r\nOK\r\n", 1},
};

INSTANTIATE_TEST_SUITE_P(TextReplyParser, MalformedReply, ::testing::ValuesIn(kMalformed),
                         codec_replay::ParamName());

// ==== arbitrary bytes ===================================================================

// Random sequences of protocol fragments reach far more parser states than the tables
// above: none may crash, and byte-by-byte must agree with whole for every one.
TEST(TextReplyParser, RandomFragmentsAgreeWholeAndByteByByte) {
    static const char* const fragments[] = {
        "VALUE ", "k", " ", "0", "1", "3", "\r\n", "\r", "\n", "END", "STAT ",
        "STORED", "NOT_FOUND", "DELETED", "ERROR", "SERVER_ERROR ", "VERSION ",
        "18446744073709551616", "4294967296", "abc", "x", "\x7f", "\x80", "TOUCHED", "OK"};
    std::mt19937 rng(12345);
    std::uniform_int_distribution<std::size_t> pick(0, std::size(fragments) - 1);
    std::uniform_int_distribution<int> length(0, 14);
    for (int i = 0; i < 3000; ++i) {
        std::string in;
        for (int n = length(rng); n > 0; --n) in += fragments[pick(rng)];
        const ReplyKind kind = kAllKinds[static_cast<std::size_t>(i) % std::size(kAllKinds)];
        SCOPED_TRACE(testing::PrintToString(in));
        EXPECT_EQ(feed({kind}, bytewise(in)), feed({kind}, whole(in)));
    }
}

TEST(TextReplyParser, RandomBytesNeverCrash) {
    std::mt19937 rng(6789);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<int> length(0, 64);
    for (int i = 0; i < 3000; ++i) {
        std::string in;
        for (int n = length(rng); n > 0; --n) in += static_cast<char>(byte(rng));
        const ReplyKind kind = kAllKinds[static_cast<std::size_t>(i) % std::size(kAllKinds)];
        const Outcome o = feed({kind}, whole(in));
        EXPECT_TRUE(o.failed || o.leftover <= in.size());
    }
}

// ==== no over-read ======================================================================

TEST(TextReplyParser, NeverReadsPastTheEndOfItsInput) {
    mmc::test::GuardPage guard;
    ASSERT_TRUE(guard.ok());
    std::vector<std::pair<std::vector<ReplyKind>, std::string>> inputs;
    for (const Replay& r : replays()) inputs.emplace_back(r.kinds, r.input);
    for (const Malformed& m : kMalformed) inputs.emplace_back(std::vector{m.kind}, m.input);
    for (const auto& [kinds, input] : inputs) {
        ASSERT_LE(input.size(), guard.capacity());
        // Every prefix, so that each way a reply can be cut short ends at the guard.
        for (std::size_t len = 0; len <= input.size(); ++len) {
            Session session(kinds, kDefaultMaxValueSize);
            session.drain(guard.place(std::string_view(input).substr(0, len)));
        }
    }
}

TEST(TextReplyParser, NeverReadsPastTheEndOfAnOverlongLine) {
    mmc::test::GuardPage guard;
    ASSERT_TRUE(guard.ok());
    const std::string line(kMaxLineLength - 2, 'x');
    for (const std::string& in : {line, line + "\r", std::string(kMaxLineLength, 'x')}) {
        Session session({ReplyKind::stats}, kDefaultMaxValueSize);
        session.drain(guard.place(in));
    }
}

// ==== a value read knowing its key (parse_value_of) =====================================

// What parse() and parse_value_of() each make of the front of `in`, for a parser that
// expects a retrieval reply.
struct Front {
    bool event = false;
    Event ev;
    std::size_t consumed = 0;
};

Front parse_front(std::string_view in, std::size_t max_value_size = kDefaultMaxValueSize) {
    TextReplyParser parser(max_value_size);
    parser.expect(ReplyKind::retrieval);
    TextEvent ev;
    Front f;
    f.event = parser.parse(in, ev, f.consumed) == ParseResult::event;
    if (f.event) f.ev = own(ev);
    return f;
}

Front value_of_front(std::string_view in, std::string_view key,
                     std::size_t max_value_size = kDefaultMaxValueSize) {
    TextReplyParser parser(max_value_size);
    parser.expect(ReplyKind::retrieval);
    TextEvent ev;
    Front f;
    f.event = parser.parse_value_of(in, key, ev, f.consumed);
    if (f.event) f.ev = own(ev);
    return f;
}

// Whenever parse_value_of() takes a value, parse() takes the same one; when it does not,
// it has left ev and consumed as they were.
void expect_value_of_agrees(const std::string& in, std::string_view key,
                            std::size_t max_value_size = kDefaultMaxValueSize) {
    SCOPED_TRACE(testing::Message() << "input \"" << in << "\" key \"" << key << "\"");
    TextReplyParser parser(max_value_size);
    parser.expect(ReplyKind::retrieval);
    TextEvent ev;
    ev.key = "untouched";
    std::size_t consumed = 777;
    if (!parser.parse_value_of(in, key, ev, consumed)) {
        EXPECT_EQ(ev.key, "untouched");
        EXPECT_EQ(consumed, 777u);
        return;
    }
    EXPECT_EQ(ev.key, key);
    const Front general = parse_front(in, max_value_size);
    ASSERT_TRUE(general.event);
    EXPECT_EQ(own(ev), general.ev);
    EXPECT_EQ(consumed, general.consumed);
    EXPECT_TRUE(parser.in_reply());  // a value never ends the reply
}

TEST(TextReplyParserValueOf, ReadsTheExpectedKeysValueAsParseDoes) {
    for (const std::string& in : {"VALUE k1 0 3\r\nabc\r\nEND\r\n"s, "VALUE k1 7 0\r\n\r\n"s,
                                 "VALUE k1 4294967295 5 18446744\r\nhello\r\n"s,
                                 "VALUE k1 01 2\r\nab\r\nVALUE k2 0 1\r\nx\r\n"s}) {
        const Front fast = value_of_front(in, "k1");
        ASSERT_TRUE(fast.event) << in;
        const Front general = parse_front(in);
        EXPECT_EQ(fast.ev, general.ev);
        EXPECT_EQ(fast.consumed, general.consumed);
    }
    EXPECT_EQ(value_of_front("VALUE k1 5 3 99\r\nabc\r\n", "k1").ev, value_cas("k1", 5, "abc", 99));
}

TEST(TextReplyParserValueOf, RefusesAValueForAnotherKey) {
    const std::string in = "VALUE key 0 1\r\nx\r\n";
    for (std::string_view other : {"ke", "keyx", "kex", "Key", "k", "key ", "xkey"}) {
        EXPECT_FALSE(value_of_front(in, other).event) << other;
    }
    // A key that is a prefix of the one sent, and the other way round.
    EXPECT_FALSE(value_of_front("VALUE key2 0 1\r\nx\r\n", "key").event);
    EXPECT_FALSE(value_of_front("VALUE ke 0 1\r\nx\r\n", "key").event);
    // Keys of every length around the word sizes the comparison uses.
    for (std::size_t len = 1; len <= 40; ++len) {
        const std::string key(len, 'a');
        const std::string reply = "VALUE " + key + " 0 1\r\nx\r\n";
        EXPECT_TRUE(value_of_front(reply, key).event) << len;
        for (std::size_t at = 0; at < len; ++at) {
            std::string other = key;
            other[at] = 'b';
            EXPECT_FALSE(value_of_front(reply, other).event) << len << " " << at;
        }
    }
}

TEST(TextReplyParserValueOf, LeavesEverythingButAnOrdinaryValueToParse) {
    for (const std::string& in : {
             "END\r\n"s, "ERROR\r\n"s, "SERVER_ERROR out of memory\r\n"s, "CLIENT_ERROR bad\r\n"s,
             "VALUE k  0 1\r\nx\r\n"s,                          // two spaces
             "VALUE k 0  1\r\nx\r\n"s, "VALUE k 0 1 \r\nx\r\n"s,  // stray spaces
             "VALUE k 0 1 2 3\r\nx\r\n"s,                         // a word too many
             "VALUE k x 1\r\nx\r\n"s, "VALUE k 0 1x\r\nx\r\n"s,   // not numbers
             "VALUE k 4294967296 1\r\nx\r\n"s,                    // flags over 32 bits
             "VALUE k 0 1 1234567890123456789\r\nx\r\n"s,         // 19 digits: the general path's
             "VALUE k 0 1 99999999999999999999\r\nx\r\n"s,        // cas over 64 bits
             "VALUE k 0 3\r\nx\r\n"s,                             // data shorter than said
             "VALUE k 0 1\r\nxyz\r\n"s,                           // data longer than said
             "VALUE k 0 1\nx\r\n"s, "VALUE k 0 1\rx\r\n"s,         // broken line ends
             "VALUE k 0 1\r\nx\n\n"s, "value k 0 1\r\nx\r\n"s,
             "VALUE k\x01 0 1\r\nx\r\n"s}) {
        EXPECT_FALSE(value_of_front(in, "k").event) << in;
        expect_value_of_agrees(in, "k");
    }
    // Over max_value_size: parse() fails it, so parse_value_of() must not take it.
    EXPECT_FALSE(value_of_front("VALUE k 0 5\r\nhello\r\n", "k", 4).event);
    EXPECT_TRUE(value_of_front("VALUE k 0 5\r\nhello\r\n", "k", 5).event);
}

TEST(TextReplyParserValueOf, TakesNothingOutsideARetrievalReply) {
    const std::string in = "VALUE k 0 1\r\nx\r\n";
    TextEvent ev;
    std::size_t consumed = 0;
    TextReplyParser idle;
    EXPECT_FALSE(idle.parse_value_of(in, "k", ev, consumed));  // no expect() yet
    for (ReplyKind kind : kAllKinds) {
        if (kind == ReplyKind::retrieval) continue;
        TextReplyParser parser;
        parser.expect(kind);
        EXPECT_FALSE(parser.parse_value_of(in, "k", ev, consumed));
    }
    TextReplyParser done;
    done.expect(ReplyKind::retrieval);
    ASSERT_EQ(done.parse("END\r\n", ev, consumed), ParseResult::event);
    EXPECT_FALSE(done.parse_value_of(in, "k", ev, consumed));  // the reply has ended
    TextReplyParser failed;
    failed.expect(ReplyKind::retrieval);
    ASSERT_EQ(failed.parse("BOGUS\r\n", ev, consumed), ParseResult::error);
    EXPECT_FALSE(failed.parse_value_of(in, "k", ev, consumed));  // errors are sticky
}

TEST(TextReplyParserValueOf, AgreesWithParseOnEveryPrefixAndNeverReadsPastTheInput) {
    mmc::test::GuardPage guard;
    ASSERT_TRUE(guard.ok());
    for (const std::string& in : {"VALUE key 0 3\r\nabc\r\n"s, "VALUE key 12 100 7\r\n"s + std::string(100, 'v') + "\r\n",
                                 "VALUE key 4294967295 0 18446744073709551\r\n\r\n"s,
                                 "VALUE key 0 1 123456789012345678\r\nx\r\n"s}) {
        EXPECT_TRUE(value_of_front(in, "key").event) << in;
        for (std::size_t len = 0; len <= in.size(); ++len) {
            const std::string prefix = in.substr(0, len);
            const std::string_view placed = guard.place(prefix);
            TextReplyParser parser;
            parser.expect(ReplyKind::retrieval);
            TextEvent ev;
            std::size_t consumed = 0;
            // Only the whole value is taken; a part of it is left for more input.
            EXPECT_EQ(parser.parse_value_of(placed, "key", ev, consumed), len == in.size()) << len;
            expect_value_of_agrees(prefix, "key");
        }
    }
}

TEST(TextReplyParserValueOf, AgreesWithParseOnEveryByteChanged) {
    // Each byte of a value replaced by each of a set of bytes that matter to the line's
    // grammar: whatever parse_value_of() takes, parse() takes the same way.
    const std::string base = "VALUE k12345678 4294967295 3 12\r\nabc\r\n";
    const char bytes[] = {' ', '\r', '\n', '0', '9', 'a', 'k', '\0', '\x7f', '\xff', ':'};
    for (std::size_t at = 0; at < base.size(); ++at) {
        for (char b : bytes) {
            std::string in = base;
            in[at] = b;
            expect_value_of_agrees(in, "k12345678");
            expect_value_of_agrees(in, "k1234567");
        }
    }
}

// ==== no allocation =====================================================================

std::string hundred_value_reply() {
    std::string in;
    for (int i = 0; i < 100; ++i) {
        const std::string data(static_cast<std::size_t>(i), 'd');
        in += "VALUE key" + std::to_string(i) + " " + std::to_string(i) + " " +
              std::to_string(data.size()) + " " + std::to_string(1000 + i) + "\r\n" + data +
              "\r\n";
    }
    return in + "END\r\n";
}

TEST(TextReplyParser, HundredValueReplyParsesWithoutAllocating) {
    const std::string reply = hundred_value_reply();
    TextReplyParser p;
    TextEvent ev;
    std::size_t values = 0;
    bool ended = false;
    bool failed = false;

    const std::size_t before = mmc::test::allocations();
    p.expect(ReplyKind::retrieval);
    std::string_view in = reply;
    while (!ended && !failed) {
        std::size_t consumed = 0;
        const ParseResult r = p.parse(in, ev, consumed);
        if (r != ParseResult::event) {
            failed = true;
            break;
        }
        in.remove_prefix(consumed);
        if (ev.type == EventType::value) ++values;
        ended = ev.final;
    }
    const std::size_t after = mmc::test::allocations();

    EXPECT_EQ(after - before, 0u);
    EXPECT_FALSE(failed);
    EXPECT_TRUE(ended);
    EXPECT_EQ(values, 100u);
}

TEST(TextReplyParser, ByteByByteParsingDoesNotAllocate) {
    const std::string reply = hundred_value_reply();
    TextReplyParser p;
    TextEvent ev;
    std::size_t values = 0;
    std::size_t start = 0;
    bool failed = false;

    const std::size_t before = mmc::test::allocations();
    p.expect(ReplyKind::retrieval);
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
            if (ev.type == EventType::value) ++values;
        }
    }
    const std::size_t after = mmc::test::allocations();

    EXPECT_EQ(after - before, 0u);
    EXPECT_FALSE(failed);
    EXPECT_EQ(values, 100u);
    EXPECT_EQ(start, reply.size());
}

// hundred_value_reply() is a gets (or gats) reply: every VALUE line carries a cas. This
// checks that each cas is reported, and that reporting it costs no allocation either.
TEST(TextReplyParser, HundredValueGetsReplyReportsEveryCasWithoutAllocating) {
    const std::string reply = hundred_value_reply();
    TextReplyParser p;
    TextEvent ev;
    std::size_t values = 0;
    std::size_t cas_right = 0;
    bool ended = false;
    bool failed = false;

    const std::size_t before = mmc::test::allocations();
    p.expect(ReplyKind::retrieval);
    std::string_view in = reply;
    while (!ended && !failed) {
        std::size_t consumed = 0;
        if (p.parse(in, ev, consumed) != ParseResult::event) {
            failed = true;
            break;
        }
        in.remove_prefix(consumed);
        if (ev.type == EventType::value) {
            if (ev.has_cas && ev.cas == 1000 + values) ++cas_right;
            ++values;
        }
        ended = ev.final;
    }
    const std::size_t after = mmc::test::allocations();

    EXPECT_EQ(after - before, 0u);
    EXPECT_FALSE(failed);
    EXPECT_TRUE(ended);
    EXPECT_EQ(values, 100u);
    EXPECT_EQ(cas_right, 100u);
}

// Every reply of the replay table, every kind included, parsed without allocating. The
// table is built (and allocates) before the count starts.
TEST(TextReplyParser, EveryReplayParsesWithoutAllocating) {
    const std::vector<Replay>& table = replays();
    for (const Replay& r : table) {
        TextReplyParser p;
        TextEvent ev;
        std::size_t events = 0;
        std::size_t next = 0;
        bool failed = false;

        const std::size_t before = mmc::test::allocations();
        std::string_view in = r.input;
        while (!failed) {
            if (!p.in_reply()) {
                if (next == r.kinds.size()) break;
                p.expect(r.kinds[next++]);
            }
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
        EXPECT_TRUE(in.empty());
    }
}

TEST(AllocationCounter, SeesAllocations) {
    // Guards the zero-allocation tests against a counter that silently counts nothing.
    // A direct call, unlike a new-expression, may not be optimised away.
    const std::size_t before = mmc::test::allocations();
    void* volatile p = ::operator new(100);
    const std::size_t after = mmc::test::allocations();
    ::operator delete(p);
    EXPECT_EQ(after - before, 1u);
}

}  // namespace
