// The Markdown report: headline tables, details per workload, thread scaling, end to
// end, the targets of issue #5 checked against the numbers, and profiles of our client.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <utility>

#include "stats.h"
#include "suite.h"

namespace mmc::bench {

namespace {

bool known(double x) { return !std::isnan(x); }

// 12345.6 -> "12,346"; small numbers keep `decimals` digits.
std::string num(double x, int decimals = 0) {
    if (!known(x)) return "–";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, x);
    std::string s = buf;
    std::size_t dot = s.find('.');
    std::size_t int_end = dot == std::string::npos ? s.size() : dot;
    std::size_t start = s[0] == '-' ? 1 : 0;
    for (std::size_t i = int_end; i > start + 3; i -= 3) s.insert(i - 3, ",");
    return s;
}

std::string ratio(double a, double b) {
    if (!known(a) || !known(b) || b == 0) return "–";
    return num(a / b, 2) + "×";
}

double median_of(const std::vector<double>& v) { return summarize(v).median; }

std::string with_spread(const std::vector<double>& v, int decimals = 0) {
    Summary s = summarize(v);
    if (!known(s.median)) return "–";
    return num(s.median, decimals) + " ±" + num(s.spread() * 100, 1) + "%";
}

double ops(const WorkloadResult* w, const std::string& client) {
    const ClientResult* c = w ? w->find(client) : nullptr;
    return c ? median_of(c->ops_per_s) : std::nan("");
}
double instr(const WorkloadResult* w, const std::string& client) {
    const ClientResult* c = w ? w->find(client) : nullptr;
    return c ? c->instr_per_op : std::nan("");
}
double syscalls(const WorkloadResult* w, const std::string& client) {
    const ClientResult* c = w ? w->find(client) : nullptr;
    return c ? c->syscalls_per_op : std::nan("");
}

const WorkloadResult* find(const SuiteResult& r, const std::string& name) {
    for (const auto& w : r.workloads)
        if (w.workload.name == name) return &w;
    return nullptr;
}

std::string syscall_breakdown(const ClientResult& c) {
    std::string s;
    for (const auto& [name, per_op] : c.syscalls_by_name) {
        if (!s.empty()) s += ", ";
        s += name + " " + num(per_op, 2);
    }
    return s.empty() ? "–" : s;
}

void headline(std::ostringstream& md, const SuiteResult& r, const std::string& a,
              const std::string& b, const std::string& c) {
    md << "| workload | ops/s " << a << " | " << b << " | " << c << " | " << a << " ÷ " << b
       << " | " << a << " ÷ " << c << " | instr/op " << a << " | " << b << " | " << c
       << " | syscalls/op " << a << " | " << b << " | " << c << " |\n"
       << "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n";
    for (const auto& w : r.workloads) {
        if (!w.find(a) || (!w.find(b) && !w.find(c))) continue;
        std::string name = w.workload.name + (w.workload.per_key() ? " (per call)" : "");
        md << "| " << name << " | " << num(ops(&w, a)) << " | " << num(ops(&w, b)) << " | "
           << num(ops(&w, c)) << " | " << ratio(ops(&w, a), ops(&w, b)) << " | "
           << ratio(ops(&w, a), ops(&w, c)) << " | " << num(instr(&w, a)) << " | "
           << num(instr(&w, b)) << " | " << num(instr(&w, c)) << " | "
           << num(syscalls(&w, a), 2) << " | " << num(syscalls(&w, b), 2) << " | "
           << num(syscalls(&w, c), 2) << " |\n";
    }
    md << "\n";
}

// The median over rounds of one KiB field of ChildMemory, NaN when none was read.
double median_kb(const std::vector<ChildMemory>& rounds, long ChildMemory::*field) {
    std::vector<double> v;
    for (const auto& m : rounds)
        if (m.*field >= 0) v.push_back(static_cast<double>(m.*field));
    return median_of(v);
}

std::string mib(double kb) { return known(kb) ? num(kb / 1024, 1) + " MiB" : "–"; }

struct Target {
    std::string what;
    std::string measured;
    double value;
    double limit;
    bool at_most;  // value <= limit (else >=)
};

// One row per workload that measured both clients a and b: ops/s, instructions and
// syscalls side by side, and a ÷ b in ops/s.
void pair_table(std::ostringstream& md, const SuiteResult& r, const std::string& a, const std::string& b) {
    md << "| workload | ops/s " << a << " | " << b << " | " << a << " ÷ " << b << " | instr/op " << a
       << " | " << b << " | syscalls/op " << a << " | " << b << " |\n|---|--:|--:|--:|--:|--:|--:|--:|\n";
    for (const auto& w : r.workloads) {
        if (!w.find(a) || !w.find(b)) continue;
        md << "| " << w.workload.name << " | " << num(ops(&w, a)) << " | " << num(ops(&w, b)) << " | "
           << ratio(ops(&w, a), ops(&w, b)) << " | " << num(instr(&w, a)) << " | " << num(instr(&w, b))
           << " | " << num(syscalls(&w, a), 2) << " | " << num(syscalls(&w, b), 2) << " |\n";
    }
    md << "\n";
}

void target_table(std::ostringstream& md, const SuiteOptions& o, const SuiteResult& r) {
    std::vector<Target> t;
    const WorkloadResult* get = find(r, "get-hit-100");
    const WorkloadResult* mget = find(r, "mget-100x4");
    const WorkloadResult* mixed = find(r, "mixed-16t");
    t.push_back({"single get: instructions/op ≤ 1,500", num(instr(get, "ours")), instr(get, "ours"), 1500, true});
    t.push_back({"single get: syscalls/op ≤ 2", num(syscalls(get, "ours"), 2), syscalls(get, "ours"), 2.0, true});
    t.push_back({"multi-get 100 keys / 4 servers: syscalls/call ≤ 9", num(syscalls(mget, "ours"), 2),
                 syscalls(mget, "ours"), 9.0, true});
    double ipk = instr(mget, "ours") / 100;
    t.push_back({"multi-get: instructions/key ≤ 800", num(ipk), ipk, 800, true});
    double ma = ops(mget, "ours") / ops(mget, "apr-util");
    t.push_back({"multi-get: ours ≥ 1.3× apr-util (calls/s)", ratio(ops(mget, "ours"), ops(mget, "apr-util")), ma, 1.3, false});
    double ml = ops(mget, "ours") / ops(mget, "libmc");
    t.push_back({"multi-get: ours ≥ 1.1× libmemcached (calls/s)", ratio(ops(mget, "ours"), ops(mget, "libmc")), ml, 1.1, false});
    double xa = ops(mixed, "ours") / ops(mixed, "apr-util");
    t.push_back({"16 threads: ours ≥ 1.0× apr-util (ops/s)", ratio(ops(mixed, "ours"), ops(mixed, "apr-util")), xa, 1.0, false});
    double xl = ops(mixed, "ours") / ops(mixed, "libmc");
    t.push_back({"16 threads: ours ≥ 1.0× libmemcached (ops/s)", ratio(ops(mixed, "ours"), ops(mixed, "libmc")), xl, 1.0, false});
    double e = std::nan("");
    if (r.e2e_ran && r.e2e.error.empty()) {
        std::vector<double> a, b;
        for (const auto& x : r.e2e.ours) a.push_back(x.requests_per_second);
        for (const auto& x : r.e2e.aprutil) b.push_back(x.requests_per_second);
        e = median_of(a) / median_of(b);
    }
    t.push_back({"httpd end to end: ≥ 1.05× the apr_memcache build (requests/s)",
                 known(e) ? num(e, 2) + "×" : "–", e, 1.05, false});
    // Issue #14 restates it as instructions per request, and adds a 20-key page.
    double ei = std::nan("");
    if (r.e2e_ran && r.e2e.ours_profile.error.empty() && r.e2e.aprutil_profile.error.empty())
        ei = r.e2e.ours_profile.instr_per_request / r.e2e.aprutil_profile.instr_per_request;
    t.push_back({"httpd one get: user-space instructions/request ≤ 0.92× the apr_memcache build",
                 known(ei) ? num(ei, 3) + "×" : "–", ei, 0.92, true});
    double m = std::nan("");
    if (r.e2e_mget_ran && r.e2e_mget.error.empty()) {
        std::vector<double> a, b;
        for (const auto& x : r.e2e_mget.ours) a.push_back(x.requests_per_second);
        for (const auto& x : r.e2e_mget.aprutil) b.push_back(x.requests_per_second);
        m = median_of(a) / median_of(b);
    }
    t.push_back({"httpd 20-key multi-get: ≥ 1.3× the apr_memcache build (requests/s)",
                 known(m) ? num(m, 2) + "×" : "–", m, 1.3, false});
    // Issue #14: memory per httpd child after the 16-connection load.
    double rss = std::nan(""), rss_ours = std::nan(""), rss_apr = std::nan("");
    if (r.e2e_memory_ran && r.e2e_memory.error.empty()) {
        rss_ours = median_kb(r.e2e_memory.ours, &ChildMemory::load_kb);
        rss_apr = median_kb(r.e2e_memory.aprutil, &ChildMemory::load_kb);
        rss = rss_ours / rss_apr;
    }
    t.push_back({"RSS per child after load ≤ apr-util's (event MPM, 25 threads, 4 servers)",
                 known(rss) ? mib(rss_ours) + " vs " + mib(rss_apr) + " (" + num(rss, 3) + "×)" : "–", rss, 1.0,
                 true});
    // Issue #14: the array multi-get, cost per key as a batch grows, many servers.
    const WorkloadResult* big = find(r, "mget-1000x4");
    const WorkloadResult* wide = find(r, "mget-100x32");
    const double apk = instr(mget, "ours-array") / 100;
    t.push_back({"array multi-get, 100 keys / 4 servers: instructions/key ≤ 800", num(apk), apk, 800, true});
    const double aa = ops(mget, "ours-array") / ops(mget, "apr-util");
    t.push_back({"array multi-get: ≥ 1.5× apr-util (calls/s)", ratio(ops(mget, "ours-array"), ops(mget, "apr-util")),
                 aa, 1.5, false});
    t.push_back({"array multi-get: syscalls/call ≤ 9", num(syscalls(mget, "ours-array"), 2),
                 syscalls(mget, "ours-array"), 9.0, true});
    const double bpk = instr(big, "ours-array") / 1000;
    t.push_back({"array multi-get, 1000 keys: instructions/key within 10% of 100 keys",
                 num(bpk) + " (" + num(100 * (bpk / apk - 1), 1) + "%)", bpk / apk, 1.10, true});
    t.push_back({"array multi-get, 100 keys / 32 servers: syscalls/call (one write and read per server, one poll)",
                 num(syscalls(wide, "ours-array"), 2), syscalls(wide, "ours-array"), 65.0, true});
    const double g4 = instr(find(r, "get-hit-100x4"), "ours");
    for (const std::string servers : {"32", "200"}) {
        const double g = instr(find(r, "get-hit-100x" + servers), "ours");
        t.push_back({"single get among " + servers + " servers: instructions within 5% of 4 servers",
                     num(g) + " vs " + num(g4) + " (" + num(100 * (g / g4 - 1), 1) + "%)", g / g4, 1.05, true});
    }
    // Issue #12: TLS.
    t.push_back({"TLS single get: syscalls/op ≤ 2", num(syscalls(get, "ours-tls"), 2),
                 syscalls(get, "ours-tls"), 2.0, true});
    t.push_back({"TLS single get (100 B): ≥ 0.85× plain text (ops/s)", ratio(ops(get, "ours-tls"), ops(get, "ours")),
                 ops(get, "ours-tls") / ops(get, "ours"), 0.85, false});
    (void)o;
    md << "| target | measured | |\n|---|--:|---|\n";
    for (const auto& x : t) {
        std::string verdict = !known(x.value) ? "not measured"
                              : (x.at_most ? x.value <= x.limit : x.value >= x.limit) ? "met"
                                                                                       : "**missed**";
        md << "| " << x.what << " | " << x.measured << " | " << verdict << " |\n";
    }
    md << "\n";
}

}  // namespace

