// End to end: a real httpd (event MPM) on loopback serving one memcached get per
// request through the example consumer handler, loaded with wrk; once with our module,
// once with the same handler source built against apr-util's apr_memcache.
#ifndef MMC_BENCH_E2E_H
#define MMC_BENCH_E2E_H

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "bench_client.h"

namespace mmc::bench {

struct E2eConfig {
    std::string httpd_bin;
    std::string modules_dir;
    std::string mod_memcache;          // our module
    std::string mod_example;           // examples/mod_memcache_example.c against it
    std::string mod_example_aprutil;   // the same source against apr_memcache.h
    std::string wrk;
    int seconds = 5;                   // per wrk run
    int warmup_seconds = 1;
    int reps = 5;
    int connections = 16;
    int wrk_threads = 2;
    // Also the memcached pool max of both builds. More threads than connections: the
    // event MPM closes keep-alive connections when every worker is busy, which wrk
    // counts as read errors.
    int threads_per_child = 32;
    // The instruction profile of httpd itself (empty valgrind: not measured): httpd -X
    // under callgrind, one wrk connection for each of two run lengths.
    std::string valgrind;
    std::string annotate;  // callgrind_annotate, for the handler's and the get's share
    std::string out_dir;   // where the callgrind files go
    int profile_seconds[2] = {2, 6};
    // What a request asks for: one key (op=get), or this many in one multi-get (op=mget:
    // a page assembled from fragments; ours through the array call, apr-util's build
    // through apr_memcache_multgetp). Each key holds 100 bytes, stored beforehand.
    std::size_t keys = 1;
    std::string name = "e2e";  // names the callgrind and profile files
};

struct WrkRun {
    bool ok = false;
    std::string error;
    double requests_per_second = 0;
    long requests = 0;
    double latency_us[4] = {0, 0, 0, 0};  // p50, p75, p90, p99
    long non_2xx = 0;
    long socket_errors = 0;
    // CPU time of all httpd processes per request, in user space and in the kernel.
    double httpd_user_us_per_request = 0;
    double httpd_sys_us_per_request = 0;
};

// User-space instructions httpd executes per request (callgrind: the difference of two
// run lengths divided by the difference of their request counts, so start-up cancels),
// and the parts of it inside the example handler and inside the client's get.
struct HttpdProfile {
    std::string error;  // set when it could not be measured
    double instr_per_request = std::nan("");
    double handler_per_request = std::nan("");
    double get_per_request = std::nan("");
    long requests = 0;  // in the longer run
    std::string file;   // the longer run's callgrind file
};

struct E2eResult {
    std::string error;  // set when the runs could not be made
    std::vector<WrkRun> ours;
    std::vector<WrkRun> aprutil;
    bool profiled = false;
    HttpdProfile ours_profile;
    HttpdProfile aprutil_profile;
};

// Runs reps rounds, each one wrk run against our build then one against apr-util's.
E2eResult run_e2e(const E2eConfig& config, const Endpoint& memcached);

// The memory of the one httpd child of one build in one round (KiB, from /proc).
struct ChildMemory {
    long rest_kb = -1;       // VmRSS after start and one request
    long load_kb = -1;       // VmRSS once the wrk run has ended
    long load_anon_kb = -1;  // of it anonymous (heap, thread stacks, buffers)
    long load_file_kb = -1;  // of it pages of mapped files (httpd, modules, libraries)
    long rest_anon_kb = -1;
    long load_pss_kb = -1;      // proportional share after load (shared pages divided)
    long load_private_kb = -1;  // pages only the child maps, after load
    // The child's TCP connections to the memcached servers after the load, by port.
    std::map<unsigned short, int> connections;
    int total_connections() const {
        int n = 0;
        for (const auto& [port, count] : connections) n += count;
        return n;
    }
    // Resident KiB after the load by what is mapped (proc_memory.h, rss_by_mapping).
    std::map<std::string, long> mappings_kb;
    double requests_per_second = 0;  // of the load
};

struct E2eMemoryResult {
    std::string error;  // set when the runs could not be made
    int threads_per_child = 0;
    std::size_t servers = 0;
    std::size_t keys = 0;
    std::vector<ChildMemory> ours;     // one per round
    std::vector<ChildMemory> aprutil;
};

// RSS per httpd child: each build in turn (the order alternating by round) is started
// with one child of 25 threads (config.threads_per_child is not used) and a pool of 25
// connections to each of `servers`, asked for one multi-get of config.keys keys spread
// over every server, measured at rest, loaded with wrk for config.seconds, and measured
// again once the load has stopped. config.reps rounds.
E2eMemoryResult run_e2e_memory(const E2eConfig& config, const std::vector<Endpoint>& servers);

}  // namespace mmc::bench

#endif
