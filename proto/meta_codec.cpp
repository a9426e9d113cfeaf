#include "proto/meta_codec.h"

#include <charconv>
#include <cstring>
#include <limits>

#include "proto/decimal.h"
#include "proto/reply_lines.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace mmc::proto {

namespace {

// ---- encoding helpers ---------------------------------------------------------------

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Room for everything on a request line but the key: the command, a length of up to 20
// digits and every flag one request can carry (the longest, ms, needs under 100 bytes).
constexpr std::size_t kLineRoom = 256;

// Writes one request line. A line with a key of up to 256 characters (every valid key,
// base64 or not) is built on the stack and appended in one piece: growing `out` first
// and giving back what was not used cost more than the rest of the encoding. A longer
// key, which only an unchecked caller can pass, gets room made in `out` itself.
class LineWriter {
public:
    LineWriter(std::string& out, std::string_view key, bool base64) : out_(out) {
        const std::size_t room = (base64 ? base64_encoded_size(key.size()) : key.size()) + kLineRoom;
        if (room <= sizeof stack_) {
            begin_ = p_ = stack_;
        } else {
            const std::size_t at = out_.size();
            out_.resize(at + room);
            begin_ = p_ = out_.data() + at;
            in_place_ = true;
        }
    }
    LineWriter(const LineWriter&) = delete;
    LineWriter& operator=(const LineWriter&) = delete;

