// A loopback server that plays one script on every connection and keeps every byte it
// was sent: the n-th read on a connection is answered with the script's n-th reply,
// kCloseConnection closes the connection instead, and past the script's end it says
// nothing. Tests use it to play a memcached at one step of an exchange (an
// authentication that a server without -Y answers, a refusal, a silence) and to prove
// what did, or did not, reach the socket.
#ifndef MMC_TEST_SCRIPTED_SERVER_H
#define MMC_TEST_SCRIPTED_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "loopback_listener.h"

namespace mmc::test {

class ScriptedServer {
public:
    // A script step that closes the connection rather than answering.
    static const std::string& kCloseConnection() {
        static const std::string close("\0close\0", 7);
        return close;
    }

    explicit ScriptedServer(std::vector<std::string> script) : script_(std::move(script)) {
        fd_ = listen_on_loopback(port_);
        thread_ = std::thread([this] { serve(); });
    }
    ~ScriptedServer() {
        stop_ = true;
        thread_.join();
        for (const Conn& c : conns_) {
            if (c.fd >= 0) ::close(c.fd);
        }
        ::close(fd_);
    }
    ScriptedServer(const ScriptedServer&) = delete;
    ScriptedServer& operator=(const ScriptedServer&) = delete;

    unsigned short port() const { return port_; }
    // Every byte received so far, all connections together, in arrival order.
    std::string received() {
        std::lock_guard<std::mutex> lock(mu_);
        return received_;
    }
    std::size_t connections() {
        std::lock_guard<std::mutex> lock(mu_);
        return accepted_;
    }

private:
    struct Conn {
        int fd;
        std::size_t step;
    };

    void serve() {
        while (!stop_) {
            std::vector<pollfd> fds{{fd_, POLLIN, 0}};
            for (const Conn& c : conns_) fds.push_back({c.fd, c.fd >= 0 ? short(POLLIN) : short(0), 0});
            if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
            if (fds[0].revents) {
                conns_.push_back({::accept(fd_, nullptr, nullptr), 0});
                std::lock_guard<std::mutex> lock(mu_);
                ++accepted_;
            }
            for (std::size_t i = 1; i < fds.size(); ++i) {
                Conn& c = conns_[i - 1];
                if (!fds[i].revents || c.fd < 0) continue;
                char buf[4096];
                const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
                if (n <= 0) {
                    ::close(c.fd);
                    c.fd = -1;
                    continue;
                }
                {
                    std::lock_guard<std::mutex> lock(mu_);
                    received_.append(buf, static_cast<std::size_t>(n));
                }
                if (c.step >= script_.size()) continue;
                const std::string& reply = script_[c.step++];
                if (reply == kCloseConnection()) {
                    ::close(c.fd);
                    c.fd = -1;
                    continue;
                }
                ::send(c.fd, reply.data(), reply.size(), MSG_NOSIGNAL);
            }
        }
    }

    std::vector<std::string> script_;
    int fd_ = -1;
    unsigned short port_ = 0;
    std::vector<Conn> conns_;
    std::mutex mu_;
    std::string received_;
    std::size_t accepted_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace mmc::test

#endif
