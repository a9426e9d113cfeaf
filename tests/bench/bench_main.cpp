// mmc_bench: our engine vs apr-util's apr_memcache vs libmemcached on loopback, plus
// httpd end to end. See docs/benchmarks.md; scripts/bench.sh runs it.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "fleet.h"
#include "suite.h"
#include "tools.h"

#ifndef MMC_HTTPD_BIN
#define MMC_HTTPD_BIN "/usr/sbin/apache2"
#endif
#ifndef MMC_HTTPD_MODULES_DIR
#define MMC_HTTPD_MODULES_DIR "/usr/lib/apache2/modules"
#endif

namespace {

using namespace mmc::bench;

const char* const kUsage =
    "usage: mmc_bench [options]\n"
    "  --scale X          multiply the measured operation counts (default 1)\n"
    "  --probe-scale X    multiply the strace/callgrind run lengths (default 1)\n"
    "  --reps N           repetitions per workload and client (default 7)\n"
    "  --skip LIST        sections to leave out: micro,scaling,strace,callgrind,e2e\n"
    "  --workloads LIST   only these workloads (get-hit-100, get-miss, set-100, get-hit-10,\n"
    "                     get-hit-1k, get-hit-100k, set-10, set-1k, set-100k, mget-100x4,\n"
    "                     mget-1000x4, mget-100x32, get-hit-100x4, get-hit-100x32,\n"
    "                     get-hit-100x200, set-100x2, get-hit-100x2, mixed-16t)\n"
    "  --clients LIST     only these clients (ours, ours-bin, ours-meta, ours-modula,\n"
    "                     ours-array, ours-sealed, ours-tls, ours-replica, apr-util,\n"
    "                     libmc, libmc-bin)\n"
    "  --e2e-seconds N    length of each wrk run (default 5)\n"
    "  --e2e-reps N       wrk rounds per build (default 5)\n"
    "  --memcached-arg A  one more argument for every memcached the bench starts (repeat\n"
    "                     it for more), e.g. --memcached-arg -R --memcached-arg 100\n"
    "  --no-pin           let the scheduler place single-thread runs (default: the client\n"
    "                     and memcached share one CPU; see docs/benchmarks.md)\n"
    "  --servers LIST     benchmark servers you already run instead of starting four:\n"
    "                     host:port,[v6addr]:port,/path/to/socket,... The bench starts,\n"
    "                     stops and flushes nothing; its keys carry a random prefix and\n"
    "                     are deleted afterwards (also after Ctrl-C). Multi-server\n"
    "                     workloads use every server; no end-to-end run.\n"
    "  --out-dir DIR      callgrind/strace files and the report (default bench-out)\n"
    "  --report FILE      where the Markdown report goes (default DIR/results.md)\n"
    "  --smoke            a few operations of everything: checks that the bench works\n";

std::vector<std::string> split(const std::string& s, char sep = ',') {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, sep))
        if (!item.empty()) out.push_back(item);
    return out;
}

int probe_main(int argc, char** argv) {
    std::string workload, client, servers, key_prefix, tls_ca;
    std::size_t ops = 0, ops2 = 0;
    bool callgrind = false;
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--workload") workload = next();
        else if (a == "--client") client = next();
        else if (a == "--servers") servers = next();
        else if (a == "--ops") ops = std::strtoul(next().c_str(), nullptr, 10);
        else if (a == "--ops2") ops2 = std::strtoul(next().c_str(), nullptr, 10);
        else if (a == "--key-prefix") key_prefix = next();
        else if (a == "--tls-ca") tls_ca = next();
        else if (a == "--callgrind") callgrind = true;
    }
    std::vector<Endpoint> endpoints;
    if (!parse_fleet(servers, endpoints).empty() || ops == 0) {
        std::fprintf(stderr, "probe: need --workload --client --servers --ops\n");
        return 2;
    }
    for (auto& e : endpoints) e.tls_ca = tls_ca;
    return run_probe(workload, client, endpoints, ops, ops2, callgrind, key_prefix);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && std::strcmp(argv[1], "--probe") == 0) return probe_main(argc, argv);

    SuiteOptions o;
    std::string report;
    E2eConfig& e = o.e2e_config;
    e.httpd_bin = MMC_HTTPD_BIN;
    e.modules_dir = MMC_HTTPD_MODULES_DIR;
