#include "fake_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "engine_input.h"
#include "fuzz_support.h"

namespace mmc_fuzz {

namespace {

// The socket path lives in a fresh directory so that parallel fuzzers (libFuzzer
// -jobs) and a replay test running at the same time never share a socket.
std::string make_temp_dir() {
    const char* tmp = std::getenv("TMPDIR");
    // sun_path holds 108 bytes: a long TMPDIR would not fit, /tmp always does.
    std::string base = (tmp && *tmp && std::strlen(tmp) < 60) ? tmp : "/tmp";
    std::string templ = base + "/mmc-fuzz-XXXXXX";
    FUZZ_CHECK(::mkdtemp(templ.data()) != nullptr, "mkdtemp failed");
    return templ;
}

FakeServer* g_server = nullptr;

void remove_socket() {
    if (!g_server) return;
    ::unlink(g_server->path().c_str());
    std::string dir = g_server->path().substr(0, g_server->path().rfind('/'));
    ::rmdir(dir.c_str());
}

std::uint32_t get_be32(const char* p) {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    return static_cast<std::uint32_t>(u[0]) << 24 | static_cast<std::uint32_t>(u[1]) << 16 |
           static_cast<std::uint32_t>(u[2]) << 8 | u[3];
}

void put_be32(char* p, std::uint32_t v) {
    p[0] = static_cast<char>(v >> 24);
    p[1] = static_cast<char>(v >> 16);
    p[2] = static_cast<char>(v >> 8);
    p[3] = static_cast<char>(v);
}

std::uint16_t get_be16(const char* p) {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    return static_cast<std::uint16_t>(u[0] << 8 | u[1]);
}

// See engine_input.h: response opaques are relative to the first request's.
void patch_opaques(std::string& reply, std::string_view request) {
    if (request.size() < 24 || static_cast<unsigned char>(request[0]) != 0x80) return;
    const std::uint32_t base = get_be32(request.data() + 12);
    std::size_t p = 0;
    while (reply.size() - p >= 24 && static_cast<unsigned char>(reply[p]) == 0x81) {
        put_be32(&reply[p + 12], get_be32(&reply[p + 12]) + base);
        const std::size_t body = get_be32(&reply[p + 8]);
        if (body > reply.size() - p - 24) break;
        p += 24 + body;
    }
}

// Parses a decimal number as memcached's client would (digits only).
bool decimal(std::string_view s, std::size_t& out) {
    if (s.empty() || s.size() > 18) return false;
    out = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        out = out * 10 + static_cast<std::size_t>(c - '0');
    }
    return true;
}

// The data block length of a "VA <len>..." line, if `line` is one.
bool va_length(std::string_view line, std::size_t& len) {
    if (line.substr(0, 3) != "VA ") return false;
    line.remove_prefix(3);
    return decimal(line.substr(0, line.find_first_of(" \r")), len);
}

}  // namespace

FakeServer& FakeServer::instance() {
    // Leaked on purpose (see the header); reachable through g_server, so LeakSanitizer
    // does not count it.
    static FakeServer* server = [] {
        g_server = new FakeServer();
        std::atexit(remove_socket);
        return g_server;
    }();
    return *server;
}

FakeServer::FakeServer() {
    dir_ = make_temp_dir();
    path_ = dir_ + "/memcached.sock";
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    FUZZ_CHECK(listen_fd_ >= 0, "socket(AF_UNIX) failed");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    FUZZ_CHECK(path_.size() < sizeof addr.sun_path, "socket path too long");
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    FUZZ_CHECK(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "bind failed");
    FUZZ_CHECK(::listen(listen_fd_, 64) == 0, "listen failed");
    FUZZ_CHECK(::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) == 0, "pipe2 failed");
    std::thread([this] { run(); }).detach();
}

void FakeServer::arm(Reply reply) {
    std::lock_guard<std::mutex> lock(mu_);
    reply_ = std::move(reply);
    armed_ = true;
    taken_ = false;
    written_ = false;
}

bool FakeServer::disarm() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return !taken_ || written_; });
    const bool requested = taken_;
    armed_ = false;
    taken_ = false;
    written_ = false;
    return requested;
}

