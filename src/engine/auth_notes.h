// What the last failed authentication on a server's connections was told, kept for the
// server's log line. A connection (auth.cpp) notes the reply that ended its exchange;
// Server::report() takes the note with the outcome it belongs to and logs it. The
// engine does not log by itself, and a connection does not know its server: this is
// where the two meet.
#ifndef MMC_ENGINE_AUTH_NOTES_H
#define MMC_ENGINE_AUTH_NOTES_H

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace mmc::engine {

// The longest part of a reply a log line quotes.
inline constexpr std::size_t kMaxQuotedReply = 120;

// `raw` as a log line may quote it: a line's trailing CR LF dropped, every other
// control byte, DEL and non-ASCII byte written as \xNN (a hostile server must not be
// able to write escape sequences or forged lines into the error log), cut after
// kMaxQuotedReply bytes of `raw` with "..." appended.
std::string printable_reply(std::string_view raw);

// A binary response as a log line quotes it: "status 0x0020 Auth failure", the
// server's message made printable as above.
std::string printable_status(std::uint16_t status, std::string_view message);

class AuthNotes {
public:
    // Notes the reply (already printable) that ended an exchange.
    void note(std::string reply);
    // True when a note waits: a relaxed load, cheap enough for every failure report.
    bool pending() const noexcept { return pending_.load(std::memory_order_relaxed); }
    // The waiting note, now taken ("" when none, or when another thread holds the lock
    // at this moment: a log detail is not worth a wait).
    std::string take();

private:
    // Only ever try-locked: a child forked while another thread held it cannot
    // deadlock on it.
    std::mutex mu_;
    std::string reply_;
    std::atomic<bool> pending_{false};
};

}  // namespace mmc::engine

#endif
