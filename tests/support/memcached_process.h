// A memcached server started for a test on a free loopback port and stopped by PID.
#ifndef MMC_TEST_MEMCACHED_PROCESS_H
#define MMC_TEST_MEMCACHED_PROCESS_H

#include <sys/types.h>

#include <string>
#include <vector>

namespace mmc::test {

// A port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
unsigned short free_loopback_port();

class MemcachedProcess {
public:
    // extra_args are passed to memcached as they are (e.g. {"-I", "2m"}).
    explicit MemcachedProcess(std::vector<std::string> extra_args = {});
    ~MemcachedProcess();
    MemcachedProcess(const MemcachedProcess&) = delete;
    MemcachedProcess& operator=(const MemcachedProcess&) = delete;

    // Starts memcached and waits until it accepts connections. Returns false with
    // error() set when it cannot (binary missing, did not come up in time).
    bool start();
    // Starts memcached listening on a unix socket at `path` only (no TCP).
    bool start_unix(const std::string& path);
    // Starts again on the same port or socket (after stop()).
    bool restart();
    // Kills the server (SIGKILL) and waits for its PID.
    void stop();
    // SIGSTOP / SIGCONT: the server keeps its socket but stops answering.
    void pause();
    void resume();

    bool running() const { return pid_ > 0; }
    unsigned short port() const { return port_; }
    pid_t pid() const { return pid_; }
    const std::string& error() const { return error_; }
    // "127.0.0.1:<port>"
    std::string address() const;
    const std::string& socket_path() const { return socket_path_; }

private:
    bool launch();
    bool watch(pid_t server);
    std::vector<std::string> extra_args_;
    unsigned short port_ = 0;
    std::string socket_path_;
    pid_t pid_ = -1;
    pid_t watchdog_pid_ = -1;  // kills the server when the test process ends (watch())
    int watch_fd_ = -1;        // the write end of the watchdog's pipe
    bool paused_ = false;
    std::string error_;
};

// The memcached binary the tests use (configured at build time).
const char* memcached_binary();

}  // namespace mmc::test

#endif
