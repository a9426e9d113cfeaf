// A real apache2 started for a test: generated configuration in a temporary directory,
// loopback ports that were free a moment ago, our own child process stopped by PID.
#ifndef MMC_TEST_HTTPD_PROCESS_H
#define MMC_TEST_HTTPD_PROCESS_H

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace mmc::test {

struct HttpdOptions {
    std::string httpd_bin = "/usr/sbin/apache2";
    std::string modules_dir = "/usr/lib/apache2/modules";
    // "prefork", "worker" or "event".
    std::string mpm = "event";
    std::string log_level = "warn memcache:debug";
    // Modules of modules_dir by short name: "socache_memcache" loads
    // socache_memcache_module from mod_socache_memcache.so. Loaded before ours.
    std::vector<std::string> system_modules;
    // Modules built by this project (empty: not loaded); mod_memcache comes first,
    // as the example resolves its symbols in it.
    std::string mod_memcache;
    std::string mod_memcache_example;
    // Runs httpd under this command (e.g. valgrind with its options) when not empty.
    std::vector<std::string> launcher;
    // httpd -X: one process, no children (what a profiler under launcher can follow
    // whole). It is stopped with SIGTERM, as -X ignores graceful-stop.
    bool one_process = false;
    // How long start() waits for the port to accept connections.
    int start_timeout_s = 10;
};

struct HttpResponse {
    int status = 0;  // 0: no HTTP response (see error)
    std::string headers;
    std::string body;
    std::string error;
};

struct CommandResult {
    int exit_code = -1;     // -1: did not run, was killed or timed out
    bool timed_out = false;
    std::string output;     // stdout and stderr together
};

// GET target from 127.0.0.1:port over HTTP/1.0 (so the body is never chunked), with
// the given Host header (virtual host selection) and any further header lines.
HttpResponse http_get(unsigned short port, const std::string& target,
                      const std::string& host = "localhost",
                      const std::vector<std::string>& extra_headers = {});

// The same with any method (HEAD, POST with an empty body, ...).
HttpResponse http_request(unsigned short port, const std::string& method, const std::string& target,
                          const std::string& host = "localhost",
                          const std::vector<std::string>& extra_headers = {});

class HttpdProcess {
public:
    // Returns the directives that follow the generated base configuration. Called again
    // with new ports when httpd could not bind the previous ones.
    using ConfigBody = std::function<std::string(const HttpdProcess&)>;

    explicit HttpdProcess(HttpdOptions options);
    // Stops httpd and removes the directory (kept when MMC_KEEP_TEST_DIRS is set).
    ~HttpdProcess();
    HttpdProcess(const HttpdProcess&) = delete;
    HttpdProcess& operator=(const HttpdProcess&) = delete;

    // Starts httpd in the foreground as our child, listening on port(0) .. port(n):
    // port(0) is in the base configuration; port(1..extra_ports) are for the body to
    // Listen on (virtual hosts). Waits until port(0) accepts connections. Returns false
    // with error() set (including httpd's output and log) when it does not come up.
    bool start(const ConfigBody& body, int extra_ports = 0);
    // SIGTERM, then SIGKILL of its process group after a grace period; waits for it.
    void stop();
    // Runs `httpd -t` on the base configuration followed by body.
    CommandResult config_test(const std::string& body) const;

    bool running() const { return pid_ > 0; }
    pid_t pid() const { return pid_; }
    unsigned short port(std::size_t i = 0) const { return i < ports_.size() ? ports_[i] : 0; }
    const std::string& dir() const { return dir_; }
    const std::string& error() const { return error_; }
    const std::string& config_path() const { return config_path_; }

    std::string error_log() const;
    // Lines of the error log (and of httpd's stderr) at level error, crit, alert or
    // emerg, or reporting a child killed by a signal, that contain none of the
    // `allowed` substrings.
    std::vector<std::string> unexpected_log_lines(
        const std::vector<std::string>& allowed = {}) const;
    // Writes content to dir()/name (readable by httpd's user) and returns the path.
    std::string write_file(const std::string& name, const std::string& content) const;

private:
    std::string base_config(unsigned short listen_port) const;
    bool launch(const std::string& config);
    bool wait_until_up();

    HttpdOptions options_;
    std::string dir_;
    std::string config_path_;
    std::vector<unsigned short> ports_;
    pid_t pid_ = -1;
    std::string error_;
};

// Runs argv (argv[0] a path) with stdout and stderr captured, in its own process group;
// kills the group when it is still running after timeout_s seconds, or when the test
// dies (parent-death signal).
CommandResult run_command(const std::vector<std::string>& argv, int timeout_s = 30);

// Starts a server (argv[0] is its path) in a process group of its own, so that it can be
// stopped with its children, that gets SIGTERM when the test program dies, with its
// standard output and error in `output_path`. The pid, or -1 with errno set.
pid_t spawn_server(std::vector<std::string> argv, const std::string& output_path);

}  // namespace mmc::test

#endif
