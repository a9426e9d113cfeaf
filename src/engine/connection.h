// One connection to a memcached server: a socket with deadlines on connect, send and
// receive, its receive buffer and its reply parser. Used by one thread at a time (the
// pool hands it out). The socket is a Boost.Asio socket; Asio stays inside
// connection.cpp so that no other file pays for its headers.
#ifndef MMC_ENGINE_CONNECTION_H
#define MMC_ENGINE_CONNECTION_H

#include <sys/uio.h>

#include <memory>
#include <string>
#include <string_view>

#include "engine/options.h"
#include "engine/outcome.h"
#include "engine/read_buffer.h"
#include "proto/binary_codec.h"
#include "proto/text_codec.h"

namespace mmc::engine {

class Connection {
public:
    // Connects within `deadline` (non-blocking connect + poll). On success the socket
    // has TCP_NODELAY (TCP) and receive/send timeouts of `io_timeout`.
    static Outcome open(const Endpoint& ep, Clock::time_point deadline, Duration io_timeout,
                        std::size_t max_value_size, std::unique_ptr<Connection>& out);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Sends every byte of the iovecs before the deadline. `quick` (optional) is set when
    // one small write took everything, so hardly any time can have passed.
    Outcome send_all(const iovec* iov, int iovcnt, Clock::time_point deadline,
                     bool* quick = nullptr);
    Outcome send_all(std::string_view bytes, Clock::time_point deadline, bool* quick = nullptr);

    // Blocks until at least one byte arrived (appended to in()) or the deadline passed.
    Outcome receive(Clock::time_point deadline);
    // The same, for a deadline set io_timeout from (nearly) now: the socket's own
    // receive timeout (never above io_timeout) cannot overshoot it, so the first wait
    // needs no clock read. Falls back to receive() if that wait runs out.
    Outcome receive_soon(Clock::time_point deadline);
    // Reads what is there without waiting; Result::ok with nothing read when none is.
    Outcome receive_nowait();

    // True when the server closed or reset the connection while it sat idle.
    bool peer_closed();

    int fd() const noexcept;
    ReadBuffer& in() noexcept { return in_; }
    std::string& out() noexcept { return out_; }
    proto::TextReplyParser& parser() noexcept { return parser_; }
    proto::BinaryReplyParser& binary_parser() noexcept { return binary_parser_; }
    // Opaque values for binary requests: distinct per request on this connection, so a
    // response can be matched to the request it answers.
    std::uint32_t next_opaque(std::uint32_t count = 1) noexcept {
        std::uint32_t first = opaque_;
        opaque_ += count;
        return first;
    }

    Clock::time_point idle_since;

private:
    struct Socket;
    explicit Connection(std::unique_ptr<Socket> sock, Duration io_timeout,
                        std::size_t max_value_size);
    Outcome receive_into(int flags);
    Outcome send_rest(const iovec* iov, int iovcnt, std::size_t skip, Clock::time_point deadline);
    bool set_receive_timeout(Duration d);

    std::unique_ptr<Socket> sock_;
    int fd_;
    Duration io_timeout_;
    Duration rcv_timeout_;  // what SO_RCVTIMEO is set to now
    ReadBuffer in_;
    std::string out_;
    proto::TextReplyParser parser_;
    proto::BinaryReplyParser binary_parser_;
    std::uint32_t opaque_ = 1;
};

}  // namespace mmc::engine

#endif
