// SetHandler memcache-metrics in a real prefork apache2 with three children: exact
// counts summed over the children, kept across a graceful restart and over children
// that exit (MaxConnectionsPerChild), the replica counters of MemcacheReplicas with a
// server killed and restarted, in output that promtool and Python's prometheus_client
// accept.
#include "delay_proxy.h"
#include "httpd_test_options.h"
#include "memcached_process.h"
#include "raw_client.h"

#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <vector>
#include <regex>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <thread>

namespace mmc::test {
namespace {

constexpr char kPromtool[] = "/usr/bin/promtool";
constexpr char kPython[] = "/usr/bin/python3";

// The value of the sample `name{labels}` whose labels include every one of `want`
// (e.g. {"op=\"get\"", "result=\"hit\""}); -1 when there is none.
double sample(const std::string& body, const std::string& name, const std::vector<std::string>& want) {
    std::istringstream in(body);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(name + "{", 0) != 0) continue;
        const auto close = line.rfind('}');
        if (close == std::string::npos) continue;
        const std::string labels = line.substr(name.size() + 1, close - name.size() - 1);
        bool all = true;
        for (const auto& w : want) all = all && labels.find(w) != std::string::npos;
        if (all) return std::stod(line.substr(close + 2));
    }
    return -1;
}

// promtool's check of the exposition, and Python's parser of it: the number of
// families it read and the value of one sample, as "families=N hits=V".
void check_with_real_tools(const HttpdProcess& h, const std::string& body, const std::string& hits_labels,
                           double hits) {
    ASSERT_EQ(::access(kPromtool, X_OK), 0) << kPromtool << " is missing: install Debian's prometheus package";
    const std::string file = h.write_file("scrape.txt", body);
    const CommandResult lint = run_command({"/bin/sh", "-c", std::string(kPromtool) + " check metrics < " + file});
    EXPECT_EQ(lint.exit_code, 0) << lint.output;
    EXPECT_EQ(lint.output, "") << lint.output;

    ASSERT_EQ(::access(kPython, X_OK), 0) << kPython << " is missing";
    const std::string script = h.write_file("parse.py",
        "import sys\n"
        "try:\n"
        "    from prometheus_client.parser import text_string_to_metric_families\n"
        "except ImportError:\n"
        "    sys.exit('prometheus_client is missing: install python3-prometheus-client')\n"
        "families = list(text_string_to_metric_families(open(sys.argv[1]).read()))\n"
        "hits = [s.value for f in families for s in f.samples\n"
        "        if s.name == 'memcache_client_requests_total' and s.labels.get('op') == 'get'\n"
        "        and s.labels.get('result') == 'hit' and s.labels.get('server') == sys.argv[2]]\n"
        "print('families=%d hits=%d' % (len(families), sum(hits)))\n");
    const CommandResult parsed = run_command({kPython, script, file, hits_labels});
    ASSERT_EQ(parsed.exit_code, 0) << parsed.output;
    EXPECT_EQ(parsed.output, "families=18 hits=" + std::to_string(static_cast<long long>(hits)) + "\n");
}

