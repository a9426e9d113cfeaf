// Sockets through the system calls themselves. Asio's synchronous operations wait
// without a limit, and its sockets register with a process-wide epoll reactor that a
// forked child shares with its parent; a deadline on every wait and a socket per process
// are the point of this class, so it keeps the file descriptor itself.
#include "engine/connection.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "engine/fork_guard.h"
#include "engine/tls.h"

namespace mmc::engine {

namespace {

timeval to_timeval(Duration d) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    if (us < 1000) us = 1000;  // 0 would mean "wait forever" to the kernel
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(us / 1000000);
    tv.tv_usec = static_cast<suseconds_t>(us % 1000000);
    return tv;
}

// Running out of descriptors or memory is this process's trouble, not the server's:
// it must not count against the server's health.
Result local_or_connect_failure(int err) {
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM ? Result::no_memory
                                                                             : Result::connect_failed;
}

// Waits until fd is ready for `events` or the deadline passes; a signal only makes it
// look at the clock again. 1 ready, 0 deadline, -1 poll failed (errno).
int wait_for(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, poll_millis(deadline));
        if (n > 0) return 1;
        if (n == 0) {
            if (Clock::now() >= deadline) return 0;
            continue;  // poll's millisecond rounding woke it a little early
        }
        if (errno != EINTR) return -1;
    }
}

}  // namespace

int poll_millis(Clock::time_point deadline) noexcept {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()).count();
    if (left <= 0) return 0;
    return static_cast<int>(std::min<long long>((left + 999) / 1000, 1 << 30));
}

Outcome Connection::start(const SocketAddress& addr, const ConnectionSettings& settings,
                          std::unique_ptr<Connection>& out) {
    out.reset();
    // Close-on-exec from birth: a fork+exec in another thread between socket() and a
    // later fcntl() would otherwise hand the socket to the new program.
    int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return {local_or_connect_failure(errno), errno};
    std::unique_ptr<Connection> conn(new Connection(fd, addr.family() != AF_UNIX, settings));
    if (settings.tls) {
        conn->tls_ = TlsStream::create(*settings.tls, fd);
        if (!conn->tls_) return {Result::no_memory};
    }
    int rc = ::connect(fd, addr.get(), addr.size);
    if (rc == 0) {
        if (Outcome r = conn->finish_connect(); !r.ok()) return r;
        out = std::move(conn);
        return {};
    }
    // EINTR: a non-blocking connect goes on in the background, as EINPROGRESS.
    if (errno == EINPROGRESS || errno == EINTR) {
        conn->connecting_ = true;
        conn->wait_events_ = POLLOUT;
        out = std::move(conn);
        return {};
    }
    // EAGAIN from a unix socket: the server's listen backlog is full. The socket is not
    // connected and never will be; it must not be handed out as if it were.
    return {local_or_connect_failure(errno), errno};
}

Outcome Connection::open(const SocketAddress& addr, const ConnectionSettings& settings,
                         Clock::time_point deadline, std::unique_ptr<Connection>& out) {
    std::unique_ptr<Connection> conn;
    if (Outcome r = start(addr, settings, conn); !r.ok()) return r;
    if (conn->connecting()) {
        if (Outcome r = conn->wait_connected(deadline); !r.ok()) return r;
    }
    out = std::move(conn);
    return {};
}

Outcome Connection::wait_connected(Clock::time_point deadline) {
    while (connecting_) {
        int n = wait_for(fd_, wait_events_, deadline);
        if (n == 0) return {Result::connect_timeout};
        if (n < 0) return {Result::io_error, errno};
        if (Outcome r = finish_connect(); !r.ok()) return r;
    }
    return {};
}

