// Reply-line pieces the text and meta parsers share: where the first line of the input
// stands, the error lines that can answer any request, the CRLF after a value's data.
// Internal to proto/: only the codecs' .cpp files include it.
#ifndef MMC_PROTO_REPLY_LINES_H
#define MMC_PROTO_REPLY_LINES_H

#include <cstddef>
#include <cstdint>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "proto/text_codec.h"  // ParseResult, kMaxLineLength

namespace mmc::proto {

// Unnamed, as when each codec held its own copy: each codec's .cpp gets these with
// internal linkage, so the compiler inlines and specialises them for that codec's hot
// paths just as before.
namespace {

constexpr std::string_view kCrlf = "\r\n";

#if defined(__SSE2__)
// Index of the first byte among the n >= 16 bytes at d for which hits(16 bytes) sets its
// bit, or n. Sixteen bytes at a time; the last block overlaps the one before it, which
// is harmless since that one had no hit.
template <class Hits>
[[gnu::always_inline]] inline std::size_t first_hit_16(const char* d, std::size_t n, Hits hits) noexcept {
    auto at = [&](std::size_t i) {
        return static_cast<unsigned>(hits(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i))));
    };
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        if (const unsigned m = at(i)) return i + static_cast<std::size_t>(__builtin_ctz(m));
    }
    if (i < n) {
        if (const unsigned m = at(n - 16)) return n - 16 + static_cast<std::size_t>(__builtin_ctz(m));
    }
    return n;
}
#endif

// Where the first line of the input stands.
struct LineScan {
    enum Status : std::uint8_t { complete, incomplete, malformed } status;
    std::string_view text;    // without "\r\n" (complete only)
    std::size_t size = 0;     // with "\r\n" (complete only)
    const char* error = "";   // (malformed only)
};

// FindLineBreak(d, n) is the index of the first CR or LF among the n bytes at d, or n: a
// parameter because each codec searches in the way that suits its usual lines.
//
// Only the first kMaxLineLength - 1 bytes are ever looked at, so how long the input is
// cannot change the answer for a line that is already too long, and a prefix of the
// input never gives an answer other than incomplete or the one the whole input gives.
// The first CR or LF decides: an LF first is a bare LF, a CR must be followed by LF.
template <std::size_t (*FindLineBreak)(const char*, std::size_t) noexcept>
inline LineScan scan_line(std::string_view in) noexcept {
    // A "\r" at index kMaxLineLength - 2 is the last one that still fits with its "\n".
    const std::size_t limit = in.size() < kMaxLineLength - 1 ? in.size() : kMaxLineLength - 1;
    const std::size_t i = FindLineBreak(in.data(), limit);
    if (i == limit) {
        if (limit == kMaxLineLength - 1) return {LineScan::malformed, {}, 0, "reply line too long"};
        return {LineScan::incomplete, {}, 0, ""};
    }
    if (in[i] == '\n') return {LineScan::malformed, {}, 0, "bare LF without CR"};
    if (i + 1 == in.size()) return {LineScan::incomplete, {}, 0, ""};
    if (in[i + 1] != '\n') return {LineScan::malformed, {}, 0, "CR not followed by LF"};
    return {LineScan::complete, in.substr(0, i), i + 2, ""};
}

// What one reply line (plus, for a value, its data) amounts to.
struct Step {
    ParseResult result = ParseResult::event;
    std::size_t consumed = 0;
    const char* error = "";
};

inline Step event_of(std::size_t size) noexcept { return {ParseResult::event, size, ""}; }
inline Step need_more() noexcept { return {ParseResult::need_more, 0, ""}; }
inline Step failure(const char* why) noexcept { return {ParseResult::error, 0, why}; }

// A value's `len` bytes of data after its line of `line_size` bytes, and the CRLF that
// must follow them: an event consuming all of it, need_more, or a failure. Written to
// avoid line_size + len + 2 overflowing when max_value_size is huge.
inline Step value_data(std::string_view in, std::size_t line_size, std::size_t len) noexcept {
    const std::size_t avail = in.size() - line_size;
    if (avail < len) return need_more();
    const std::size_t after = avail - len;  // bytes present past the data
    const std::size_t data_end = line_size + len;
    if ((after >= 1 && in[data_end] != '\r') || (after >= 2 && in[data_end + 1] != '\n')) {
        return failure("value data not followed by CRLF");
    }
    if (after < 2) return need_more();
    return event_of(data_end + kCrlf.size());
}

// "NAME" alone or "NAME <message>": data is the message, possibly empty.
inline bool match_with_message(std::string_view line, std::string_view name,
                               std::string_view& message) noexcept {
    if (line.substr(0, name.size()) != name) return false;
    const std::string_view rest = line.substr(name.size());
    if (rest.empty()) {
        message = rest;
        return true;
    }
    if (rest.front() != ' ') return false;
    message = rest.substr(1);
    return true;
}

// ERROR, CLIENT_ERROR and SERVER_ERROR can answer any request. Sets the event's type and
// data (the message); Event's type is an enum with error, client_error and server_error.
template <class Event>
inline bool parse_error_line(std::string_view line, Event& ev) noexcept {
    using Type = decltype(ev.type);
    struct Kind {
        std::string_view name;
        Type type;
    };
    static constexpr Kind kinds[] = {
        {"ERROR", Type::error},
        {"CLIENT_ERROR", Type::client_error},
        {"SERVER_ERROR", Type::server_error},
    };
    for (const Kind& k : kinds) {
        if (match_with_message(line, k.name, ev.data)) {
            ev.type = k.type;
            return true;
        }
    }
    return false;
}

}  // namespace

}  // namespace mmc::proto

#endif  // MMC_PROTO_REPLY_LINES_H