    void put(std::string_view s) noexcept {
        std::memcpy(p_, s.data(), s.size());
        p_ += s.size();
    }
    void number(std::uint64_t v) noexcept {
        p_ = std::to_chars(p_, p_ + std::numeric_limits<std::uint64_t>::digits10 + 1, v).ptr;
    }
    void key(std::string_view bytes, bool base64) noexcept {
        if (base64) {
            p_ += base64_encode(bytes, p_);
        } else {
            put(bytes);
        }
    }
    // " <letter>", the form of every flag.
    void flag(char letter) noexcept {
        p_[0] = ' ';
        p_[1] = letter;
        p_ += 2;
    }
    void flag_if(bool on, char letter) noexcept {
        if (on) flag(letter);
    }
    void flag(char letter, std::uint64_t v) noexcept {
        flag(letter);
        number(v);
    }
    // A mode: " M<letter>".
    void mode_flag(char letter, char arg) noexcept {
        flag(letter);
        *p_++ = arg;
    }
    void flag(char letter, const std::optional<std::uint32_t>& v) noexcept {
        if (v) flag(letter, *v);
    }
    // A cas of 0 means "none" (memcached never hands one out).
    void cas_flag(char letter, std::uint64_t cas) noexcept {
        if (cas != 0) flag(letter, cas);
    }
    void finish() {
        put(kCrlf);
        if (in_place_) {
            out_.resize(static_cast<std::size_t>(p_ - out_.data()));
        } else {
            out_.append(begin_, static_cast<std::size_t>(p_ - begin_));
        }
    }

private:
    std::string& out_;
    bool in_place_ = false;
    char* begin_ = nullptr;
    char* p_ = nullptr;
    char stack_[kLineRoom + 256];
};

// "<cmd> <key>". The b flag follows at once (for ms after the length): me reads it only
// there, the other commands anywhere.
void start_line(LineWriter& w, std::string_view cmd, std::string_view key, bool base64) {
    w.put(cmd);
    w.put(" ");
    w.key(key, base64);
}

bool time_fits(const std::optional<std::uint32_t>& t) noexcept { return !t || *t <= kMaxMetaTtl; }

char set_mode_letter(MetaSetMode mode) noexcept {
    switch (mode) {
        case MetaSetMode::set: return 'S';
        case MetaSetMode::add: return 'E';
        case MetaSetMode::replace: return 'R';
        case MetaSetMode::append: return 'A';
        case MetaSetMode::prepend: return 'P';
    }
    return 'S';
}

// ---- parsing helpers ----------------------------------------------------------------

// Index of the first CR or LF among the n bytes at d, or n. Sixteen bytes at a time with
// SSE2 (every x86-64), the last block overlapping the one before it (which had no hit);
// byte by byte otherwise and for short input. Reply lines are short, so one call usually
// looks at one or two blocks, where two memchr() calls cost twice the loop.
std::size_t find_line_break(const char* d, std::size_t n) noexcept {
#if defined(__SSE2__)
    if (n >= 16) {
        const __m128i cr = _mm_set1_epi8('\r');
        const __m128i lf = _mm_set1_epi8('\n');
        return first_hit_16(d, n, [&](__m128i v) {
            return _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
        });
    }
#endif
    for (std::size_t i = 0; i < n; ++i) {
        if (d[i] == '\r' || d[i] == '\n') return i;
    }
    return n;
}

enum class NumberStatus : std::uint8_t { ok, malformed, too_large };

// Decimal digits only, at least one, at most `max`. A number too large is only called
// that when all of it is digits (otherwise it is malformed, whatever its size).
NumberStatus read_number(std::string_view s, std::uint64_t max, std::uint64_t& out) noexcept {
    std::size_t i = 0;
    switch (read_decimal(s.data(), s.size(), i, {kAnyDigits, max, DecimalEnd::input_end}, out)) {
        case DecimalStatus::ok: return NumberStatus::ok;
        case DecimalStatus::too_large: return NumberStatus::too_large;
        default: return NumberStatus::malformed;
    }
}

constexpr std::uint64_t kU32Max = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();

bool is_letter(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

constexpr std::uint16_t bit(MetaFlag f) noexcept {
    return static_cast<std::uint16_t>(1u << static_cast<unsigned>(f));
}

// A numeric flag's token: the messages name the flag, since a reply line carries many.
struct NumberMessages {
    const char* malformed;
    const char* too_large;
};

const char* number_flag(std::string_view arg, std::uint64_t max, const NumberMessages& m,
                        std::uint64_t& out) noexcept {
    switch (read_number(arg, max, out)) {
        case NumberStatus::ok: return nullptr;
        case NumberStatus::malformed: return m.malformed;
        case NumberStatus::too_large: return m.too_large;
    }
    return m.malformed;
}

// The flags of a reply line. `rest` is what follows the code (and VA's length): empty,
// or a space and a flag, any number of times. nullptr when every flag is well formed.
const char* parse_flags(std::string_view rest, MetaEvent& ev) noexcept {
    while (!rest.empty()) {
        // Every flag, the first included, is preceded by exactly one space.
        if (rest.front() != ' ') return "malformed reply line";
        rest.remove_prefix(1);
        std::size_t end = 0;  // flags are a few bytes: a loop beats a call to memchr()
        while (end < rest.size() && rest[end] != ' ') ++end;
        const std::string_view token = rest.substr(0, end);
        rest.remove_prefix(end);
        if (token.empty()) return "empty flag in reply line";
        const std::string_view arg = token.substr(1);
        MetaFlag f;
        const char* why = nullptr;
        std::uint64_t n = 0;
        switch (token.front()) {
            case 'b':
            case 'W':
            case 'X':
            case 'Z':
                f = token.front() == 'b'   ? MetaFlag::base64_key
                    : token.front() == 'W' ? MetaFlag::won
                    : token.front() == 'X' ? MetaFlag::stale
                                           : MetaFlag::lease_taken;
                if (!arg.empty()) why = "malformed b, W, X or Z flag in reply line";
                break;
            case 'c':
                f = MetaFlag::cas;
                why = number_flag(arg, kU64Max, {"malformed c (cas) flag", "c (cas) flag exceeds 64 bits"},
                                  ev.cas);
                break;
            case 'f':
                f = MetaFlag::flags;
                why = number_flag(arg, kU32Max, {"malformed f (flags) flag", "f (flags) flag exceeds 32 bits"}, n);
                ev.flags = static_cast<std::uint32_t>(n);
                break;
            case 's':
                f = MetaFlag::size;
                why = number_flag(arg, kU32Max, {"malformed s (size) flag", "s (size) flag exceeds 32 bits"}, n);
                ev.size = static_cast<std::uint32_t>(n);
                break;
            case 'l':
                f = MetaFlag::last_access;
                why = number_flag(arg, kU32Max,
                                  {"malformed l (last access) flag", "l (last access) flag exceeds 32 bits"}, n);
                ev.last_access = static_cast<std::uint32_t>(n);
                break;
            case 't':
                f = MetaFlag::ttl;
                if (arg == "-1") {
                    ev.ttl = -1;
                } else {
                    why = number_flag(arg, kU32Max, {"malformed t (ttl) flag", "t (ttl) flag exceeds 32 bits"}, n);
                    ev.ttl = static_cast<std::int64_t>(n);
                }
                break;
            case 'h':
                f = MetaFlag::hit_before;
                if (arg != "0" && arg != "1") why = "malformed h (hit before) flag";
                ev.hit_before = arg == "1";
                break;
            case 'k':
                f = MetaFlag::key;
                // The limit depends on b, which may come later: checked after the loop.
                if (arg.empty()) why = "empty k (key) flag";
                ev.key = arg;
                break;
            case 'O':
                f = MetaFlag::opaque;
                if (arg.size() > kMaxMetaOpaqueLength) why = "O (opaque) flag longer than 32 bytes";
                ev.opaque = arg;
                break;
            default:
                // A flag a newer server added: skipped, as long as it looks like one.
                if (!is_letter(token.front())) return "reply flag does not start with a letter";
                continue;
        }
        if (why != nullptr) return why;
        if ((ev.returned & bit(f)) != 0) return "flag repeated in reply line";
        ev.returned |= bit(f);
    }
    if (ev.has(MetaFlag::key)) {
        const std::size_t limit = ev.has(MetaFlag::base64_key) ? kMaxMetaKeyToken : kMaxKeyLength;
        if (ev.key.size() > limit) return "k (key) flag too long";
    }
    return nullptr;
}

constexpr unsigned code(char a, char b) noexcept {
    return static_cast<unsigned>(static_cast<unsigned char>(a)) << 8 | static_cast<unsigned char>(b);
}

// "VA <size> <flags>*\r\n<data>\r\n". The line alone decides whether the value is
// acceptable, so an oversized length fails before any data arrives.
Step parse_value(std::string_view in, std::string_view line, std::size_t line_size,
                 std::size_t max_value_size, MetaEvent& ev) noexcept {
    std::string_view rest = line.substr(2);
    if (rest.empty()) return failure("VA line without a length");
    rest.remove_prefix(1);  // the space, checked by the caller
    std::size_t end = 0;
    while (end < rest.size() && rest[end] != ' ') ++end;
    const std::string_view digits = rest.substr(0, end);
    std::uint64_t bytes = 0;
    switch (read_number(digits, kU64Max, bytes)) {
        case NumberStatus::ok: break;
        case NumberStatus::malformed: return failure("malformed length in VA line");
        case NumberStatus::too_large: return failure("length in VA line exceeds 64 bits");
    }
    if (bytes > max_value_size) return failure("value larger than max_value_size");
    if (const char* why = parse_flags(rest.substr(digits.size()), ev)) return failure(why);

    const std::size_t len = static_cast<std::size_t>(bytes);
    const Step data = value_data(in, line_size, len);
    if (data.result != ParseResult::event) return data;
    ev.type = MetaEventType::value;
    ev.data = in.substr(line_size, len);
    return data;
}

// "ME <key>[ <info>]": the info is the rest of the line, spaces and all.
Step parse_debug(std::string_view line, std::size_t size, MetaEvent& ev) noexcept {
    const std::string_view rest = line.size() > 3 ? line.substr(3) : std::string_view{};
    const std::size_t space = rest.find(' ');
    const std::string_view key = rest.substr(0, space);
    if (key.empty()) return failure("ME line without a key");
    if (key.size() > kMaxMetaKeyToken) return failure("key in ME line too long");
    ev.type = MetaEventType::debug;
    ev.key = key;
    if (space != std::string_view::npos) ev.data = rest.substr(space + 1);
    return event_of(size);
}

Step parse_line(std::string_view in, std::string_view line, std::size_t size,
                std::size_t max_value_size, MetaEvent& ev) noexcept {
    // A code is two characters followed by a space or the end of the line; anything
    // else can only be an error line (ERROR's third letter is not a space).
    if (line.size() >= 2 && (line.size() == 2 || line[2] == ' ')) {
        MetaEventType type;
        switch (code(line[0], line[1])) {
            case code('V', 'A'): return parse_value(in, line, size, max_value_size, ev);
            case code('M', 'E'): return parse_debug(line, size, ev);
            case code('M', 'N'):
                if (line.size() != 2) return failure("malformed MN line");
                ev.type = MetaEventType::noop;
                return event_of(size);
            case code('H', 'D'): type = MetaEventType::ok; break;
            case code('E', 'N'): type = MetaEventType::miss; break;
            case code('N', 'S'): type = MetaEventType::not_stored; break;
            case code('E', 'X'): type = MetaEventType::exists; break;
            case code('N', 'F'): type = MetaEventType::not_found; break;
            default: return failure("unknown reply code");
        }
        if (const char* why = parse_flags(line.substr(2), ev)) return failure(why);
        ev.type = type;
        return event_of(size);
    }
    if (parse_error_line(line, ev)) return event_of(size);
    return failure("unknown reply code");
}

}  // namespace

// ---- keys ---------------------------------------------------------------------------

bool valid_meta_key(std::string_view key, bool base64) noexcept {
    if (base64) return !key.empty() && key.size() <= kMaxBase64KeyLength;
    return valid_key(key);
}

std::size_t base64_encode(std::string_view in, char* out) noexcept {
    const auto* s = reinterpret_cast<const unsigned char*>(in.data());
    const std::size_t n = in.size();
    char* p = out;
    std::size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        const std::uint32_t v = static_cast<std::uint32_t>(s[i]) << 16 | static_cast<std::uint32_t>(s[i + 1]) << 8 | s[i + 2];
        p[0] = kBase64Alphabet[v >> 18];
        p[1] = kBase64Alphabet[v >> 12 & 63];
        p[2] = kBase64Alphabet[v >> 6 & 63];
        p[3] = kBase64Alphabet[v & 63];
        p += 4;
    }
    if (i < n) {
        const bool two = n - i == 2;
        const std::uint32_t v = static_cast<std::uint32_t>(s[i]) << 16 | (two ? static_cast<std::uint32_t>(s[i + 1]) << 8 : 0u);
        p[0] = kBase64Alphabet[v >> 18];
        p[1] = kBase64Alphabet[v >> 12 & 63];
        p[2] = two ? kBase64Alphabet[v >> 6 & 63] : '=';
        p[3] = '=';
        p += 4;
    }
    return static_cast<std::size_t>(p - out);
}