Outcome Connection::finish_connect() {
    if (!tcp_done_) {
        if (connecting_) {
            int soerr = 0;
            socklen_t len = sizeof soerr;
            if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) return {Result::connect_failed, errno};
            if (soerr != 0) return {Result::connect_failed, soerr};
        }
        tcp_done_ = true;
        if (tcp_) {
            // Before the handshake, whose small flights must not wait for Nagle.
            int one = 1;
            ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
    }
    if (tls_ && !tls_done_) {
        // The handshake runs on the non-blocking socket, one step per readiness, so it
        // keeps the connect deadline and fits a fan-out's poll loop.
        switch (tls_->handshake()) {
            case TlsStream::Status::ok: tls_done_ = true; break;
            case TlsStream::Status::want_read:
                connecting_ = true;
                wait_events_ = POLLIN;
                return {};
            case TlsStream::Status::want_write:
                connecting_ = true;
                wait_events_ = POLLOUT;
                return {};
            case TlsStream::Status::closed:
            case TlsStream::Status::failed: return {Result::tls_failed, tls_->sys_error()};
        }
    }
    connecting_ = false;
    if (auth_) {
        // Sets connecting_ again while it waits for the socket.
        Outcome r = authenticate();
        if (!r.ok() || connecting_) return r;
    }
    return set_up_for_requests();
}

Outcome Connection::set_up_for_requests() {
    // From here on receives block, bounded by SO_RCVTIMEO: one syscall per receive
    // instead of a poll before each. Sends say MSG_DONTWAIT themselves.
    if (::fcntl(fd_, F_SETFL, 0) != 0) return {Result::connect_failed, errno};
    timeval tv = to_timeval(io_timeout_);
    if (::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) return {Result::connect_failed, errno};
    rcv_timeout_ = io_timeout_;
    opened_ = true;
    shard_->add(Counter::connections_opened);
    if (tls_ && tls_->resumed()) shard_->add(Counter::connections_resumed);
    return {};
}

Connection::Connection(int fd, bool tcp, const ConnectionSettings& settings)
    : fd_(fd),
      tcp_(tcp),
      generation_(fork_generation()),
      io_timeout_(settings.io_timeout),
      rcv_timeout_(settings.io_timeout),
      text_parser_(settings.max_value_size),
      binary_parser_(settings.max_value_size),
      meta_parser_(settings.max_value_size),
      shard_(settings.metrics ? settings.metrics->next_shard() : &unowned_shard()) {
    out_.reserve(512);
    if (settings.auth && !settings.auth->user.empty()) {
        auth_ = settings.auth;
        auth_notes_ = settings.auth_notes;
        protocol_ = settings.protocol;
    }
}

ServerMetrics::Shard& Connection::unowned_shard() noexcept {
    // Zero-initialised (static storage); counts what nobody reads.
    static ServerMetrics::Shard shard;
    return shard;
}

Connection::~Connection() {
    if (opened_) shard_->add(Counter::connections_closed);
    auth_wipe();
    tls_.reset();  // before its socket is closed
    ::close(fd_);
}

Outcome Connection::send_all(const iovec* iov_in, int iovcnt, Clock::time_point deadline,
                             bool* quick) {
    if (quick) *quick = false;
    if (iovcnt < 0 || iovcnt > 8) return {Result::invalid_argument};
    std::size_t total = 0;
    for (int i = 0; i < iovcnt; ++i) total += iov_in[i].iov_len;
    if (tls_) {
        Outcome r = tls_send(iov_in, iovcnt, deadline, quick);
        if (r.ok()) shard_->add(Counter::bytes_sent, total);
        return r;
    }
    // The usual case: the whole request goes out in one write, straight from the
    // caller's iovecs.
    {
        msghdr msg{};
        msg.msg_iov = const_cast<iovec*>(iov_in);
        msg.msg_iovlen = static_cast<std::size_t>(iovcnt);
        ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0 && static_cast<std::size_t>(n) == total) {
            if (quick) *quick = true;
            shard_->add(Counter::bytes_sent, total);
            return {};
        }
        if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
            if (errno == EPIPE || errno == ECONNRESET) return {Result::closed, errno};
            return {Result::io_error, errno};
        }
        Outcome r = send_rest(iov_in, iovcnt, n > 0 ? static_cast<std::size_t>(n) : 0, deadline);
        if (r.ok()) shard_->add(Counter::bytes_sent, total);
        return r;
    }
}