void FakeServer::reset() {
    std::unique_lock<std::mutex> lock(mu_);
    reset_requested_ = true;
    const char b = 1;
    // A full pipe already holds a wake-up: nothing is lost when this write fails.
    [[maybe_unused]] ssize_t n = ::write(wake_[1], &b, 1);
    cv_.wait(lock, [this] { return !reset_requested_; });
}

void FakeServer::run() {
    std::vector<pollfd> fds;
    for (;;) {
        fds.clear();
        fds.push_back(pollfd{wake_[0], POLLIN, 0});
        fds.push_back(pollfd{listen_fd_, POLLIN, 0});
        for (const Conn& c : conns_) fds.push_back(pollfd{c.fd, POLLIN, 0});
        const int n = ::poll(fds.data(), fds.size(), -1);
        if (n < 0) {
            FUZZ_CHECK(errno == EINTR, "poll failed in the fake server");
            continue;
        }
        if (fds[0].revents) {
            char buf[64];
            while (::read(wake_[0], buf, sizeof buf) > 0) {
            }
            std::unique_lock<std::mutex> lock(mu_);
            if (reset_requested_) {
                lock.unlock();
                accept_all();  // connections still in the backlog belong to the past too
                close_all();
                lock.lock();
                streams_.clear();
                reset_requested_ = false;
                cv_.notify_all();
            }
            continue;  // conns_ changed: rebuild the poll set
        }
        if (fds[1].revents) accept_all();
        // conns_ may shrink while serving; walk the polled ones from the back so that
        // removing one does not shift those still to be looked at.
        for (std::size_t i = fds.size(); i-- > 2;) {
            if (fds[i].revents) serve(i - 2);
        }
    }
}

void FakeServer::accept_all() {
    for (;;) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        conns_.push_back(Conn{fd, next_id_++});
    }
}

void FakeServer::close_all() {
    for (const Conn& c : conns_) ::close(c.fd);
    conns_.clear();
}

void FakeServer::serve(std::size_t index) {
    Conn& c = conns_[index];
    std::string request;
    bool eof = false;
    char buf[16384];
    for (;;) {
        const ssize_t n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            // Only the first request header (binary) or the first lines (meta: a
            // multi-get's mg lines) matter, for their opaques; the rest of a long store
            // is read and dropped.
            if (request.size() < 1024) request.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        eof = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
        break;
    }
    // A client that sent and then hung up has given up on the answer: writing it would
    // only hand this operation's reply to a dead socket.
    if (!request.empty() && !eof) deliver(index, request);
    if (eof || conns_[index].fd < 0) {
        if (conns_[index].fd >= 0) ::close(conns_[index].fd);
        conns_.erase(conns_.begin() + static_cast<std::ptrdiff_t>(index));
    }
}

void FakeServer::deliver(std::size_t index, std::string_view request) {
    Reply reply;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (!armed_ || taken_) return;  // a request no reply is armed for: say nothing
        taken_ = true;
        reply = reply_;
    }
    if (reply.patch_opaque && static_cast<unsigned char>(request[0]) == 0x80) patch_opaques(reply.bytes, request);

    Conn& c = conns_[index];
    std::size_t from = 0;
    std::vector<std::size_t> ends = reply.cuts;
    ends.push_back(reply.bytes.size());
    for (std::size_t i = 0; i < ends.size(); ++i) {
        const std::string_view segment(reply.bytes.data() + from, ends[i] - from);
        if (!segment.empty()) {
            if (i > 0) {
                // Long enough that the client usually reads the segments apart, which
                // is what puts a reply through the engine's partial-read paths.
                std::this_thread::sleep_for(std::chrono::microseconds(500));
            }
            const bool ok = write_all(c.fd, segment);
            {
                std::lock_guard<std::mutex> lock(mu_);
                streams_[c.id].append(segment);
            }
            if (!ok) break;
        }
        from = ends[i];
    }
    if (reply.close_after) {
        ::close(c.fd);
        c.fd = -1;  // serve() removes it
    }
    std::lock_guard<std::mutex> lock(mu_);
    written_ = true;
    cv_.notify_all();
}

