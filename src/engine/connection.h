// One connection to a memcached server: a socket with deadlines on connect, send and
// receive, its receive buffer and its reply parsers. Used by one thread at a time (the
// pool hands it out), and only by the process that opened it (fork_guard.h).
//
// The engine owns the file descriptor itself: it is created non-blocking and
// close-on-exec in one socket() call, so no program httpd starts (CGI, piped logs,
// ext_filter) ever inherits it, not even from another thread's fork+exec racing the
// connect.
#ifndef MMC_ENGINE_CONNECTION_H
#define MMC_ENGINE_CONNECTION_H

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "engine/address.h"
#include "engine/metrics.h"
#include "engine/options.h"
#include "engine/outcome.h"
#include "engine/read_buffer.h"
#include "proto/auth_codec.h"
#include "proto/binary_codec.h"
#include "proto/meta_codec.h"
#include "proto/text_codec.h"

namespace mmc::engine {

class AuthNotes;
class TlsContext;
class TlsStream;

struct ConnectionSettings {
    Duration io_timeout = std::chrono::seconds(1);
    std::size_t max_value_size = proto::kDefaultMaxValueSize;
    // Set: the connection speaks TLS (tls.h) and is not connected before its handshake
    // is complete. Never plain text as a fallback.
    TlsContext* tls = nullptr;
    // Set (a user): every new connection authenticates before it is used, in the
    // protocol's way (auth.cpp). Part of the connect, within its deadline.
    const Credentials* auth = nullptr;
    Protocol protocol = Protocol::text;
    // Where a failed authentication notes the reply that ended it, for the server's
    // log line (optional).
    AuthNotes* auth_notes = nullptr;
    // Where the connection counts its bytes and its opening and closing, and where
    // the exchanges on it count theirs (metrics.h); none: counted nowhere.
    ServerMetrics* metrics = nullptr;
};

class Connection {
public:
    // Starts a connect to `addr` without waiting. ok and !connecting(): connected at
    // once; ok and connecting(): in progress, wait for the socket to be ready for
    // wait_events() (fd()) and call finish_connect(). A failure leaves `out` empty.
    static Outcome start(const SocketAddress& addr, const ConnectionSettings& settings,
                         std::unique_ptr<Connection>& out);
    // Connects within `deadline`: start(), then a poll for the result.
    static Outcome open(const SocketAddress& addr, const ConnectionSettings& settings,
                        Clock::time_point deadline, std::unique_ptr<Connection>& out);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // True until the TCP connect, a TLS handshake and an authentication are complete.
    bool connecting() const noexcept { return connecting_; }
    // What a connecting socket waits for: POLLOUT for the TCP connect, POLLIN or
    // POLLOUT during a TLS handshake.
    short wait_events() const noexcept { return wait_events_; }
    // After wait_events() (or POLLERR/POLLHUP) on a connecting socket: takes the connect
    // one step on. ok and !connecting(): connected, the socket set up for requests; ok
    // and connecting(): wait for wait_events() again; else why not (tls_failed: the
    // handshake failed, the context has the reason; auth_failed: the credentials were
    // refused).
    Outcome finish_connect();
    // Waits for a started connect, handshake included, until `deadline`:
    // connect_timeout when it passes.
    Outcome wait_connected(Clock::time_point deadline);

    // Sends every byte of the iovecs (at most 8) before the deadline, never blocking
    // beyond it. `quick` (optional) is set when the first write took everything, so
    // hardly any time can have passed.
    Outcome send_all(const iovec* iov, int iovcnt, Clock::time_point deadline,
                     bool* quick = nullptr);
    Outcome send_all(std::string_view bytes, Clock::time_point deadline, bool* quick = nullptr);

    // Blocks until at least one byte arrived (appended to in()) or the deadline passed.
    // A signal does not restart the wait from scratch: the time left is recomputed.
    Outcome receive(Clock::time_point deadline);
    // The same, for a deadline exactly io_timeout from (nearly) now: the socket's own
    // receive timeout (never above io_timeout) cannot overshoot it, so the first wait
    // needs no clock read. Falls back to receive() if that wait runs out.
    Outcome receive_soon(Clock::time_point deadline);
    // Reads what is there without waiting; Result::ok with nothing read when none is.
    Outcome receive_nowait();

    // True when the server closed or reset the connection while it sat idle.
    bool peer_closed();