// The rest of a request after a first write that took only part of it (or nothing):
// waits for room with poll() until the deadline, never in a blocking send.
Outcome Connection::send_rest(const iovec* iov_in, int iovcnt, std::size_t skip,
                              Clock::time_point deadline) {
    iovec iov[8];
    std::copy(iov_in, iov_in + iovcnt, iov);
    int first = 0;
    while (first < iovcnt && skip >= iov[first].iov_len) {
        skip -= iov[first].iov_len;
        ++first;
    }
    if (first < iovcnt) {
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + skip;
        iov[first].iov_len -= skip;
    }
    if (first < iovcnt) {
        int ready = wait_for(fd_, POLLOUT, deadline);
        if (ready == 0) return {Result::timeout};
        if (ready < 0) return {Result::io_error, errno};
    }
    while (first < iovcnt) {
        msghdr msg{};
        msg.msg_iov = iov + first;
        msg.msg_iovlen = static_cast<std::size_t>(iovcnt - first);
        // Never a blocking send: a server that stopped reading fills the socket buffer,
        // and the wait for room must end at the deadline, not at SO_SNDTIMEO.
        ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                if (errno == EPIPE || errno == ECONNRESET) return {Result::closed, errno};
                return {Result::io_error, errno};
            }
        } else {
            auto sent = static_cast<std::size_t>(n);
            while (first < iovcnt && sent >= iov[first].iov_len) {
                sent -= iov[first].iov_len;
                ++first;
            }
            if (first == iovcnt) break;
            iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + sent;
            iov[first].iov_len -= sent;
        }
        int ready = wait_for(fd_, POLLOUT, deadline);
        if (ready == 0) return {Result::timeout};
        if (ready < 0) return {Result::io_error, errno};
    }
    return {};
}

Outcome Connection::send_all(std::string_view bytes, Clock::time_point deadline, bool* quick) {
    iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
    return send_all(&iov, 1, deadline, quick);
}

bool Connection::set_receive_timeout(Duration d) {
    timeval tv = to_timeval(d);
    if (::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) return false;
    rcv_timeout_ = d;
    return true;
}

// TLS has no gather write: the request is gathered into one buffer and goes out as one
// record (one send) when it fits one. What the socket does not take is waited for with
// poll() until the deadline, as for plain sends.
Outcome Connection::tls_send(const iovec* iov, int iovcnt, Clock::time_point deadline, bool* quick) {
    const char* data = nullptr;
    std::size_t len = 0;
    if (iovcnt == 1) {
        data = static_cast<const char*>(iov[0].iov_base);
        len = iov[0].iov_len;
    } else {
        tls_out_.clear();
        for (int i = 0; i < iovcnt; ++i) tls_out_.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
        data = tls_out_.data();
        len = tls_out_.size();
    }
    bool waited = false;
    while (len > 0) {
        std::size_t n = 0;
        TlsStream::Status st = tls_->write(data, len, n);
        data += n;
        len -= n;
        short events = 0;
        switch (st) {
            case TlsStream::Status::ok: continue;
            case TlsStream::Status::want_write: events = POLLOUT; break;
            case TlsStream::Status::want_read: events = POLLIN; break;
            case TlsStream::Status::closed: return {Result::closed, tls_->sys_error()};
            case TlsStream::Status::failed: return {Result::io_error, tls_->sys_error()};
        }
        waited = true;
        int ready = wait_for(fd_, events, deadline);
        if (ready == 0) return {Result::timeout};
        if (ready < 0) return {Result::io_error, errno};
    }
    if (quick) *quick = !waited;
    return {};
}

