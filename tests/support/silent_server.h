// A TCP listener on loopback that completes handshakes (through its backlog) but never
// reads or answers: the worst kind of hung memcached. Tests point clients at it to
// prove that every wait has a deadline.
#ifndef MMC_TEST_SILENT_SERVER_H
#define MMC_TEST_SILENT_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "loopback_listener.h"

namespace mmc::test {

class SilentServer {
public:
    SilentServer() {
        fd_ = listen_on_loopback(port_, 128);
    }
    ~SilentServer() { ::close(fd_); }
    SilentServer(const SilentServer&) = delete;
    SilentServer& operator=(const SilentServer&) = delete;

    unsigned short port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

private:
    int fd_ = -1;
    unsigned short port_ = 0;
};

}  // namespace mmc::test

#endif
