// Asio owns the socket (open, options, close); the exchanges use the native handle
// directly, because Asio's synchronous operations wait without a limit (its sync
// connect polls with an infinite timeout) and a deadline is the point of this class.
#include "engine/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <cerrno>
#include <mutex>
#include <vector>

namespace asio = boost::asio;

namespace mmc::engine {

namespace {

// One context per process for the sockets' bookkeeping; no thread ever runs it. It is
// created on the first connect, so a parent that only configures (httpd before fork)
// never has one, and it is intentionally never destroyed: sockets held by pools that
// outlive static destruction must still find it.
asio::io_context& context() {
    static asio::io_context* ctx = new asio::io_context(1);
    return *ctx;
}

using GenericSocket = asio::generic::stream_protocol::socket;
using GenericEndpoint = asio::generic::stream_protocol::endpoint;

int millis_until(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    // Round up so a deadline 0.4 ms away is still waited for rather than spun on.
    return left.count() <= 0 ? 0 : static_cast<int>(std::min<long long>(left.count() + 1, 1 << 30));
}

timeval to_timeval(Duration d) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    if (us < 1000) us = 1000;  // 0 would mean "wait forever" to the kernel
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(us / 1000000);
    tv.tv_usec = static_cast<suseconds_t>(us % 1000000);
    return tv;
}

Outcome resolve(const Endpoint& ep, std::vector<GenericEndpoint>& out) {
    if (ep.is_unix()) {
        out.emplace_back(asio::local::stream_protocol::endpoint(ep.socket_path));
        return {};
    }
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(ep.host, ec);
    if (!ec) {
        out.emplace_back(asio::ip::tcp::endpoint(addr, ep.port));
        return {};
    }
    // A host name: the resolver's wait is the system resolver's, not ours.
    asio::ip::tcp::resolver resolver(context());
    auto results = resolver.resolve(ep.host, std::to_string(ep.port),
                                    asio::ip::tcp::resolver::numeric_service, ec);
    if (ec) return {Result::connect_failed, EHOSTUNREACH};
    for (const auto& r : results) out.emplace_back(r.endpoint());
    if (out.empty()) return {Result::connect_failed, EHOSTUNREACH};
    return {};
}

}  // namespace

struct Connection::Socket {
    GenericSocket socket{context()};
};

std::string Endpoint::describe() const {
    if (is_unix()) return socket_path;
    if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
    return host + ":" + std::to_string(port);
}

Outcome Connection::open(const Endpoint& ep, Clock::time_point deadline, Duration io_timeout,
                         std::size_t max_value_size, std::unique_ptr<Connection>& out) {
    std::vector<GenericEndpoint> endpoints;
    if (Outcome r = resolve(ep, endpoints); !r.ok()) return r;

    Outcome last{Result::connect_failed, ECONNREFUSED};
    for (const auto& target : endpoints) {
        auto sock = std::make_unique<Socket>();
        boost::system::error_code ec;
        sock->socket.open(target.protocol(), ec);
        if (ec) return {Result::connect_failed, ec.value()};
        sock->socket.non_blocking(true, ec);
        if (ec) return {Result::connect_failed, ec.value()};
        int fd = sock->socket.native_handle();

        int rc = ::connect(fd, target.data(), static_cast<socklen_t>(target.size()));
        if (rc != 0 && errno != EINPROGRESS && errno != EAGAIN) {
            last = {Result::connect_failed, errno};
            continue;
        }
        if (rc != 0) {
            pollfd p{fd, POLLOUT, 0};
            int n;
            do {
                n = ::poll(&p, 1, millis_until(deadline));
            } while (n < 0 && errno == EINTR);
            if (n == 0) return {Result::timeout};
            int soerr = 0;
            socklen_t len = sizeof soerr;
            if (n < 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) {
                last = {Result::connect_failed, errno};
                continue;
            }
            if (soerr != 0) {
                last = {Result::connect_failed, soerr};
                continue;
            }
        }
        // From here on the socket blocks, bounded by SO_RCVTIMEO / SO_SNDTIMEO: one
        // syscall per send or receive, instead of a poll before each.
        sock->socket.non_blocking(false, ec);
        if (ec) return {Result::connect_failed, ec.value()};
        if (!ep.is_unix()) {
            int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        timeval tv = to_timeval(io_timeout);
        if (::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 ||
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) {
            return {Result::connect_failed, errno};
        }
        out.reset(new Connection(std::move(sock), io_timeout, max_value_size));
        return {};
    }
    return last;
}

Connection::Connection(std::unique_ptr<Socket> sock, Duration io_timeout,
                       std::size_t max_value_size)
    : sock_(std::move(sock)),
      fd_(sock_->socket.native_handle()),
      io_timeout_(io_timeout),
      rcv_timeout_(io_timeout),
      parser_(max_value_size),
      binary_parser_(max_value_size) {
    out_.reserve(512);
}

Connection::~Connection() {
    boost::system::error_code ec;
    sock_->socket.close(ec);
}

int Connection::fd() const noexcept { return fd_; }

// A request this small always fits the socket's send buffer at once on a connection used
// request-reply (nothing unanswered is queued), so a write that takes it all has not
// waited.
constexpr std::size_t kQuickSendBytes = 16 * 1024;

Outcome Connection::send_all(const iovec* iov_in, int iovcnt, Clock::time_point deadline,
                             bool* quick) {
    if (quick) {
        *quick = false;
        std::size_t total = 0;
        for (int i = 0; i < iovcnt; ++i) total += iov_in[i].iov_len;
        if (total <= kQuickSendBytes) {
            msghdr msg{};
            msg.msg_iov = const_cast<iovec*>(iov_in);
            msg.msg_iovlen = static_cast<std::size_t>(iovcnt);
            ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
            if (n >= 0 && static_cast<std::size_t>(n) == total) {
                *quick = true;
                return {};
            }
            // Partly sent or failed: the general path below deals with it, skipping
            // what went out.
            if (n > 0) return send_rest(iov_in, iovcnt, static_cast<std::size_t>(n), deadline);
            if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
                if (errno == EPIPE || errno == ECONNRESET) return {Result::closed, errno};
                return {Result::io_error, errno};
            }
        }
    }
    return send_rest(iov_in, iovcnt, 0, deadline);
}

