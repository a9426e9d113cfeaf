#include "e2e.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "httpd_process.h"
#include "proc_memory.h"
#include "tools.h"

namespace mmc::bench {

namespace {

const char* const kKey = "mmcbench:e2e";

// User and system CPU seconds of every process in process group pgrp (httpd and its
// children: HttpdProcess starts httpd as a group leader).
struct CpuSeconds {
    double user = 0;
    double sys = 0;
};

CpuSeconds group_cpu_seconds(pid_t pgrp) {
    CpuSeconds total;
    long hz = ::sysconf(_SC_CLK_TCK);
    DIR* d = ::opendir("/proc");
    if (!d) return total;
    while (dirent* e = ::readdir(d)) {
        char* end = nullptr;
        long pid = std::strtol(e->d_name, &end, 10);
        if (pid <= 0 || *end != '\0') continue;
        std::ifstream in("/proc/" + std::string(e->d_name) + "/stat");
        std::string stat;
        if (!std::getline(in, stat)) continue;
        auto close = stat.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream fields(stat.substr(close + 2));
        // state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
        std::string f[13];
        for (auto& x : f) fields >> x;
        if (std::atol(f[2].c_str()) != pgrp) continue;
        total.user += static_cast<double>(std::atoll(f[11].c_str())) / hz;
        total.sys += static_cast<double>(std::atoll(f[12].c_str())) / hz;
    }
    ::closedir(d);
    return total;
}

double to_us(const std::string& v) {
    double x = std::atof(v.c_str());
    if (v.find("us") != std::string::npos) return x;
    if (v.find("ms") != std::string::npos) return x * 1e3;
    if (v.find('m') != std::string::npos) return x * 60e6;
    if (v.find('s') != std::string::npos) return x * 1e6;
    return x;
}

void parse_wrk(const std::string& out, WrkRun& run) {
    std::istringstream in(out);
    std::string line;
    bool rps = false;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string a, b;
        ls >> a >> b;
        if (a == "50%") run.latency_us[0] = to_us(b);
        if (a == "75%") run.latency_us[1] = to_us(b);
        if (a == "90%") run.latency_us[2] = to_us(b);
        if (a == "99%") run.latency_us[3] = to_us(b);
        if (a == "Requests/sec:") {
            run.requests_per_second = std::atof(b.c_str());
            rps = true;
        }
        if (b == "requests") run.requests = std::atol(a.c_str());
        if (line.find("Non-2xx or 3xx responses:") != std::string::npos)
            run.non_2xx = std::atol(line.substr(line.find(':') + 1).c_str());
        if (line.find("Socket errors:") != std::string::npos) {
            // "Socket errors: connect 0, read 0, write 0, timeout 0"
            std::istringstream es(line.substr(line.find(':') + 1));
            std::string word;
            while (es >> word) {
                long n = std::atol(word.c_str());
                if (n > 0) run.socket_errors += n;
            }
        }
    }
    run.ok = rps && run.requests > 0;
    if (!run.ok) run.error = "could not read wrk's output:\n" + out;
}

// The keys a request asks for, and its path.
std::vector<std::string> request_keys(const E2eConfig& c) {
    if (c.keys <= 1) return {kKey};
    std::vector<std::string> keys;
    for (std::size_t i = 0; i < c.keys; ++i) keys.push_back(std::string(kKey) + ":" + std::to_string(i));
    return keys;
}

std::string request_path(const E2eConfig& c) {
    const auto keys = request_keys(c);
    if (keys.size() == 1) return "/mc?op=get&key=" + keys[0];
    std::string path = "/mc?op=mget&key=";
    for (std::size_t i = 0; i < keys.size(); ++i) path += (i ? "," : "") + keys[i];
    return path;
}

// A multi-get answers 200 whatever it found; a key it could not get shows as "(key: ...)".
bool answered_in_full(const test::HttpResponse& r) {
    return r.status == 200 && r.body.find('(') == std::string::npos;
}

WrkRun wrk_run(const E2eConfig& c, const test::HttpdProcess& httpd, int seconds,
               int threads, int connections) {
    std::string url = "http://127.0.0.1:" + std::to_string(httpd.port()) + request_path(c);
    CpuSeconds cpu0 = group_cpu_seconds(httpd.pid());
    ProcessResult r = run_process({c.wrk, "-t", std::to_string(threads), "-c",
                                   std::to_string(connections), "-d", std::to_string(seconds) + "s",
                                   "--latency", url},
                                  seconds + 30);
    CpuSeconds cpu1 = group_cpu_seconds(httpd.pid());
    WrkRun run;
    if (r.exit_code != 0) {
        run.error = "wrk failed: " + r.output;
        return run;
    }
    parse_wrk(r.output, run);
    if (run.ok && (run.non_2xx > 0 || run.socket_errors > 0)) {
        run.ok = false;
        run.error = "wrk saw " + std::to_string(run.non_2xx) + " non-2xx responses and " +
                    std::to_string(run.socket_errors) + " socket errors:\n" + r.output;
    }
    if (run.requests > 0) {
        run.httpd_user_us_per_request = (cpu1.user - cpu0.user) * 1e6 / run.requests;
        run.httpd_sys_us_per_request = (cpu1.sys - cpu0.sys) * 1e6 / run.requests;
    }
    return run;
}

WrkRun wrk_run(const E2eConfig& c, const test::HttpdProcess& httpd, int seconds) {
    return wrk_run(c, httpd, seconds, c.wrk_threads, c.connections);
}

// The largest figure among the callgrind_annotate lines naming function `fn` ("<file>:fn"
// or "???:fn", with or without its " [object]"), or NaN. The largest: a function is also
// listed as the callee in other functions' lines, with the part of its cost they pay.
double inclusive_cost(const std::string& annotation, const std::string& fn) {
    std::istringstream in(annotation);
    std::string line;
    double best = std::nan("");
    const std::string name = ":" + fn;
    while (std::getline(in, line)) {
        const std::size_t at = line.find(name);
        if (at == std::string::npos) continue;
        const std::size_t end = at + name.size();
        if (end != line.size() && line.compare(end, 2, " [") != 0) continue;
        std::string digits;
        for (char ch : line) {
            if (std::isdigit(static_cast<unsigned char>(ch))) digits += ch;
            else if (ch != ',' && ch != ' ') break;
        }
        if (digits.empty()) continue;
        const double v = std::atof(digits.c_str());
        if (!(v <= best)) best = v;
    }
    return best;
}

// One build's httpd -X under callgrind: one request to check it serves, then wrk with
// one connection for each run length; the difference gives the cost per request.
HttpdProfile profile_httpd(const E2eConfig& c, test::HttpdOptions opts, const std::string& body,
                           const std::string& name, const std::string& get_fn) {
    HttpdProfile prof;
    long long total[2] = {-1, -1};
    long requests[2] = {0, 0};
    for (int i = 0; i < 2; ++i) {
        const std::string file = c.out_dir + "/callgrind." + c.name + "." + name + "." + std::to_string(i + 1);
        // httpd switches to an unprivileged user before callgrind writes this file at
        // exit: it is created here and left writable for that user.
        write_text_file(file, "");
        ::chmod(file.c_str(), 0666);
        opts.launcher = {c.valgrind, "--tool=callgrind", "--vgdb=no", "--callgrind-out-file=" + file};
        opts.one_process = true;
        opts.start_timeout_s = 60;
        test::HttpdProcess httpd(opts);
        if (!httpd.start([&](const test::HttpdProcess&) { return body; })) {
            prof.error = name + " httpd under callgrind did not start: " + httpd.error();
            return prof;
        }
        auto check = test::http_get(httpd.port(), request_path(c));
        if (!answered_in_full(check)) {
            prof.error = name + " httpd under callgrind answered " + std::to_string(check.status) +
                         ": " + check.body + check.error;
            return prof;
        }
        WrkRun w = wrk_run(c, httpd, c.profile_seconds[i], 1, 1);
        httpd.stop();
        if (!w.ok) {
            prof.error = name + " httpd under callgrind: " + w.error;
            return prof;
        }
        total[i] = read_callgrind_total(file);
        requests[i] = w.requests + 1;  // and the check
        if (total[i] < 0) {
            prof.error = name + ": no callgrind totals in " + file;
            return prof;
        }
        prof.file = file;
        prof.requests = requests[i];
    }
    if (requests[1] <= requests[0]) {
        prof.error = name + ": the longer callgrind run served no more requests than the shorter";
        return prof;
    }
    prof.instr_per_request = static_cast<double>(total[1] - total[0]) / static_cast<double>(requests[1] - requests[0]);
    if (!c.annotate.empty()) {
        ProcessResult a = run_process({c.annotate, "--inclusive=yes", "--threshold=100", prof.file}, 120);
        write_text_file(c.out_dir + "/profile." + c.name + "." + name + ".inclusive.txt", a.output);
        // Only requests run the handler, so its whole cost is theirs.
        prof.handler_per_request = inclusive_cost(a.output, "memcache_example_handler") / static_cast<double>(prof.requests);
        prof.get_per_request = inclusive_cost(a.output, get_fn) / static_cast<double>(prof.requests);
    }
    return prof;
}

std::string common_config(const E2eConfig& c) {
    std::ostringstream b;
    int t = c.threads_per_child;
    // One child with a fixed thread count: the same pool size for both builds, and no
    // process spawning during a run. Overrides the harness's small defaults.
    b << "KeepAlive On\nMaxKeepAliveRequests 0\nKeepAliveTimeout 10\n"
      << "ServerLimit 1\nStartServers 1\nThreadLimit " << t << "\nThreadsPerChild " << t
      << "\nMaxRequestWorkers " << t << "\nMinSpareThreads 1\nMaxSpareThreads " << 2 * t
      << "\n<Location /mc>\n  SetHandler memcache-example\n</Location>\n";
    return b.str();
}

// The httpd of one build: ours loads mod_memcache and the example built against it, the
// apr-util build only the example built against apr_memcache.h.
test::HttpdOptions httpd_options(const E2eConfig& c, bool ours) {
    test::HttpdOptions o;
    o.httpd_bin = c.httpd_bin;
    o.modules_dir = c.modules_dir;
    o.mpm = "event";
    o.log_level = "warn";
    if (ours) o.mod_memcache = c.mod_memcache;
    o.mod_memcache_example = ours ? c.mod_example : c.mod_example_aprutil;
    return o;
}

std::string host_port(const Endpoint& e) { return e.host + ":" + std::to_string(e.port); }

// Stores the keys every request gets (100 bytes each) on each of the servers, through
// our client: each build places keys its own way (ours ketama, apr-util modula), so
// every key is on every server. "" or why not.
std::string store_request_keys(const E2eConfig& c, const std::vector<Endpoint>& servers) {
    for (const auto& server : servers) {
        std::string err;
        ClientConfig cc;
        cc.servers = {server};
        auto client = make_client(ClientKind{}, cc, err);
        auto session = client ? client->session() : nullptr;
        for (const auto& k : request_keys(c)) {
            if (!session || !session->set(k, std::string(100, 'v')))
                return "could not store the e2e key on " + host_port(server) + ": " +
                       (session ? session->last_error() : err);
        }
    }
    return "";
}

}  // namespace

