// The workloads the benchmark runs against every client, and the loops that run them.
#ifndef MMC_BENCH_WORKLOADS_H
#define MMC_BENCH_WORKLOADS_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bench_client.h"

namespace mmc::bench {

struct Workload {
    enum class Kind {
        get,        // get of a key that is (or, with preload false, is not) stored
        set,        // set of a value of value_size bytes
        multi_get,  // one multi-get of multi keys per operation
        mixed       // threads sharing one client: 9 gets to 1 set
    };
    std::string name;   // short, for the command line: "get-hit-100"
    std::string title;  // for the tables
    Kind kind = Kind::get;
    std::size_t value_size = 100;
    std::size_t servers = 1;
    std::size_t keys = 1000;     // size of the key set the operations cycle through
    bool preload = true;         // store every key before measuring
    std::size_t multi = 0;       // keys per multi-get
    unsigned threads = 1;
    unsigned max_per_server = 4; // connections per server (pool bound)
    std::size_t ops = 10000;     // measured operations per repetition (all threads)
    std::size_t strace_ops[2] = {200, 1200};    // the two run lengths for syscalls/op
    std::size_t callgrind_ops[2] = {100, 500};  // the two run lengths for instructions/op
    std::vector<std::string> clients;           // labels (ClientKind::label)
    // Every key of the bench starts with this; against the user's own servers it also
    // holds a random part (fleet.h), so that the run touches no key but its own.
    std::string key_prefix = "mmcbench:";
    // For the tables: operations are calls, and per-key figures divide by `multi`.
    bool per_key() const { return kind == Kind::multi_get; }
};

// Every workload of the suite, in report order. Operation counts are for scale 1.
std::vector<Workload> all_workloads();
// The same mixed workload with `threads` threads, for the scaling table.
Workload scaling_workload(unsigned threads);
const Workload* find_workload(const std::vector<Workload>& all, const std::string& name);
// The keys a workload reads and writes: key_prefix, the workload's name (or
// "never-stored" for the miss workload, whose keys nothing stores), and a number.
std::vector<std::string> workload_keys(const Workload& w, bool sealed = false);
// Multiplies the measured operation counts (not the probe counts) by scale, at least 1 op
// per thread.
void scale_ops(Workload& w, double scale);

// One repetition of one workload by one client.
struct RunResult {
    double seconds = 0;            // wall time of the measured operations
    std::size_t ops = 0;           // operations done (calls, for multi-get)
    double cpu_seconds = 0;        // user + sys of this process during them
    long voluntary_switches = 0;   // context switches (waits) during them
    std::vector<std::uint32_t> latency_ns;  // one per operation, when recorded
    std::size_t unexpected = 0;    // misses where hits were due, errors
    std::string first_error;
};

// A client with its sessions (one per thread) and the workload's keys, ready to run.
class Bench {
public:
    // Builds the client over servers and one session per thread; preloads when asked.
    // ok() false with error() set when anything failed.
    Bench(const Workload& w, const ClientKind& kind, const std::vector<Endpoint>& servers);
    bool ok() const { return error_.empty(); }
    const std::string& error() const { return error_; }

    // Stores every key (values of the workload's size). false with error() on failure.
    bool preload();
    // n operations (spread over the threads), timed per operation when record_latency.
    RunResult run(std::size_t n, bool record_latency);

private:
    void run_thread(unsigned t, std::size_t n, std::size_t first, bool record, RunResult& out);

    Workload w_;
    std::unique_ptr<Client> client_;
    std::vector<std::unique_ptr<Session>> sessions_;
    std::vector<std::string> keys_;
    std::vector<const char*> key_ptrs_;
    std::vector<std::size_t> key_lens_;
    std::string value_;
    std::size_t cursor_ = 0;  // where the next run starts in the key set
    std::string error_;
};

}  // namespace mmc::bench

#endif