Outcome Connection::send_rest(const iovec* iov_in, int iovcnt, std::size_t skip,
                              Clock::time_point deadline) {
    iovec iov[8];
    if (iovcnt > 8) return {Result::invalid_argument};
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
    while (first < iovcnt) {
        msghdr msg{};
        msg.msg_iov = iov + first;
        msg.msg_iovlen = static_cast<std::size_t>(iovcnt - first);
        ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (Clock::now() >= deadline) return {Result::timeout};
                continue;
            }
            if (errno == EPIPE || errno == ECONNRESET) return {Result::closed, errno};
            return {Result::io_error, errno};
        }
        auto sent = static_cast<std::size_t>(n);
        while (first < iovcnt && sent >= iov[first].iov_len) {
            sent -= iov[first].iov_len;
            ++first;
        }
        if (first < iovcnt) {
            iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + sent;
            iov[first].iov_len -= sent;
            if (Clock::now() >= deadline) return {Result::timeout};
        }
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

Outcome Connection::receive_into(int flags) {
    if (!in_.reserve_tail(4096)) return {Result::no_memory};
    for (;;) {
        ssize_t n = ::recv(fd_, in_.tail(), in_.tail_room(), flags);
        if (n > 0) {
            in_.commit(static_cast<std::size_t>(n));
            return {};
        }
        if (n == 0) return {Result::closed};
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return {Result::timeout};
        if (errno == ECONNRESET) return {Result::closed, errno};
        return {Result::io_error, errno};
    }
}

Outcome Connection::receive(Clock::time_point deadline) {
    // The socket's receive timeout normally equals io_timeout and each operation's
    // deadline is io_timeout from its start, so the common case costs no setsockopt.
    // Only when less time is left than the socket would wait is the timeout lowered.
    constexpr auto kSlack = std::chrono::milliseconds(20);
    for (;;) {
        auto left = deadline - Clock::now();
        if (left <= Duration::zero()) return {Result::timeout};
        if (rcv_timeout_ > left + kSlack && !set_receive_timeout(left)) {
            return {Result::io_error, errno};
        }
        Outcome r = receive_into(0);
        if (r.result != Result::timeout) return r;
        // The socket's wait ran out; it may have been shorter than what is left.
        if (deadline - Clock::now() <= std::chrono::milliseconds(1)) return r;
        if (!set_receive_timeout(std::min(io_timeout_, deadline - Clock::now()))) {
            return {Result::io_error, errno};
        }
    }
}

Outcome Connection::receive_soon(Clock::time_point deadline) {
    if (rcv_timeout_ > io_timeout_) return receive(deadline);
    Outcome r = receive_into(0);
    if (r.result != Result::timeout) return r;
    return receive(deadline);
}

Outcome Connection::receive_nowait() {
    Outcome r = receive_into(MSG_DONTWAIT);
    if (r.result == Result::timeout) return {};
    return r;
}

bool Connection::peer_closed() {
    char c;
    ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return true;  // orderly shutdown by the server
    if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
    return true;  // unsolicited bytes: the stream cannot be trusted either
}

}  // namespace mmc::engine