E2eResult run_e2e(const E2eConfig& c, const Endpoint& memcached) {
    E2eResult result;
    result.error = store_request_keys(c, {memcached});
    if (!result.error.empty()) return result;

    std::string server = host_port(memcached);
    test::HttpdOptions ours_opts = httpd_options(c, true);
    test::HttpdOptions apr_opts = httpd_options(c, false);

    // The apr-util build reads its server from the environment in child_init, with the
    // same pool settings as MemcacheServer gives ours: min 0, smax = max, ttl 15 s.
    ::setenv("MMC_BENCH_APRUTIL_SERVER", server.c_str(), 1);
    ::setenv("MMC_BENCH_APRUTIL_MAX", std::to_string(c.threads_per_child).c_str(), 1);

    auto ours = std::make_unique<test::HttpdProcess>(ours_opts);
    auto apr = std::make_unique<test::HttpdProcess>(apr_opts);
    std::string base = common_config(c);
    const std::string ours_body = base + "MemcacheServer " + server + " min=0 max=" +
                                  std::to_string(c.threads_per_child) + " ttl=15\n";
    if (!ours->start([&](const test::HttpdProcess&) { return ours_body; })) {
        result.error = "httpd with mod_memcache did not start: " + ours->error();
        return result;
    }
    if (!apr->start([&](const test::HttpdProcess&) { return base; })) {
        result.error = "httpd with the apr-util build did not start: " + apr->error();
        return result;
    }
    for (auto* h : {ours.get(), apr.get()}) {
        auto r = test::http_get(h->port(), request_path(c));
        if (!answered_in_full(r)) {
            result.error = "a get through httpd returned " + std::to_string(r.status) + ": " +
                           r.body + r.error + "\n" + h->error_log();
            return result;
        }
        // Warm-up: threads started, pool connections open.
        WrkRun w = wrk_run(c, *h, c.warmup_seconds);
        if (!w.ok) {
            result.error = "warm-up: " + w.error;
            return result;
        }
    }
    for (int rep = 0; rep < c.reps; ++rep) {
        // Alternate which goes first, so that neither always follows the other.
        bool ours_first = rep % 2 == 0;
        for (int i = 0; i < 2; ++i) {
            bool is_ours = (i == 0) == ours_first;
            WrkRun run = wrk_run(c, is_ours ? *ours : *apr, c.seconds);
            if (!run.ok) {
                result.error = std::string(is_ours ? "ours" : "apr-util") + ": " + run.error;
                return result;
            }
            (is_ours ? result.ours : result.aprutil).push_back(run);
        }
    }
    for (auto* h : {ours.get(), apr.get()}) {
        auto bad = h->unexpected_log_lines();
        if (!bad.empty()) {
            result.error = "httpd logged errors: " + bad.front();
            return result;
        }
    }
    ours.reset();
    apr.reset();

    if (!c.valgrind.empty()) {
        result.profiled = true;
        const bool one = c.keys <= 1;
        result.ours_profile = profile_httpd(c, ours_opts, ours_body, "ours",
                                            one ? "ap_memcache_getp" : "ap_memcache_multiget_array");
        result.aprutil_profile = profile_httpd(c, apr_opts, base, "apr-util",
                                               one ? "apr_memcache_getp" : "apr_memcache_multgetp");
    }
    return result;
}

