// mmc_lease_bench: the thundering herd on a hot key, with and without meta leases.
//
// A hot key expires while 16 threads (sharing one client, as an httpd child's threads
// do) want it. With a plain get/set ("text get/set", apr_memcache's only way), every
// thread that misses recomputes the value and stores it. With the meta protocol's lease
// get ("meta lease"), memcached gives the miss to one thread, which recomputes and
// stores it; the others wait for that value. The bench counts the recomputations per
// expiry.
//
// Each round stores the key with a 1-second TTL, waits until memcached reports it gone
// (a real expiry, not a delete), then releases all threads at once.
//
//   mmc_lease_bench [--rounds N] [--threads N] [--compute-ms N]
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ap_memcache.h"
#include "memcached_process.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    int rounds = 5;
    int threads = 16;
    int compute_ms = 50;
};

struct Outcome {
    int recomputes = 0;
    int errors = 0;
    double slowest_ms = 0;  // the longest any thread waited for its value in the round
};

apr_memcache_t* make_client(apr_pool_t* pool, unsigned short port, int protocol, int threads) {
    apr_memcache_t* mc = nullptr;
    apr_memcache_server_t* ms = nullptr;
    if (apr_memcache_create(pool, 1, 0, &mc) != APR_SUCCESS ||
        apr_memcache_server_create(pool, "127.0.0.1", port, 0, static_cast<apr_uint32_t>(threads),
                                   static_cast<apr_uint32_t>(threads), 60 * 1000 * 1000, &ms) != APR_SUCCESS) {
        return nullptr;
    }
    ap_memcache_server_options_t o;
    ap_memcache_server_get_options(ms, &o);
    o.protocol = protocol;
    if (ap_memcache_server_set_options(ms, &o) != APR_SUCCESS || apr_memcache_add_server(mc, ms) != APR_SUCCESS) {
        return nullptr;
    }
    return mc;
}

