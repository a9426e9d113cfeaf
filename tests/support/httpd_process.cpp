#include "httpd_process.h"

#include "memcached_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace mmc::test {

namespace {

using Clock = std::chrono::steady_clock;

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

int connect_loopback(unsigned short port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

bool send_all(int fd, const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        off += static_cast<std::size_t>(n);
    }
    return true;
}

// Reads until EOF or until the deadline; false on timeout or error.
bool read_to_eof(int fd, std::string& out, Clock::time_point deadline) {
    char buf[4096];
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return false;
        pollfd pfd{fd, POLLIN, 0};
        int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return false;
        if (n == 0) return true;
        out.append(buf, static_cast<std::size_t>(n));
    }
}

// The group httpd's children run as when we are root: Debian calls it nogroup.
std::string unprivileged_group() {
    return ::getgrnam("nogroup") ? "nogroup" : "nobody";
}

bool is_bind_failure(const std::string& text) {
    return text.find("could not bind") != std::string::npos ||
           text.find("Address already in use") != std::string::npos;
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, int timeout_s) {
    CommandResult result;
    int fds[2];
    if (argv.empty() || ::pipe2(fds, O_CLOEXEC) != 0) return result;
    pid_t pid = ::fork();
    if (pid < 0) {
        ::close(fds[0]);
        ::close(fds[1]);
        return result;
    }
    if (pid == 0) {
        ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        ::dup2(fds[1], STDOUT_FILENO);
        ::dup2(fds[1], STDERR_FILENO);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
        ::_exit(127);
    }
    ::setpgid(pid, pid);
    ::close(fds[1]);
    bool complete = read_to_eof(fds[0], result.output, Clock::now() + std::chrono::seconds(timeout_s));
    ::close(fds[0]);
    result.timed_out = !complete;
    if (!complete) ::kill(-pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (complete && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    return result;
}


HttpResponse http_get(unsigned short port, const std::string& target, const std::string& host,
                      const std::vector<std::string>& extra_headers) {
    return http_request(port, "GET", target, host, extra_headers);
}

HttpResponse http_request(unsigned short port, const std::string& method, const std::string& target,
                          const std::string& host, const std::vector<std::string>& extra_headers) {
    HttpResponse response;
    int fd = connect_loopback(port);
    if (fd < 0) {
        response.error = "connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno);
        return response;
    }
    std::string request = method + " " + target + " HTTP/1.0\r\nHost: " + host + "\r\n";
    for (const auto& h : extra_headers) request += h + "\r\n";
    request += "\r\n";
    std::string raw;
    bool ok = send_all(fd, request) && read_to_eof(fd, raw, Clock::now() + std::chrono::seconds(10));
    ::close(fd);
    if (!ok) {
        response.error = "no complete response within 10 s: '" + raw + "'";
        return response;
    }
    auto end_of_headers = raw.find("\r\n\r\n");
    int status = 0;
    if (end_of_headers == std::string::npos ||
        std::sscanf(raw.c_str(), "HTTP/%*d.%*d %d", &status) != 1) {
        response.error = "not an HTTP response: '" + raw + "'";
        return response;
    }
    response.status = status;
    response.headers = raw.substr(0, end_of_headers);
    response.body = raw.substr(end_of_headers + 4);
    return response;
}

HttpdProcess::HttpdProcess(HttpdOptions options) : options_(std::move(options)) {
    char tmpl[] = "/tmp/mmc-httpd-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
        error_ = std::string("mkdtemp: ") + std::strerror(errno);
        return;
    }
    dir_ = tmpl;
    // httpd's children run as nobody and read files from here (AuthUserFile, ...).
    ::chmod(dir_.c_str(), 0755);
    for (const char* sub : {"/run", "/htdocs"}) ::mkdir((dir_ + sub).c_str(), 0755);
    config_path_ = dir_ + "/httpd.conf";
}

HttpdProcess::~HttpdProcess() {
    stop();
    if (!dir_.empty() && std::getenv("MMC_KEEP_TEST_DIRS") == nullptr) {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
}

std::string HttpdProcess::base_config(unsigned short listen_port) const {
    std::ostringstream c;
    const std::string& m = options_.modules_dir;
    c << "ServerRoot \"" << dir_ << "\"\n"
      << "ServerName 127.0.0.1\n"
      << "Listen 127.0.0.1:" << listen_port << "\n"
      << "PidFile \"" << dir_ << "/run/httpd.pid\"\n"
      << "DefaultRuntimeDir \"" << dir_ << "/run\"\n"
      << "ErrorLog \"" << dir_ << "/error.log\"\n"
      << "LogLevel " << options_.log_level << "\n"
      << "GracefulShutdownTimeout 5\n"
      << "DocumentRoot \"" << dir_ << "/htdocs\"\n"
      << "KeepAlive Off\n"
      << "LoadModule mpm_" << options_.mpm << "_module " << m << "/mod_mpm_" << options_.mpm
      << ".so\n"
      << "LoadModule authz_core_module " << m << "/mod_authz_core.so\n";
    for (const auto& name : options_.system_modules) {
        if (name == "authz_core") continue;
        c << "LoadModule " << name << "_module " << m << "/mod_" << name << ".so\n";
    }
    if (!options_.mod_memcache.empty())
        c << "LoadModule memcache_module \"" << options_.mod_memcache << "\"\n";
    if (!options_.mod_memcache_example.empty())
        c << "LoadModule memcache_example_module \"" << options_.mod_memcache_example << "\"\n";
    if (::geteuid() == 0) c << "User nobody\nGroup " << unprivileged_group() << "\n";
    // Few processes and threads: start-up and shutdown stay fast, and the thread count
    // is known (the module's default pool size). Prefork starts all four children at
    // once, so a request stuck on a slow server never queues the others behind a child
    // that httpd has not spawned yet.
    c << "<IfModule mpm_prefork_module>\n"
         "  StartServers 4\n  MinSpareServers 4\n  MaxSpareServers 8\n  ServerLimit 8\n"
         "  MaxRequestWorkers 8\n"
         "</IfModule>\n"
         "<IfModule !mpm_prefork_module>\n"
         "  StartServers 1\n  ServerLimit 2\n  ThreadLimit 4\n  ThreadsPerChild 4\n"
         "  MaxRequestWorkers 8\n  MinSpareThreads 1\n  MaxSpareThreads 8\n"
         "</IfModule>\n";
    return c.str();
}

std::string HttpdProcess::write_file(const std::string& name, const std::string& content) const {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    ::chmod(path.c_str(), 0644);
    return path;
}

CommandResult HttpdProcess::config_test(const std::string& body) const {
    std::string path = dir_ + "/configtest.conf";
    // Nothing is bound by -t: any valid port will do before start() picked one.
    std::ofstream(path, std::ios::trunc) << base_config(port(0) ? port(0) : 80) << body << "\n";
    return run_command({options_.httpd_bin, "-t", "-d", dir_, "-f", path});
}

bool HttpdProcess::start(const ConfigBody& body, int extra_ports) {
    if (dir_.empty()) return false;
    for (int attempt = 0; attempt < 5; ++attempt) {
        ports_.clear();
        for (int i = 0; i <= extra_ports; ++i) {
            unsigned short p = free_loopback_port();
            if (p == 0) {
                error_ = "no free loopback port";
                return false;
            }
            ports_.push_back(p);
        }
        std::string config = base_config(port(0)) + body(*this) + "\n";
        if (launch(config) && wait_until_up()) return true;
        // Another process took a port between our check and httpd's bind: try others.
        if (!is_bind_failure(error_)) return false;
    }
    return false;
}

bool HttpdProcess::launch(const std::string& config) {
    std::ofstream(config_path_, std::ios::trunc) << config;
    ::unlink((dir_ + "/error.log").c_str());
    ::unlink((dir_ + "/run/httpd.pid").c_str());
    std::string out = dir_ + "/stderr.log";
    // Built before fork: the child of a threaded program should only exec.
    std::vector<std::string> argv = options_.launcher;
    for (const std::string& a : {options_.httpd_bin, std::string("-d"), dir_, std::string("-f"),
                                 config_path_, std::string("-DFOREGROUND")}) {
        argv.push_back(a);
    }
    if (options_.one_process) argv.push_back("-X");
    pid_t pid = spawn_server(std::move(argv), out);
    if (pid < 0) {
        error_ = std::string("fork: ") + std::strerror(errno);
        return false;
    }
    pid_ = pid;
    return true;
}

pid_t spawn_server(std::vector<std::string> argv, const std::string& output_path) {
    // Built before fork: the child of a threaded program should only exec.
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        // Its own process group, so that a hung server's children can be killed with it.
        ::setpgid(0, 0);
        // A test program that dies (crash, SIGPIPE) must not leave the server running.
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        int fd = ::open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            ::dup2(fd, STDOUT_FILENO);
            ::dup2(fd, STDERR_FILENO);
        }
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::setpgid(pid, pid);  // also here: whichever runs first, the group exists before kill
    return pid;
}

bool HttpdProcess::wait_until_up() {
    auto until = Clock::now() + std::chrono::seconds(options_.start_timeout_s);
    while (Clock::now() < until) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            error_ = "httpd exited at start (status " + std::to_string(status) + ")\n" +
                     read_file(dir_ + "/stderr.log") + error_log();
            return false;
        }
        int fd = connect_loopback(port(0));
        if (fd >= 0) {
            ::close(fd);
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    error_ = "httpd did not accept connections within " + std::to_string(options_.start_timeout_s) +
             " s\n" + read_file(dir_ + "/stderr.log") + error_log();
    stop();
    return false;
}

namespace {

// Whether pid has a handler installed for sig (SigCgt in /proc/<pid>/status).
bool catches(pid_t pid, int sig) {
    std::istringstream lines(read_file("/proc/" + std::to_string(pid) + "/status"));
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind("SigCgt:", 0) != 0) continue;
        unsigned long long mask = std::strtoull(line.c_str() + 7, nullptr, 16);
        return (mask >> (sig - 1)) & 1ULL;
    }
    return false;
}

}  // namespace