namespace {

// The build's child settles for this long after a request or a load before it is read:
// keep-alive connections closed, threads back to waiting.
constexpr auto kSettle = std::chrono::seconds(1);
constexpr int kMemoryThreads = 25;

// The one child of httpd (started as a process-group leader); 0 with why set otherwise.
pid_t only_child(const test::HttpdProcess& httpd, std::string& why) {
    const auto children = group_members_except_leader(httpd.pid());
    if (children.size() == 1) return children[0];
    why = "expected one httpd child, found " + std::to_string(children.size());
    return 0;
}

// One build in one round: start, one request, at rest; load, settle, after load. "" or
// why it could not be measured.
std::string measure_child(const E2eConfig& c, const test::HttpdOptions& opts, const std::string& body,
                          const std::vector<Endpoint>& servers, ChildMemory& m) {
    test::HttpdProcess httpd(opts);
    if (!httpd.start([&](const test::HttpdProcess&) { return body; }))
        return "httpd did not start: " + httpd.error();
    auto r = test::http_get(httpd.port(), request_path(c));
    if (!answered_in_full(r))
        return "the multi-get through httpd returned " + std::to_string(r.status) + ": " + r.body +
               r.error + "\n" + httpd.error_log();
    std::this_thread::sleep_for(kSettle);
    std::string why;
    const pid_t child = only_child(httpd, why);
    if (!child) return why;
    ProcessMemory mem;
    if (!read_process_memory(child, mem)) return "could not read /proc/" + std::to_string(child) + "/status";
    m.rest_kb = mem.rss_kb;
    m.rest_anon_kb = mem.anon_kb;

    WrkRun w = wrk_run(c, httpd, c.seconds);
    if (!w.ok) return "load: " + w.error;
    m.requests_per_second = w.requests_per_second;
    std::this_thread::sleep_for(kSettle);
    if (only_child(httpd, why) != child) return "the httpd child was replaced during the load";
    if (!read_process_memory(child, mem)) return "could not read /proc/" + std::to_string(child) + "/status";
    m.load_kb = mem.rss_kb;
    m.load_anon_kb = mem.anon_kb;
    m.load_file_kb = mem.file_kb;
    m.load_pss_kb = mem.pss_kb;
    m.load_private_kb = mem.private_kb;
    std::vector<unsigned short> ports;
    for (const auto& e : servers) ports.push_back(e.port);
    m.connections = tcp_connections_by_remote_port(child, ports);
    m.mappings_kb = rss_by_mapping(child);
    // Every server must have served the page, or the figure is not that of 4 servers.
    for (const auto& [port, n] : m.connections)
        if (n == 0) return "no connection to the memcached server on port " + std::to_string(port) + " after the load";
    auto bad = httpd.unexpected_log_lines();
    if (!bad.empty()) return "httpd logged errors: " + bad.front();
    return "";
}

}  // namespace

