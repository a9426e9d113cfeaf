#include "proto/text_codec.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <system_error>

#include "proto/key.h"
#include "proto/reply_lines.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace mmc::proto {

namespace {

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
constexpr bool kLittleEndian = true;
#else
constexpr bool kLittleEndian = false;
#endif

// ---- encoding helpers ---------------------------------------------------------------

void append_number(std::string& out, std::uint64_t n) {
    char buf[std::numeric_limits<std::uint64_t>::digits10 + 1];
    const std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, n);
    out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

std::string_view store_verb(StoreCommand cmd) {
    switch (cmd) {
        case StoreCommand::set: return "set";
        case StoreCommand::add: return "add";
        case StoreCommand::replace: return "replace";
        case StoreCommand::append: return "append";
        case StoreCommand::prepend: return "prepend";
        case StoreCommand::cas: return "cas";
    }
    return "set";
}

std::string_view arith_verb(ArithCommand cmd) {
    return cmd == ArithCommand::incr ? "incr" : "decr";
}

// Ends every command line that may carry noreply, so the word always comes last, where
// memcached looks for it.
void append_end(std::string& out, Noreply noreply) {
    if (noreply == Noreply::yes) out.append(" noreply");
    out.append(kCrlf);
}

// "<verb>[ <exptime>] k1 k2 ...\r\n", shared by get, gets, gat and gats.
void append_retrieval(std::string& out, std::string_view verb, const std::uint32_t* exptime,
                      const std::string_view* keys, std::size_t n) {
    if (n == 0) return;
    out.append(verb);
    if (exptime != nullptr) {
        out.push_back(' ');
        append_number(out, *exptime);
    }
    // Sized once and written in place: a multi-get line holds a hundred keys or more,
    // and two appends per key cost more than the copying.
    std::size_t bytes = n + kCrlf.size();  // a space before each key, CRLF at the end
    for (std::size_t i = 0; i < n; ++i) bytes += keys[i].size();
    std::size_t at = out.size();
    out.resize(at + bytes);
    char* p = out.data();
    for (std::size_t i = 0; i < n; ++i) {
        p[at++] = ' ';
        std::memcpy(p + at, keys[i].data(), keys[i].size());
        at += keys[i].size();
    }
    std::memcpy(p + at, kCrlf.data(), kCrlf.size());
}

// ---- parsing helpers ----------------------------------------------------------------

// Index of the first byte equal to a or b among the n bytes at d, or n. With SSE2 (every
// x86-64) sixteen bytes at a time, otherwise eight: a word holds byte a when w ^ aa..aa
// has a zero byte, found by (x - 0x01..01) & ~x & 0x80..80. A borrow can only mark bytes
// above a real match, so the lowest marked byte (the first in memory, on a
// little-endian machine) is always a real one.
template <char A, char B>
std::size_t find_either(const char* d, std::size_t n) noexcept {
#if defined(__SSE2__)
    if (n >= 16) {
        const __m128i va = _mm_set1_epi8(A);
        const __m128i vb = _mm_set1_epi8(B);
        return first_hit_16(d, n, [&](__m128i v) {
            return _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, va), _mm_cmpeq_epi8(v, vb)));
        });
    }
#endif
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
    std::size_t i = 0;
    if constexpr (kLittleEndian) {
        for (; i + 8 <= n; i += 8) {
            std::uint64_t w;
            std::memcpy(&w, d + i, 8);
            const std::uint64_t xa = w ^ (static_cast<unsigned char>(A) * kOnes);
            const std::uint64_t xb = w ^ (static_cast<unsigned char>(B) * kOnes);
            const std::uint64_t hits = (((xa - kOnes) & ~xa) | ((xb - kOnes) & ~xb)) & kHighs;
            if (hits != 0) return i + static_cast<std::size_t>(__builtin_ctzll(hits) >> 3);
        }
    }
    for (; i < n; ++i) {
        if (d[i] == A || d[i] == B) return i;
    }
    return n;
}

std::size_t find_line_break(const char* d, std::size_t n) noexcept { return find_either<'\r', '\n'>(d, n); }

enum class NumberStatus : std::uint8_t { ok, malformed, overflow };

// A number of a reply line: any count of digits, ended by whatever is not a digit (the
// callers look at that byte themselves), too large only when over 64 bits.
constexpr DecimalLimits kLineNumber{kAnyDigits, std::numeric_limits<std::uint64_t>::max(), DecimalEnd::any};

