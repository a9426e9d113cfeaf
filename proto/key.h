// Key rules shared by both protocols.
#ifndef MMC_PROTO_KEY_H
#define MMC_PROTO_KEY_H

#include <cstddef>
#include <string_view>

namespace mmc::proto {

inline constexpr std::size_t kMaxKeyLength = 250;

// memcached's key rule: 1 to 250 bytes, none of them a space or a control character
// (0x00-0x20, 0x7f). Bytes >= 0x80 are allowed, as memcached allows them. Checked
// before any byte is sent, so a key can never inject a second command.
constexpr bool valid_key(std::string_view key) noexcept {
    if (key.empty() || key.size() > kMaxKeyLength) return false;
    for (unsigned char c : key) {
        if (c <= 0x20 || c == 0x7f) return false;
    }
    return true;
}

}  // namespace mmc::proto

#endif  // MMC_PROTO_KEY_H
