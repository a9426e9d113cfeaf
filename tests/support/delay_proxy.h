// A loopback TCP proxy in front of a memcached that holds every reply back for a fixed
// delay: a server that is slow by a known amount, for latency measurements.
#ifndef MMC_TEST_DELAY_PROXY_H
#define MMC_TEST_DELAY_PROXY_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "loopback_listener.h"

namespace mmc::test {

// A loopback proxy to a memcached that holds every reply back for `delay`.
class DelayProxy {
public:
    DelayProxy(unsigned short upstream, std::chrono::milliseconds delay) : upstream_(upstream), delay_(delay) {
        fd_ = listen_on_loopback(port_);
        accept_thread_ = std::thread([this] { serve(); });
    }
    ~DelayProxy() {
        stop_ = true;
        accept_thread_.join();
        std::lock_guard<std::mutex> lock(mu_);
        for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
        for (auto& t : pipes_) t.join();
        for (int fd : fds_) ::close(fd);
        ::close(fd_);
    }
    unsigned short port() const { return port_; }

private:
    void serve() {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 20) != 1) continue;
            const int client = ::accept(fd_, nullptr, nullptr);
            if (client < 0) continue;
            const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_port = htons(upstream_);
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
                ::close(client);
                ::close(server);
                continue;
            }
            std::lock_guard<std::mutex> lock(mu_);
            fds_.push_back(client);
            fds_.push_back(server);
            pipes_.emplace_back([=] { pump(client, server, std::chrono::milliseconds(0)); });
            pipes_.emplace_back([=] { pump(server, client, delay_); });
        }
    }
    void pump(int from, int to, std::chrono::milliseconds delay) {
        char buf[16384];
        for (;;) {
            const ssize_t n = ::recv(from, buf, sizeof buf, 0);
            if (n <= 0) break;
            if (delay.count()) std::this_thread::sleep_for(delay);
            if (::send(to, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
        }
        ::shutdown(to, SHUT_WR);
    }

    unsigned short upstream_;
    std::chrono::milliseconds delay_;
    unsigned short port_ = 0;
    int fd_ = -1;
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    std::vector<int> fds_;
    std::vector<std::thread> pipes_;
    std::thread accept_thread_;
};

}  // namespace mmc::test

#endif