// Plain decimal digits only: no sign, no spaces, at least one digit.
NumberStatus parse_u64(std::string_view s, std::uint64_t& out) noexcept {
    std::size_t stop = 0;
    std::uint64_t v = 0;
    const DecimalStatus st = read_decimal(s.data(), s.size(), stop, kLineNumber, v);
    if (st == DecimalStatus::too_large) return NumberStatus::overflow;
    if (st != DecimalStatus::ok || stop != s.size()) return NumberStatus::malformed;
    out = v;
    return NumberStatus::ok;
}

// Both take literals: the compiler turns the fixed-size compare into a few loads.
template <std::size_t N>
bool starts_with(std::string_view s, const char (&prefix)[N]) noexcept {
    return s.size() >= N - 1 && std::memcmp(s.data(), prefix, N - 1) == 0;
}

template <std::size_t N>
bool equals(std::string_view s, const char (&word)[N]) noexcept {
    return s.size() == N - 1 && std::memcmp(s.data(), word, N - 1) == 0;
}

// One space-separated number of a VALUE line, taken from the front of `rest` together
// with the single space after it. `more` tells whether a space (so another word)
// followed. An empty word (two spaces in a row, a leading or trailing space, a missing
// word) is a malformed line; a word that is not all digits is a malformed number.
enum class WordStatus : std::uint8_t { ok, empty, malformed, overflow };

[[gnu::always_inline]] inline WordStatus take_number(std::string_view& rest, std::uint64_t& out, bool& more) noexcept {
    std::size_t stop = 0;
    std::uint64_t v = 0;
    if (read_decimal(rest.data(), rest.size(), stop, kLineNumber, v) == DecimalStatus::too_large) {
        return WordStatus::overflow;
    }
    out = v;
    if (stop == rest.size()) {
        more = false;
    } else if (rest[stop] == ' ') {
        more = true;
    } else {
        return WordStatus::malformed;
    }
    if (stop == 0) return WordStatus::empty;
    rest.remove_prefix(stop + (more ? 1 : 0));
    return WordStatus::ok;
}

void set_final(TextEvent& ev, EventType type) noexcept {
    ev.type = type;
    ev.final = true;
}

// A reply that is one fixed word, e.g. STORED.
struct Word {
    std::string_view text;
    EventType type;
};

template <std::size_t N>
Step parse_word(std::string_view line, std::size_t size, const Word (&words)[N],
                TextEvent& ev) noexcept {
    for (const Word& w : words) {
        if (line == w.text) {
            set_final(ev, w.type);
            return event_of(size);
        }
    }
    return failure("unexpected reply line for this request");
}

// "VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n". The header alone decides whether
// the value is acceptable, so an oversized length fails before any data arrives. Read
// word by word from the front: this line comes once per value, so it is the parser's
// hottest path.
Step parse_value(std::string_view in, std::string_view line, std::size_t line_size,
                 std::size_t max_value_size, TextEvent& ev) noexcept {
    constexpr const char* kMalformed = "malformed VALUE line";
    std::string_view rest = line.substr(6);
    const std::size_t space = find_either<' ', ' '>(rest.data(), rest.size());
    if (space == 0 || space == rest.size()) return failure(kMalformed);
    // Only the length is checked: the line's structure already keeps spaces, CR and LF
    // out of the key, and callers compare it with the keys they asked for (a key they
    // did not ask for is a broken reply whatever its bytes).
    const std::string_view key = rest.substr(0, space);
    if (key.size() > kMaxKeyLength) return failure("key in VALUE line too long");
    rest.remove_prefix(space + 1);

    std::uint64_t flags = 0;
    bool more = false;
    switch (take_number(rest, flags, more)) {
        case WordStatus::ok: break;
        case WordStatus::empty: return failure(kMalformed);
        case WordStatus::malformed: return failure("malformed flags in VALUE line");
        case WordStatus::overflow: return failure("flags in VALUE line exceed 32 bits");
    }
    if (flags > std::numeric_limits<std::uint32_t>::max()) {
        return failure("flags in VALUE line exceed 32 bits");
    }
    if (!more) return failure(kMalformed);
    std::uint64_t bytes = 0;
    switch (take_number(rest, bytes, more)) {
        case WordStatus::ok: break;
        case WordStatus::empty: return failure(kMalformed);
        case WordStatus::malformed: return failure("malformed length in VALUE line");
        case WordStatus::overflow: return failure("length in VALUE line exceeds 64 bits");
    }
    if (bytes > max_value_size) return failure("value larger than max_value_size");
    if (more) {
        switch (take_number(rest, ev.cas, more)) {
            case WordStatus::ok: break;
            case WordStatus::empty: return failure(kMalformed);
            case WordStatus::malformed: return failure("malformed cas in VALUE line");
            case WordStatus::overflow: return failure("cas in VALUE line exceeds 64 bits");
        }
        if (more) return failure(kMalformed);
        ev.has_cas = true;
    }

    const std::size_t len = static_cast<std::size_t>(bytes);
    const Step data = value_data(in, line_size, len);
    if (data.result != ParseResult::event) return data;

    ev.type = EventType::value;
    ev.key = key;
    ev.flags = static_cast<std::uint32_t>(flags);
    ev.data = in.substr(line_size, len);
    return data;
}

