// Fuzz target: the decimal reader every reply parser uses (proto/decimal.h).
//
// Input: the bytes to read. read_decimal() is run on them from offsets 0, 1 and 2, with
// every combination of a set of limits that holds each one the parsers use (18, 10, 9
// and 19 digits or any number of them; 32- and 64-bit maxima; every DecimalEnd) and
// the edges around them, and each answer is checked against a plain reference built
// on std::from_chars: the same status, and where the contract fixes them, the same
// value and end position; out is untouched unless the answer is ok. The input sits at
// the end of a page followed by an inaccessible one, so a read past it faults.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <system_error>

#include "fuzz_support.h"
#include "proto/decimal.h"

namespace {

using mmc::proto::DecimalEnd;
using mmc::proto::DecimalLimits;
using mmc::proto::DecimalStatus;
using mmc::proto::kAnyDigits;
using mmc::proto::read_decimal;

constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t kU32Max = std::numeric_limits<std::uint32_t>::max();

constexpr std::size_t kDigits[] = {0, 1, 9, 10, 18, 19, 20, 21, 40, kAnyDigits};
constexpr std::uint64_t kMaxValues[] = {0, 9, kU32Max, 1000000000000000000ULL, kU64Max - 1, kU64Max};
constexpr DecimalEnd kEnds[] = {DecimalEnd::any, DecimalEnd::byte, DecimalEnd::space_or_cr, DecimalEnd::input_end};

struct Expected {
    DecimalStatus status;
    std::size_t end;  // where i must be (except after too_long, where it is unspecified)
    std::uint64_t value;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

Expected reference(std::string_view s, std::size_t start, const DecimalLimits& limits) {
    std::size_t e = start;
    while (e < s.size() && is_digit(s[e])) ++e;
    if (e == start) return {DecimalStatus::no_digits, start, 0};
    if (e - start > limits.max_digits) return {DecimalStatus::too_long, 0, 0};
    bool end_ok = false;
    switch (limits.end) {
        case DecimalEnd::any: end_ok = true; break;
        case DecimalEnd::byte: end_ok = e < s.size(); break;
        case DecimalEnd::space_or_cr: end_ok = e < s.size() && (s[e] == ' ' || s[e] == '\r'); break;
        case DecimalEnd::input_end: end_ok = e == s.size(); break;
    }
    if (!end_ok) return {DecimalStatus::bad_end, e, 0};
    std::uint64_t v = 0;
    const auto [ptr, ec] = std::from_chars(s.data() + start, s.data() + e, v);
    if (ec == std::errc::result_out_of_range || v > limits.max_value) return {DecimalStatus::too_large, e, 0};
    FUZZ_CHECK(ec == std::errc() && ptr == s.data() + e, "from_chars read all the digits");
    return {DecimalStatus::ok, e, v};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static mmc_fuzz::GuardedBuffer buffer;
    const std::string_view s = buffer.place(std::string_view(reinterpret_cast<const char*>(data), size));
    constexpr std::uint64_t kUntouched = 0x5a5a5a5a5a5a5a5aULL;
    for (std::size_t start = 0; start < 3 && start <= s.size(); ++start) {
        for (const std::size_t digits : kDigits) {
            for (const std::uint64_t max_value : kMaxValues) {
                for (const DecimalEnd end : kEnds) {
                    const DecimalLimits limits{digits, max_value, end};
                    const Expected want = reference(s, start, limits);
                    std::size_t i = start;
                    std::uint64_t out = kUntouched;
                    const DecimalStatus got = read_decimal(s.data(), s.size(), i, limits, out);
                    FUZZ_CHECK(got == want.status, "status as the reference's");
                    if (got == DecimalStatus::ok) {
                        FUZZ_CHECK(out == want.value, "value as from_chars reads it");
                    } else {
                        FUZZ_CHECK(out == kUntouched, "out untouched unless ok");
                    }
                    if (got != DecimalStatus::too_long) FUZZ_CHECK(i == want.end, "end position");
                }
            }
        }
    }
    return 0;
}
