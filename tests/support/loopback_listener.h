// The listening socket of the test servers that play a memcached (canned, scripted,
// silent): 127.0.0.1 on a port the kernel picks, so no test ever names a fixed port.
#ifndef MMC_TEST_LOOPBACK_LISTENER_H
#define MMC_TEST_LOOPBACK_LISTENER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace mmc::test {

// A socket listening on 127.0.0.1 with `backlog`; its port goes to `port`. -1 (and port
// 0) when the socket cannot be made.
inline int listen_on_loopback(unsigned short& port, int backlog = 16) {
    port = 0;
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, backlog) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
        ::close(fd);
        return -1;
    }
    port = ntohs(sa.sin_port);
    return fd;
}

}  // namespace mmc::test

#endif