void HttpdProcess::stop() {
    if (pid_ <= 0) return;
    // httpd listens before its MPM installs its signal handlers, and SIGWINCH's default
    // is to be ignored: a stop right after start would be lost and cost the 10 s below.
    if (!options_.one_process) {
        const auto until = Clock::now() + std::chrono::seconds(5);
        while (!catches(pid_, SIGWINCH) && Clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    // graceful-stop (SIGWINCH), as operators stop httpd: children finish what they
    // serve, bounded by GracefulShutdownTimeout. The ungraceful path (SIGTERM) races in
    // httpd's event MPM itself: its main thread closes sockets that worker threads are
    // still releasing, and a child now and then dies of SIGSEGV in apr_os_sock_get,
    // with no module code on any thread's stack. SIGTERM and SIGKILL stay as fallbacks.
    ::kill(pid_, options_.one_process ? SIGTERM : SIGWINCH);
    const auto start = Clock::now();
    bool termed = options_.one_process;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
        if (!termed && Clock::now() > start + std::chrono::seconds(10)) {
            ::kill(pid_, SIGTERM);
            termed = true;
        }
        if (Clock::now() > start + std::chrono::seconds(20)) {
            ::kill(-pid_, SIGKILL);
            ::waitpid(pid_, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
}

std::string HttpdProcess::error_log() const { return read_file(dir_ + "/error.log"); }

std::vector<std::string> HttpdProcess::unexpected_log_lines(
    const std::vector<std::string>& allowed) const {
    // ErrorLogFormat's default: "[time] [module:level] [pid ...] message". A child that
    // crashed is only a notice ("AH00052: child pid N exit signal ..."), but a failure.
    static const std::regex serious(
        R"(\[[A-Za-z0-9_]*:(error|crit|alert|emerg)\]|exit signal)");
    std::vector<std::string> found;
    for (const auto& text : {error_log(), read_file(dir_ + "/stderr.log")}) {
        std::istringstream lines(text);
        std::string line;
        while (std::getline(lines, line)) {
            if (!std::regex_search(line, serious)) continue;
            bool ok = false;
            for (const auto& a : allowed) ok = ok || line.find(a) != std::string::npos;
            if (!ok) found.push_back(line);
        }
    }
    return found;
}

}  // namespace mmc::test
