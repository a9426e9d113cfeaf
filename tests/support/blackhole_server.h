// A TCP address on loopback that never completes a handshake: a listener whose accept
// queue is full, so the kernel drops every further SYN, exactly what a client sees of a
// host that is powered off or cut off by a partition (no refusal, no reply at all).
#ifndef MMC_TEST_BLACKHOLE_SERVER_H
#define MMC_TEST_BLACKHOLE_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace mmc::test {

class BlackholeServer {
public:
    BlackholeServer() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
        // Backlog 0: one connection fills the queue. Nothing is ever accepted.
        ::listen(fd_, 0);
        socklen_t len = sizeof sa;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
        port_ = ntohs(sa.sin_port);
        // Connect until one does not complete: from then on SYNs are dropped.
        for (int i = 0; i < 32 && !full_; ++i) {
            int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            ::connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
            pollfd p{c, POLLOUT, 0};
            if (::poll(&p, 1, 200) == 0) full_ = true;
            fillers_.push_back(c);
        }
    }
    ~BlackholeServer() {
        for (int c : fillers_) ::close(c);
        ::close(fd_);
    }
    BlackholeServer(const BlackholeServer&) = delete;
    BlackholeServer& operator=(const BlackholeServer&) = delete;

    // False if the kernel kept completing handshakes (then the test cannot be made).
    bool dropping_syns() const { return full_; }
    unsigned short port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

private:
    int fd_ = -1;
    unsigned short port_ = 0;
    bool full_ = false;
    std::vector<int> fillers_;
};

}  // namespace mmc::test

#endif