bool FakeServer::write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            // The client is not reading (it gave up on this reply): stop rather than
            // hold up the next operation.
            pollfd p{fd, POLLOUT, 0};
            if (::poll(&p, 1, 200) > 0) continue;
        }
        return false;
    }
    return true;
}

bool FakeServer::sent_text_value(std::string_view key, std::string_view data) const {
    const std::string needle = "VALUE " + std::string(key) + " ";
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& entry : streams_) {
        const std::string& s = entry.second;
        for (std::size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) {
            const std::size_t words = at + needle.size();
            const std::size_t eol = s.find("\r\n", words);
            if (eol == std::string::npos) continue;
            const std::string_view line(s.data() + words, eol - words);  // "<flags> <bytes>[ <cas>]"
            const std::size_t sp1 = line.find(' ');
            if (sp1 == std::string_view::npos) continue;
            std::string_view rest = line.substr(sp1 + 1);
            std::size_t declared = 0;
            if (!decimal(rest.substr(0, rest.find(' ')), declared) || declared != data.size()) continue;
            if (s.size() - (eol + 2) < data.size()) continue;
            if (std::string_view(s).substr(eol + 2, data.size()) == data) return true;
        }
    }
    return false;
}

bool FakeServer::sent_binary_value(int opcode, bool any_key, std::string_view key,
                                   std::string_view data, bool prefix_to_nul) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& entry : streams_) {
        const std::string_view s(entry.second);
        for (std::size_t p = 0; s.size() - p >= 24 && p < s.size(); ++p) {
            if (static_cast<unsigned char>(s[p]) != 0x81) continue;
            if (opcode >= 0 && static_cast<unsigned char>(s[p + 1]) != opcode) continue;
            if (get_be16(s.data() + p + 6) != 0) continue;  // status
            const std::size_t key_len = get_be16(s.data() + p + 2);
            const std::size_t extras = static_cast<unsigned char>(s[p + 4]);
            const std::size_t body = get_be32(s.data() + p + 8);
            if (body > s.size() - p - 24 || extras + key_len > body) continue;
            const std::string_view k = s.substr(p + 24 + extras, key_len);
            std::string_view v = s.substr(p + 24 + extras + key_len, body - extras - key_len);
            if (prefix_to_nul) v = v.substr(0, v.find('\0'));
            if ((any_key || k == key) && v == data) return true;
        }
    }
    return false;
}

bool FakeServer::sent_meta_value(std::string_view data) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& entry : streams_) {
        const std::string_view s(entry.second);
        for (std::size_t at = s.find("VA "); at != std::string_view::npos; at = s.find("VA ", at + 1)) {
            if (at > 0 && s[at - 1] != '\n') continue;
            const std::size_t eol = s.find("\r\n", at);
            if (eol == std::string_view::npos) continue;
            std::size_t declared = 0;
            if (!va_length(s.substr(at, eol - at), declared) || declared != data.size()) continue;
            if (s.size() - (eol + 2) < data.size()) continue;
            if (s.substr(eol + 2, data.size()) == data) return true;
        }
    }
    return false;
}

bool FakeServer::sent_meta_flag(char flag) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& entry : streams_) {
        const std::string_view s(entry.second);
        for (std::size_t at = 0; at + 1 < s.size(); ++at) {
            // A token that is the flag alone, after a space, before a space or CR.
            if (s[at] != ' ' || s[at + 1] != flag) continue;
            if (at + 2 == s.size() || s[at + 2] == ' ' || s[at + 2] == '\r') return true;
        }
    }
    return false;
}

bool FakeServer::sent_text_version(std::string_view v) const {
    const std::string needle = "VERSION " + std::string(v);
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& entry : streams_) {
        const std::string& s = entry.second;
        for (std::size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) {
            const std::size_t after = at + needle.size();
            if (after < s.size() && (s[after] == '\r' || s[after] == '\0')) return true;
        }
    }
    return false;
}

}  // namespace mmc_fuzz