void render_e2e(std::ostringstream& md, const E2eConfig& c, const E2eResult& e, const std::string& what) {
    md << "### End to end: httpd (event MPM, 1 child × " << c.threads_per_child
       << " threads) + the example handler, " << what << "\n\n"
       << "`wrk -t" << c.wrk_threads << " -c" << c.connections << " -d" << c.seconds
       << "s --latency`, keep-alive, " << c.reps << " interleaved rounds. httpd CPU is "
       << "user+sys of all httpd processes per request, split into user space and kernel "
       << "(medians of each column).\n\n";
    if (!e.error.empty()) {
        md << "Not measured: " << e.error << "\n\n";
    } else {
        md << "| build | requests/s | p50 µs | p75 µs | p90 µs | p99 µs | httpd CPU µs/request | of it user | of it kernel |\n"
              "|---|--:|--:|--:|--:|--:|--:|--:|--:|\n";
        double rps[2] = {0, 0};
        int i = 0;
        for (const auto* runs : {&e.ours, &e.aprutil}) {
            std::vector<double> v, p[4], cpu, user, sys;
            for (const auto& x : *runs) {
                v.push_back(x.requests_per_second);
                for (int k = 0; k < 4; ++k) p[k].push_back(x.latency_us[k]);
                cpu.push_back(x.httpd_user_us_per_request + x.httpd_sys_us_per_request);
                user.push_back(x.httpd_user_us_per_request);
                sys.push_back(x.httpd_sys_us_per_request);
            }
            rps[i] = median_of(v);
            md << "| " << (i == 0 ? "mod_memcache (ours)" : "apr-util apr_memcache") << " | "
               << with_spread(v) << " | " << num(median_of(p[0]), 0) << " | "
               << num(median_of(p[1]), 0) << " | " << num(median_of(p[2]), 0) << " | "
               << num(median_of(p[3]), 0) << " | " << num(median_of(cpu), 1) << " | "
               << num(median_of(user), 1) << " | " << num(median_of(sys), 1) << " |\n";
            ++i;
        }
        md << "\nours ÷ apr-util: " << ratio(rps[0], rps[1]) << " requests/s.\n\n";
    }
    if (e.profiled) {
        md << "Where a request's user-space instructions go (callgrind, `httpd -X` with one "
              "wrk connection, " << c.profile_seconds[0] << " s and " << c.profile_seconds[1]
           << " s runs, difference per request; kernel time is not counted):\n\n"
              "| build | httpd instr/request | in the handler | in the get | get's share of the request |\n"
              "|---|--:|--:|--:|--:|\n";
        for (const auto* p : {&e.ours_profile, &e.aprutil_profile}) {
            md << "| " << (p == &e.ours_profile ? "mod_memcache (ours)" : "apr-util apr_memcache")
               << " | ";
            if (!p->error.empty()) {
                md << "not measured | | | |\n";
                continue;
            }
            md << num(p->instr_per_request) << " | " << num(p->handler_per_request) << " | "
               << num(p->get_per_request) << " | "
               << num(100 * p->get_per_request / p->instr_per_request, 1) << "% |\n";
        }
        const auto& a = e.ours_profile;
        const auto& b = e.aprutil_profile;
        if (a.error.empty() && b.error.empty()) {
            md << "\nours ÷ apr-util: " << num(a.instr_per_request / b.instr_per_request, 3)
               << "× the user-space instructions per request.\n";
        }
        md << "\n";
    }
}