// Headless Chromium loads the status page: its DOM has the section and a chart with a
// bar per bucket, and a screenshot of it is taken (kept in the test's directory, and
// copied to MMC_METRICS_SCREENSHOT when that is set).
void check_in_browser(const HttpdProcess& h) {
    const char* chromium = "/usr/bin/chromium";
    ASSERT_EQ(::access(chromium, X_OK), 0) << chromium << " is missing: install Debian's chromium package";
    const std::string url = "http://127.0.0.1:" + std::to_string(h.port()) + "/server-status";
    const std::vector<std::string> common = {chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                             "--user-data-dir=" + h.dir() + "/chromium"};
    std::vector<std::string> dump = common;
    dump.push_back("--dump-dom");
    dump.push_back(url);
    const CommandResult dom = run_command(dump, 60);
    ASSERT_EQ(dom.exit_code, 0) << dom.output;
    EXPECT_NE(dom.output.find("Every child, summed"), std::string::npos) << dom.output;
    const auto svg = dom.output.find("<svg class=\"mmc-histogram\"");
    ASSERT_NE(svg, std::string::npos) << dom.output;
    std::size_t bars = 0;
    for (auto at = dom.output.find("<rect x=", svg); at != std::string::npos && at < dom.output.find("</svg>", svg);
         at = dom.output.find("<rect x=", at + 1)) {
        ++bars;
    }
    EXPECT_EQ(bars, 20u);

    const std::string png = h.dir() + "/status.png";
    std::vector<std::string> shot = common;
    shot.push_back("--window-size=1300,1500");
    shot.push_back("--screenshot=" + png);
    shot.push_back(url);
    const CommandResult taken = run_command(shot, 60);
    ASSERT_EQ(taken.exit_code, 0) << taken.output;
    FILE* f = std::fopen(png.c_str(), "rb");
    ASSERT_NE(f, nullptr) << taken.output;
    unsigned char magic[8] = {};
    const std::size_t got = std::fread(magic, 1, sizeof magic, f);
    std::fseek(f, 0, SEEK_END);
    const long size = std::ftell(f);
    std::fclose(f);
    EXPECT_EQ(got, 8u);
    EXPECT_EQ(std::memcmp(magic, "\x89PNG\r\n\x1a\n", 8), 0);
    EXPECT_GT(size, 10000);
    if (const char* keep = std::getenv("MMC_METRICS_SCREENSHOT")) {
        run_command({"/bin/cp", png, keep});
    }
}

class MetricsHandler : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(mc_.start()) << mc_.error(); }

    bool start(const std::string& extra) {
        return start_with([&](const HttpdProcess&) { return extra; }, {});
    }
    bool start_with(const std::function<std::string(const HttpdProcess&)>& extra,
                    std::vector<std::string> modules) {
        HttpdOptions o = module_options("prefork");
        modules.push_back("status");
        o.system_modules = modules;
        httpd_ = std::make_unique<HttpdProcess>(o);
        return httpd_->start([&](const HttpdProcess& h) {
            return "StartServers 3\nMinSpareServers 3\nMaxSpareServers 3\nServerLimit 3\n"
                   "MaxRequestWorkers 3\n" + extra(h) + server_lines() +
                   // Timeouts never mark the server dead here: each is a timeout.
                   "MemcacheFailureLimit 1000\n"
                   "MemcacheTimeout 200ms\n"
                   "<Location /mc>\n    SetHandler memcache-example\n</Location>\n"
                   "<Location /metrics>\n    SetHandler memcache-metrics\n</Location>\n"
                   "<Location /server-status>\n    SetHandler server-status\n</Location>\n";
        });
    }
    // The main server's list: the fixture's memcached, or servers_ when set.
    std::string server_lines() const {
        if (servers_.empty()) return "MemcacheServer " + mc_.address() + "\n";
        std::string out;
        for (const auto& a : servers_) out += "MemcacheServer " + a + "\n";
        return out;
    }
    HttpResponse get(const std::string& target) { return http_get(httpd_->port(), target); }
    double requests(const std::string& body, const std::string& op, const std::string& result) {
        return sample(body, "memcache_client_requests_total",
                      {"server=\"" + mc_.address() + "\"", "op=\"" + op + "\"", "result=\"" + result + "\""});
    }

    MemcachedProcess mc_;
    std::vector<std::string> servers_;
    std::unique_ptr<HttpdProcess> httpd_;
};