    // Called when the connection goes back to its pool: gives back the memory a large
    // value made the buffers grow to, so an idle connection stays small.
    void trim_buffers() noexcept {
        if (in_.capacity() > ReadBuffer::kInitialSize) in_.shrink();
        if (tls_out_.capacity() > 64 * 1024) std::string().swap(tls_out_);
    }
    // The same for the request buffer, which only a multi-get of many keys makes large
    // (stored values are sent from the caller's memory, never copied here).
    void trim_request_buffer() noexcept {
        if (out_.capacity() > 64 * 1024) std::string().swap(out_);
    }

    int fd() const noexcept { return fd_; }
    // The fork generation (fork_guard.h) of the process that opened it.
    std::uint32_t generation() const noexcept { return generation_; }
    ReadBuffer& in() noexcept { return in_; }
    std::string& out() noexcept { return out_; }
    // The reply parsers of the protocols, each a few words that keep no input; the
    // server's adapter uses its own.
    proto::TextReplyParser& text_parser() noexcept { return text_parser_; }
    proto::BinaryReplyParser& binary_parser() noexcept { return binary_parser_; }
    proto::MetaReplyParser& meta_parser() noexcept { return meta_parser_; }
    // Opaque values for binary requests: distinct per request on this connection, so a
    // reply can be matched to the request it answers.
    std::uint32_t next_opaque(std::uint32_t count = 1) noexcept {
        std::uint32_t first = opaque_;
        opaque_ += count;
        return first;
    }

    // The block of its server's counters this connection counts into (metrics.h).
    ServerMetrics::Shard& metrics() noexcept { return *shard_; }

    Clock::time_point idle_since;
    // Which of its server's addresses it was opened to (for trying the next one).
    std::size_t address_index = 0;
    // The pool's epoch when it was opened (ServerPool::epoch): a connection opened
    // before its server was last marked dead speaks for the past, not for the server
    // as it is now.
    std::uint32_t epoch = 0;

private:
    Connection(int fd, bool tcp, const ConnectionSettings& settings);
    Outcome receive_into(int flags);
    Outcome last_look();
    Outcome send_rest(const iovec* iov, int iovcnt, std::size_t skip, Clock::time_point deadline);
    Outcome tls_send(const iovec* iov, int iovcnt, Clock::time_point deadline, bool* quick);
    Outcome tls_receive(bool wait);
    bool set_receive_timeout(Duration d);
    Outcome set_up_for_requests();
    Outcome authenticate();
    Outcome send_nowait(std::string_view bytes, std::size_t& sent);

    int fd_;
    bool tcp_;
    bool connecting_ = false;
    bool tcp_done_ = false;  // the TCP connect is complete (a handshake may follow)
    bool tls_done_ = false;  // the TLS handshake is complete
    short wait_events_ = 0;
    std::uint32_t generation_;
    Duration io_timeout_;
    Duration rcv_timeout_;  // what SO_RCVTIMEO is set to now
    ReadBuffer in_;
    std::string out_;
    proto::TextReplyParser text_parser_;
    proto::BinaryReplyParser binary_parser_;
    proto::MetaReplyParser meta_parser_;
    std::uint32_t opaque_ = 1;
    std::unique_ptr<TlsStream> tls_;
    // Authentication while connecting (auth.cpp): which step it is at, the request of
    // that step and how much of it went out. The credentials' request is built only
    // once the probe's reply asked for them, and wiped as soon as it is answered.
    enum class AuthStage : std::uint8_t { start, probe, credentials };
    Outcome auth_step();
    Outcome auth_reply(proto::AuthReply& reply, std::string& quoted);
    void auth_wipe() noexcept;
    const Credentials* auth_ = nullptr;
    AuthNotes* auth_notes_ = nullptr;
    Protocol protocol_ = Protocol::text;
    AuthStage auth_stage_ = AuthStage::start;
    Secret auth_request_;  // wiped on success, on failure and with the connection
    std::size_t auth_sent_ = 0;
    std::string tls_out_;  // a request gathered for one TLS record (TLS has no writev)
    ServerMetrics::Shard* shard_;
    bool opened_ = false;  // connected and counted as opened
    static ServerMetrics::Shard& unowned_shard() noexcept;
};

// Milliseconds until `deadline` for poll(), rounded up (a deadline 0.4 ms away is
// waited for rather than spun on); 0 once it has passed.
int poll_millis(Clock::time_point deadline) noexcept;

}  // namespace mmc::engine

#endif