// One thread's way to get the value, recomputing it when it has to.
void want_value(apr_memcache_t* mc, const char* key, bool lease, const Options& opt, std::atomic<int>& recomputes,
                std::atomic<int>& errors) {
    apr_pool_t* p = nullptr;
    apr_pool_create(&p, nullptr);
    auto recompute = [&](apr_uint64_t cas) {
        ++recomputes;
        std::this_thread::sleep_for(std::chrono::milliseconds(opt.compute_ms));
        const std::string value = "value computed at " + std::to_string(Clock::now().time_since_epoch().count());
        apr_status_t rv = lease ? ap_memcache_cas(mc, key, value.data(), value.size(), 60, 0, cas)
                                : apr_memcache_set(mc, key, const_cast<char*>(value.data()), value.size(), 60, 0);
        if (rv != APR_SUCCESS && rv != APR_EEXIST) ++errors;
    };
    if (!lease) {
        char* data = nullptr;
        apr_size_t len = 0;
        apr_status_t rv = apr_memcache_getp(mc, p, key, &data, &len, nullptr);
        if (rv == APR_NOTFOUND) {
            recompute(0);
        } else if (rv != APR_SUCCESS) {
            ++errors;
        }
    } else {
        // Wait for the winner's value at most 5 s (it takes compute_ms).
        const auto give_up = Clock::now() + std::chrono::seconds(5);
        for (;;) {
            ap_memcache_lease_t l;
            apr_status_t rv = ap_memcache_lease_get(mc, p, key, 10, 0, &l);
            if (l.won) {
                recompute(l.item.cas);
                break;
            }
            if (rv == APR_SUCCESS) break;
            if (rv != APR_NOTFOUND || Clock::now() > give_up) {
                ++errors;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
    apr_pool_destroy(p);
}

// Stores key with a 1 s TTL and returns once memcached no longer has it (at most 4 s).
bool expire(apr_memcache_t* mc, apr_pool_t* pool, const char* key) {
    if (apr_memcache_set(mc, key, const_cast<char*>("old"), 3, 1, 0) != APR_SUCCESS) return false;
    const auto give_up = Clock::now() + std::chrono::seconds(4);
    while (Clock::now() < give_up) {
        char* data = nullptr;
        apr_size_t len = 0;
        if (apr_memcache_getp(mc, pool, key, &data, &len, nullptr) == APR_NOTFOUND) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

Outcome run_round(apr_memcache_t* mc, apr_pool_t* pool, const char* key, bool lease, const Options& opt) {
    Outcome out;
    if (!expire(mc, pool, key)) {
        out.errors = 1;
        return out;
    }
    std::atomic<int> recomputes{0}, errors{0};
    std::mutex m;
    std::condition_variable cv;
    bool go = false;
    int ready = 0;
    std::vector<double> waited(static_cast<std::size_t>(opt.threads));
    std::vector<std::thread> threads;
    for (int t = 0; t < opt.threads; ++t) {
        threads.emplace_back([&, t] {
            {
                std::unique_lock<std::mutex> lock(m);
                ++ready;
                cv.notify_all();
                cv.wait(lock, [&] { return go; });
            }
            const auto t0 = Clock::now();
            want_value(mc, key, lease, opt, recomputes, errors);
            waited[static_cast<std::size_t>(t)] =
                std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        });
    }
    {
        std::unique_lock<std::mutex> lock(m);
        cv.wait(lock, [&] { return ready == opt.threads; });
        go = true;
    }
    cv.notify_all();
    for (auto& t : threads) t.join();
    out.recomputes = recomputes.load();
    out.errors = errors.load();
    for (double w : waited) out.slowest_ms = std::max(out.slowest_ms, w);
    return out;
}

int usage() {
    std::fprintf(stderr, "usage: mmc_lease_bench [--rounds N] [--threads N] [--compute-ms N]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    for (int i = 1; i < argc; ++i) {
        auto number = [&](int& out) {
            if (i + 1 >= argc) return false;
            char* end = nullptr;
            long v = std::strtol(argv[++i], &end, 10);
            if (*end != '\0' || v < 1 || v > 1000) return false;
            out = static_cast<int>(v);
            return true;
        };
        const std::string a = argv[i];
        bool ok = (a == "--rounds" && number(opt.rounds)) || (a == "--threads" && number(opt.threads)) ||
                  (a == "--compute-ms" && number(opt.compute_ms));
        if (!ok) return usage();
    }
    apr_initialize();
    mmc::test::MemcachedProcess server;
    if (!server.start()) {
        std::fprintf(stderr, "mmc_lease_bench: cannot start memcached: %s\n", server.error().c_str());
        return 1;
    }
    std::printf("A hot key expires under %d threads sharing one client; recomputing it takes %d ms. "
                "%d expiries per client.\n\n",
                opt.threads, opt.compute_ms, opt.rounds);
    std::printf("| client | expiries | recomputations | per expiry | slowest wait (ms) | errors |\n");
    std::printf("|---|--:|--:|--:|--:|--:|\n");
    int failures = 0;
    for (bool lease : {false, true}) {
        apr_pool_t* pool = nullptr;
        apr_pool_create(&pool, nullptr);
        apr_memcache_t* mc = make_client(pool, server.port(), lease ? AP_MEMCACHE_PROTOCOL_META : AP_MEMCACHE_PROTOCOL_TEXT,
                                         opt.threads);
        if (!mc) {
            std::fprintf(stderr, "mmc_lease_bench: cannot create the client\n");
            return 1;
        }
        const std::string key = lease ? "lease-bench-meta" : "lease-bench-text";
        int recomputes = 0, errors = 0;
        double slowest = 0;
        for (int r = 0; r < opt.rounds; ++r) {
            Outcome o = run_round(mc, pool, key.c_str(), lease, opt);
            recomputes += o.recomputes;
            errors += o.errors;
            slowest = std::max(slowest, o.slowest_ms);
            if (lease && o.recomputes != 1) ++failures;
        }
        std::printf("| %s | %d | %d | %.1f | %.0f | %d |\n", lease ? "ours-meta, lease get" : "ours, text get/set",
                    opt.rounds, recomputes, static_cast<double>(recomputes) / opt.rounds, slowest, errors);
        failures += errors;
        apr_pool_destroy(pool);
    }
    if (failures) std::fprintf(stderr, "mmc_lease_bench: %d round(s) with errors or more than one recomputation under leases\n", failures);
    return failures ? 1 : 0;
}
