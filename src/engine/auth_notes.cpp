#include "engine/auth_notes.h"

namespace mmc::engine {

std::string printable_reply(std::string_view raw) {
    if (raw.size() >= 2 && raw.substr(raw.size() - 2) == "\r\n") raw.remove_suffix(2);
    const bool cut = raw.size() > kMaxQuotedReply;
    if (cut) raw = raw.substr(0, kMaxQuotedReply);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(raw.size() + 3);
    for (char ch : raw) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out.push_back(ch);
        } else {
            out += "\\x";
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xf]);
        }
    }
    if (cut) out += "...";
    return out;
}

std::string printable_status(std::uint16_t status, std::string_view message) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "status 0x";
    for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kHex[(status >> shift) & 0xf]);
    if (!message.empty()) out += " " + printable_reply(message);
    return out;
}

void AuthNotes::note(std::string reply) {
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    if (!lock.owns_lock()) return;
    reply_ = std::move(reply);
    pending_.store(true, std::memory_order_relaxed);
}

std::string AuthNotes::take() {
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    if (!lock.owns_lock()) return {};
    pending_.store(false, std::memory_order_relaxed);
    return std::move(reply_);
}

}  // namespace mmc::engine