// Index of the first byte that is a space or a control character (0x00-0x20: CR and LF
// among them) among the n bytes at d, or n. Sixteen bytes at a time with SSE2, as
// find_either.
std::size_t find_space_or_control(const char* d, std::size_t n) noexcept {
#if defined(__SSE2__)
    if (n >= 16) {
        const __m128i space = _mm_set1_epi8(0x20);
        // c <= 0x20 exactly when min(c, 0x20) == c (unsigned).
        return first_hit_16(d, n, [&](__m128i v) {
            return _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, space), v));
        });
    }
#endif
    for (std::size_t i = 0; i < n; ++i) {
        if (static_cast<unsigned char>(d[i]) <= 0x20) return i;
    }
    return n;
}

// The usual VALUE reply, "VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n" with its
// data all present, read in one pass from the front without first looking for the line
// end. It gives up (false) on anything else: an unusual byte, a number of 20 digits or
// more, an oversized value, input that ends early. parse_value() then decides, and
// since this path accepts only what that one accepts, with the same result, the two
// never disagree (and every split of the input still gives the same events).
bool fast_value(std::string_view in, std::size_t max_value_size, TextEvent& ev,
                std::size_t& consumed) noexcept {
    const char* p = in.data();
    const std::size_t n = in.size();
    if (n < 6 || std::memcmp(p, "VALUE ", 6) != 0) return false;
    const std::size_t key_end = 6 + find_space_or_control(p + 6, std::min(n - 6, kMaxKeyLength + 1));
    if (key_end == 6 || key_end == n || p[key_end] != ' ' || key_end - 6 > kMaxKeyLength) return false;
    std::size_t i = key_end + 1;
    std::uint64_t flags = 0, bytes = 0, cas = 0;
    if (!text_detail::short_number(p, n, i, flags) || p[i] != ' ' ||
        flags > std::numeric_limits<std::uint32_t>::max()) {
        return false;
    }
    ++i;
    if (!text_detail::short_number(p, n, i, bytes)) return false;
    const bool has_cas = p[i] == ' ';
    if (has_cas) {
        ++i;
        if (!text_detail::short_number(p, n, i, cas)) return false;
    }
    return text_detail::finish_value(p, n, i, key_end - 6, flags, bytes, has_cas, cas, max_value_size, ev,
                                     consumed);
}

Step parse_retrieval(std::string_view in, std::string_view line, std::size_t size,
                     std::size_t max_value_size, TextEvent& ev) noexcept {
    if (starts_with(line, "VALUE ")) return parse_value(in, line, size, max_value_size, ev);
    if (equals(line, "END")) {
        set_final(ev, EventType::end);
        return event_of(size);
    }
    return failure("unexpected reply line for this request");
}

// Old memcached versions overwrite the number in place and pad it with spaces.
Step parse_arithmetic(std::string_view line, std::size_t size, TextEvent& ev) noexcept {
    if (line == "NOT_FOUND") {
        set_final(ev, EventType::not_found);
        return event_of(size);
    }
    const std::size_t last = line.find_last_not_of(' ');
    const std::string_view digits =
        last == std::string_view::npos ? std::string_view{} : line.substr(0, last + 1);
    const NumberStatus st = parse_u64(digits, ev.number);
    if (st == NumberStatus::overflow) return failure("incr/decr result exceeds 64 bits");
    if (st != NumberStatus::ok) {
        // A line that starts like a number is a broken number; anything else is some
        // other reply that does not belong here.
        const bool numeric = !line.empty() && line.front() >= '0' && line.front() <= '9';
        return failure(numeric ? "malformed incr/decr result"
                               : "unexpected reply line for this request");
    }
    set_final(ev, EventType::number);
    return event_of(size);
}

Step parse_version(std::string_view line, std::size_t size, TextEvent& ev) noexcept {
    if (!starts_with(line, "VERSION ") || line.size() == 8) {
        return failure("unexpected reply line for this request");
    }
    ev.data = line.substr(8);
    set_final(ev, EventType::version);
    return event_of(size);
}

