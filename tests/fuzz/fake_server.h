// An in-process stand-in for memcached that answers whatever the fuzzer says: it
// listens on a unix-domain socket (the engine connects by path, so a socketpair would
// not do) and, when a request arrives on any connection, writes the reply armed for the
// operation in progress, in the segments asked for. It also keeps what it wrote on each
// connection, so the target can check that a value the client returned was really sent.
//
// One per process, started on first use and never stopped: its thread must outlive
// every input, and stopping it during static destruction would race the client pools
// that are torn down then too.
#ifndef MMC_TESTS_FUZZ_FAKE_SERVER_H
#define MMC_TESTS_FUZZ_FAKE_SERVER_H

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace mmc_fuzz {

struct Reply {
    std::string bytes;
    std::vector<std::size_t> cuts;  // segment boundaries: sorted, each in (0, bytes.size())
    bool close_after = false;       // close the connection once the reply is written
    bool patch_opaque = false;      // binary or meta opaques: see engine_input.h
};

class FakeServer {
public:
    static FakeServer& instance();

    const std::string& path() const noexcept { return path_; }

    // The reply to the next request that arrives. Call before the client operation.
    void arm(Reply reply);
    // Call after the operation returns: waits until a reply being written is complete
    // (so no bytes of this operation land during the next one) and disarms. Returns
    // whether a request arrived, i.e. whether the client sent anything.
    bool disarm();
    // Closes every connection and forgets what was written on them, so each input
    // starts from the same state. Waits until done.
    void reset();

    // Was there, on one connection, a text "VALUE <key> <flags> <bytes>..." line whose
    // <bytes> is data.size(), followed by exactly these data bytes?
    bool sent_text_value(std::string_view key, std::string_view data) const;
    // Was there, on one connection, a response header with this opcode (any opcode
    // when opcode < 0), status 0 and a body that fits, whose key is `key` (unless
    // any_key) and whose value is `data`? With prefix_to_nul, `data` need only be the
    // value up to its first NUL byte (for values the API hands out as C strings).
    bool sent_binary_value(int opcode, bool any_key, std::string_view key, std::string_view data,
                           bool prefix_to_nul = false) const;
    // Was there, on one connection, a meta "VA <len>..." line (at a line start) whose
    // <len> is data.size(), followed by exactly these data bytes?
    bool sent_meta_value(std::string_view data) const;
    // Was the meta flag `flag` sent as a token of its own (" W", " X", " Z" ...) on any
    // connection? Loose (it may match inside a data block), which only makes the
    // checks that use it weaker, never wrong.
    bool sent_meta_flag(char flag) const;
    // Was "VERSION <v>" followed by CR or NUL sent (the API returns a C string, which
    // ends at the first NUL)?
    bool sent_text_version(std::string_view v) const;

private:
    FakeServer();
    void run();
    void accept_all();
    // Reads what a connection sent and answers it; removes the connection once closed.
    void serve(std::size_t index);
    void deliver(std::size_t index, std::string_view request);
    bool write_all(int fd, std::string_view bytes);
    void close_all();

    struct Conn {
        int fd;
        std::uint64_t id;  // fds are reused; ids are not
    };

    std::string dir_;
    std::string path_;
    int listen_fd_ = -1;
    int wake_[2] = {-1, -1};  // reset() wakes the thread's poll through it

    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool armed_ = false;
    bool taken_ = false;    // a request arrived and the reply is being written
    bool written_ = false;  // ... and has been written
    Reply reply_;
    bool reset_requested_ = false;
    std::map<std::uint64_t, std::string> streams_;  // what was written, per connection

    // Owned by the server thread.
    std::vector<Conn> conns_;
    std::uint64_t next_id_ = 1;
};

}  // namespace mmc_fuzz

#endif  // MMC_TESTS_FUZZ_FAKE_SERVER_H
