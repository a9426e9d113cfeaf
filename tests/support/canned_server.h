// A loopback server that answers whatever it is sent with fixed bytes, or with what a
// function of the request makes: one reply per read on each connection. Tests use it to
// play a hostile or broken memcached.
#ifndef MMC_TEST_CANNED_SERVER_H
#define MMC_TEST_CANNED_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "loopback_listener.h"

namespace mmc::test {

class CannedServer {
public:
    // delay: how long each reply waits after its request arrived (a slow server).
    explicit CannedServer(std::string reply, std::chrono::milliseconds delay = {})
        : CannedServer([reply = std::move(reply)](const std::string&) { return reply; }, delay) {}
    // respond(bytes of one read) -> the reply to send.
    using Respond = std::function<std::string(const std::string&)>;
    explicit CannedServer(Respond respond, std::chrono::milliseconds delay = {})
        : respond_(std::move(respond)), delay_(delay) {
        fd_ = listen_on_loopback(port_);
        thread_ = std::thread([this] { serve(); });
    }
    ~CannedServer() {
        stop_ = true;
        thread_.join();
        for (int c : conns_) ::close(c);
        ::close(fd_);
    }
    CannedServer(const CannedServer&) = delete;
    CannedServer& operator=(const CannedServer&) = delete;

    unsigned short port() const { return port_; }
    // Connections accepted so far.
    int accepted() const { return accepted_.load(); }

private:
    void serve() {
        while (!stop_) {
            std::vector<pollfd> fds{{fd_, POLLIN, 0}};
            for (int c : conns_) fds.push_back({c, POLLIN, 0});
            if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
            if (fds[0].revents) {
                conns_.push_back(::accept(fd_, nullptr, nullptr));
                ++accepted_;
            }
            for (std::size_t i = 1; i < fds.size(); ++i) {
                if (!fds[i].revents) continue;
                char buf[4096];
                const ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
                if (n > 0) {
                    const std::string reply = respond_(std::string(buf, static_cast<std::size_t>(n)));
                    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
                    ::send(fds[i].fd, reply.data(), reply.size(), MSG_NOSIGNAL);
                }
            }
        }
    }

    Respond respond_;
    std::chrono::milliseconds delay_;
    std::atomic<int> accepted_{0};
    int fd_ = -1;
    unsigned short port_ = 0;
    std::vector<int> conns_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace mmc::test

#endif