TEST_F(MetricsHandler, ExactCountsSummedOverChildrenAndKeptOverAGracefulRestart) {
    ASSERT_TRUE(start("")) << httpd_->error();
    constexpr int N = 12, M = 7, K = 3;
    for (int i = 0; i < N; ++i) ASSERT_EQ(get("/mc?op=set&key=m" + std::to_string(i) + "&value=v").status, 200);
    for (int i = 0; i < N; ++i) ASSERT_EQ(get("/mc?op=get&key=m" + std::to_string(i)).status, 200);
    for (int i = 0; i < M; ++i) ASSERT_EQ(get("/mc?op=get&key=none" + std::to_string(i)).status, 404);
    mc_.pause();
    for (int i = 0; i < K; ++i) EXPECT_EQ(get("/mc?op=get&key=m0").status, 503);
    mc_.resume();

    auto scrape = get("/metrics");
    ASSERT_EQ(scrape.status, 200) << scrape.error;
    EXPECT_NE(scrape.headers.find("text/plain; version=0.0.4"), std::string::npos) << scrape.headers;
    const std::string& body = scrape.body;
    const std::string who = "server=\"" + mc_.address() + "\"";
    EXPECT_EQ(requests(body, "store", "ok"), N) << body;
    EXPECT_EQ(requests(body, "get", "hit"), N) << body;
    EXPECT_EQ(requests(body, "get", "miss"), M) << body;
    EXPECT_EQ(requests(body, "get", "error"), K) << body;
    EXPECT_EQ(sample(body, "memcache_client_errors_total", {who, "class=\"timeout\""}), K) << body;
    EXPECT_EQ(sample(body, "memcache_client_request_duration_seconds_count", {who}), 2 * N + M + K) << body;
    EXPECT_EQ(sample(body, "memcache_client_server_up", {who}), 1) << body;
    EXPECT_EQ(sample(body, "memcache_client_pool_waits_total", {who}), 0) << body;
    EXPECT_GE(sample(body, "memcache_client_connections_opened_total", {who}), 1) << body;
    // The main server: its name and the port it listens on.
    EXPECT_NE(body.find("client=\"127.0.0.1:" + std::to_string(httpd_->port()) + "\""), std::string::npos) << body;
    // The timeouts took 200 ms: in the bucket that ends at 2^28 ns (268 ms), none before
    // 2^27 ns (134 ms).
    const double below = sample(body, "memcache_client_request_duration_seconds_bucket", {who, "le=\"0.134217728\""});
    const double upto = sample(body, "memcache_client_request_duration_seconds_bucket", {who, "le=\"0.268435456\""});
    EXPECT_EQ(upto - below, K) << body;
    check_with_real_tools(*httpd_, body, mc_.address(), N);

    // Every metric the Grafana dashboard queries is one the handler serves.
    std::ifstream dashboard(std::string(MMC_SOURCE_DIR) + "/conf/grafana-memcache-dashboard.json");
    ASSERT_TRUE(dashboard.good());
    const std::string json((std::istreambuf_iterator<char>(dashboard)), std::istreambuf_iterator<char>());
    const std::regex metric("memcache_client_[a-z_]+");
    std::size_t used = 0;
    for (auto it = std::sregex_iterator(json.begin(), json.end(), metric); it != std::sregex_iterator(); ++it) {
        std::string name = it->str();
        if (name.size() > 7 && name.compare(name.size() - 7, 7, "_bucket") == 0) name.resize(name.size() - 7);
        EXPECT_NE(body.find("# TYPE " + name + " "), std::string::npos) << name;
        ++used;
    }
    EXPECT_GT(used, 10u);

    // The status page: the same sums per server, as Key: value lines and as HTML with a
    // latency chart that a browser draws.
    const std::string autopage = get("/server-status?auto").body;
    const std::string line = "MemcacheMetrics 127.0.0.1:" + std::to_string(httpd_->port()) + " " + mc_.address() +
                             ": live calls=" + std::to_string(2 * N + M + K) + " hit_ratio=0.632 p50=";
    EXPECT_NE(autopage.find(line), std::string::npos) << autopage;
    EXPECT_NE(autopage.find("errors=timeout=3 pool_waits=0 pool_wait_seconds=0 replica_writes=0 replica_hits=0 replica_repairs=0 replica_failures=0\n"), std::string::npos) << autopage;
    const std::string html = get("/server-status").body;
    EXPECT_NE(html.find("<svg class=\"mmc-histogram\""), std::string::npos) << html;
    check_in_browser(*httpd_);

    // Graceful restart: the same segment, the same counts, and new children add to them.
    const std::size_t offset = httpd_->error_log().size();
    ASSERT_EQ(::kill(httpd_->pid(), SIGUSR1), 0);
    bool resumed = false;
    for (int i = 0; i < 500 && !resumed; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        resumed = httpd_->error_log().find("resuming normal operations", offset) != std::string::npos;
    }
    ASSERT_TRUE(resumed) << httpd_->error_log().substr(offset);
    ASSERT_EQ(get("/mc?op=get&key=m1").status, 200);
    // The old generation's children gave their final counts when they exited; give
    // them the time to.
    std::string after;
    for (int i = 0; i < 300; ++i) {
        after = get("/metrics").body;
        if (requests(after, "get", "hit") == N + 1) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(requests(after, "get", "hit"), N + 1) << after;
    EXPECT_EQ(requests(after, "get", "miss"), M) << after;
    EXPECT_EQ(requests(after, "store", "ok"), N) << after;
    // Prefork's note when every child is busy for a moment around the restart.
    EXPECT_TRUE(httpd_->unexpected_log_lines({"AH00161"}).empty()) << httpd_->error_log();
}

// MemcacheReplicas 1 over three servers (meta, so that reads repair): writes, reads,
// one server killed, written and read around, then restarted empty and read again.
// The replica counters scraped once are exactly what was done, summed over the children.
TEST_F(MetricsHandler, ReplicaCountsAreExactAfterAKilledAndRestartedServer) {
    MemcachedProcess more[2];
    for (auto& m : more) ASSERT_TRUE(m.start()) << m.error();
    MemcachedProcess* mcs[3] = {&mc_, &more[0], &more[1]};
    for (auto* m : mcs) servers_.push_back(m->address());
    ASSERT_TRUE(start("MemcacheReplicas 1\nMemcacheProtocol meta\n")) << httpd_->error();
    constexpr int N = 30;
    constexpr int K = 1;  // the server killed
    const auto key = [](int i) { return "r" + std::to_string(i); };
    for (int i = 0; i < N; ++i) ASSERT_EQ(get("/mc?op=set&key=" + key(i) + "&value=v" + std::to_string(i)).status, 200);
    // Where each key went: its primary p and its replica p + 1 (wrapping around), the
    // only two servers that hold it.
    int primary[N];
    int primaries[3] = {}, replicas[3] = {};
    for (int i = 0; i < N; ++i) {
        bool holds[3];
        for (int s = 0; s < 3; ++s) holds[s] = RawClient(mcs[s]->port()).get(key(i)).has_value();
        ASSERT_EQ(holds[0] + holds[1] + holds[2], 2) << key(i);
        primary[i] = -1;
        for (int s = 0; s < 3; ++s) {
            if (holds[s] && holds[(s + 1) % 3]) primary[i] = s;
        }
        ASSERT_GE(primary[i], 0) << key(i);
        ++primaries[primary[i]];
        ++replicas[(primary[i] + 1) % 3];
    }
    ASSERT_GT(primaries[K], 0);
    ASSERT_GT(replicas[K], 0);
    const auto read_all = [&] {
        for (int i = 0; i < N; ++i) {
            const HttpResponse r = get("/mc?op=get&key=" + key(i));
            EXPECT_EQ(r.status, 200) << key(i);
            EXPECT_EQ(r.body, "v" + std::to_string(i)) << key(i);
        }
    };
    read_all();  // every primary answers: no replica hit
    mcs[K]->stop();  // SIGKILL
    read_all();  // the keys of K: hits on the server after it
    // Writes go on: K's keys reach their replica, whose answer is the call's (K gives
    // none); the keys K is the replica of are written to it and fail there.
    for (int i = 0; i < N; ++i) {
        EXPECT_EQ(get("/mc?op=set&key=" + key(i) + "&value=v" + std::to_string(i)).status, 200) << key(i);
    }
    ASSERT_TRUE(mcs[K]->restart()) << mcs[K]->error();
    read_all();  // K misses its keys: hits on the replica, each written back to K

    const std::string body = get("/metrics").body;
    const auto counter = [&](const char* name, int s) {
        return sample(body, name, {"server=\"" + mcs[s]->address() + "\""});
    };
    for (int s = 0; s < 3; ++s) {
        SCOPED_TRACE("server " + std::to_string(s));
        EXPECT_EQ(counter("memcache_client_replica_writes_total", s), 2 * replicas[s]) << body;
        EXPECT_EQ(counter("memcache_client_replica_hits_total", s), s == (K + 1) % 3 ? 2 * primaries[K] : 0)
            << body;
        EXPECT_EQ(counter("memcache_client_replica_repairs_total", s), s == K ? primaries[K] : 0) << body;
        EXPECT_EQ(counter("memcache_client_replica_failures_total", s), s == K ? replicas[K] : 0) << body;
    }
    for (const char* family : {"memcache_client_replica_writes_total", "memcache_client_replica_hits_total",
                               "memcache_client_replica_repairs_total", "memcache_client_replica_failures_total"}) {
        EXPECT_NE(body.find(std::string("# HELP ") + family + " "), std::string::npos) << family;
        EXPECT_NE(body.find(std::string("# TYPE ") + family + " counter\n"), std::string::npos) << family;
    }
    // Server 0 (never K, nor K's replica) answered its own keys in each pass of reads.
    check_with_real_tools(*httpd_, body, mc_.address(), 3 * primaries[0]);

    // The summed status lines say the same.
    const std::string autopage = get("/server-status?auto").body;
    const int next = (K + 1) % 3;
    EXPECT_NE(autopage.find(" replica_writes=" + std::to_string(2 * replicas[next]) + " replica_hits=" +
                            std::to_string(2 * primaries[K]) + " replica_repairs=0 replica_failures=0\n"),
              std::string::npos)
        << autopage;
    EXPECT_NE(autopage.find(" replica_writes=" + std::to_string(2 * replicas[K]) + " replica_hits=0 replica_repairs=" +
                            std::to_string(primaries[K]) + " replica_failures=" + std::to_string(replicas[K]) + "\n"),
              std::string::npos)
        << autopage;
    const std::string html = get("/server-status").body;
    EXPECT_NE(html.find("<th>replica writes / hits / repairs / failures</th>"), std::string::npos) << html;
    EXPECT_TRUE(httpd_->unexpected_log_lines(servers_).empty()) << httpd_->error_log();
}

TEST_F(MetricsHandler, ChildrenThatExitLeaveTheirCountsInTheSum) {
    ASSERT_TRUE(start("MaxConnectionsPerChild 10\n")) << httpd_->error();
    constexpr int kHits = 45;
    ASSERT_EQ(get("/mc?op=set&key=x&value=v").status, 200);
    for (int i = 0; i < kHits; ++i) ASSERT_EQ(get("/mc?op=get&key=x").status, 200) << i;
    // Children that reached 10 connections exit after their last request: its counts
    // are in the sum either way (flushed at the end of each request and at exit).
    const std::string body = get("/metrics").body;
    EXPECT_EQ(requests(body, "get", "hit"), kHits) << body;
    EXPECT_EQ(requests(body, "store", "ok"), 1) << body;
    check_with_real_tools(*httpd_, body, mc_.address(), kHits);
    // Prefork's note while it replaces the children that exit.
    EXPECT_TRUE(httpd_->unexpected_log_lines({"AH00161"}).empty()) << httpd_->error_log();
}

TEST_F(MetricsHandler, TheNinetyNinthPercentileOfAServer18msAwayIsInItsBucket) {
    // 18 ms added: the bucket (2^24, 2^25] ns with 15 ms to spare for a busy machine;
    // the 99th percentile of 200 calls allows two calls slowed beyond that.
    DelayProxy proxy(mc_.port(), std::chrono::milliseconds(18));
    const std::string slow = "127.0.0.1:" + std::to_string(proxy.port());
    ASSERT_TRUE(start_with([&](const HttpdProcess&) { return "<VirtualHost *:*>\n    ServerName slow.test\n"
                                                             "    MemcacheServer " + slow + "\n</VirtualHost>\n"; },
                           {}))
        << httpd_->error();
    ASSERT_EQ(http_get(httpd_->port(), "/mc?op=set&key=s&value=v", "slow.test").status, 200);
    // Each request timed here too: the histogram's p99 must agree with it.
    std::vector<double> own;
    for (int i = 0; i < 199; ++i) {
        const auto start = std::chrono::steady_clock::now();
        ASSERT_EQ(http_get(httpd_->port(), "/mc?op=get&key=s", "slow.test").status, 200);
        own.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(own.begin(), own.end());
    const double own_p99 = own[(199 * 99 + 99) / 100 - 1];
    const std::string body = get("/metrics").body;
    // histogram_quantile's arithmetic, on what Python's parser read.
    const std::string file = httpd_->write_file("slow.txt", body);
    const std::string script = httpd_->write_file("p99.py",
        "import sys\n"
        "from prometheus_client.parser import text_string_to_metric_families\n"
        "buckets = []\n"
        "for f in text_string_to_metric_families(open(sys.argv[1]).read()):\n"
        "    for s in f.samples:\n"
        "        if s.name.endswith('_bucket') and s.labels.get('server') == sys.argv[2]:\n"
        "            buckets.append((float(s.labels['le']), s.value))\n"
        "buckets.sort()\n"
        "total = buckets[-1][1]\n"
        "rank, lower, below = 0.99 * total, 0.0, 0.0\n"
        "for le, cum in buckets:\n"
        "    if cum >= rank:\n"
        "        print('%.9f %.9f %.9f' % (lower + (le - lower) * (rank - below) / (cum - below), lower, le))\n"
        "        break\n"
        "    lower, below = le, cum\n");
    const CommandResult p99 = run_command({kPython, script, file, slow});
    ASSERT_EQ(p99.exit_code, 0) << p99.output;
    double value = 0, lower = 0, upper = 0;
    ASSERT_EQ(std::sscanf(p99.output.c_str(), "%lf %lf %lf", &value, &lower, &upper), 3) << p99.output;
    // (2^24, 2^25] ns, unless more than two requests were slowed past 33.6 ms by a busy
    // machine: then no higher than the bucket of the p99 of the requests' own times,
    // which include the calls'.
    EXPECT_DOUBLE_EQ(lower, 0.016777216) << body;
    if (own_p99 <= 0.033554432) {
        EXPECT_DOUBLE_EQ(upper, 0.033554432) << body;
    } else {
        EXPECT_LE(lower, own_p99) << body;
    }
    EXPECT_GT(value, 0.02) << body;
    EXPECT_EQ(sample(body, "memcache_client_request_duration_seconds_count", {"server=\"" + slow + "\""}), 200) << body;
}

TEST_F(MetricsHandler, AnSOCacheInstanceWithItsOwnServersIsAClientOfItsOwn) {
    MemcachedProcess socache_mc;
    ASSERT_TRUE(socache_mc.start()) << socache_mc.error();
    // "alice" with password "secret".
    auto body = [&](const HttpdProcess& h) {
        const std::string htpasswd = h.write_file("htpasswd", "alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n");
        return "AuthnCacheSOCache mcpool:" + socache_mc.address() + "\n"
               "<Location /private>\n"
               "    SetHandler memcache-example\n"
               "    AuthType Basic\n    AuthName private\n"
               "    AuthBasicProvider socache file\n"
               "    AuthUserFile \"" + htpasswd + "\"\n"
               "    AuthnCacheProvideFor file\n"
               "    Require valid-user\n"
               "</Location>\n";
    };
    ASSERT_TRUE(start_with(body, {"authn_core", "authn_file", "authn_socache", "auth_basic", "authz_user"}))
        << httpd_->error();
    const std::vector<std::string> alice = {"Authorization: Basic YWxpY2U6c2VjcmV0"};
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(http_get(httpd_->port(), "/private?op=servers", "localhost", alice).status, 200);
    }
    const std::string scrape = get("/metrics").body;
    const std::string who = "server=\"" + socache_mc.address() + "\"";
    // The first lookup misses and stores; the others hit (one per request).
    const double hits = sample(scrape, "memcache_client_requests_total", {"client=\"mcpool:", who, "op=\"get\"", "result=\"hit\""});
    const double misses = sample(scrape, "memcache_client_requests_total", {"client=\"mcpool:", who, "op=\"get\"", "result=\"miss\""});
    const double stores = sample(scrape, "memcache_client_requests_total", {"client=\"mcpool:", who, "op=\"store\"", "result=\"ok\""});
    EXPECT_EQ(hits, 3) << scrape;
    EXPECT_EQ(misses, 1) << scrape;
    EXPECT_EQ(stores, 1) << scrape;
    check_with_real_tools(*httpd_, scrape, mc_.address(), 0);
}

}  // namespace
}  // namespace mmc::test
