#include "workloads.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

namespace mmc::bench {

namespace {

using Clock = std::chrono::steady_clock;

const std::vector<std::string> kSingleServerClients = {"ours", "ours-bin", "ours-meta", "apr-util",
                                                       "libmc", "libmc-bin"};

Workload get_workload(const std::string& name, std::size_t size, std::size_t keys, std::size_t ops) {
    Workload w;
    w.name = name;
    w.title = "get hit, " + std::to_string(size) + " B value, 1 server";
    w.kind = Workload::Kind::get;
    w.value_size = size;
    w.keys = keys;
    w.ops = ops;
    w.clients = kSingleServerClients;
    return w;
}

Workload set_workload(const std::string& name, std::size_t size, std::size_t keys, std::size_t ops) {
    Workload w = get_workload(name, size, keys, ops);
    w.title = "set, " + std::to_string(size) + " B value, 1 server";
    w.kind = Workload::Kind::set;
    w.preload = false;
    return w;
}

void large_value_probes(Workload& w) {
    w.strace_ops[0] = 50;
    w.strace_ops[1] = 250;
    w.callgrind_ops[0] = 20;
    w.callgrind_ops[1] = 100;
}

double seconds_of(const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; }

double cpu_seconds(const rusage& ru) { return seconds_of(ru.ru_utime) + seconds_of(ru.ru_stime); }

}  // namespace

std::vector<Workload> all_workloads() {
    std::vector<Workload> all;
    // ours-modula on the single-server gets: what ketama's key hashing costs there.
    Workload get = get_workload("get-hit-100", 100, 1000, 10000);
    get.clients.insert(get.clients.begin() + 2, "ours-modula");
    // ours-sealed: what AES-256-GCM sealing adds to a 100-byte get and set.
    get.clients.insert(get.clients.begin() + 3, "ours-sealed");
    Workload miss = get_workload("get-miss", 100, 1000, 10000);
    miss.title = "get miss, 1 server";
    miss.preload = false;
    miss.clients = get.clients;
    // ours-tls: the same get, set and multi-get over TLS (servers of its own).
    get.clients.insert(get.clients.begin() + 1, "ours-tls");
    all.push_back(get);
    all.push_back(miss);
    Workload set = set_workload("set-100", 100, 1000, 10000);
    set.clients.insert(set.clients.begin() + 1, "ours-sealed");
    set.clients.insert(set.clients.begin() + 1, "ours-tls");
    all.push_back(set);
    all.push_back(get_workload("get-hit-10", 10, 1000, 10000));
    all.push_back(get_workload("get-hit-1k", 1024, 1000, 10000));
    Workload big = get_workload("get-hit-100k", 100 * 1024, 100, 2000);
    large_value_probes(big);
    all.push_back(big);
    all.push_back(set_workload("set-10", 10, 1000, 10000));
    all.push_back(set_workload("set-1k", 1024, 1000, 10000));
    Workload big_set = set_workload("set-100k", 100 * 1024, 100, 2000);
    large_value_probes(big_set);
    all.push_back(big_set);

    Workload mget;
    mget.name = "mget-100x4";
    mget.title = "multi-get of 100 keys (100 B values) over 4 servers";
    mget.kind = Workload::Kind::multi_get;
    mget.servers = 4;
    mget.keys = 100;
    mget.multi = 100;
    mget.ops = 1000;
    mget.strace_ops[0] = 20;
    mget.strace_ops[1] = 120;
    mget.callgrind_ops[0] = 10;
    mget.callgrind_ops[1] = 50;
    mget.clients = {"ours",     "ours-array", "ours-modula", "ours-bin", "ours-meta",
                    "ours-tls", "apr-util",   "libmc",       "libmc-bin"};
    all.push_back(mget);

    // Cost per key as a batch grows: ten times the keys per call.
    Workload big_mget = mget;
    big_mget.name = "mget-1000x4";
    big_mget.title = "multi-get of 1000 keys (100 B values) over 4 servers";
    big_mget.keys = 1000;
    big_mget.multi = 1000;
    big_mget.ops = 200;
    big_mget.strace_ops[0] = 4;
    big_mget.strace_ops[1] = 24;
    big_mget.callgrind_ops[0] = 2;
    big_mget.callgrind_ops[1] = 10;
    big_mget.clients = {"ours-array", "ours", "ours-meta", "apr-util", "libmc"};
    all.push_back(big_mget);

    // Many servers: the fan-out over 32, and a single get among 4, 32 and 200 servers
    // (ketama for ours and libmemcached), whose cost must not grow beyond the ring lookup.
    Workload wide_mget = mget;
    wide_mget.name = "mget-100x32";
    wide_mget.title = "multi-get of 100 keys (100 B values) over 32 servers";
    wide_mget.servers = 32;
    wide_mget.clients = {"ours-array", "ours", "ours-meta", "apr-util", "libmc"};
    all.push_back(wide_mget);
    for (std::size_t n : {4, 32, 200}) {
        Workload g = get_workload("get-hit-100x" + std::to_string(n), 100, 1000, 10000);
        g.title = "get hit, 100 B value, " + std::to_string(n) + " servers configured";
        g.servers = n;
        // libmemcached 1.1 asserts when the ketama points of all servers exceed its
        // continuum (MEMCACHED_CONTINUUM_SIZE): 200 servers are beyond it.
        g.clients = n > 100 ? std::vector<std::string>{"ours", "ours-meta", "apr-util"}
                            : std::vector<std::string>{"ours", "ours-meta", "apr-util", "libmc"};
        all.push_back(g);
    }

    // Replicas: a set and a get on two servers, plain and with one replica (the set then
    // goes to both servers at once).
    Workload set2 = set_workload("set-100x2", 100, 1000, 10000);
    set2.title = "set, 100 B value, 2 servers";
    set2.servers = 2;
    set2.clients = {"ours", "ours-replica"};
    all.push_back(set2);
    Workload get2 = get_workload("get-hit-100x2", 100, 1000, 10000);
    get2.title = "get hit, 100 B value, 2 servers";
    get2.servers = 2;
    get2.clients = {"ours", "ours-replica"};
    all.push_back(get2);

    Workload mixed = scaling_workload(16);
    mixed.name = "mixed-16t";
    mixed.ops = 16000;
    mixed.clients = kSingleServerClients;
    all.push_back(mixed);
    return all;
}

Workload scaling_workload(unsigned threads) {
    Workload w;
    w.name = "mixed-" + std::to_string(threads) + "t";
    w.title = std::to_string(threads) + " threads sharing one client (max 4 connections), "
              "get/set 90/10, 100 B, 1 server";
    w.kind = Workload::Kind::mixed;
    w.threads = threads;
    w.max_per_server = 4;
    w.keys = 1000;
    w.ops = 8000;
    w.strace_ops[0] = 800;
    w.strace_ops[1] = 3200;
    w.callgrind_ops[0] = 160;
    w.callgrind_ops[1] = 800;
    w.clients = {"ours", "ours-meta", "apr-util", "libmc"};
    return w;
}

const Workload* find_workload(const std::vector<Workload>& all, const std::string& name) {
    for (const auto& w : all)
        if (w.name == name) return &w;
    return nullptr;
}

std::vector<std::string> workload_keys(const Workload& w, bool sealed) {
    const std::string prefix =
        w.key_prefix +
        (w.preload || w.kind == Workload::Kind::set ? w.name : std::string("never-stored")) + ":" +
        (sealed ? "sealed:" : "");
    std::vector<std::string> keys;
    keys.reserve(w.keys);
    char num[24];
    for (std::size_t i = 0; i < w.keys; ++i) {
        std::snprintf(num, sizeof num, "%06zu", i);
        keys.push_back(prefix + num);
    }
    return keys;
}

void scale_ops(Workload& w, double scale) {
    w.ops = std::max<std::size_t>(w.threads, static_cast<std::size_t>(w.ops * scale));
}

Bench::Bench(const Workload& w, const ClientKind& kind, const std::vector<Endpoint>& servers)
    : w_(w) {
    if (servers.size() < w.servers) {
        error_ = "workload needs " + std::to_string(w.servers) + " servers";
        return;
    }
    ClientConfig config;
    config.servers.assign(servers.begin(), servers.begin() + static_cast<long>(w.servers));
    config.max_per_server = w.max_per_server;
    // libmemcached: threads share a memcached_pool_st (also at 1 thread, so that the
    // scaling table compares like with like).
    config.threads = w.kind == Workload::Kind::mixed ? std::max(2u, w.threads) : 1;
    config.none_value_size = w.value_size;
    client_ = make_client(kind, config, error_);
    if (!client_) {
        if (error_.empty()) error_ = "client not built";
        return;
    }
    for (unsigned t = 0; t < w.threads; ++t) {
        auto s = client_->session();
        if (!s) {
            error_ = "session not created";
            return;
        }
        sessions_.push_back(std::move(s));
    }
    // The sealed client keeps its own keys: the others would read its envelopes.
    keys_ = workload_keys(w, kind.sealed);
    for (const auto& k : keys_) {
        key_ptrs_.push_back(k.c_str());
        key_lens_.push_back(k.size());
    }
    value_.resize(w.value_size);
    for (std::size_t i = 0; i < value_.size(); ++i) value_[i] = static_cast<char>('a' + i % 26);
}

bool Bench::preload() {
    if (!w_.preload) return true;
    for (const auto& k : keys_) {
        if (!sessions_[0]->set(k, value_)) {
            error_ = "preload of " + k + " failed: " + sessions_[0]->last_error();
            return false;
        }
    }
    return true;
}

void Bench::run_thread(unsigned t, std::size_t n, std::size_t first, bool record, RunResult& out) {
    Session& s = *sessions_[t];
    const std::size_t nkeys = keys_.size();
    // Threads start far apart in the key set so that they do not all hit the same keys.
    std::size_t k = (first + t * (nkeys / std::max(1u, w_.threads) + 7)) % nkeys;
    if (record) out.latency_ns.resize(n);
    Clock::time_point before;
    for (std::size_t i = 0; i < n; ++i) {
        if (record) before = Clock::now();
        bool expected = true;
        switch (w_.kind) {
        case Workload::Kind::get: {
            std::size_t len = 0;
            GetResult r = s.get(keys_[k], len);
            expected = w_.preload ? (r == GetResult::hit && len == w_.value_size)
                                  : r == GetResult::miss;
            break;
        }
        case Workload::Kind::set:
            expected = s.set(keys_[k], value_);
            break;
        case Workload::Kind::multi_get:
            expected = s.multi_get(key_ptrs_, key_lens_) == static_cast<long>(w_.multi);
            break;
        case Workload::Kind::mixed:
            if (i % 10 == 9) {
                expected = s.set(keys_[k], value_);
            } else {
                std::size_t len = 0;
                expected = s.get(keys_[k], len) == GetResult::hit;
            }
            break;
        }
        if (record)
            out.latency_ns[i] = static_cast<std::uint32_t>(std::min<long long>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - before).count(),
                UINT32_MAX));
        if (!expected) {
            if (out.unexpected++ == 0) {
                out.first_error = "unexpected result on " + keys_[k] + ": " + s.last_error();
            }
        }
        if (++k == nkeys) k = 0;
    }
}