// "STAT <name> <value>": the value is the rest of the line and may hold spaces.
Step parse_stats(std::string_view line, std::size_t size, TextEvent& ev) noexcept {
    if (equals(line, "END")) {
        set_final(ev, EventType::end);
        return event_of(size);
    }
    if (!starts_with(line, "STAT ")) return failure("unexpected reply line for this request");
    const std::string_view rest = line.substr(5);
    const std::size_t space = rest.find(' ');
    if (space == 0 || space == std::string_view::npos) return failure("malformed STAT line");
    ev.type = EventType::stat;
    ev.key = rest.substr(0, space);
    ev.data = rest.substr(space + 1);
    return event_of(size);
}

Step parse_expected_line(ReplyKind kind, std::string_view in, std::string_view line,
                         std::size_t size, std::size_t max_value_size, TextEvent& ev) noexcept {
    switch (kind) {
        case ReplyKind::retrieval: return parse_retrieval(in, line, size, max_value_size, ev);
        case ReplyKind::storage: {
            static constexpr Word words[] = {{"STORED", EventType::stored},
                                             {"NOT_STORED", EventType::not_stored},
                                             {"EXISTS", EventType::exists},
                                             {"NOT_FOUND", EventType::not_found}};
            return parse_word(line, size, words, ev);
        }
        case ReplyKind::deletion: {
            static constexpr Word words[] = {{"DELETED", EventType::deleted},
                                             {"NOT_FOUND", EventType::not_found}};
            return parse_word(line, size, words, ev);
        }
        case ReplyKind::arithmetic: return parse_arithmetic(line, size, ev);
        case ReplyKind::version: return parse_version(line, size, ev);
        case ReplyKind::stats: return parse_stats(line, size, ev);
        case ReplyKind::touch: {
            static constexpr Word words[] = {{"TOUCHED", EventType::touched},
                                             {"NOT_FOUND", EventType::not_found}};
            return parse_word(line, size, words, ev);
        }
        case ReplyKind::ok: {
            static constexpr Word words[] = {{"OK", EventType::ok}};
            return parse_word(line, size, words, ev);
        }
    }
    return failure("unknown reply kind");
}

// The replies the request expects come first (they are what arrives nearly always);
// a line none of them accepts may still be ERROR, CLIENT_ERROR or SERVER_ERROR, which
// answer any request. No expected reply starts like one of those, so the order does
// not change what a line means.
Step parse_line(ReplyKind kind, std::string_view in, std::string_view line,
                std::size_t size, std::size_t max_value_size, TextEvent& ev) noexcept {
    const Step step = parse_expected_line(kind, in, line, size, max_value_size, ev);
    if (step.result == ParseResult::error && parse_error_line(line, ev)) {
        ev.final = true;
        return event_of(size);
    }
    return step;
}

}  // namespace

// ---- requests -----------------------------------------------------------------------

// The single get is built on the stack and appended in one piece: one append instead of
// three is a measurable share of a get's client-side cost.
void encode_get(std::string& out, std::string_view key) {
    char line[4 + kMaxKeyLength + 2];
    if (key.size() > kMaxKeyLength) return encode_get_multi(out, &key, 1);
    std::memcpy(line, "get ", 4);
    std::memcpy(line + 4, key.data(), key.size());
    std::memcpy(line + 4 + key.size(), "\r\n", 2);
    out.append(line, key.size() + 6);
}

void encode_get_multi(std::string& out, const std::string_view* keys, std::size_t n) {
    append_retrieval(out, "get", nullptr, keys, n);
}

void encode_gets(std::string& out, std::string_view key) { encode_gets_multi(out, &key, 1); }

void encode_gets_multi(std::string& out, const std::string_view* keys, std::size_t n) {
    append_retrieval(out, "gets", nullptr, keys, n);
}

void encode_gat(std::string& out, std::uint32_t exptime, std::string_view key) {
    encode_gat_multi(out, exptime, &key, 1);
}

void encode_gat_multi(std::string& out, std::uint32_t exptime, const std::string_view* keys,
                      std::size_t n) {
    append_retrieval(out, "gat", &exptime, keys, n);
}

void encode_gats(std::string& out, std::uint32_t exptime, std::string_view key) {
    encode_gats_multi(out, exptime, &key, 1);
}

void encode_gats_multi(std::string& out, std::uint32_t exptime, const std::string_view* keys,
                       std::size_t n) {
    append_retrieval(out, "gats", &exptime, keys, n);
}

