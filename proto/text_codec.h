// Sans-I/O codec for memcached's text protocol: request encoders and an incremental
// reply parser. No sockets, no threads, no APR; the parser never allocates.
#ifndef MMC_PROTO_TEXT_CODEC_H
#define MMC_PROTO_TEXT_CODEC_H

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include "proto/decimal.h"

namespace mmc::proto {

// ---- requests -----------------------------------------------------------------------
// Encoders append one request to `out` (so a connection can reuse one buffer and
// pipeline several requests). Keys must already have passed valid_key(); encoders do
// not check them again.

// Asks the server to send nothing back. Taken by the commands memcached accepts it on:
// storage (set, add, replace, append, prepend, cas), delete, incr/decr, touch,
// flush_all and verbosity; the encoders append " noreply" to the command line.
//
// Contract: no reply comes for such a request, whatever its outcome. memcached 1.6
// suppresses even the CLIENT_ERROR and SERVER_ERROR it would have sent (a refused or
// oversized value, a non-numeric incr), so the caller must not expect() a reply for it:
// the next expect() belongs to the next request that does answer. Use it only when the
// caller does not need the outcome: a failed store, a missing key or a refused value all
// go unseen. One hole remains: a request the server cannot frame (a data block whose
// length differs from the header's) makes it read the leftover bytes as commands and
// answer them with ERROR, which the parser would then hand to the next expected reply.
// encode_store() cannot produce one; encode_store_header() callers must send exactly
// `bytes` bytes of data.
//
// An enum rather than a bool, so that a stray bool or integer cannot slide into the
// cas or exptime argument next to it without a compile error.
enum class Noreply : bool { no, yes };

void encode_get(std::string& out, std::string_view key);
// "get k1 k2 ...\r\n" for n >= 1 keys. Appends nothing when n == 0: a get without
// keys only earns an ERROR from the server.
void encode_get_multi(std::string& out, const std::string_view* keys, std::size_t n);

// "gets <key>\r\n" and "gets k1 k2 ...\r\n": get, but every VALUE line of the reply
// carries the item's cas unique, the token a later cas request must quote. Reply:
// ReplyKind::retrieval. Appends nothing when n == 0, as encode_get_multi().
void encode_gets(std::string& out, std::string_view key);
void encode_gets_multi(std::string& out, const std::string_view* keys, std::size_t n);

// "gat <exptime> k1 k2 ...\r\n" (get and touch): fetches the items and gives each a new
// expiry in one round trip. gats is the same with cas uniques in the VALUE lines, as
// gets. Reply: ReplyKind::retrieval. Appends nothing when n == 0 (nothing to fetch).
// Keep the whole line within kMaxGatLineLength: see there.
void encode_gat(std::string& out, std::uint32_t exptime, std::string_view key);
void encode_gat_multi(std::string& out, std::uint32_t exptime, const std::string_view* keys,
                      std::size_t n);
void encode_gats(std::string& out, std::uint32_t exptime, std::string_view key);
void encode_gats_multi(std::string& out, std::uint32_t exptime, const std::string_view* keys,
                       std::size_t n);

// Longest gat/gats request line, "\r\n" included, that memcached reliably accepts. Once
// more than 2048 bytes of a line have arrived without its "\n", memcached (1.6.18,
// checked) closes the connection unless the line starts with "get " or "gets ": only
// those may be longer. Whether that happens depends on how TCP splits the line, so a
// longer gat works in tests and fails under load. Callers batch keys to stay within it.
inline constexpr std::size_t kMaxGatLineLength = 2048;

// New values appended at the end, so existing values keep their numbers.
enum class StoreCommand : std::uint8_t { set, add, replace, append, prepend, cas };
// The longest data block a text store can announce. memcached reads <bytes> as a signed
// 32-bit int and refuses anything above INT_MAX - 2 (it adds the CRLF to the count); a
// larger number would be refused, or worse, misread, and the data that follows it
// parsed as commands.
inline constexpr std::size_t kMaxTextValueLength = 2147483647u - 2u;
// The largest time (an expiry or a flush delay, in seconds or as a Unix time) memcached
// reads from a text or meta command as it was meant: it keeps a larger number's low 32
// bits as a signed time (1.6.18, checked), so 3000000000 is a time in the past and the
// item expires at once. The meta encoders and the engine's adapters refuse larger
// times; the engine's operations cap them first (capped_time).
inline constexpr std::uint32_t kMaxTextTime = 2147483647u;
// A time (an expiry or a flush delay) as it is sent, in every protocol: at most
// kMaxTextTime. A larger one can only be an absolute Unix time after January 2038, which
// memcached 1.6 would misread as one in the past; capped, the item lives until 2038
// rather than expiring at once. Binary carries 32 unsigned bits but gets the same cap,
// so that a time means the same whatever the protocol.
constexpr std::uint32_t capped_time(std::uint32_t t) noexcept { return t < kMaxTextTime ? t : kMaxTextTime; }
// Only the command line "set <key> <flags> <exptime> <bytes>\r\n": the caller sends the
// data and the trailing "\r\n" after it, so large values are never copied.
// For StoreCommand::cas the line is "cas <key> <flags> <exptime> <bytes> <cas_unique>",
// cas_unique being the value a gets/gats reply carried; other commands ignore it.
// append and prepend add the data to an existing item, whose flags and exptime the
// server keeps: it reads and ignores the ones on this line, which must still be there.
// Reply (unless noreply): ReplyKind::storage; for cas, STORED, EXISTS (the item changed
// since the gets) or NOT_FOUND.
// Returns false and appends nothing when bytes exceeds kMaxTextValueLength: a length
// the protocol cannot carry is refused here rather than sent.
bool encode_store_header(std::string& out, StoreCommand cmd, std::string_view key,
                         std::uint32_t flags, std::uint32_t exptime, std::size_t bytes,
                         std::uint64_t cas_unique = 0, Noreply noreply = Noreply::no);
// The whole request: header, data and "\r\n". False, with nothing appended, as above.
bool encode_store(std::string& out, StoreCommand cmd, std::string_view key,
                  std::uint32_t flags, std::uint32_t exptime, std::string_view data,
                  std::uint64_t cas_unique = 0, Noreply noreply = Noreply::no);

// "delete <key>\r\n" (no time: memcached >= 1.4 rejects one).
void encode_delete(std::string& out, std::string_view key, Noreply noreply = Noreply::no);

enum class ArithCommand : std::uint8_t { incr, decr };
void encode_arith(std::string& out, ArithCommand cmd, std::string_view key,
                  std::uint64_t delta, Noreply noreply = Noreply::no);

// "touch <key> <exptime>\r\n": a new expiry without fetching the value. Reply:
// ReplyKind::touch.
void encode_touch(std::string& out, std::string_view key, std::uint32_t exptime,
                  Noreply noreply = Noreply::no);

// "flush_all\r\n", or "flush_all <delay>\r\n": invalidates every item on the server,
// now or in `delay` seconds. A delay of 0 is sent as no delay at all, which memcached
// treats the same way. Reply: ReplyKind::ok.
void encode_flush_all(std::string& out, std::uint32_t delay = 0, Noreply noreply = Noreply::no);

// "verbosity <level>\r\n": the server's logging level. Reply: ReplyKind::ok.
void encode_verbosity(std::string& out, std::uint32_t level, Noreply noreply = Noreply::no);

void encode_version(std::string& out);
// "stats\r\n", or "stats <group>\r\n" when group is not empty.
void encode_stats(std::string& out, std::string_view group = {});
void encode_quit(std::string& out);

// ---- replies ------------------------------------------------------------------------

// What the reply that comes next answers; it decides which lines are valid. New kinds
// are appended at the end, so existing values keep their numbers.
enum class ReplyKind : std::uint8_t {
    retrieval,   // get/gets/gat/gats: VALUE* END (gets and gats VALUE lines carry a cas)
    storage,     // set/add/replace/append/prepend/cas: STORED | NOT_STORED | EXISTS |
                 // NOT_FOUND
    deletion,    // delete: DELETED | NOT_FOUND
    arithmetic,  // incr/decr: <number> | NOT_FOUND
    version,     // version: VERSION <string>
    stats,       // stats: STAT <name> <value>* END
    touch,       // touch: TOUCHED | NOT_FOUND
    ok,          // flush_all, verbosity: OK
};

// New types are appended at the end, so existing values keep their numbers.
enum class EventType : std::uint8_t {
    value,         // key, flags, data, cas (has_cas when the line carried one). The key
                   // is checked for length only (no space, CR or LF can be in it): the
                   // caller must match it against the keys it asked for.
    end,           // END
    stored,        // STORED
    not_stored,    // NOT_STORED
    exists,        // EXISTS
    not_found,     // NOT_FOUND
    deleted,       // DELETED
    number,        // number
    version,       // data = the version string
    stat,          // key = name, data = value (the rest of the line)
    error,         // ERROR (data = message after "ERROR ", usually empty)
    client_error,  // CLIENT_ERROR <data>
    server_error,  // SERVER_ERROR <data>
    touched,       // TOUCHED
    ok,            // OK
};

// One parsed item. Views point into the buffer passed to parse(); they stay valid
// while the caller keeps those bytes.
struct TextEvent {
    EventType type = EventType::end;
    bool final = false;  // this event completes the reply to the current request
    bool has_cas = false;
    std::uint32_t flags = 0;
    std::uint64_t cas = 0;
    std::uint64_t number = 0;
    std::string_view key;
    std::string_view data;
};

enum class ParseResult : std::uint8_t {
    event,      // *ev filled, `consumed` bytes of the input belong to it
    need_more,  // nothing consumed: call again with these bytes plus more
    error,      // the stream is unusable (malformed, unexpected or oversized reply)
};

inline constexpr std::size_t kDefaultMaxValueSize = 64u * 1024u * 1024u;
// memcached's default item size limit (its -I option, 1m): a larger value is refused by
// a server run with defaults.
inline constexpr std::size_t kDefaultMaxStoreSize = 1024u * 1024u;

// Longest reply line accepted, "\r\n" included (VALUE data is not a line and is bounded
// by max_value_size instead). The longest line memcached sends to our requests is
// "VALUE <250-byte key> <u32> <u64> <u64>", 311 bytes; stats lines are far shorter.
// Input that reaches this length without a line end is an error, so a peer that
// never sends "\r\n" cannot make the caller buffer without bound.
inline constexpr std::size_t kMaxLineLength = 1024;

class TextReplyParser {
public:
    // Values longer than max_value_size are a parse error, so a hostile length is
    // never allocated by the caller.
    explicit TextReplyParser(std::size_t max_value_size = kDefaultMaxValueSize) noexcept;