E2eMemoryResult run_e2e_memory(const E2eConfig& config, const std::vector<Endpoint>& servers) {
    E2eMemoryResult result;
    E2eConfig c = config;
    c.threads_per_child = kMemoryThreads;
    result.threads_per_child = c.threads_per_child;
    result.servers = servers.size();
    result.keys = c.keys;
    if (servers.empty() || c.keys < servers.size()) {
        result.error = "the memory measurement needs servers and at least one key per server";
        return result;
    }
    result.error = store_request_keys(c, servers);
    if (!result.error.empty()) return result;

    // Both builds get the same pool per server: min 0, smax = max = the threads, ttl 15 s.
    const std::string max = std::to_string(c.threads_per_child);
    std::string list, ours_body = common_config(c);
    for (const auto& e : servers) {
        list += (list.empty() ? "" : ",") + host_port(e);
        ours_body += "MemcacheServer " + host_port(e) + " min=0 max=" + max + " ttl=15\n";
    }
    const std::string apr_body = common_config(c);
    ::setenv("MMC_BENCH_APRUTIL_SERVER", list.c_str(), 1);
    ::setenv("MMC_BENCH_APRUTIL_MAX", max.c_str(), 1);
    const test::HttpdOptions ours_opts = httpd_options(c, true);
    const test::HttpdOptions apr_opts = httpd_options(c, false);

    for (int rep = 0; rep < c.reps; ++rep) {
        const bool ours_first = rep % 2 == 0;
        for (int i = 0; i < 2; ++i) {
            const bool is_ours = (i == 0) == ours_first;
            ChildMemory m;
            const std::string why = measure_child(c, is_ours ? ours_opts : apr_opts,
                                                  is_ours ? ours_body : apr_body, servers, m);
            if (!why.empty()) {
                result.error = std::string(is_ours ? "ours" : "apr-util") + ": " + why;
                return result;
            }
            (is_ours ? result.ours : result.aprutil).push_back(std::move(m));
        }
    }
    return result;
}

}  // namespace mmc::bench