RunResult Bench::run(std::size_t n, bool record_latency) {
    RunResult result;
    std::size_t first = cursor_;
    cursor_ = (cursor_ + n) % keys_.size();
    if (w_.threads == 1) {
        rusage r0{}, r1{};
        getrusage(RUSAGE_THREAD, &r0);
        auto t0 = Clock::now();
        run_thread(0, n, first, record_latency, result);
        auto t1 = Clock::now();
        getrusage(RUSAGE_THREAD, &r1);
        result.seconds = std::chrono::duration<double>(t1 - t0).count();
        result.cpu_seconds = cpu_seconds(r1) - cpu_seconds(r0);
        result.voluntary_switches = r1.ru_nvcsw - r0.ru_nvcsw;
        result.ops = n;
        return result;
    }

    // Threads wait at a gate, so that thread creation is outside the measured time.
    std::vector<RunResult> parts(w_.threads);
    std::mutex m;
    std::condition_variable cv;
    bool open = false;
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < w_.threads; ++t) {
        std::size_t share = n / w_.threads + (t < n % w_.threads ? 1 : 0);
        threads.emplace_back([&, t, share] {
            {
                std::unique_lock<std::mutex> lock(m);
                cv.wait(lock, [&] { return open; });
            }
            run_thread(t, share, first, record_latency, parts[t]);
        });
    }
    // Give every thread time to reach the gate.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    rusage r0{}, r1{};
    getrusage(RUSAGE_SELF, &r0);
    auto t0 = Clock::now();
    {
        std::lock_guard<std::mutex> lock(m);
        open = true;
    }
    cv.notify_all();
    for (auto& th : threads) th.join();
    auto t1 = Clock::now();
    getrusage(RUSAGE_SELF, &r1);
    result.seconds = std::chrono::duration<double>(t1 - t0).count();
    result.cpu_seconds = cpu_seconds(r1) - cpu_seconds(r0);
    result.voluntary_switches = r1.ru_nvcsw - r0.ru_nvcsw;
    result.ops = n;
    for (auto& p : parts) {
        result.latency_ns.insert(result.latency_ns.end(), p.latency_ns.begin(), p.latency_ns.end());
        if (p.unexpected && result.unexpected == 0) result.first_error = p.first_error;
        result.unexpected += p.unexpected;
    }
    return result;
}

}  // namespace mmc::bench
