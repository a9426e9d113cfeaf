#include "suite.h"

#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

#include <valgrind/callgrind.h>

#include "fleet.h"
#include "memcached_process.h"
#include "stats.h"
#include "tls_certs.h"
#include "tools.h"

namespace mmc::bench {

namespace {

// Sets the CPUs of every thread of pid (0: the calling thread only).
void set_cpus(pid_t pid, const cpu_set_t& cpus) {
    if (pid == 0) {
        ::sched_setaffinity(0, sizeof cpus, &cpus);
        return;
    }
    std::string dir = "/proc/" + std::to_string(pid) + "/task";
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    while (dirent* e = ::readdir(d)) {
        pid_t tid = static_cast<pid_t>(std::atoi(e->d_name));
        if (tid > 0) ::sched_setaffinity(tid, sizeof cpus, &cpus);
    }
    ::closedir(d);
}

// Puts this thread and the servers on the first CPU of `all` (one_cpu) or on all of them.
class Placement {
public:
    Placement() { ::sched_getaffinity(0, sizeof all_, &all_); }
    void apply(bool one_cpu, const std::vector<std::unique_ptr<test::MemcachedProcess>>& servers) {
        cpu_set_t cpus = all_;
        if (one_cpu) {
            CPU_ZERO(&cpus);
            for (int c = 0; c < CPU_SETSIZE; ++c)
                if (CPU_ISSET(c, &all_)) {
                    CPU_SET(c, &cpus);
                    break;
                }
        }
        set_cpus(0, cpus);
        for (const auto& m : servers) set_cpus(m->pid(), cpus);
    }

private:
    cpu_set_t all_;
};

bool selected(const std::vector<std::string>& only, const std::string& name) {
    return only.empty() || std::find(only.begin(), only.end(), name) != only.end();
}

std::string join_servers(const std::vector<Endpoint>& servers) {
    std::string s;
    for (const auto& e : servers) {
        if (!s.empty()) s += ",";
        if (e.port == 0) s += e.host;  // a unix socket
        else if (e.host.find(':') != std::string::npos) s += "[" + e.host + "]:" + std::to_string(e.port);
        else s += e.host + ":" + std::to_string(e.port);
    }
    return s;
}

// The servers each client is measured against: ours-tls has TLS servers of its own
// (memcached -Z listens for TLS only), every other client the plain ones.
struct Servers {
    std::vector<Endpoint> plain, tls;
    const std::vector<Endpoint>& of(const std::string& client) const {
        return client == "ours-tls" ? tls : plain;
    }
};

void log(const char* fmt, const std::string& a = "", const std::string& b = "") {
    std::fprintf(stderr, fmt, a.c_str(), b.c_str());
    std::fflush(stderr);
}

// What the run has done and roughly how long the rest will take, on stderr: a line
// rewritten in place on a terminal, a line per step otherwise. Steps are weighted by
// what they usually cost (a throughput repetition 1, a strace pair 2, a callgrind run
// 10, the end-to-end runs 60), and the time left is the time so far per done weight.
class Progress {
public:
    explicit Progress(double total) : total_(total > 0 ? total : 1), tty_(::isatty(2) != 0) {}
    void step(const std::string& what, double weight) {
        done_ += weight;
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
        const double left = done_ > 0 ? elapsed * (total_ - done_) / done_ : 0;
        std::fprintf(stderr, "%s[bench] %3.0f%%  %s elapsed, about %s left  %-40.40s%s",
                     tty_ ? "\r" : "", 100 * std::min(1.0, done_ / total_),
                     duration(elapsed).c_str(), duration(std::max(0.0, left)).c_str(),
                     what.c_str(), tty_ ? "" : "\n");
        std::fflush(stderr);
    }
    void finish() {
        if (tty_) std::fputc('\n', stderr);
    }

private:
    static std::string duration(double s) {
        char buf[32];
        const long t = static_cast<long>(s + 0.5);
        if (t >= 60) std::snprintf(buf, sizeof buf, "%ld min %02ld s", t / 60, t % 60);
        else std::snprintf(buf, sizeof buf, "%ld s", t);
        return buf;
    }
    const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    double total_;
    double done_ = 0;
    bool tty_;
};

constexpr double kThroughputWeight = 1;
constexpr double kStraceWeight = 2;
constexpr double kCallgrindWeight = 10;
constexpr double kE2eWeight = 60;
constexpr double kE2eMemoryWeight = 40;

std::size_t probe_len(std::size_t n, double scale) {
    return std::max<std::size_t>(2, static_cast<std::size_t>(n * scale));
}

// Throughput repetitions of one workload, all its clients interleaved.
void measure_throughput(const SuiteOptions& o, const Servers& servers,
                        WorkloadResult& wr, Progress& progress) {
    const Workload& w = wr.workload;
    std::vector<std::unique_ptr<Bench>> benches;
    for (auto& cr : wr.clients) {
        ClientKind kind;
        ClientKind::parse(cr.client, kind);
        auto b = std::make_unique<Bench>(w, kind, servers.of(cr.client));
        if (b->ok() && b->preload()) {
            // Warm-up: connections opened, caches and branch predictors filled.
            RunResult warm = b->run(std::max<std::size_t>(w.threads, std::min<std::size_t>(w.ops / 10, 500)), false);
            if (warm.unexpected) cr.error = "warm-up: " + warm.first_error;
        } else {
            cr.error = b->error();
        }
        benches.push_back(std::move(b));
    }
    for (int rep = 0; rep < o.reps && !interrupted(); ++rep) {
        // A different client goes first in each repetition.
        for (std::size_t j = 0; j < benches.size() && !interrupted(); ++j) {
            std::size_t i = (j + static_cast<std::size_t>(rep)) % benches.size();
            ClientResult& cr = wr.clients[i];
            progress.step(w.name + " " + cr.client + " rep " + std::to_string(rep + 1),
                          kThroughputWeight);
            if (!cr.error.empty()) continue;
            RunResult r = benches[i]->run(w.ops, true);
            if (r.unexpected) {
                cr.error = std::to_string(r.unexpected) + " unexpected results, first: " + r.first_error;
                continue;
            }
            double ops = static_cast<double>(r.ops);
            cr.ops_per_s.push_back(ops / r.seconds);
            cr.cpu_us_per_op.push_back(r.cpu_seconds * 1e6 / ops);
            cr.switches_per_op.push_back(static_cast<double>(r.voluntary_switches) / ops);
            cr.p50_us.push_back(quantile(r.latency_ns, 0.50) / 1e3);
            cr.p99_us.push_back(quantile(r.latency_ns, 0.99) / 1e3);
        }
    }
}

std::vector<std::string> probe_args(const std::string& exe, const Workload& w,
                                    const std::string& client, const std::vector<Endpoint>& servers,
                                    std::size_t ops, std::size_t ops2, bool callgrind) {
    // The probe is given the workload's own servers.
    const std::vector<Endpoint> own(servers.begin(),
                                    servers.begin() + static_cast<long>(std::min(w.servers, servers.size())));
    std::vector<std::string> a = {exe,      "--probe",  "--workload",          w.name,
                                  "--client", client,   "--servers",           join_servers(own),
                                  "--ops",    std::to_string(ops), "--key-prefix", w.key_prefix};
    if (!own.empty() && !own[0].tls_ca.empty()) {
        a.push_back("--tls-ca");
        a.push_back(own[0].tls_ca);
    }
    if (callgrind) {
        a.push_back("--ops2");
        a.push_back(std::to_string(ops2));
        a.push_back("--callgrind");
    }
    return a;
}

void measure_syscalls(const SuiteOptions& o, const std::string& strace,
                      const Servers& servers, WorkloadResult& wr, Progress& progress) {
    const Workload& w = wr.workload;
    std::size_t n[2] = {probe_len(w.strace_ops[0], o.probe_scale),
                        probe_len(w.strace_ops[1], o.probe_scale)};
    if (n[1] <= n[0]) n[1] = n[0] + 1;
    for (auto& cr : wr.clients) {
        if (interrupted()) return;
        progress.step(w.name + " " + cr.client + " strace", kStraceWeight);
        if (!cr.error.empty()) continue;
        SyscallCounts counts[2];
        for (int i = 0; i < 2; ++i) {
            std::string file = o.out_dir + "/strace." + w.name + "." + cr.client + "." +
                               std::to_string(i) + ".txt";
            std::vector<std::string> argv = {strace, "-f", "-qq", "-c", "-U", "calls,name", "-o", file};
            auto probe = probe_args(self_exe(), w, cr.client, servers.of(cr.client), n[i], 0, false);
            argv.insert(argv.end(), probe.begin(), probe.end());
            ProcessResult r = run_process(argv, 300);
            if (r.exit_code != 0) {
                cr.strace_error = "probe under strace failed: " + r.output.substr(0, 400);
                break;
            }
            counts[i] = read_strace_summary(file);
            if (counts[i].total < 0) {
                cr.strace_error = "no strace summary in " + file;
                break;
            }
        }
        if (!cr.strace_error.empty()) continue;
        double d = static_cast<double>(n[1] - n[0]);
        cr.syscalls_per_op = static_cast<double>(counts[1].total - counts[0].total) / d;
        for (const auto& [name, calls] : counts[1].by_name) {
            auto it = counts[0].by_name.find(name);
            long before = it == counts[0].by_name.end() ? 0 : it->second;
            double per_op = static_cast<double>(calls - before) / d;
            if (per_op > 0.005 || per_op < -0.005) cr.syscalls_by_name[name] = per_op;
        }
    }
}

void measure_instructions(const SuiteOptions& o, const std::string& valgrind,
                          const Servers& servers, WorkloadResult& wr,
                          Progress& progress) {
    const Workload& w = wr.workload;
    std::size_t n1 = probe_len(w.callgrind_ops[0], o.probe_scale);
    std::size_t n2 = probe_len(w.callgrind_ops[1], o.probe_scale);
    if (n2 <= n1) n2 = n1 + 1;
    for (auto& cr : wr.clients) {
        if (interrupted()) return;
        progress.step(w.name + " " + cr.client + " callgrind", kCallgrindWeight);
        if (!cr.error.empty()) continue;
        std::string base = o.out_dir + "/callgrind." + w.name + "." + cr.client;
        for (const char* suffix : {"", ".1", ".2"}) std::remove((base + suffix).c_str());
        std::vector<std::string> argv = {valgrind, "--tool=callgrind",
                                         // Names in full in every dump, so that each
                                         // dump can be annotated on its own.
                                         "--compress-strings=no", "--compress-pos=no",
                                         "--callgrind-out-file=" + base};
        auto probe = probe_args(self_exe(), w, cr.client, servers.of(cr.client), n1, n2, true);
        argv.insert(argv.end(), probe.begin(), probe.end());
        ProcessResult r = run_process(argv, 600);
        if (r.exit_code != 0) {
            cr.callgrind_error = "probe under callgrind failed: " + r.output.substr(r.output.size() > 600 ? r.output.size() - 600 : 0);
            continue;
        }
        long long i1 = read_callgrind_total(base + ".1");
        long long i2 = read_callgrind_total(base + ".2");
        if (i1 < 0 || i2 < 0) {
            cr.callgrind_error = "no callgrind dumps at " + base + ".1/.2";
            continue;
        }
        // The two dumps cover n1 and then n2 operations; their difference per extra
        // operation leaves out whatever a run costs once.
        cr.instr_per_op = static_cast<double>(i2 - i1) / static_cast<double>(n2 - n1);
        cr.callgrind_file = base + ".2";
        cr.callgrind_file_ops = n2;
    }
}

// Against the user's servers: the bench's own key prefix, every server for the
// workloads of several, and no apr-util where a server is a unix socket (apr_memcache
// cannot reach one).
void fit_to_fleet(const SuiteOptions& o, const std::string& key_prefix, Workload& w) {
    if (o.fleet.empty()) return;
    w.key_prefix = key_prefix;
    if (w.servers > 1) {
        w.servers = o.fleet.size();
        const auto at = w.title.rfind(" over ");
        if (at != std::string::npos)
            w.title = w.title.substr(0, at) + " over " + std::to_string(w.servers) + " servers";
    }
    // The user's servers are reached in plain text: ours-tls needs servers the bench starts.
    w.clients.erase(std::remove(w.clients.begin(), w.clients.end(), "ours-tls"), w.clients.end());
    bool unix_socket = false;
    for (std::size_t i = 0; i < w.servers; ++i) unix_socket |= o.fleet[i].port == 0;
    if (unix_socket)
        w.clients.erase(std::remove(w.clients.begin(), w.clients.end(), "apr-util"), w.clients.end());
}

WorkloadResult make_result(const Workload& w, const SuiteOptions& o) {
    WorkloadResult wr;
    wr.workload = w;
    scale_ops(wr.workload, o.scale);
    for (const auto& c : w.clients)
        if (selected(o.only_clients, c)) {
            ClientResult cr;
            cr.client = c;
            wr.clients.push_back(cr);
        }
    return wr;
}

}  // namespace

bool run_suite(const SuiteOptions& o, SuiteResult& result) {
    auto started = std::chrono::steady_clock::now();
    initialize_clients();

    const bool fleet = !o.fleet.empty();
    std::vector<std::unique_ptr<test::MemcachedProcess>> memcached;
    Servers all_servers;
    std::vector<Endpoint>& servers = all_servers.plain;
    std::string key_prefix;
    if (fleet) {
        // The user's servers: none started, none flushed; keys of our own, deleted after.
        servers = o.fleet;
        key_prefix = random_key_prefix();
        catch_interrupts();
    } else {
        // Four servers, or as many as the widest selected workload needs.
        // And as many TLS servers as the widest workload ours-tls is measured on.
        std::size_t wanted = 4, tls_wanted = 0;
        for (const auto& w : all_workloads()) {
            if (!selected(o.only_workloads, w.name)) continue;
            wanted = std::max(wanted, w.servers);
            if (selected(o.only_clients, "ours-tls") &&
                std::find(w.clients.begin(), w.clients.end(), "ours-tls") != w.clients.end())
                tls_wanted = std::max(tls_wanted, w.servers);
        }
        const test::TestPki* pki = nullptr;
        if (tls_wanted) {
            pki = &test::test_pki();
            if (!pki->error.empty()) {
                result.errors.push_back("ours-tls not measured: no certificates for its servers: " + pki->error);
                tls_wanted = 0;
            }
        }
        for (std::size_t i = 0; i < wanted + tls_wanted; ++i) {
            // One worker thread: memcached hands connections to its workers in turn, and
            // which worker (and so which core) a client's connection lands on changed its
            // latency by 2x on this machine, a difference between clients that is not theirs.
            const bool tls = i >= wanted;
            std::vector<std::string> args{"-m", "256", "-t", "1"};
            args.insert(args.end(), o.memcached_args.begin(), o.memcached_args.end());
            if (tls) {
                const auto z = pki->memcached_args();
                args.insert(args.end(), z.begin(), z.end());
            }
            auto m = std::make_unique<test::MemcachedProcess>(args);
            if (!m->start()) {
                result.errors.push_back("memcached did not start: " + m->error());
                return false;
            }
            (tls ? all_servers.tls : servers).push_back(Endpoint{"127.0.0.1", m->port(), tls ? pki->ca : ""});
            memcached.push_back(std::move(m));
        }
    }
    Placement placement;
    const bool pin = o.pin_single_thread && !fleet;

    std::string strace = o.strace ? find_program("strace") : "";
    std::string valgrind = o.callgrind ? find_program("valgrind") : "";
    std::string annotate = o.callgrind ? find_program("callgrind_annotate") : "";
    if (o.strace && strace.empty())
        result.notes.push_back("strace is not installed: syscalls per operation not measured "
                               "(scripts/bench.sh installs it)");
    if (o.callgrind && valgrind.empty())
        result.notes.push_back("valgrind is not installed: instructions per operation not "
                               "measured (scripts/bench.sh installs it)");

    // The plan: every workload and scaling step that will run, and its weight for the
    // progress line.
    std::vector<Workload> planned;
    double total_weight = 0;
    for (Workload w : all_workloads()) {
        if (!selected(o.only_workloads, w.name)) continue;
        fit_to_fleet(o, key_prefix, w);
        WorkloadResult wr = make_result(w, o);
        if (wr.clients.empty()) continue;
        const double n = static_cast<double>(wr.clients.size());
        if (o.micro) total_weight += n * o.reps * kThroughputWeight;
        if (selected(o.probe_workloads, w.name)) {
            if (!strace.empty()) total_weight += n * kStraceWeight;
            if (!valgrind.empty()) total_weight += (n + 1) * kCallgrindWeight;
        }
        planned.push_back(w);
    }
    std::vector<Workload> scaling;
    if (o.scaling && o.micro) {
        for (unsigned t : o.scaling_threads) {
            Workload w = scaling_workload(t);
            fit_to_fleet(o, key_prefix, w);
            WorkloadResult wr = make_result(w, o);
            if (wr.clients.empty()) continue;
            total_weight += static_cast<double>(wr.clients.size()) * o.reps * kThroughputWeight;
            scaling.push_back(w);
        }
    }
    const bool e2e = o.e2e && !fleet;
    if (e2e) total_weight += 2 * kE2eWeight + kE2eMemoryWeight;
    Progress progress(total_weight);

    std::vector<Workload> touched;  // whose keys may be on the servers now
    for (const auto& w : planned) {
        if (interrupted()) break;
        WorkloadResult wr = make_result(w, o);
        touched.push_back(w);
        placement.apply(pin && w.threads == 1, memcached);
        if (o.micro) measure_throughput(o, all_servers, wr, progress);
        bool probe = selected(o.probe_workloads, w.name);
        if (probe && !strace.empty()) measure_syscalls(o, strace, all_servers, wr, progress);
        if (probe && !valgrind.empty()) {
            measure_instructions(o, valgrind, all_servers, wr, progress);
            // The harness's share, with a client that does nothing.
            WorkloadResult harness;
            harness.workload = wr.workload;
            ClientResult none;
            none.client = "none";
            harness.clients.push_back(none);
            measure_instructions(o, valgrind, all_servers, harness, progress);
            wr.harness_instr_per_op = harness.clients[0].instr_per_op;
        }
        for (const auto& cr : wr.clients) {
            for (const std::string* e : {&cr.error, &cr.strace_error, &cr.callgrind_error})
                if (!e->empty()) result.errors.push_back(w.name + " / " + cr.client + ": " + *e);
            if (cr.client == "ours" && !cr.callgrind_file.empty() && !annotate.empty()) {
                // The report shows the workloads with instruction targets; every
                // workload's annotation is written beside it.
                if (w.name == "get-hit-100" || w.name == "mget-100x4" || w.name == "mixed-16t") {
                    result.profiles[w.name] = callgrind_top_functions(
                        annotate, cr.callgrind_file, 15, false,
                        static_cast<double>(cr.callgrind_file_ops));
                }
                for (bool inclusive : {false, true}) {
                    ProcessResult a = run_process(
                        {annotate, inclusive ? "--inclusive=yes" : "--inclusive=no", "--threshold=100",
                         cr.callgrind_file},
                        120);
                    write_text_file(o.out_dir + "/profile." + w.name + ".ours." +
                                        (inclusive ? "inclusive" : "self") + ".txt",
                                    a.output);
                }
            }
        }
        result.workloads.push_back(std::move(wr));
    }

    placement.apply(false, memcached);
    for (const auto& w : scaling) {
        if (interrupted()) break;
        WorkloadResult wr = make_result(w, o);
        touched.push_back(w);
        measure_throughput(o, all_servers, wr, progress);
        for (const auto& cr : wr.clients)
            if (!cr.error.empty()) result.errors.push_back(w.name + " / " + cr.client + ": " + cr.error);
        result.scaling.push_back(std::move(wr));
    }

    if (e2e && !interrupted()) {
        E2eConfig c = o.e2e_config;
        c.valgrind = valgrind;  // empty when callgrind is skipped or missing
        c.annotate = annotate;
        c.out_dir = o.out_dir;
        if (c.mod_example_aprutil.empty() || c.mod_memcache.empty()) {
            result.notes.push_back("end-to-end not run: the modules were not built (MMC_BUILD_MODULE=OFF)");
        } else if (c.wrk.empty()) {
            result.notes.push_back("end-to-end not run: wrk is not installed (scripts/bench.sh installs it)");
        } else {
            log("[bench] end to end (httpd + wrk)%s%s\n");
            result.e2e_ran = true;
            result.e2e = run_e2e(c, servers[0]);
            progress.step("end to end, one get", kE2eWeight);
            E2eConfig m = c;
            m.keys = 20;
            m.name = "e2e-mget20";
            result.e2e_mget_ran = !interrupted();
            if (result.e2e_mget_ran) result.e2e_mget = run_e2e(m, servers[0]);
            progress.step("end to end, 20-key multi-get", kE2eWeight);
            for (const auto* e : {&result.e2e, &result.e2e_mget}) {
                if (!e->error.empty()) result.errors.push_back("end to end: " + e->error);
                for (const auto* p : {&e->ours_profile, &e->aprutil_profile})
                    if (!p->error.empty()) result.errors.push_back("end to end under callgrind: " + p->error);
            }
            // Memory per child: the 20-key page over the four servers the bench started.
            result.e2e_memory_ran = !interrupted();
            if (result.e2e_memory_ran) {
                result.e2e_memory = run_e2e_memory(m, std::vector<Endpoint>(servers.begin(), servers.begin() + 4));
                if (!result.e2e_memory.error.empty())
                    result.errors.push_back("end to end, memory per child: " + result.e2e_memory.error);
            }
        }
        progress.step("end to end, memory per child", kE2eMemoryWeight);
    }
    progress.finish();

    if (fleet) {
        // Whatever happened above (failures, an interrupt), the keys go.
        result.interrupted = interrupted();
        std::size_t deleted = 0;
        for (const auto& w : touched) {
            std::string why = delete_workload_keys(servers, w, deleted);
            if (!why.empty()) result.errors.push_back("cleaning up " + w.name + ": " + why);
        }
        result.servers_note = "Servers: " + join_servers(servers) +
                              " (the user's own: not started by the bench, never flushed). Keys "
                              "prefixed `" + key_prefix + "`; " + std::to_string(deleted) +
                              " of them deleted afterwards.";
        if (o.e2e)
            result.notes.push_back("end-to-end not run: it needs servers the bench starts itself");
    }
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return true;
}

int run_probe(const std::string& workload, const std::string& client,
              const std::vector<Endpoint>& servers, std::size_t ops, std::size_t ops2,
              bool callgrind, const std::string& key_prefix) {
    initialize_clients();
    std::vector<Workload> all = all_workloads();
    for (unsigned t : {1u, 2u, 4u, 8u, 16u}) all.push_back(scaling_workload(t));
    const Workload* found = find_workload(all, workload);
    ClientKind kind;
    if (!found || !ClientKind::parse(client, kind)) {
        std::fprintf(stderr, "probe: unknown workload %s or client %s\n", workload.c_str(),
                     client.c_str());
        return 2;
    }
    Workload w0 = *found;
    w0.servers = servers.size();
    if (!key_prefix.empty()) w0.key_prefix = key_prefix;
    const Workload* w = &w0;
    Bench b(*w, kind, servers);
    if (!b.ok() || !b.preload()) {
        std::fprintf(stderr, "probe: %s\n", b.error().c_str());
        return 1;
    }
    RunResult warm = b.run(std::max<std::size_t>(w->threads, 20), false);
    std::size_t unexpected = warm.unexpected;
    std::string first = warm.first_error;
    auto account = [&](const RunResult& r) {
        if (r.unexpected && !unexpected) first = r.first_error;
        unexpected += r.unexpected;
    };
    if (callgrind) {
        // Collection stays on (callgrind toggles collection per thread, which would miss
        // the worker threads); zeroing then dumping counts every thread's instructions.
        CALLGRIND_ZERO_STATS;
        account(b.run(ops, false));
        CALLGRIND_DUMP_STATS_AT("first run");
        account(b.run(ops2, false));
        CALLGRIND_DUMP_STATS_AT("second run");
    } else {
        account(b.run(ops, false));
    }
    if (unexpected) {
        std::fprintf(stderr, "probe: %zu unexpected results, first: %s\n", unexpected, first.c_str());
        return 1;
    }
    return 0;
}

}  // namespace mmc::bench