// ---- requests -----------------------------------------------------------------------

bool encode_meta_get(std::string& out, const MetaGetRequest& req) {
    if (!time_fits(req.vivify_ttl) || !time_fits(req.recache_ttl) || !time_fits(req.touch_ttl)) {
        return false;
    }
    LineWriter w(out, req.key, req.base64_key);
    start_line(w, "mg", req.key, req.base64_key);
    w.flag_if(req.base64_key, 'b');
    w.flag_if(req.value, 'v');
    w.flag_if(req.return_key, 'k');
    w.flag_if(req.return_flags, 'f');
    w.flag_if(req.return_cas, 'c');
    w.flag_if(req.return_ttl, 't');
    w.flag_if(req.return_size, 's');
    w.flag_if(req.return_last_access, 'l');
    w.flag_if(req.return_hit_before, 'h');
    w.flag_if(req.no_lru_bump, 'u');
    w.flag_if(req.quiet, 'q');
    w.flag('O', req.opaque);
    w.flag('N', req.vivify_ttl);
    w.flag('R', req.recache_ttl);
    w.flag('T', req.touch_ttl);
    w.cas_flag('E', req.new_cas);
    w.finish();
    return true;
}

void encode_meta_value_get(std::string& out, std::string_view key, bool with_cas) {
    const std::string_view tail = with_cas ? std::string_view(" v f c\r\n") : std::string_view(" v f\r\n");
    char line[3 + kMaxKeyLength + 8];
    if (key.size() > kMaxKeyLength) {
        // Only an unchecked caller passes such a key: the general writer has room for it.
        MetaGetRequest mg;
        mg.key = key;
        mg.value = true;
        mg.return_flags = true;
        mg.return_cas = with_cas;
        encode_meta_get(out, mg);
        return;
    }
    std::memcpy(line, "mg ", 3);
    std::memcpy(line + 3, key.data(), key.size());
    std::memcpy(line + 3 + key.size(), tail.data(), tail.size());
    out.append(line, 3 + key.size() + tail.size());
}

