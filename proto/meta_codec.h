// Sans-I/O codec for memcached's meta protocol: encoders for the requests the engine
// sends (mg, ms, md, ma) and an incremental parser for every reply (MN and ME
// included). No sockets, no threads, no APR; the parser never allocates.
//
// Meta replies describe themselves: a two-letter code, then flags, and for VA a length
// and a data block. So, as with the binary parser and unlike the text one, there is no
// expect(): the parser reads any sequence of replies, and telling which request a reply
// answers is the caller's job. It has what it needs for that: the order of requests,
// and the opaque (O) and the key (k) that each request can ask to have copied back.
// Quiet requests (q) leave their nominal replies out, so a pipeline ends with mn, whose
// MN says that every reply before it has arrived.
//
// The protocol is described in memcached's doc/protocol.txt ("Meta Commands"); the
// behaviour this codec relies on was checked against memcached 1.6.18 (Debian 12).
#ifndef MMC_PROTO_META_CODEC_H
#define MMC_PROTO_META_CODEC_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proto/key.h"
#include "proto/text_codec.h"  // ParseResult, kDefaultMaxValueSize, kMaxLineLength,
                               // kMaxTextValueLength: shared by the codecs

namespace mmc::proto {

// ---- keys ---------------------------------------------------------------------------

// A key sent with the b flag travels base64-encoded (RFC 4648, with padding), so it may
// hold any bytes, spaces, control characters and NULs included. memcached checks the
// 250-byte limit on the encoded token: 186 bytes encode to 248 characters, 187 would
// need 252.
inline constexpr std::size_t kMaxBase64KeyLength = 186;

// The longest key token a reply can carry. A k flag or an ME line returns the key as
// memcached stored it, re-encoded when it was sent with b: a 250-character token
// without padding decodes to 187 bytes, which encode to 252 characters.
inline constexpr std::size_t kMaxMetaKeyToken = 252;

// The longest opaque token (O) memcached accepts and copies back, the O excluded.
inline constexpr std::size_t kMaxMetaOpaqueLength = 32;

// Whether a key can be sent: with base64 false, valid_key() (1 to 250 bytes, no space
// or control character); with base64 true, 1 to kMaxBase64KeyLength bytes of anything.
// Encoders do not check keys again: call this first, as for the other codecs.
bool valid_meta_key(std::string_view key, bool base64) noexcept;

// Characters base64 needs for n bytes: 4 for every 3 bytes or part of them.
constexpr std::size_t base64_encoded_size(std::size_t n) noexcept { return (n + 2) / 3 * 4; }

// Writes the base64 form of `in` (base64_encoded_size(in.size()) characters, no
// terminator) to `out` and returns how many it wrote. For matching a returned k token
// against a key sent with b without decoding the token.
std::size_t base64_encode(std::string_view in, char* out) noexcept;

// ---- requests -----------------------------------------------------------------------
// Encoders append one request to `out` (so a connection can reuse one buffer and
// pipeline several requests) and allocate nothing beyond the growth of `out`. Keys must
// already have passed valid_meta_key() with the request's base64_key.
//
// Numeric arguments are written in decimal. Times (N, R, T) are seconds, or a Unix time
// beyond 30 days, as everywhere in memcached, and at most kMaxMetaTtl: memcached
// (1.6.18, checked) reads a time with strtol and keeps its low 32 bits as a signed
// number, so 3000000000 becomes a negative time and the item expires at once, with HD
// for an answer. Every encoder that takes a time refuses a larger one, returning false
// and appending nothing. An optional field that is empty, and a cas of 0, send no flag
// at all.
//
// The flags below are the ones memcached 1.6.18 accepts, except E (new_cas), which it
// refuses as an invalid flag; E needs memcached 1.6.27 or later.

// The largest time (N, R, T) memcached reads as it was meant.
inline constexpr std::uint32_t kMaxMetaTtl = kMaxTextTime;

// mg: fetch an item, its value and/or metadata, and optionally touch, vivify or win it.
// Reply: VA (value, with v), HD (hit without v), EN (miss; left out when quiet).
// memcached applies the flags in the order sent, so t, written before T, reports the
// TTL the touch replaces.
struct MetaGetRequest {
    std::string_view key;
    bool base64_key = false;     // b: the key is sent base64-encoded (any bytes)
    bool value = false;          // v: return the value (VA instead of HD)
    bool return_key = false;     // k
    bool return_flags = false;   // f: the client flags
    bool return_cas = false;     // c
    bool return_ttl = false;     // t: seconds left, -1 for none
    bool return_size = false;    // s: the value's length
    bool return_last_access = false;  // l: seconds since the last access
    bool return_hit_before = false;   // h: fetched before this request
    bool no_lru_bump = false;    // u: leave the LRU, last access and hit flag as they are
    bool quiet = false;          // q: no EN for a miss
    std::optional<std::uint32_t> opaque;       // O: copied back into the reply
    std::optional<std::uint32_t> vivify_ttl;   // N: on a miss, create an empty item
                                               // with this TTL; its creator gets W
    std::optional<std::uint32_t> recache_ttl;  // R: W when less TTL than this is left
    std::optional<std::uint32_t> touch_ttl;    // T: set a new TTL (touch, gat)
    std::uint64_t new_cas = 0;                 // E (memcached >= 1.6.27)
};
// "mg <key>[ b][ v][ k][ f][ c][ t][ s][ l][ h][ u][ q][ O<n>][ N<ttl>][ R<ttl>]
// [ T<ttl>][ E<cas>]\r\n".
// False, with nothing appended, when a time exceeds kMaxMetaTtl.
bool encode_meta_get(std::string& out, const MetaGetRequest& req);

// The plain get, "mg <key> v f[ c]\r\n": what encode_meta_get writes for a request with
// only value, return_flags and (with_cas) return_cas set, in one append (the get is the
// hot path; building the general line cost about 100 instructions more).
void encode_meta_value_get(std::string& out, std::string_view key, bool with_cas);

// The M token of ms. New values are appended at the end.
enum class MetaSetMode : std::uint8_t { set, add, replace, append, prepend };

// ms: store an item. Reply: HD (stored; left out when quiet), NS (not stored: add of
// an existing key, replace/append/prepend of a missing one), EX (compare_cas did not
// match), NF (compare_cas given and no such item).
struct MetaSetRequest {
    std::string_view key;
    bool base64_key = false;     // b
    MetaSetMode mode = MetaSetMode::set;  // M: sent for every mode but set (E, R, A, P)
    std::uint32_t flags = 0;     // F: client flags, sent when not 0 (memcached's default)
    std::uint32_t ttl = 0;       // T: sent when not 0 (0 = no expiry, the default)
    std::uint64_t compare_cas = 0;  // C: store only over this cas (set mode: memcached's cas)
    std::uint64_t new_cas = 0;   // E (memcached >= 1.6.27)
    bool invalidate = false;     // I: with C, a lower cas is stored but marked stale
    bool return_cas = false;     // c: the new item's cas
    bool return_key = false;     // k
    bool quiet = false;          // q: no HD
    std::optional<std::uint32_t> opaque;  // O
};
// Only the command line "ms <key> <bytes>[ b][ c][ k][ q][ O<n>][ F<flags>][ T<ttl>]
// [ C<cas>][ E<cas>][ I][ M<mode>]\r\n": the caller sends the `bytes` bytes of data and
// "\r\n" after it, so large values are never copied. Returns false and appends nothing
// when ttl exceeds kMaxMetaTtl or bytes exceeds kMaxTextValueLength: memcached reads
// the length as a signed 32-bit number plus the CRLF, as in the text protocol, and a
// length cut to fit would frame the wrong number of bytes.
bool encode_meta_set_header(std::string& out, const MetaSetRequest& req, std::size_t bytes);
// md: delete an item, or with invalidate mark it stale (the next mg sees X and one
// client gets W). Reply: HD (done; left out when quiet), NF (no such item), EX
// (compare_cas did not match).
struct MetaDeleteRequest {
    std::string_view key;
    bool base64_key = false;     // b
    bool return_key = false;     // k
    bool quiet = false;          // q: no HD
    std::optional<std::uint32_t> opaque;  // O
    std::uint64_t compare_cas = 0;  // C
    std::uint64_t new_cas = 0;   // E (memcached >= 1.6.27)
    bool invalidate = false;     // I: mark stale instead of deleting
    std::optional<std::uint32_t> ttl;  // T: the stale item's new TTL (with invalidate)
};
// "md <key>[ b][ k][ q][ O<n>][ C<cas>][ E<cas>][ I][ T<ttl>]\r\n". False, with
// nothing appended, when ttl exceeds kMaxMetaTtl.
bool encode_meta_delete(std::string& out, const MetaDeleteRequest& req);

// The M token of ma: increment (memcached's default, not sent) or decrement ("MD").
enum class MetaArithMode : std::uint8_t { increment, decrement };

// ma: add to or subtract from a decimal counter (unsigned 64-bit; decrement stops at
// 0, increment wraps). Reply: HD (done; left out when quiet), VA (with value: the
// new number as data), NF (no such item and no vivify_ttl), NS (vivifying failed), EX
// (compare_cas did not match).
struct MetaArithmeticRequest {
    std::string_view key;
    bool base64_key = false;     // b
    MetaArithMode mode = MetaArithMode::increment;  // M
    std::uint64_t delta = 1;     // D: always sent
    std::optional<std::uint32_t> vivify_ttl;  // N: on a miss, create the counter
    std::uint64_t initial = 0;   // J: the created counter's value, sent with N when not 0
    std::optional<std::uint32_t> ttl;  // T: a new TTL on success
    std::uint64_t compare_cas = 0;  // C
    std::uint64_t new_cas = 0;   // E (memcached >= 1.6.27)
    bool value = false;          // v: return the new value (VA instead of HD)
    bool return_key = false;     // k
    bool return_cas = false;     // c
    bool return_ttl = false;     // t
    bool quiet = false;          // q: no HD
    std::optional<std::uint32_t> opaque;  // O
};
// "ma <key>[ b][ v][ k][ c][ t][ q][ O<n>][ N<ttl>][ J<initial>] D<delta>[ T<ttl>]
// [ C<cas>][ E<cas>][ MD]\r\n". False, with nothing appended, when a time exceeds
// kMaxMetaTtl.
bool encode_meta_arithmetic(std::string& out, const MetaArithmeticRequest& req);

// ---- replies ------------------------------------------------------------------------

// New types are appended at the end, so existing values keep their numbers.
enum class MetaEventType : std::uint8_t {
    value,         // VA <size> <flags>*: data is the value (ma: the number in decimal)
    ok,            // HD <flags>*: hit without v, stored, deleted, counter changed
    miss,          // EN <flags>*: mg or me found nothing
    not_stored,    // NS <flags>*
    exists,        // EX <flags>*: cas mismatch
    not_found,     // NF <flags>*
    noop,          // MN
    debug,         // ME <key> <info>: key, and data = the rest of the line
    error,         // ERROR (data = message after "ERROR ", usually empty)
    client_error,  // CLIENT_ERROR <data>
    server_error,  // SERVER_ERROR <data>
};

// The return flags a reply line can carry, as bit numbers of MetaEvent::returned.
enum class MetaFlag : std::uint8_t {
    base64_key,   // b: the k token is base64 (the key was sent with b)
    cas,          // c
    flags,        // f: client flags
    hit_before,   // h
    key,          // k
    last_access,  // l
    opaque,       // O
    size,         // s
    ttl,          // t
    won,          // W: this client won the right to recache the item
    stale,        // X: the item was marked stale (md with I)
    lease_taken,  // Z: another client already won it
};

// One parsed reply. Views point into the buffer passed to parse(); they stay valid
// while the caller keeps those bytes. A field whose flag did not come back is 0 or
// empty.
struct MetaEvent {
    MetaEventType type = MetaEventType::ok;
    std::uint16_t returned = 0;   // bit (1 << MetaFlag) for each flag the line carried
    bool hit_before = false;      // h
    std::uint32_t flags = 0;      // f
    std::uint32_t size = 0;       // s
    std::uint32_t last_access = 0;  // l
    std::int64_t ttl = 0;         // t: seconds left, -1 when the item never expires
    std::uint64_t cas = 0;        // c
    // k, or the key of an ME line: as sent, or base64 when has(MetaFlag::base64_key).
    // Checked for length only: the caller matches it against the key it asked for.
    std::string_view key;
    std::string_view opaque;      // O, without the letter: the caller's own token
    // VA: the data block. ME: the rest of the line after the key. Errors: the message.
    std::string_view data;