#ifdef MMC_MOD_MEMCACHE_PATH
    e.mod_memcache = MMC_MOD_MEMCACHE_PATH;
    e.mod_example = MMC_MOD_EXAMPLE_PATH;
    e.mod_example_aprutil = MMC_MOD_EXAMPLE_APRUTIL_PATH;
#endif
    e.wrk = find_program("wrk");

    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n%s", a.c_str(), kUsage);
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--scale") o.scale = std::atof(next().c_str());
        else if (a == "--probe-scale") o.probe_scale = std::atof(next().c_str());
        else if (a == "--reps") o.reps = std::atoi(next().c_str());
        else if (a == "--workloads") o.only_workloads = split(next());
        else if (a == "--clients") o.only_clients = split(next());
        else if (a == "--e2e-seconds") e.seconds = std::atoi(next().c_str());
        else if (a == "--e2e-reps") e.reps = std::atoi(next().c_str());
        else if (a == "--out-dir") o.out_dir = next();
        else if (a == "--servers") {
            const std::string why = parse_fleet(next(), o.fleet);
            if (!why.empty()) {
                std::fprintf(stderr, "mmc_bench: --servers: %s\n", why.c_str());
                return 2;
            }
        }
        else if (a == "--no-pin") o.pin_single_thread = false;
        else if (a == "--memcached-arg") o.memcached_args.push_back(next());
        else if (a == "--report") report = next();
        else if (a == "--skip") {
            for (const auto& s : split(next())) {
                if (s == "micro") o.micro = false;
                else if (s == "scaling") o.scaling = false;
                else if (s == "strace") o.strace = false;
                else if (s == "callgrind") o.callgrind = false;
                else if (s == "e2e") o.e2e = false;
                else {
                    std::fprintf(stderr, "unknown section %s\n%s", s.c_str(), kUsage);
                    return 2;
                }
            }
        } else if (a == "--smoke") {
            o.scale = 0.01;
            o.probe_scale = 0.1;
            o.reps = 1;
            o.scaling_threads = {1, 4};
            o.probe_workloads = {"get-hit-100", "mget-100x4", "mixed-16t"};
            e.seconds = 1;
            e.warmup_seconds = 1;
            e.reps = 1;
            e.profile_seconds[0] = 1;
            e.profile_seconds[1] = 2;
        } else if (a == "--help" || a == "-h") {
            std::fputs(kUsage, stdout);
            return 0;
        } else {
            std::fprintf(stderr, "unknown option %s\n%s", a.c_str(), kUsage);
            return 2;
        }
    }
    if (o.reps < 1 || !(o.scale > 0) || !(o.probe_scale > 0)) {
        std::fprintf(stderr, "--reps, --scale and --probe-scale must be positive\n");
        return 2;
    }
    if (report.empty()) report = o.out_dir + "/results.md";
    // The out directory and the report's directory are created with their parents, so
    // that a fresh path works; one that cannot be created stops the run before it starts.
    const auto slash = report.find_last_of('/');
    for (const std::string& dir : {o.out_dir, slash == std::string::npos ? std::string()
                                                                         : report.substr(0, slash)}) {
        if (dir.empty()) continue;
        const std::string why = make_directories(dir);
        if (!why.empty()) {
            std::fprintf(stderr, "mmc_bench: %s\n", why.c_str());
            return 2;
        }
    }

    SuiteResult result;
    bool ran = run_suite(o, result);
    std::string md = render_report(o, result);
    std::fputs(md.c_str(), stdout);
    if (!write_text_file(report, md)) std::fprintf(stderr, "could not write %s\n", report.c_str());
    else std::fprintf(stderr, "[bench] report written to %s\n", report.c_str());
    if (!ran) return 1;
    if (result.interrupted) return 130;
    // A failed measurement fails the run, so that the smoke test catches a broken bench;
    // a missing tool (notes) does not.
    return result.errors.empty() ? 0 : 1;
}
