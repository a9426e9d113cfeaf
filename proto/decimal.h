// The one decimal reader of proto/: every number in a text or meta reply line goes
// through read_decimal(). The parsers differ only in their limits (how many digits, how
// large a value, what may follow the last digit), so those are its parameters; passed as
// constants, they fold away and each parser's loop is as short as a reader of its own.
#ifndef MMC_PROTO_DECIMAL_H
#define MMC_PROTO_DECIMAL_H

#include <cstddef>
#include <cstdint>
#include <limits>

namespace mmc::proto {

// What may follow a number's last digit.
enum class DecimalEnd : std::uint8_t {
    any,          // any byte that is not a digit, or the end of the input
    byte,         // any byte that is not a digit: a number that runs to the end of the
                  // input may go on in bytes not received yet, so it is not read
    space_or_cr,  // a space or a CR (a token of a reply line that has more to it)
    input_end,    // the end of the input: the number is all of it
};

// A number's limits. max_digits counts leading zeros too; kAnyDigits means no limit.
struct DecimalLimits {
    std::size_t max_digits;
    std::uint64_t max_value;
    DecimalEnd end;
};

inline constexpr std::size_t kAnyDigits = std::numeric_limits<std::size_t>::max();

enum class DecimalStatus : std::uint8_t {
    ok,
    no_digits,  // the first byte is not a digit, or there is none
    too_long,   // more than max_digits digits
    bad_end,    // the digits are followed by what `end` does not allow
    too_large,  // well formed, but over max_value or over 64 bits
};

// Reads the decimal number at p[i, n): plain digits, no sign, no spaces. On ok its value
// is in out and i is just past its last digit. Otherwise out is untouched and the first
// of these that applies is returned: no_digits (i unchanged), too_long, bad_end (i just
// past the digits), too_large (i just past the digits, which are all read however many
// there are). So a caller that needs "all digits" to win over "too large" asks for
// input_end, and one that needs "too large" to win over what follows asks for any.
// Reads no byte at or past n.
[[gnu::always_inline]] inline DecimalStatus read_decimal(const char* p, std::size_t n, std::size_t& i,
                                                         const DecimalLimits& limits, std::uint64_t& out) noexcept {
    // Up to 19 digits always fit in 64 bits (10^19 - 1 < 2^64), so only a 20th and later
    // digit needs an overflow check: numbers come two or three to a line, and a check per
    // digit was a fifth of a VALUE line's cost.
    constexpr std::size_t kAlwaysFits = 19;
    const auto* q = reinterpret_cast<const unsigned char*>(p);
    const std::size_t start = i;
    // One byte past the digit limit is looked at too, to tell too_long from a number
    // that ends there.
    const std::size_t stop = n - start > limits.max_digits ? start + limits.max_digits + 1 : n;
    const bool bounded = limits.max_digits <= kAlwaysFits;
    // With at most 19 digits allowed, a 20th one is too_long whatever the value became.
    const std::size_t unchecked_stop = bounded || stop - start <= kAlwaysFits ? stop : start + kAlwaysFits;
    std::uint64_t v = 0;
    for (unsigned digit; i < unchecked_stop && (digit = q[i] - static_cast<unsigned>('0')) <= 9; ++i) {
        v = v * 10 + digit;
    }
    bool overflow = false;
    if (!bounded && i - start == kAlwaysFits) {
        for (unsigned digit; i < stop && (digit = q[i] - static_cast<unsigned>('0')) <= 9; ++i) {
            overflow |= __builtin_mul_overflow(v, 10u, &v);
            overflow |= __builtin_add_overflow(v, digit, &v);
        }
    }
    if (i != start && i < stop) {
        // The usual case, in two compares: the digits ended at a byte that is not one,
        // within the digit limit and the input.
        switch (limits.end) {
            case DecimalEnd::any:
            case DecimalEnd::byte: break;
            case DecimalEnd::space_or_cr:
                if (p[i] != ' ' && p[i] != '\r') return DecimalStatus::bad_end;
                break;
            case DecimalEnd::input_end: return DecimalStatus::bad_end;
        }
    } else {
        if (i == start) return DecimalStatus::no_digits;
        if (i - start > limits.max_digits) return DecimalStatus::too_long;
        // The digits run to the end of the input.
        if (limits.end == DecimalEnd::byte || limits.end == DecimalEnd::space_or_cr) return DecimalStatus::bad_end;
    }
    if (overflow || v > limits.max_value) return DecimalStatus::too_large;
    out = v;
    return DecimalStatus::ok;
}

}  // namespace mmc::proto

#endif  // MMC_PROTO_DECIMAL_H