bool encode_meta_set_header(std::string& out, const MetaSetRequest& req, std::size_t bytes) {
    if (bytes > kMaxTextValueLength || req.ttl > kMaxMetaTtl) return false;
    LineWriter w(out, req.key, req.base64_key);
    start_line(w, "ms", req.key, req.base64_key);
    w.put(" ");
    w.number(bytes);
    w.flag_if(req.base64_key, 'b');
    w.flag_if(req.return_cas, 'c');
    w.flag_if(req.return_key, 'k');
    w.flag_if(req.quiet, 'q');
    w.flag('O', req.opaque);
    if (req.flags != 0) w.flag('F', req.flags);
    if (req.ttl != 0) w.flag('T', req.ttl);
    w.cas_flag('C', req.compare_cas);
    w.cas_flag('E', req.new_cas);
    w.flag_if(req.invalidate, 'I');
    if (req.mode != MetaSetMode::set) w.mode_flag('M', set_mode_letter(req.mode));
    w.finish();
    return true;
}

bool encode_meta_delete(std::string& out, const MetaDeleteRequest& req) {
    if (!time_fits(req.ttl)) return false;
    LineWriter w(out, req.key, req.base64_key);
    start_line(w, "md", req.key, req.base64_key);
    w.flag_if(req.base64_key, 'b');
    w.flag_if(req.return_key, 'k');
    w.flag_if(req.quiet, 'q');
    w.flag('O', req.opaque);
    w.cas_flag('C', req.compare_cas);
    w.cas_flag('E', req.new_cas);
    w.flag_if(req.invalidate, 'I');
    w.flag('T', req.ttl);
    w.finish();
    return true;
}

