#include "memcached_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#ifndef MMC_MEMCACHED_BIN
#define MMC_MEMCACHED_BIN "memcached"
#endif

namespace mmc::test {

const char* memcached_binary() { return MMC_MEMCACHED_BIN; }

unsigned short free_loopback_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    unsigned short port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
        socklen_t len = sizeof sa;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0) port = ntohs(sa.sin_port);
    }
    ::close(fd);
    return port;
}

namespace {

// The kernel completes a connect before memcached has taken the connection, and
// memcached counts a connection (total_connections, curr_connections) only once a
// worker thread has taken it up: a probe that closed at once could be counted after
// start() returned, in the middle of a test that compares those counts. So the probe
// asks something and waits (at most a second) for any answer: a reply, a refusal
// (-Y), or the close of a TLS server that cannot read it.
void wait_until_served(int fd) {
    static const char kProbe[] = "version\r\n";
    if (::send(fd, kProbe, sizeof kProbe - 1, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof kProbe - 1)) return;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1000) > 0) {
        char buf[256];
        (void)::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    }
}

bool accepts_unix(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    if (ok) wait_until_served(fd);
    ::close(fd);
    return ok;
}

bool accepts(unsigned short port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    if (ok) wait_until_served(fd);
    ::close(fd);
    return ok;
}

}  // namespace

MemcachedProcess::MemcachedProcess(std::vector<std::string> extra_args)
    : extra_args_(std::move(extra_args)) {}

MemcachedProcess::~MemcachedProcess() {
    stop();
    // memcached leaves its socket file behind; the path belongs to the test.
    if (!socket_path_.empty()) ::unlink(socket_path_.c_str());
}

std::string MemcachedProcess::address() const { return "127.0.0.1:" + std::to_string(port_); }

bool MemcachedProcess::start_unix(const std::string& path) {
    socket_path_ = path;
    ::unlink(path.c_str());
    return start();
}

bool MemcachedProcess::start() {
    struct stat st{};
    if (::stat(memcached_binary(), &st) != 0) {
        error_ = std::string("memcached binary not found at '") + memcached_binary() +
                 "': install the Debian package memcached (the test scripts do this)";
        return false;
    }
    if (!socket_path_.empty()) return launch();
    for (int attempt = 0; attempt < 5; ++attempt) {
        port_ = free_loopback_port();
        if (port_ != 0 && launch()) return true;
    }
    return false;
}

bool MemcachedProcess::restart() {
    stop();
    return launch();
}

bool MemcachedProcess::launch() {
    std::vector<std::string> args = {memcached_binary(), "-U", "0", "-t", "2", "-m", "64"};
    if (socket_path_.empty()) {
        args.insert(args.end(), {"-l", "127.0.0.1", "-p", std::to_string(port_)});
    } else {
        // -a: the server runs as nobody, the test as root or the invoking user.
        args.insert(args.end(), {"-s", socket_path_, "-a", "0777"});
    }
    if (::geteuid() == 0) {
        args.push_back("-u");
        args.push_back("nobody");
    }
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    pid_t pid = ::fork();
    if (pid < 0) {
        error_ = std::string("fork: ") + std::strerror(errno);
        return false;
    }
    if (pid == 0) {
        // Dies with the test, even one killed before its destructors run.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    pid_ = pid;
    if (!watch(pid)) {
        stop();
        return false;
    }
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < until) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            error_ = "memcached exited at start (port " + std::to_string(port_) + " taken?)";
            return false;
        }
        if (socket_path_.empty() ? accepts(port_) : accepts_unix(socket_path_)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    error_ = "memcached did not accept connections within 5 s";
    stop();
    return false;
}

// As root, memcached runs as nobody (-u), and that change of user clears the parent-death
// signal its child process asked for; a test killed before its destructors ran would
// leave the server running. So each server has a watchdog: a forked process, still
// root, that blocks reading a pipe whose only writer is the test process. However the
// test ends, the read returns 0 and the watchdog kills the server. Between fork and
// _exit it makes only system calls, as a child of a threaded process must.
bool MemcachedProcess::watch(pid_t server) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        error_ = std::string("pipe2: ") + std::strerror(errno);
        return false;
    }
    pid_t w = ::fork();
    if (w < 0) {
        error_ = std::string("fork: ") + std::strerror(errno);
        ::close(fds[0]);
        ::close(fds[1]);
        return false;
    }
    if (w == 0) {
        // Keep only the read end (as stdin) and stderr: a copy of another server's
        // write end held here would keep that server's watchdog from ever seeing EOF.
        ::dup2(fds[0], 0);
        if (::close_range(3, ~0U, 0) != 0)
            for (int fd = 3; fd < 4096; ++fd) ::close(fd);
        struct sigaction ignore {};
        ignore.sa_handler = SIG_IGN;
        for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) ::sigaction(sig, &ignore, nullptr);
        char c;
        while (::read(0, &c, 1) < 0 && errno == EINTR) {
        }
        ::kill(server, SIGKILL);
        ::_exit(0);
    }
    ::close(fds[0]);
    watchdog_pid_ = w;
    watch_fd_ = fds[1];
    return true;
}

void MemcachedProcess::stop() {
    // The watchdog goes first: once the server is reaped its PID may be reused, and a
    // watchdog left behind must not kill whatever gets it.
    if (watchdog_pid_ > 0) {
        ::kill(watchdog_pid_, SIGKILL);
        int status = 0;
        ::waitpid(watchdog_pid_, &status, 0);
        watchdog_pid_ = -1;
    }
    if (watch_fd_ >= 0) {
        ::close(watch_fd_);
        watch_fd_ = -1;
    }
    if (pid_ <= 0) return;
    // A test server holds nothing worth a graceful shutdown, which takes memcached
    // about a second; SIGKILL also works on a stopped (paused) process.
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    paused_ = false;
    pid_ = -1;
}

namespace {

// kill() returns before the target has stopped; a test that pauses a server must not
// race its last replies. Waits until /proc shows the process stopped ('T').
void wait_until_stopped(pid_t pid) {
    std::string path = "/proc/" + std::to_string(pid) + "/stat";
    for (int i = 0; i < 1000; ++i) {
        if (FILE* f = std::fopen(path.c_str(), "r")) {
            char buf[512] = {};
            std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
            std::fclose(f);
            const char* close = std::strrchr(buf, ')');
            if (n > 0 && close && close[1] == ' ' && close[2] == 'T') return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

}  // namespace

void MemcachedProcess::pause() {
    if (pid_ > 0 && !paused_) {
        ::kill(pid_, SIGSTOP);
        wait_until_stopped(pid_);
        paused_ = true;
    }
}

void MemcachedProcess::resume() {
    if (pid_ > 0 && paused_) {
        ::kill(pid_, SIGCONT);
        paused_ = false;
    }
}

}  // namespace mmc::test
