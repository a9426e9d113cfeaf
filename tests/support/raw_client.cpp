#include "raw_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace mmc::test {

RawClient::RawClient(unsigned short port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

RawClient::~RawClient() {
    if (fd_ >= 0) ::close(fd_);
}

namespace {

bool ends_reply(const std::string& s) {
    static const char* const terminators[] = {
        "END\r\n", "STORED\r\n", "NOT_STORED\r\n", "EXISTS\r\n", "NOT_FOUND\r\n",
        "DELETED\r\n", "TOUCHED\r\n", "OK\r\n", "ERROR\r\n"};
    for (const char* t : terminators) {
        std::string_view tv(t);
        if (s.size() >= tv.size() && s.compare(s.size() - tv.size(), tv.size(), tv) == 0) {
            return true;
        }
    }
    // A number (incr/decr), a VERSION line, or an error line with a message.
    auto nl = s.find("\r\n");
    if (nl != std::string::npos && nl + 2 == s.size()) {
        if (s.rfind("VERSION ", 0) == 0 || s.rfind("CLIENT_ERROR", 0) == 0 ||
            s.rfind("SERVER_ERROR", 0) == 0) {
            return true;
        }
        bool digits = nl > 0;
        for (std::size_t i = 0; i < nl; ++i) digits = digits && s[i] >= '0' && s[i] <= '9';
        if (digits) return true;
    }
    // A meta reply: a status line (HD, EN, NS, EX, NF, MN with its flags), or VA <size>
    // and its flags, then that many bytes of data and CR LF.
    if (nl != std::string::npos && nl >= 2 && (nl == 2 || s[2] == ' ')) {
        const std::string_view code(s.data(), 2);
        if (code == "VA" && nl > 3) {
            std::size_t size = 0, i = 3;
            for (; i < nl && s[i] >= '0' && s[i] <= '9'; ++i) size = size * 10 + static_cast<std::size_t>(s[i] - '0');
            return i > 3 && s.size() >= nl + 2 + size + 2;
        }
        for (const char* c : {"HD", "EN", "NS", "EX", "NF", "MN"}) {
            if (code == c) return nl + 2 == s.size();
        }
    }
    return false;
}

}  // namespace

std::string RawClient::command(const std::string& bytes) {
    if (fd_ < 0) return {};
    std::size_t off = 0;
    while (off < bytes.size()) {
        ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return {};
        off += static_cast<std::size_t>(n);
    }
    std::string reply;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!ends_reply(reply)) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        char buf[65536];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) break;
        reply.append(buf, static_cast<std::size_t>(n));
    }
    return reply;
}

std::optional<std::string> RawClient::get(const std::string& key) {
    std::string r = command("get " + key + "\r\n");
    if (r.rfind("VALUE ", 0) != 0) return std::nullopt;
    auto nl = r.find("\r\n");
    auto sp = r.rfind(' ', nl);
    std::size_t len = std::stoul(r.substr(sp + 1, nl - sp - 1));
    return r.substr(nl + 2, len);
}

bool RawClient::set(const std::string& key, const std::string& value, unsigned flags) {
    return command("set " + key + " " + std::to_string(flags) + " 0 " +
                   std::to_string(value.size()) + "\r\n" + value + "\r\n") == "STORED\r\n";
}

std::optional<std::string> RawClient::stat(const std::string& name) {
    std::string r = command("stats\r\n");
    std::string needle = "STAT " + name + " ";
    auto pos = r.find(needle);
    if (pos == std::string::npos) return std::nullopt;
    auto end = r.find("\r\n", pos);
    return r.substr(pos + needle.size(), end - pos - needle.size());
}

}  // namespace mmc::test

namespace mmc::test {

long long RawClient::number(const std::string& name) {
    auto v = stat(name);
    return v ? std::stoll(*v) : -1;
}

long long RawClient::settled_number(const std::string& name) {
    long long last = number(name);
    for (int i = 0; i < 50; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        long long now = number(name);
        if (now == last) return now;
        last = now;
    }
    return last;
}

}  // namespace mmc::test