bool encode_meta_arithmetic(std::string& out, const MetaArithmeticRequest& req) {
    if (!time_fits(req.vivify_ttl) || !time_fits(req.ttl)) return false;
    LineWriter w(out, req.key, req.base64_key);
    start_line(w, "ma", req.key, req.base64_key);
    w.flag_if(req.base64_key, 'b');
    w.flag_if(req.value, 'v');
    w.flag_if(req.return_key, 'k');
    w.flag_if(req.return_cas, 'c');
    w.flag_if(req.return_ttl, 't');
    w.flag_if(req.quiet, 'q');
    w.flag('O', req.opaque);
    w.flag('N', req.vivify_ttl);
    if (req.vivify_ttl && req.initial != 0) w.flag('J', req.initial);
    w.flag('D', req.delta);
    w.flag('T', req.ttl);
    w.cas_flag('C', req.compare_cas);
    w.cas_flag('E', req.new_cas);
    if (req.mode == MetaArithMode::decrement) w.mode_flag('M', 'D');
    w.finish();
    return true;
}

// ---- replies ------------------------------------------------------------------------

bool parse_meta_number(std::string_view s, std::uint64_t& out) noexcept {
    return read_number(s, kU64Max, out) == NumberStatus::ok;
}

MetaReplyParser::MetaReplyParser(std::size_t max_value_size) noexcept
    : max_value_size_(max_value_size) {}

void MetaReplyParser::reset() noexcept {
    failed_ = false;
    error_ = "";
}

ParseResult MetaReplyParser::fail(const char* why) noexcept {
    failed_ = true;
    error_ = why;
    return ParseResult::error;
}

