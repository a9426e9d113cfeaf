// The provider functions themselves, called by a test consumer module
// (mod_socache_probe.c) in a real apache2: the *datalen contract, binary and long ids,
// expiry times, remove, iterate, a stopped memcached; and the provider benchmark against
// apr-util's memcache provider in the same process.
#include "httpd_test_options.h"
#include "memcached_process.h"
#include "raw_client.h"
#include "socache_fixture.h"
#include "tls_tools.h"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

namespace mmc::test {
namespace {

// ---- the provider API itself, through a test consumer --------------------------------

// apr_status_t values the probe prints (Linux errno values and APR's own).
constexpr int kSuccess = 0;
constexpr int kEinval = 22;         // APR_EINVAL
constexpr int kEnospc = 28;         // APR_ENOSPC
constexpr int kNotFound = 70015;    // APR_NOTFOUND
constexpr int kNotImplemented = 70023;  // APR_ENOTIMPL

std::string hex(const std::string& bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

struct ProbeReply {
    int status = -1;
    unsigned len = 0;
    bool canary_intact = false;
    std::string data;
    std::string raw;
};

// "mcpool" is the provider under test, "mc" apr-util's memcache provider on the same
// memcached; each is a SOCacheProbe of that name (its cname).
std::string probe_config(const MemcachedProcess& mc) {
    return std::string("LoadModule socache_probe_module \"") + MMC_MOD_SOCACHE_PROBE_PATH + "\"\n"
           "MemcacheServer " + mc.address() + "\n"
           "SOCacheProbe mcpool mcpool\n"
           "SOCacheProbe mc memcache:" + mc.address() + "\n"
           "<Location /probe>\n"
           "  SetHandler socache-probe\n"
           "</Location>\n";
}

class SocacheProvider : public SocacheTest {
protected:
    void SetUp() override {
        ASSERT_NO_FATAL_FAILURE(
            start({"socache_memcache"}, [&](const HttpdProcess&) { return probe_config(mc_); }));
    }

    ProbeReply call(const std::string& cache, const std::string& query) {
        ProbeReply p;
        HttpResponse r = http_get(httpd_->port(0), "/probe?c=" + cache + "&" + query);
        p.raw = r.error + r.body;
        auto nl = r.body.find('\n');
        if (r.status != 200 || nl == std::string::npos) return p;
        char canary[16] = {};
        std::sscanf(r.body.c_str(), "status=%d len=%u canary=%15s", &p.status, &p.len, canary);
        p.canary_intact = std::string(canary) == "intact";
        p.data = r.body.substr(nl + 1);
        return p;
    }
    ProbeReply store(const std::string& cache, const std::string& id, const std::string& data,
                     long long ttl) {
        return call(cache, "op=store&id=" + hex(id) + "&data=" + data + "&ttl=" + std::to_string(ttl));
    }
    ProbeReply retrieve(const std::string& cache, const std::string& id, unsigned buf = 1024) {
        return call(cache, "op=retrieve&id=" + hex(id) + "&buf=" + std::to_string(buf));
    }
};

TEST_F(SocacheProvider, RetrieveHonoursTheCallersBufferSize) {
    const std::string data(300, 'd');
    ASSERT_EQ(store("mcpool", "sess-1", data, 60).status, kSuccess);
    ProbeReply small = retrieve("mcpool", "sess-1", 299);
    EXPECT_EQ(small.status, kEnospc) << small.raw;
    EXPECT_EQ(small.len, 299u) << "*datalen must stay as it was";
    EXPECT_TRUE(small.canary_intact) << small.raw;
    ProbeReply exact = retrieve("mcpool", "sess-1", 300);
    EXPECT_EQ(exact.status, kSuccess) << exact.raw;
    EXPECT_EQ(exact.len, 300u);
    EXPECT_EQ(exact.data, data);
    EXPECT_TRUE(exact.canary_intact);
}

TEST_F(SocacheProvider, BinaryIdsOfAnyLengthRoundTrip) {
    std::string every_byte;
    for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
    for (const std::string& id : {every_byte.substr(0, 100), every_byte, std::string(3000, '\0')}) {
        ASSERT_EQ(store("mcpool", id, "v" + std::to_string(id.size()), 60).status, kSuccess) << id.size();
        ProbeReply got = retrieve("mcpool", id);
        EXPECT_EQ(got.status, kSuccess) << id.size() << got.raw;
        EXPECT_EQ(got.data, "v" + std::to_string(id.size()));
    }
    // 100 bytes fit as hex; 256 and 3000 are hashed, so their values carry the id.
    EXPECT_TRUE(RawClient(mc_.port()).get("mcpool:" + hex(every_byte.substr(0, 100))).has_value());
}

TEST_F(SocacheProvider, ExpiryBeyondThirtyDaysKeepsTheEntry) {
    const long long days31 = 31LL * 86400;
    EXPECT_EQ(store("mcpool", "long-lived", "kept", days31).status, kSuccess);
    ProbeReply ours = retrieve("mcpool", "long-lived");
    EXPECT_EQ(ours.status, kSuccess) << ours.raw;
    EXPECT_EQ(ours.data, "kept");
    // The anchor: apr-util's provider sends 31 days as seconds, a Unix time in 1970.
    EXPECT_EQ(store("mc", "long-lived", "lost", days31).status, kSuccess);
    ProbeReply theirs = retrieve("mc", "long-lived");
    EXPECT_EQ(theirs.status, kNotFound) << theirs.raw;
    std::printf("[ measured ] 31-day entry: mcpool retrieve status %d, memcache status %d\n",
                ours.status, theirs.status);
}

// An expiry after January 2038 is capped at the last Unix time memcached reads as meant,
// so the entry is kept (until 2038) rather than refused.
TEST_F(SocacheProvider, ExpiryAfter2038KeepsTheEntry) {
    const long long years100 = 100LL * 365 * 86400;
    ProbeReply stored = store("mcpool", "far-future", "kept", years100);
    EXPECT_EQ(stored.status, kSuccess) << stored.raw;
    ProbeReply got = retrieve("mcpool", "far-future");
    EXPECT_EQ(got.status, kSuccess) << got.raw;
    EXPECT_EQ(got.data, "kept");
}

TEST_F(SocacheProvider, PastExpiryStoresNothingAndDropsTheOlderEntry) {
    ASSERT_EQ(store("mcpool", "gone", "old", 60).status, kSuccess);
    ASSERT_EQ(retrieve("mcpool", "gone").status, kSuccess);
    EXPECT_EQ(store("mcpool", "gone", "new", -5).status, kEinval);
    EXPECT_EQ(retrieve("mcpool", "gone").status, kNotFound);
    EXPECT_EQ(store("mcpool", "never", "x", 0).status, kEinval);
    EXPECT_EQ(retrieve("mcpool", "never").status, kNotFound);
}

TEST_F(SocacheProvider, RemoveDeletesAndIterateIsNotImplemented) {
    ASSERT_EQ(store("mcpool", "rm", "x", 60).status, kSuccess);
    EXPECT_EQ(call("mcpool", "op=remove&id=" + hex("rm")).status, kSuccess);
    EXPECT_EQ(retrieve("mcpool", "rm").status, kNotFound);
    EXPECT_EQ(call("mcpool", "op=iterate").status, kNotImplemented);
}

TEST_F(SocacheProvider, StoppedMemcachedIsAMissWithinTheTimeout) {
    ASSERT_EQ(store("mcpool", "s", "x", 60).status, kSuccess);
    mc_.pause();
    const auto t0 = Clock::now();
    ProbeReply got = retrieve("mcpool", "s");
    const long long ms = ms_since(t0);
    mc_.resume();
    EXPECT_EQ(got.status, kNotFound) << got.raw;
    EXPECT_LE(ms, 1000 + 200) << "MemcacheTimeout is 1 s";
}

// ---- sealed values (MemcacheSealKeyFile) ------------------------------------------------

// The provider rides the server's client, so a key file seals session data without the
// provider knowing: memcached holds an envelope, never the session.
class SocacheSealed : public SocacheProvider {
protected:
    void SetUp() override {
        ASSERT_NO_FATAL_FAILURE(start({"socache_memcache"}, [&](const HttpdProcess& h) {
            const std::string keys = h.write_file(
                "seal.keys", "s1 8f2c6d1e0a9b7c5d3e1f2a4b6c8d0e1f3a5b7c9d1e2f4a6b8c0d2e4f6a8b0c1d\n");
            ::chmod(keys.c_str(), 0600);
            return probe_config(mc_) + "MemcacheSealKeyFile " + keys + "\n";
        }));
    }
};

TEST_F(SocacheSealed, SessionDataIsSealedInMemcached) {
    const std::string id = "sealed-session-1";
    const std::string data = "TLS-master-secret-0123456789";
    ASSERT_EQ(store("mcpool", id, data, 60).status, kSuccess);
    RawClient raw(mc_.port());
    auto stored = raw.get("mcpool:" + hex(id));
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->find("master-secret"), std::string::npos) << "the session is in clear";
    EXPECT_EQ(static_cast<unsigned char>((*stored)[0]), 0xC5);
    EXPECT_EQ(stored->size(), data.size() + 31 + 2);

    ProbeReply got = retrieve("mcpool", id);
    EXPECT_EQ(got.status, kSuccess) << got.raw;
    EXPECT_EQ(got.data, data);
}

TEST_F(SocacheSealed, TamperedSessionIsAMissAndLogged) {
    const std::string id = "sealed-session-2";
    ASSERT_EQ(store("mcpool", id, "session-data", 60).status, kSuccess);
    RawClient raw(mc_.port());
    const std::string key = "mcpool:" + hex(id);
    std::string stored = *raw.get(key);
    stored[stored.size() - 20] ^= 0x40;
    ASSERT_TRUE(raw.set(key, stored));
    ProbeReply got = retrieve("mcpool", id);
    EXPECT_EQ(got.status, kNotFound) << got.raw;
    EXPECT_NE(httpd_->error_log().find("sealed value refused (authentication failed)"), std::string::npos)
        << httpd_->error_log();
}

// ---- the provider benchmark ------------------------------------------------------------

struct BenchRow {
    std::string provider;
    long long pairs = 0;
    long long failures = -1;
    long long usec = 0;
    long long instructions = -1;
    double syscalls_per_op = -1;
};

BenchRow parse_bench(const std::string& body) {
    BenchRow b;
    char name[32] = {};
    long long size = 0;
    std::sscanf(body.c_str(), "provider=%31s pairs=%lld size=%lld failures=%lld usec=%lld instructions=%lld",
                name, &b.pairs, &size, &b.failures, &b.usec, &b.instructions);
    b.provider = name;
    return b;
}

// System calls made by pid while `work` runs: strace attached for that time only.
double count_syscalls(pid_t pid, const std::function<void()>& work, long long ops) {
    const std::string strace = "/usr/bin/strace";
    if (::access(strace.c_str(), X_OK) != 0) return -1;
    char out[] = "/tmp/mmc-strace-XXXXXX";
    int fd = ::mkstemp(out);
    if (fd < 0) return -1;
    ::close(fd);
    pid_t child = ::fork();
    if (child == 0) {
        ::execl(strace.c_str(), "strace", "-c", "-U", "calls,name", "-o", out, "-p",
                std::to_string(pid).c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // attached by then
    work();
    ::kill(child, SIGINT);
    int status = 0;
    ::waitpid(child, &status, 0);
    std::ifstream in(out);
    std::string line, last;
    long long total = -1;
    while (std::getline(in, line)) {
        // The summary's last line: "------ ... total" preceded by the calls column.
        if (line.find("total") != std::string::npos) {
            std::istringstream w(line);
            w >> total;
        }
    }
    ::unlink(out);
    return total < 0 ? -1 : static_cast<double>(total) / static_cast<double>(ops);
}

// Instructions per operation of each provider's loop, from the dumps callgrind wrote
// ("desc: Trigger: Client Request: bench-NAME" and "totals: N"); empty without valgrind.
std::map<std::string, double> callgrind_instructions(const MemcachedProcess& mc, long long pairs) {
    std::map<std::string, double> out;
    const std::string valgrind = "/usr/bin/valgrind";
    if (::access(valgrind.c_str(), X_OK) != 0) return out;
    HttpdOptions o = socache_options({"socache_memcache"});
    o.one_process = true;
    o.start_timeout_s = 120;
    HttpdProcess httpd(o);  // only its directory: httpd -X drops to nobody, who writes there
    const std::string dir = httpd.dir() + "/callgrind";
    ::mkdir(dir.c_str(), 0777);
    ::chmod(dir.c_str(), 0777);
    o.launcher = {valgrind, "--tool=callgrind", "--instr-atstart=no", "--vgdb=no",
                  "--callgrind-out-file=" + dir + "/cg.out"};
    HttpdProcess traced(o);
    if (!traced.start([&](const HttpdProcess&) { return probe_config(mc); })) {
        std::printf("[ measured ] callgrind run did not start: %s\n", traced.error().c_str());
        return out;
    }
    for (const std::string cache : {"mcpool", "mc"}) {
        http_get(traced.port(0), "/probe?c=" + cache + "&op=bench&size=150&n=20");
        http_get(traced.port(0), "/probe?c=" + cache + "&op=bench&size=150&callgrind=1&n=" +
                                     std::to_string(pairs));
    }
    traced.stop();
    for (int part = 1; part <= 4; ++part) {
        std::ifstream in(dir + "/cg.out." + std::to_string(part));
        std::string line, name;
        while (std::getline(in, line)) {
            const std::string trigger = "desc: Trigger: Client Request: bench-";
            if (line.rfind(trigger, 0) == 0) name = line.substr(trigger.size());
            if (line.rfind("totals: ", 0) == 0 && !name.empty()) {
                out[name] = std::stod(line.substr(8)) / (2.0 * static_cast<double>(pairs));
            }
        }
    }
    return out;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

TEST(SocacheBench, McpoolAgainstTheMemcacheProviderInOneProcess) {
    const char* env = std::getenv("MMC_SOCACHE_BENCH_PAIRS");
    const long long pairs = env ? std::atoll(env) : 2000;
    MemcachedProcess mc;
    ASSERT_TRUE(mc.start()) << mc.error();
    HttpdOptions o = socache_options({"socache_memcache"});
    o.one_process = true;  // httpd -X: one process does it all, the counters follow it
    HttpdProcess httpd(o);
    ASSERT_TRUE(httpd.start([&](const HttpdProcess&) { return probe_config(mc); }))
        << httpd.error();
    const std::vector<std::string> caches = {"mcpool", "mc"};
    std::map<std::string, std::vector<double>> ops_per_s;
    std::map<std::string, double> syscalls;
    for (const auto& cache : caches) {  // warm: connections open, code paged in
        http_get(httpd.port(0), "/probe?c=" + cache + "&op=bench&size=150&n=200");
    }
    for (int round = 0; round < 5; ++round) {
        for (const auto& cache : caches) {
            HttpResponse r = http_get(httpd.port(0), "/probe?c=" + cache + "&op=bench&size=150&n=" +
                                                         std::to_string(pairs));
            ASSERT_EQ(r.status, 200) << r.error << r.body;
            BenchRow row = parse_bench(r.body);
            EXPECT_EQ(row.failures, 0) << r.body;
            ops_per_s[cache].push_back(2.0 * static_cast<double>(row.pairs) /
                                       (static_cast<double>(row.usec) / 1e6));
        }
    }
    // Last: a process strace has followed runs slower for a while after.
    const long long strace_pairs = std::min<long long>(pairs, 2000);
    for (const auto& cache : caches) {
        syscalls[cache] = count_syscalls(httpd.pid(), [&] {
            http_get(httpd.port(0), "/probe?c=" + cache + "&op=bench&size=150&n=" +
                                        std::to_string(strace_pairs));
        }, 2 * strace_pairs);
    }
    httpd.stop();
    const auto instructions = callgrind_instructions(mc, std::min<long long>(pairs, 1000));
    std::printf("[ measured ] provider store+retrieve of 150-byte values through ap_socache.h, "
                "httpd -X, one memcached on loopback; ops/s: median of 5 runs of %lld pairs\n", pairs);
    std::printf("[ measured ] | provider | ops/s | instructions/op | syscalls/op |\n");
    for (const auto& cache : caches) {
        auto in = instructions.find(cache);
        std::printf("[ measured ] | %s | %.0f | %.0f | %.2f |\n",
                    cache == "mc" ? "memcache (mod_socache_memcache)" : "mcpool",
                    median(ops_per_s[cache]), in == instructions.end() ? -1.0 : in->second,
                    syscalls[cache]);
    }
    std::printf("[ measured ] mcpool/memcache: ops/s %.2fx\n",
                median(ops_per_s["mcpool"]) / median(ops_per_s["mc"]));
}

}  // namespace
}  // namespace mmc::test