namespace {

std::string base_name(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The files `a` maps that `b` does not, with their resident KiB, largest first; and
// their sum. Mappings that are not files ("[heap]", ...) are left out.
std::vector<std::pair<std::string, long>> only_in(const std::map<std::string, long>& a,
                                                  const std::map<std::string, long>& b, long& sum) {
    std::vector<std::pair<std::string, long>> files;
    sum = 0;
    for (const auto& [path, kb] : a)
        if (path[0] == '/' && !b.count(path)) {
            files.emplace_back(base_name(path), kb);
            sum += kb;
        }
    std::sort(files.begin(), files.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
    return files;
}

void render_e2e_memory(std::ostringstream& md, const E2eConfig& c, const E2eMemoryResult& e) {
    md << "### Memory per httpd child (event MPM, " << e.threads_per_child << " threads, " << e.servers
       << " servers)\n\n"
       << "One child of " << e.threads_per_child << " threads per build, with a pool of at most "
       << e.threads_per_child << " connections to each of the " << e.servers
       << " memcached servers (min 0, smax = max, ttl 15 s); each request one multi-get of " << e.keys
       << " keys of 100 B spread over every server. VmRSS of the child from `/proc/<pid>/status`: at "
          "rest after start and one request, and after load, 1 s after `wrk -t"
       << c.wrk_threads << " -c" << c.connections << " -d" << c.seconds
       << "s` has stopped; then its TCP connections to the memcached ports (its socket inodes in "
          "`/proc/net/tcp{,6}`). Medians of "
       << c.reps << " rounds, the builds alternating, each round a fresh httpd.\n\n";
    if (!e.error.empty()) {
        md << "Not measured: " << e.error << "\n\n";
        return;
    }
    md << "| build | RSS at rest | RSS after load | anonymous at rest → after load | mapped files after load | "
          "PSS after load | private after load | connections to memcached after load | per server | load requests/s |\n"
          "|---|--:|--:|--:|--:|--:|--:|--:|---|--:|\n";
    for (const auto* rounds : {&e.ours, &e.aprutil}) {
        std::vector<double> conns, rps;
        for (const auto& m : *rounds) {
            conns.push_back(m.total_connections());
            rps.push_back(m.requests_per_second);
        }
        std::string per_server;
        if (!rounds->empty())
            for (const auto& [port, n] : rounds->back().connections)
                per_server += (per_server.empty() ? "" : ", ") + std::to_string(n);
        md << "| " << (rounds == &e.ours ? "mod_memcache (ours)" : "apr-util apr_memcache") << " | "
           << mib(median_kb(*rounds, &ChildMemory::rest_kb)) << " | "
           << mib(median_kb(*rounds, &ChildMemory::load_kb)) << " | "
           << mib(median_kb(*rounds, &ChildMemory::rest_anon_kb)) << " → "
           << mib(median_kb(*rounds, &ChildMemory::load_anon_kb)) << " | "
           << mib(median_kb(*rounds, &ChildMemory::load_file_kb)) << " | "
           << mib(median_kb(*rounds, &ChildMemory::load_pss_kb)) << " | "
           << mib(median_kb(*rounds, &ChildMemory::load_private_kb)) << " | " << num(median_of(conns)) << " | "
           << (per_server.empty() ? "–" : per_server + " (last round)") << " | " << num(median_of(rps)) << " |\n";
    }
    const double a = median_kb(e.ours, &ChildMemory::load_kb);
    const double b = median_kb(e.aprutil, &ChildMemory::load_kb);
    md << "\nours ÷ apr-util after load: " << num(a / b, 3) << "× (" << num(a - b) << " KiB). RSS after load "
          "by round (KiB), ours:";
    for (const auto& m : e.ours) md << " " << m.load_kb;
    md << "; apr-util:";
    for (const auto& m : e.aprutil) md << " " << m.load_kb;
    md << ".\n\n";
    if (!e.ours.empty() && !e.aprutil.empty()) {
        // Both builds run the same httpd and the same libraries (libaprutil, with its
        // apr_memcache, is httpd's own), so the files only one build maps are what its
        // client brings with it.
        const auto& fo = e.ours.back().mappings_kb;
        const auto& fa = e.aprutil.back().mappings_kb;
        for (int i = 0; i < 2; ++i) {
            long sum = 0;
            const auto files = i == 0 ? only_in(fo, fa, sum) : only_in(fa, fo, sum);
            md << "Resident pages of files only " << (i == 0 ? "ours" : "the apr-util build") << " maps (last round): "
               << num(static_cast<double>(sum)) << " KiB";
            std::string list;
            for (const auto& [name, kb] : files)
                list += (list.empty() ? "" : ", ") + name + " " + std::to_string(kb);
            md << (list.empty() ? "" : " (" + list + ")") << ".\n";
        }
        // And what both map (files, the heap, anonymous memory) where the two children
        // hold different amounts.
        std::vector<std::pair<std::string, long>> diffs;
        for (const auto& [path, kb] : fo) {
            const auto it = fa.find(path);
            if (it != fa.end() && kb != it->second) diffs.emplace_back(base_name(path), kb - it->second);
        }
        std::sort(diffs.begin(), diffs.end(),
                  [](const auto& x, const auto& y) { return std::labs(x.second) > std::labs(y.second); });
        if (diffs.size() > 8) diffs.resize(8);
        std::string list;
        for (const auto& [name, kb] : diffs)
            list += (list.empty() ? "" : ", ") + name + " " + (kb > 0 ? "+" : "") + std::to_string(kb);
        md << "Mappings of both, the largest differences (ours − apr-util, KiB): " << (list.empty() ? "none" : list)
           << ".\n";
        md << "\n";
    }
}

}  // namespace

std::string render_report(const SuiteOptions& o, const SuiteResult& r) {
    std::ostringstream md;
    md << "## Results\n\n"
       << "Medians of " << o.reps << " interleaved repetitions (± is half the range, as a "
       << "share of the median); scale " << o.scale << ". Latency per operation measured "
       << "in the client; CPU is user+sys of the client process; syscalls/op from `strace "
       << "-c -f` and instr/op from callgrind, each the difference of two run lengths. "
       << "For the multi-get one operation is one call of 100 keys. "
       << (o.pin_single_thread ? "Single-thread workloads ran with the client and the memcached "
                                 "servers on one CPU; threaded ones and httpd on all. "
                               : "No CPU pinning. ")
       << "Whole run: " << num(r.seconds) << " s.\n\n";
    if (!r.servers_note.empty()) {
        md << r.servers_note << "\n\n";
    } else {
        md << "The bench's memcached servers ran with `-m 256 -t 1";
        for (const auto& a : o.memcached_args) md << " " << a;
        md << "`" << (o.memcached_args.empty() ? " and memcached's defaults otherwise" : "") << ".\n\n";
    }
    if (r.interrupted) md << "**Interrupted**: the run stopped early; the tables are incomplete.\n\n";

    if (!r.workloads.empty()) {
        md << "### Headline: text protocol (ours and libmemcached with ketama; apr-util modula)\n\n";
        headline(md, r, "ours", "apr-util", "libmc");
        md << "### Binary protocol\n\n";
        pair_table(md, r, "ours-bin", "libmc-bin");
        md << "### Meta protocol against text (ours)\n\n";
        pair_table(md, r, "ours-meta", "ours");
        md << "### TLS against plain text (ours, text protocol)\n\n"
           << "ours-tls runs against memcached servers of its own started with `-Z` "
              "(certificates made at start with `openssl`, the CA verified, TLS 1.3); the "
              "connections are made during the warm-up, so no handshake is in the figures.\n\n";
        pair_table(md, r, "ours-tls", "ours");
        if (const WorkloadResult* m = find(r, "mget-100x4"); m && m->find("ours-modula")) {
            md << "### Multi-get with modula placement (ours) vs apr-util (modula)\n\n"
               << "| | calls/s | instr/call | instr/key | syscalls/call |\n|---|--:|--:|--:|--:|\n";
            for (const char* c : {"ours-modula", "apr-util", "ours", "libmc"}) {
                if (!m->find(c)) continue;
                md << "| " << c << " | " << num(ops(m, c)) << " | " << num(instr(m, c)) << " | "
                   << num(instr(m, c) / 100) << " | " << num(syscalls(m, c), 2) << " |\n";
            }
            md << "\nours-modula ÷ apr-util: " << ratio(ops(m, "ours-modula"), ops(m, "apr-util"))
               << " calls/s.\n\n";
        }
        md << "### Targets (issues #5 and #14)\n\n";
        target_table(md, o, r);

        md << "### Details per workload\n\n";
        for (const auto& w : r.workloads) {
            md << "#### " << w.workload.name << ": " << w.workload.title << "\n\n"
               << w.workload.ops << " " << (w.workload.per_key() ? "calls" : "operations")
               << " per repetition.\n\n"
               << "| client | ops/s | p50 µs | p99 µs | CPU µs/op | vol. switches/op | syscalls/op | "
                  "instr/op | ours ÷ this (ops/s) |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n";
            double mine = ops(&w, "ours");
            for (const auto& c : w.clients) {
                md << "| " << c.client << " | " << with_spread(c.ops_per_s) << " | "
                   << num(median_of(c.p50_us), 1) << " | " << num(median_of(c.p99_us), 1) << " | "
                   << num(median_of(c.cpu_us_per_op), 2) << " | "
                   << num(median_of(c.switches_per_op), 2) << " | " << num(c.syscalls_per_op, 2)
                   << " | " << num(c.instr_per_op) << " | " << ratio(mine, median_of(c.ops_per_s))
                   << " |\n";
            }
            if (known(w.harness_instr_per_op))
                md << "\nThe benchmark's own loop costs " << num(w.harness_instr_per_op)
                   << " instructions per operation (measured with a client that does "
                      "nothing); every instr/op above includes it.\n";
            md << "\nSyscalls per operation by name:\n\n";
            for (const auto& c : w.clients)
                md << "- " << c.client << ": " << syscall_breakdown(c) << "\n";
            md << "\n";
        }
    }

    if (!r.scaling.empty()) {
        md << "### Thread scaling: get/set 90/10, one client shared, max 4 connections, 1 server\n\n"
           << "Voluntary context switches per operation show threads waiting (for a "
              "connection, a lock or the network).\n\n";
        std::vector<std::string> clients;
        for (const auto& c : r.scaling.front().clients) clients.push_back(c.client);
        md << "| threads |";
        for (const auto& c : clients) md << " ops/s " << c << " |";
        for (const auto& c : clients) md << " p99 µs " << c << " |";
        for (const auto& c : clients) md << " switches/op " << c << " |";
        md << "\n|--:|";
        for (std::size_t i = 0; i < clients.size() * 3; ++i) md << "--:|";
        md << "\n";
        for (const auto& w : r.scaling) {
            md << "| " << w.workload.threads << " |";
            for (const auto& c : clients) md << " " << num(ops(&w, c)) << " |";
            for (const auto& c : clients) {
                const ClientResult* cr = w.find(c);
                md << " " << (cr ? num(median_of(cr->p99_us), 0) : "–") << " |";
            }
            for (const auto& c : clients) {
                const ClientResult* cr = w.find(c);
                md << " " << (cr ? num(median_of(cr->switches_per_op), 2) : "–") << " |";
            }
            md << "\n";
        }
        md << "\n";
    }

    if (r.e2e_ran) render_e2e(md, o.e2e_config, r.e2e, "one get of 100 B per request");
    if (r.e2e_mget_ran)
        render_e2e(md, o.e2e_config, r.e2e_mget,
                   "one multi-get of 20 keys (100 B each) per request: a page assembled from fragments "
                   "(ours: the array call; apr-util: multgetp)");
    if (r.e2e_memory_ran) render_e2e_memory(md, o.e2e_config, r.e2e_memory);
    // Without workloads the targets come after the end-to-end part they check.
    if (r.workloads.empty() && (r.e2e_ran || r.e2e_memory_ran)) {
        md << "### Targets (issues #5 and #14)\n\n";
        target_table(md, o, r);
    }

    if (!r.profiles.empty()) {
        md << "### Where our client spends its instructions (callgrind, self cost)\n\n"
 << "Instructions per operation (a multi-get call is one operation) and share of "
              "the total, top 15 functions; the full self and inclusive annotations (totals "
              "over the longer run) are in `" << o.out_dir << "/profile.<workload>.ours.*.txt`.\n\n";
        for (const auto& [name, lines] : r.profiles) {
            md << "#### " << name << " (ours)\n\n```\n";
            for (const auto& l : lines) md << l << "\n";
            md << "```\n\n";
        }
    }
    if (!r.errors.empty()) {
        md << "### Failed measurements\n\n";
        for (const auto& n : r.errors) md << "- " << n << "\n";
        md << "\n";
    }
    if (!r.notes.empty()) {
        md << "### Not measured\n\n";
        for (const auto& n : r.notes) md << "- " << n << "\n";
        md << "\n";
    }
    return md.str();
}

}  // namespace mmc::bench