    bool has(MetaFlag f) const noexcept {
        return (returned >> static_cast<unsigned>(f) & 1u) != 0;
    }
};

// Plain decimal digits only (no sign, no spaces, at least one digit, at most 2^64 - 1):
// reads the number an ma VA reply carries as data, or a numeric opaque.
bool parse_meta_number(std::string_view s, std::uint64_t& out) noexcept;

class MetaReplyParser {
public:
    // Values longer than max_value_size are a parse error, decided from the VA line
    // alone, so a hostile length is never buffered by the caller.
    explicit MetaReplyParser(std::size_t max_value_size = kDefaultMaxValueSize) noexcept;

    // Parses at most one reply from the front of `in`. Any sequence of replies is
    // accepted; empty input is need_more. Feeding the stream one byte at a time
    // (always passing all unconsumed bytes) gives the same events as feeding it
    // whole. `consumed` is 0 unless the result is event; `ev` is written only for
    // event.
    //
    // Lines end in "\r\n" (a bare "\n" or a "\r" not followed by "\n" is an error) and
    // are at most kMaxLineLength bytes with it; the first two letters and a space or
    // the line end are the code. Errors: an unknown code; MN with anything after it;
    // VA without a length, with a length that is not decimal or is over
    // max_value_size (decided before any data arrives), or whose data is not followed
    // by "\r\n"; a flag that is empty (two spaces, a trailing space) or does not start
    // with a letter; a known flag twice or with a malformed token (c: up to 2^64 - 1;
    // f, s, l: up to 2^32 - 1; t: that or -1; h: 0 or 1; b, W, X, Z: nothing after
    // the letter; O: at most kMaxMetaOpaqueLength bytes; k: 1 to kMaxKeyLength bytes,
    // kMaxMetaKeyToken with b); an ME line without a key or with a longer one. Flags
    // with other letters are skipped, so a newer server's additions do no harm. An
    // error is sticky: every later parse() returns error until reset().
    ParseResult parse(std::string_view in, MetaEvent& ev, std::size_t& consumed) noexcept;

    // Why the last parse() returned error (a static string).
    const char* error_message() const noexcept { return error_; }

    // Clears an earlier error, so the parser can serve a new connection. The stream that
    // caused the error is out of step for good: discard its connection.
    void reset() noexcept;

    // The general path alone: what parse() does with a reply its short path leaves
    // alone. parse() reads an ordinary complete reply (HD, EN, MN, or VA with only f, c,
    // k and O) in one pass, and everything else here, where the line end is found
    // first; for every input the two give the same events and the same errors, which
    // the tests check by parsing every input both ways.
    ParseResult parse_general(std::string_view in, MetaEvent& ev, std::size_t& consumed) noexcept;

private:
    // No partial-input state is kept: each parse() starts again at the front of `in`,
    // which is what makes every way of splitting the input give the same events.
    ParseResult fail(const char* why) noexcept;

    std::size_t max_value_size_;
    bool failed_ = false;
    const char* error_ = "";
};

}  // namespace mmc::proto

#endif  // MMC_PROTO_META_CODEC_H