    // Starts a reply: the bytes that follow answer a request of this kind. Also clears
    // an earlier error, and drops any reply still in progress (the caller decides when
    // one reply ends and the next begins, e.g. after a final event when pipelining).
    void expect(ReplyKind kind) noexcept;

    // Parses at most one event from the front of `in`. Feeding a reply one byte at a
    // time (always passing all unconsumed bytes) gives the same events as feeding it
    // whole. ERROR / CLIENT_ERROR / SERVER_ERROR end any reply (final). After a final
    // event, any further bytes before the next expect() are an error (empty input
    // then is need_more: nothing is wrong yet). Calling parse() before any expect()
    // is an error. `consumed` is 0 unless the result is event; `ev` holds the
    // event only for event (otherwise its contents are unspecified). An error is sticky: every later parse() returns error until expect().
    // Lines must end in "\r\n"; a bare "\n" or a "\r" not followed by "\n" is an error.
    ParseResult parse(std::string_view in, TextEvent& ev, std::size_t& consumed) noexcept;

    // The usual answer to a multi-get, read knowing which key it should be for: when the
    // front of `in` is a complete "VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n"
    // for exactly `key`, sets ev and consumed as parse() would (the same event, which is
    // never final, so the parser's state does not change) and returns true. Anything
    // else (another key, END, an error line, an unusual line, input that ends early)
    // returns false and touches nothing; parse() then reads it. So it changes the cost
    // of reading a reply, never its meaning: a caller that asked for keys in an order and
    // tries the next one it expects gets, on a match, what parse() and its own key lookup
    // would have found, without scanning the line for the key's end or looking the key
    // up. `key` must pass valid_key() (no space or control byte, at most 250 bytes).
    // Always inlined, so that a caller's loop over many values pays no call per value.
    [[gnu::always_inline]] inline bool parse_value_of(std::string_view in, std::string_view key, TextEvent& ev,
                        std::size_t& consumed) const noexcept;