namespace {

// Up to max_digits decimal digits at p[i..n), at least one, followed by a space or CR:
// their value, with i moved past them. False (i unspecified) otherwise.
[[gnu::always_inline]] inline bool short_number(const char* p, std::size_t n, std::size_t& i,
                                                std::size_t max_digits, std::uint64_t& out) noexcept {
    return read_decimal(p, n, i, {max_digits, kU64Max, DecimalEnd::space_or_cr}, out) == DecimalStatus::ok;
}

// Where the token starting at p[i] ends: the first byte at or after i that is a space,
// a control character or DEL, or n. Sixteen bytes at a time with SSE2 while they last
// (keys are often tens of bytes), byte by byte after that.
[[gnu::always_inline]] inline std::size_t token_end(const char* p, std::size_t i, std::size_t n) noexcept {
#if defined(__SSE2__)
    const __m128i printable_from = _mm_set1_epi8(static_cast<char>(0x21));
    const __m128i del = _mm_set1_epi8(static_cast<char>(0x7f));
    for (; i + 16 <= n; i += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
        // v >= 0x21 as unsigned bytes, and not DEL.
        const __m128i ok = _mm_andnot_si128(_mm_cmpeq_epi8(v, del), _mm_cmpeq_epi8(_mm_max_epu8(v, printable_from), v));
        const unsigned bad = ~static_cast<unsigned>(_mm_movemask_epi8(ok)) & 0xffffu;
        if (bad) return i + static_cast<std::size_t>(__builtin_ctz(bad));
    }
#endif
    while (i < n && static_cast<unsigned char>(p[i]) > ' ' && p[i] != 0x7f) ++i;
    return i;
}

// The short path: a complete, ordinary reply read in one pass from the front: "HD\r\n",
// "EN\r\n", "MN\r\n", or a VA whose only flags are f, c, k and O (each once, tokens of
// printable characters, numbers short enough that they cannot overflow) with all its
// data. It accepts only replies the general path accepts, giving the same event;
// anything else (other flags, other bytes, long numbers, input that ends early) is left
// to the general path, which then decides, so every split of the input still gives the
// same events.
bool parse_short(std::string_view in, std::size_t max_value_size, MetaEvent& ev,
                 std::size_t& consumed) noexcept {
    const char* p = in.data();
    const std::size_t n = in.size();
    if (n < 4) return false;
    if (p[2] == '\r') {
        if (p[3] != '\n') return false;
        MetaEventType type;
        switch (code(p[0], p[1])) {
            case code('H', 'D'): type = MetaEventType::ok; break;
            case code('E', 'N'): type = MetaEventType::miss; break;
            case code('M', 'N'): type = MetaEventType::noop; break;
            default: return false;
        }
        ev = MetaEvent{};
        ev.type = type;
        consumed = 4;
        return true;
    }
    if (p[0] != 'V' || p[1] != 'A' || p[2] != ' ') return false;
    std::size_t i = 3;
    std::uint64_t bytes = 0;
    if (!short_number(p, n, i, 10, bytes) || bytes > max_value_size) return false;
    MetaEvent e;
    while (p[i] == ' ') {  // i < n: short_number and the token loop stop before the end
        if (i + 1 >= n) return false;
        const char letter = p[i + 1];
        i += 2;
        std::uint64_t v = 0;
        MetaFlag f;
        switch (letter) {
            case 'f':
                if (!short_number(p, n, i, 9, v)) return false;
                f = MetaFlag::flags;
                e.flags = static_cast<std::uint32_t>(v);
                break;
            case 'c':
                if (!short_number(p, n, i, 19, v)) return false;
                f = MetaFlag::cas;
                e.cas = v;
                break;
            case 'k':
            case 'O': {
                const std::size_t start = i;
                i = token_end(p, i, n);
                if (i == start || i >= n || (p[i] != ' ' && p[i] != '\r')) return false;
                const std::string_view token(p + start, i - start);
                if (letter == 'k') {
                    if (token.size() > kMaxKeyLength) return false;
                    f = MetaFlag::key;
                    e.key = token;
                } else {
                    if (token.size() > kMaxMetaOpaqueLength) return false;
                    f = MetaFlag::opaque;
                    e.opaque = token;
                }
                break;
            }
            default: return false;
        }
        if (e.has(f)) return false;
        e.returned |= bit(f);
    }
    // p[i] is the CR that ends the line.
    if (i + 1 >= n || p[i + 1] != '\n') return false;
    const std::size_t line_size = i + 2;
    if (line_size > kMaxLineLength) return false;
    const std::size_t len = static_cast<std::size_t>(bytes);
    if (n - line_size < len + 2 || p[line_size + len] != '\r' || p[line_size + len + 1] != '\n') return false;
    e.type = MetaEventType::value;
    e.data = in.substr(line_size, len);
    ev = e;
    consumed = line_size + len + 2;
    return true;
}

}  // namespace

ParseResult MetaReplyParser::parse(std::string_view in, MetaEvent& ev,
                                   std::size_t& consumed) noexcept {
    // parse_short() takes no empty input and sets consumed only when it reads a reply.
    if (!failed_ && parse_short(in, max_value_size_, ev, consumed)) return ParseResult::event;
    return parse_general(in, ev, consumed);
}

ParseResult MetaReplyParser::parse_general(std::string_view in, MetaEvent& ev, std::size_t& consumed) noexcept {
    consumed = 0;
    if (failed_) return ParseResult::error;
    if (in.empty()) return ParseResult::need_more;

    const LineScan line = scan_line<find_line_break>(in);
    if (line.status == LineScan::incomplete) return ParseResult::need_more;
    if (line.status == LineScan::malformed) return fail(line.error);

    MetaEvent next;
    const Step step = parse_line(in, line.text, line.size, max_value_size_, next);
    if (step.result == ParseResult::error) return fail(step.error);
    if (step.result == ParseResult::need_more) return ParseResult::need_more;
    ev = next;
    consumed = step.consumed;
    return ParseResult::event;
}

}  // namespace mmc::proto