bool encode_store_header(std::string& out, StoreCommand cmd, std::string_view key,
                         std::uint32_t flags, std::uint32_t exptime, std::size_t bytes,
                         std::uint64_t cas_unique, Noreply noreply) {
    if (bytes > kMaxTextValueLength) return false;
    out.append(store_verb(cmd));
    out.push_back(' ');
    out.append(key);
    out.push_back(' ');
    append_number(out, flags);
    out.push_back(' ');
    append_number(out, exptime);
    out.push_back(' ');
    append_number(out, bytes);
    if (cmd == StoreCommand::cas) {
        out.push_back(' ');
        append_number(out, cas_unique);
    }
    append_end(out, noreply);
    return true;
}

bool encode_store(std::string& out, StoreCommand cmd, std::string_view key,
                  std::uint32_t flags, std::uint32_t exptime, std::string_view data,
                  std::uint64_t cas_unique, Noreply noreply) {
    if (!encode_store_header(out, cmd, key, flags, exptime, data.size(), cas_unique, noreply)) {
        return false;
    }
    out.append(data);
    out.append(kCrlf);
    return true;
}

void encode_delete(std::string& out, std::string_view key, Noreply noreply) {
    out.append("delete ");
    out.append(key);
    append_end(out, noreply);
}

void encode_arith(std::string& out, ArithCommand cmd, std::string_view key,
                  std::uint64_t delta, Noreply noreply) {
    out.append(arith_verb(cmd));
    out.push_back(' ');
    out.append(key);
    out.push_back(' ');
    append_number(out, delta);
    append_end(out, noreply);
}

void encode_touch(std::string& out, std::string_view key, std::uint32_t exptime,
                  Noreply noreply) {
    out.append("touch ");
    out.append(key);
    out.push_back(' ');
    append_number(out, exptime);
    append_end(out, noreply);
}

void encode_flush_all(std::string& out, std::uint32_t delay, Noreply noreply) {
    out.append("flush_all");
    if (delay != 0) {
        out.push_back(' ');
        append_number(out, delay);
    }
    append_end(out, noreply);
}

void encode_verbosity(std::string& out, std::uint32_t level, Noreply noreply) {
    out.append("verbosity ");
    append_number(out, level);
    append_end(out, noreply);
}

void encode_version(std::string& out) { out.append("version\r\n"); }

void encode_stats(std::string& out, std::string_view group) {
    out.append("stats");
    if (!group.empty()) {
        out.push_back(' ');
        out.append(group);
    }
    out.append(kCrlf);
}

void encode_quit(std::string& out) { out.append("quit\r\n"); }

// ---- replies ------------------------------------------------------------------------

TextReplyParser::TextReplyParser(std::size_t max_value_size) noexcept
    : max_value_size_(max_value_size) {}

void TextReplyParser::expect(ReplyKind kind) noexcept {
    kind_ = kind;
    state_ = State::reading;
    error_ = "";
}

ParseResult TextReplyParser::fail(const char* why) noexcept {
    state_ = State::failed;
    error_ = why;
    return ParseResult::error;
}

ParseResult TextReplyParser::parse(std::string_view in, TextEvent& ev,
                                   std::size_t& consumed) noexcept {
    if (state_ == State::reading && kind_ == ReplyKind::retrieval) {
        if (fast_value(in, max_value_size_, ev, consumed)) return ParseResult::event;
        // The END that closes every retrieval reply (all of a miss): what the general
        // path makes of it, without the line scan.
        if (in.size() >= 5 && std::memcmp(in.data(), "END\r\n", 5) == 0) {
            ev = TextEvent{};
            set_final(ev, EventType::end);
            consumed = 5;
            state_ = State::done;
            return ParseResult::event;
        }
    }
    return parse_general(in, ev, consumed);
}

ParseResult TextReplyParser::parse_general(std::string_view in, TextEvent& ev,
                                           std::size_t& consumed) noexcept {
    consumed = 0;
    switch (state_) {
        case State::idle: return fail("parse() called before expect()");
        case State::failed: return ParseResult::error;
        case State::done:
            if (in.empty()) return ParseResult::need_more;
            return fail("bytes after the end of a reply");
        case State::reading: break;
    }

    const LineScan line = scan_line<find_line_break>(in);
    if (line.status == LineScan::incomplete) return ParseResult::need_more;
    if (line.status == LineScan::malformed) return fail(line.error);

    // Filled in place: building the event aside and copying it cost more than a tenth
    // of a whole get.
    ev = TextEvent{};
    const Step step = parse_line(kind_, in, line.text, line.size, max_value_size_, ev);
    if (step.result == ParseResult::error) return fail(step.error);
    if (step.result == ParseResult::need_more) return ParseResult::need_more;

    consumed = step.consumed;
    if (ev.final) state_ = State::done;
    return ParseResult::event;
}

}  // namespace mmc::proto