    // Why the last parse() returned error (a static string).
    const char* error_message() const noexcept { return error_; }

    // True between expect() and the final event of that reply.
    bool in_reply() const noexcept { return state_ == State::reading; }

private:
    // The parser keeps no partial-input state: each parse() starts again at the front
    // of `in`, which is what makes every way of splitting the input give the same
    // events. Only where we are between replies is remembered.
    enum class State : std::uint8_t {
        idle,     // no expect() yet
        reading,  // between expect() and the final event
        done,     // the final event was returned; waiting for expect()
        failed,   // an error was returned; waiting for expect()
    };

    ParseResult fail(const char* why) noexcept;
    // Everything but the usual VALUE reply, which parse() reads on a shorter path.
    [[gnu::noinline]] ParseResult parse_general(std::string_view in, TextEvent& ev,
                                                std::size_t& consumed) noexcept;

    std::size_t max_value_size_;
    ReplyKind kind_ = ReplyKind::retrieval;
    State state_ = State::idle;
    const char* error_ = "";
};

namespace text_detail {

// Whether the n bytes at a and b are equal: eight at a time, the last word overlapping
// the one before it, without the call a memcmp of unknown length costs.
inline bool same_bytes(const char* a, const char* b, std::size_t n) noexcept {
    if (n >= 8) {
        std::uint64_t x, y, diff = 0;
        for (std::size_t i = 0; i + 8 < n; i += 8) {
            std::memcpy(&x, a + i, 8);
            std::memcpy(&y, b + i, 8);
            diff |= x ^ y;
        }
        std::memcpy(&x, a + n - 8, 8);
        std::memcpy(&y, b + n - 8, 8);
        return (diff | (x ^ y)) == 0;
    }
    if (n >= 4) {
        std::uint32_t x0, y0, x1, y1;
        std::memcpy(&x0, a, 4);
        std::memcpy(&y0, b, 4);
        std::memcpy(&x1, a + n - 4, 4);
        std::memcpy(&y1, b + n - 4, 4);
        return ((x0 ^ y0) | (x1 ^ y1)) == 0;
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (a[i] != b[i]) return false;
    }
    return true;
}

// 1 to 18 decimal digits at p[i], followed by a byte before `n`: their value in v and i
// moved past them. False for anything else (no digit, 19 digits or more, input that
// ends among the digits), which the general path then reads: up to 18 digits always fit
// in 64 bits, and a number this short is all the fast readers need.
inline constexpr DecimalLimits kShortNumber{18, std::numeric_limits<std::uint64_t>::max(), DecimalEnd::byte};

[[gnu::always_inline]] inline bool short_number(const char* p, std::size_t n, std::size_t& i,
                                                std::uint64_t& v) noexcept {
    return read_decimal(p, n, i, kShortNumber, v) == DecimalStatus::ok;
}

// The end of a VALUE line both fast readers share: i is at the byte after the last
// number (i < n), p[6, 6 + key_size) is the key. Checks the CRLF, the size against
// max_value_size and the data's own CRLF, all within n, then sets every field of ev.
inline bool finish_value(const char* p, std::size_t n, std::size_t i, std::size_t key_size,
                         std::uint64_t flags, std::uint64_t bytes, bool has_cas, std::uint64_t cas,
                         std::uint64_t max_value_size, TextEvent& ev, std::size_t& consumed) noexcept {
    if (p[i] != '\r' || i + 1 == n || p[i + 1] != '\n') return false;
    const std::size_t line_size = i + 2;
    if (bytes > max_value_size || n - line_size < bytes || n - line_size - bytes < 2) return false;
    const std::size_t data_end = line_size + static_cast<std::size_t>(bytes);
    if (p[data_end] != '\r' || p[data_end + 1] != '\n') return false;
    // Every field set here (cheaper than clearing the event first).
    ev.type = EventType::value;
    ev.final = false;
    ev.has_cas = has_cas;
    ev.flags = static_cast<std::uint32_t>(flags);
    ev.cas = cas;
    ev.number = 0;
    ev.key = std::string_view(p + 6, key_size);
    ev.data = std::string_view(p + line_size, static_cast<std::size_t>(bytes));
    consumed = data_end + 2;
    return true;
}

}  // namespace text_detail

inline bool TextReplyParser::parse_value_of(std::string_view in, std::string_view key, TextEvent& ev,
                                            std::size_t& consumed) const noexcept {
    if (state_ != State::reading || kind_ != ReplyKind::retrieval) return false;
    const char* p = in.data();
    const std::size_t n = in.size();
    const std::size_t k = key.size();
    // "VALUE " key " " then at least "0 0\r\n\r\n".
    if (n < k + 14 || std::memcmp(p, "VALUE ", 6) != 0 || !text_detail::same_bytes(p + 6, key.data(), k) ||
        p[6 + k] != ' ') {
        return false;
    }
    // From here on every index read is below n: short_number() stops before n, and
    // each check of a byte after a number comes after one that proved more input.
    std::size_t i = 7 + k;
    std::uint64_t flags = 0, bytes = 0, cas = 0;
    if (p[i] == '0' && p[i + 1] == ' ') {
        i += 2;  // flags 0, the usual case
    } else {
        if (!text_detail::short_number(p, n, i, flags) || p[i] != ' ' || flags > 0xffffffffu) return false;
        ++i;
    }
    if (i >= n || !text_detail::short_number(p, n, i, bytes)) return false;
    const bool has_cas = p[i] == ' ';
    if (has_cas) {
        ++i;
        if (i >= n || !text_detail::short_number(p, n, i, cas)) return false;
    }
    return text_detail::finish_value(p, n, i, k, flags, bytes, has_cas, cas, max_value_size_, ev, consumed);
}

}  // namespace mmc::proto

#endif  // MMC_PROTO_TEXT_CODEC_H
