// The whole benchmark run: which sections, their results, and the report.
#ifndef MMC_BENCH_SUITE_H
#define MMC_BENCH_SUITE_H

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "bench_client.h"
#include "e2e.h"
#include "workloads.h"

namespace mmc::bench {

struct SuiteOptions {
    double scale = 1.0;         // multiplies measured operation counts
    double probe_scale = 1.0;   // multiplies strace/callgrind run lengths
    int reps = 7;
    bool micro = true;          // ops/s, latency, CPU per workload and client
    bool scaling = true;        // 1..16 threads
    bool strace = true;         // syscalls per operation
    bool callgrind = true;      // instructions per operation, and profiles of ours
    bool e2e = true;            // httpd + wrk
    std::vector<std::string> only_workloads;  // empty: all
    std::vector<std::string> only_clients;    // empty: all
    std::vector<std::string> probe_workloads; // strace/callgrind only for these; empty: all
    std::vector<unsigned> scaling_threads = {1, 2, 4, 8, 16};
    std::string out_dir = "bench-out";
    // Single-thread workloads run with the client and every memcached on one CPU: left
    // to the scheduler, a client/server pair on one core or on two differs by 3x in
    // latency on a small VM, and the runs flip between the two. Threaded workloads and
    // the end-to-end runs always use every CPU.
    bool pin_single_thread = true;
    // Added to the arguments of every memcached the bench starts (e.g. -R 100).
    std::vector<std::string> memcached_args;
    E2eConfig e2e_config;
    // The user's own servers (mmc_bench --servers): none is started, the keys get a
    // random prefix and are deleted afterwards, nothing is flushed; the workloads of
    // several servers use all of them; no end-to-end run and no CPU pinning.
    std::vector<Endpoint> fleet;
};

struct ClientResult {
    std::string client;
    std::string error;  // the runs failed; figures are missing
    // One entry per repetition.
    std::vector<double> ops_per_s, p50_us, p99_us, cpu_us_per_op, switches_per_op;
    double syscalls_per_op = std::nan("");
    std::map<std::string, double> syscalls_by_name;  // per operation
    std::string strace_error;
    double instr_per_op = std::nan("");
    std::string callgrind_file;  // the longer run's dump
    std::size_t callgrind_file_ops = 0;  // operations it covers
    std::string callgrind_error;
};

struct WorkloadResult {
    Workload workload;
    std::vector<ClientResult> clients;
    // Instructions per operation of the harness alone (the "none" client), included in
    // every instr/op figure; NaN when not measured.
    double harness_instr_per_op = std::nan("");
    const ClientResult* find(const std::string& label) const {
        for (const auto& c : clients)
            if (c.client == label) return &c;
        return nullptr;
    }
};

struct SuiteResult {
    std::vector<WorkloadResult> workloads;
    std::vector<WorkloadResult> scaling;  // one per thread count
    bool e2e_ran = false;
    E2eResult e2e;
    // The same with one 20-key multi-get per request (a page assembled from fragments).
    bool e2e_mget_ran = false;
    E2eResult e2e_mget;
    // RSS per httpd child of each build (25 threads, 4 servers, the 20-key page).
    bool e2e_memory_ran = false;
    E2eMemoryResult e2e_memory;
    // Callgrind annotations of our client: "<workload>" -> top functions (self). The
    // full ones are in out_dir/profile.<workload>.ours.{self,inclusive}.txt.
    std::map<std::string, std::vector<std::string>> profiles;
    std::vector<std::string> notes;   // what was not measured and why (a tool missing)
    std::vector<std::string> errors;  // measurements that failed
    double seconds = 0;
    bool interrupted = false;  // a signal stopped the run early (fleet mode)
    std::string servers_note;  // fleet mode: which servers, the key prefix, the clean-up
};

// Runs the selected sections against memcached servers it starts on loopback.
// Returns false when the servers could not be started (nothing measured).
bool run_suite(const SuiteOptions& options, SuiteResult& result);

// Markdown tables of everything measured, with the targets of issue #5 checked.
std::string render_report(const SuiteOptions& options, const SuiteResult& result);

// The child side of the strace/callgrind measurements: builds the client, preloads,
// warms up, then runs `ops` operations (and, with callgrind, dumps statistics after
// `ops` and after `ops2` more). Returns the process exit code.
// `servers` are the workload's own (a workload of several servers uses all of them);
// `key_prefix` replaces the workload's when not empty.
int run_probe(const std::string& workload, const std::string& client,
              const std::vector<Endpoint>& servers, std::size_t ops, std::size_t ops2,
              bool callgrind, const std::string& key_prefix);

}  // namespace mmc::bench

#endif