// One TLS read (one recv() when a whole reply is there), then whatever records OpenSSL
// already holds: poll() cannot see those, so they are taken now. Results as
// receive_into(); a read that made progress without completing a record (a late
// record's rest, a session ticket) is {timeout, EINTR}: look at the clock, go on.
Outcome Connection::tls_receive(bool wait) {
    if (!in_.reserve_tail(4096)) return {Result::no_memory};
    std::size_t got = 0;
    TlsStream::Status st = tls_->read(in_.tail(), in_.tail_room(), got, wait);
    if (st == TlsStream::Status::ok) {
        in_.commit(got);
        shard_->add(Counter::bytes_received, got);
        while (tls_->pending()) {
            if (!in_.reserve_tail(4096)) return {Result::no_memory};
            if (tls_->read(in_.tail(), in_.tail_room(), got, false) != TlsStream::Status::ok) break;
            in_.commit(got);
            shard_->add(Counter::bytes_received, got);
        }
        return {};
    }
    switch (st) {
        case TlsStream::Status::want_read:
            return tls_->progressed() ? Outcome{Result::timeout, EINTR} : Outcome{Result::timeout};
        case TlsStream::Status::want_write: return {Result::timeout, EINTR};
        case TlsStream::Status::closed: return {Result::closed, tls_->sys_error()};
        default: return {Result::io_error, tls_->sys_error()};
    }
}

// One recv. A signal gives {timeout, EINTR}: the caller looks at the clock before
// waiting again, so signals cannot stretch a wait past its deadline.
Outcome Connection::receive_into(int flags) {
    if (tls_) return tls_receive(flags == 0);
    if (!in_.reserve_tail(4096)) return {Result::no_memory};
    ssize_t n = ::recv(fd_, in_.tail(), in_.tail_room(), flags);
    if (n > 0) {
        in_.commit(static_cast<std::size_t>(n));
        shard_->add(Counter::bytes_received, static_cast<std::uint64_t>(n));
        return {};
    }
    if (n == 0) return {Result::closed};
    if (errno == EINTR) return {Result::timeout, EINTR};
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {Result::timeout};
    if (errno == ECONNRESET) return {Result::closed, errno};
    return {Result::io_error, errno};
}

Outcome Connection::receive(Clock::time_point deadline) {
    // The socket's receive timeout normally equals io_timeout and each operation's
    // deadline is at most io_timeout from its start, so the common case costs no
    // setsockopt. Only when less time is left than the socket would wait is the
    // timeout lowered.
    constexpr auto kSlack = std::chrono::milliseconds(20);
    for (;;) {
        auto left = deadline - Clock::now();
        if (left <= Duration::zero()) return last_look();
        if (rcv_timeout_ > left + kSlack && !set_receive_timeout(left)) {
            return {Result::io_error, errno};
        }
        Outcome r = receive_into(0);
        if (r.result != Result::timeout) return r;
        if (r.sys_error == EINTR) continue;
        // The socket's wait ran out; it may have been shorter than what is left.
        left = deadline - Clock::now();
        if (left <= std::chrono::milliseconds(1)) return last_look();
        if (!set_receive_timeout(std::min(io_timeout_, left))) return {Result::io_error, errno};
    }
}

// The deadline has passed, but a thread that was not scheduled for a while may find
// the reply already there: it counts, rather than a timeout blamed on a server that
// answered in time.
Outcome Connection::last_look() {
    const std::size_t had = in_.view().size();
    Outcome r = receive_nowait();
    if (r.ok() && in_.view().size() > had) return {};
    return r.ok() ? Outcome{Result::timeout} : r;
}

Outcome Connection::receive_soon(Clock::time_point deadline) {
    if (rcv_timeout_ > io_timeout_) return receive(deadline);
    Outcome r = receive_into(0);
    if (r.result != Result::timeout) return r;
    return receive(deadline);
}

Outcome Connection::receive_nowait() {
    for (;;) {
        Outcome r = receive_into(MSG_DONTWAIT);
        if (r.result != Result::timeout) return r;
        if (r.sys_error != EINTR) return {};
    }
}

bool Connection::peer_closed() {
    if (tls_) return tls_->peer_closed();
    char c;
    ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return true;  // orderly shutdown by the server
    if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
    return true;  // unsolicited bytes: the stream cannot be trusted either
}

}  // namespace mmc::engine
