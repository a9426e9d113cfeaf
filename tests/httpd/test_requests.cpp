// mod_memcache in a real apache2, for each MPM: the example module reaches memcached
// through ap_memcache_client(), virtual hosts get the right servers, and apr-util's own
// apr_memcache (mod_socache_memcache) works in the same process.
#include "httpd_test_options.h"
#include "memcached_process.h"
#include "raw_client.h"
#include "silent_server.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <thread>

#include "engine/ketama.h"

namespace mmc::test {
namespace {

// Child processes of pid (httpd's children), from /proc.
int child_count(pid_t pid) {
    int n = 0;
    if (DIR* d = ::opendir("/proc")) {
        while (dirent* e = ::readdir(d)) {
            std::string stat_path = std::string("/proc/") + e->d_name + "/stat";
            if (FILE* f = std::fopen(stat_path.c_str(), "r")) {
                char buf[512] = {};
                std::size_t len = std::fread(buf, 1, sizeof buf - 1, f);
                std::fclose(f);
                // pid (comm) state ppid ...: comm may hold spaces, so start after ')'.
                const char* close = len ? std::strrchr(buf, ')') : nullptr;
                int ppid = 0;
                char state = 0;
                if (close && std::sscanf(close + 1, " %c %d", &state, &ppid) == 2 && ppid == pid) ++n;
            }
        }
        ::closedir(d);
    }
    return n;
}

// Where ketama puts key among servers given as (address, weight), as the module's
// clients do by default: the index of the owner.
std::size_t ketama_owner(const std::vector<std::pair<const MemcachedProcess*, std::uint32_t>>& servers,
                         const std::string& key) {
    std::vector<engine::KetamaServer> ring_servers;
    for (const auto& [mc, weight] : servers) {
        ring_servers.push_back({engine::ketama_tcp_name("127.0.0.1", mc->port()), weight});
    }
    return engine::KetamaRing(ring_servers).server_for(key);
}

// "alice" with password "secret", and the header that logs her in.
const char kHtpasswd[] = "alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n";
const char kAliceAuth[] = "Authorization: Basic YWxpY2U6c2VjcmV0";
// The password of noauth.test's MemcacheServer line, whose memcached does not ask.
const char kNoAuthPassword[] = "s3cret-pass";

std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}

// Everything one MPM's tests talk to. One httpd per MPM for the whole test program:
// starting one per test would be most of the run time.
struct MpmServers {
    MemcachedProcess main_mc;     // MemcacheServer of the main server
    MemcachedProcess vhost_mc;    // MemcacheServer of the virtual host own.test
    MemcachedProcess socache_mc;  // apr-util's apr_memcache, via mod_authn_socache
    MemcachedProcess unix_mc;     // MemcacheServer of unix.test, on a unix socket
    MemcachedProcess restart_mc;  // MemcacheServer of restart.test: killed and restarted
    MemcachedProcess noauth_mc;   // MemcacheServer of noauth.test (user=): no -Y
    unsigned short dead_port = 0; // MemcacheServer of down.test: nothing listens there
    SilentServer silent;        // second MemcacheServer of slow.test: never answers
    std::unique_ptr<HttpdProcess> httpd;
    std::string error;
    std::size_t reported_log_lines = 0;
};

std::string config_body(const HttpdProcess& h, const MpmServers& s, const std::string& htpasswd,
                        const std::string& seal_keys, const std::string& password) {
    const std::string vhost_addr = "127.0.0.1:" + std::to_string(h.port(1));
    return "MemcacheServer " + s.main_mc.address() + " min=2 smax=4 max=5 ttl=60\n"
           "<Location /mc>\n"
           "    SetHandler memcache-example\n"
           "</Location>\n"
           "<Location /server-status>\n"
           "    SetHandler server-status\n"
           "</Location>\n"
           "AuthnCacheSOCache memcache:" + s.socache_mc.address() + "\n"
           "<Location /private>\n"
           "    SetHandler memcache-example\n"
           "    AuthType Basic\n"
           "    AuthName private\n"
           "    AuthBasicProvider socache file\n"
           "    AuthUserFile \"" + htpasswd + "\"\n"
           "    AuthnCacheProvideFor file\n"
           "    Require valid-user\n"
           "</Location>\n"
           "Listen " + vhost_addr + "\n"
           "<VirtualHost " + vhost_addr + ">\n"
           "    ServerName inherit.test\n"
           "</VirtualHost>\n"
           "<VirtualHost " + vhost_addr + ">\n"
           "    ServerName sealed.test\n"
           "    MemcacheSealKeyFile " + seal_keys + "\n"
           "</VirtualHost>\n"
           "<VirtualHost " + vhost_addr + ">\n"
           "    ServerName own.test\n"
           "    MemcacheServer " + s.vhost_mc.address() + " min=1\n"
           "</VirtualHost>\n"
           "<VirtualHost " + vhost_addr + ">\n"
           "    ServerName unix.test\n"
           "    MemcacheServer " + s.unix_mc.socket_path() + " min=1\n"
           "</VirtualHost>\n"
           "<VirtualHost " + vhost_addr + ">\n"
           "    ServerName down.test\n"
           "    MemcacheServer 127.0.0.1:" + std::to_string(s.dead_port) + "\n"
           "</VirtualHost>\n"
           "<VirtualHost " + vhost_addr + ">\n"
           "    ServerName cluster.test\n"
           "    MemcacheServer " + s.main_mc.address() + " weight=1\n"
           "    MemcacheServer " + s.vhost_mc.address() + " weight=3\n"
           "</VirtualHost>\n"
           "<VirtualHost " + vhost_addr + ">\n"
           "    ServerName binary.test\n"
           "    MemcacheProtocol binary\n"
           "    MemcacheMaxValueSize 2m\n"
           "    MemcacheServer " + s.main_mc.address() + "\n"
           "</VirtualHost>\n"
           "<VirtualHost " + vhost_addr + ">\n"
           "    ServerName meta.test\n"
           "    MemcacheProtocol meta\n"
           "    MemcacheServer " + s.main_mc.address() + "\n"
           "</VirtualHost>\n"
           "<VirtualHost " + vhost_addr + ">\n"
           "    ServerName slow.test\n"
           "    MemcacheTimeout 300ms\n"
           "    MemcacheRetryPeriod 60s\n"
           "    MemcacheServer " + s.vhost_mc.address() + "\n"
           "    MemcacheServer " + s.silent.address() + "\n"
           "</VirtualHost>\n"
           "<VirtualHost " + vhost_addr + ">\n"
           "    ServerName restart.test\n"
           "    MemcacheRetryPeriod 1s\n"
           "    MemcacheServer " + s.restart_mc.address() + " max=2\n"
           "</VirtualHost>\n"
           "<VirtualHost " + vhost_addr + ">\n"
           "    ServerName noauth.test\n"
           "    MemcacheServer " + s.noauth_mc.address() + " user=alice password-file=" + password + "\n"
           "</VirtualHost>\n";
}

std::map<std::string, std::unique_ptr<MpmServers>>& servers_by_mpm() {
    static std::map<std::string, std::unique_ptr<MpmServers>> servers;
    return servers;
}

MpmServers& servers_for(const std::string& mpm) {
    auto& slot = servers_by_mpm()[mpm];
    if (slot) return *slot;
    slot = std::make_unique<MpmServers>();
    MpmServers& s = *slot;
    HttpdOptions options = module_options(mpm);
    options.system_modules = {"authn_core", "authn_file", "auth_basic", "authz_user",
                              "socache_memcache", "authn_socache", "status"};
    s.httpd = std::make_unique<HttpdProcess>(options);
    for (auto* mc : {&s.main_mc, &s.vhost_mc, &s.socache_mc, &s.restart_mc, &s.noauth_mc}) {
        if (!mc->start()) {
            s.error = "memcached: " + mc->error();
            return s;
        }
    }
    // memcached drops to nobody before it creates its socket.
    const std::string socket_dir = s.httpd->dir() + "/sockets";
    ::mkdir(socket_dir.c_str(), 0755);
    ::chmod(socket_dir.c_str(), 01777);
    if (!s.unix_mc.start_unix(socket_dir + "/memcached.sock")) {
        s.error = "memcached: " + s.unix_mc.error();
        return s;
    }
    s.dead_port = free_loopback_port();
    std::string htpasswd = s.httpd->write_file("htpasswd", kHtpasswd);
    // Read by httpd's parent (root) only: not world-readable, as the directive demands.
    std::string seal_keys = s.httpd->write_file(
        "seal.keys", "k1 5e41ed0123456789abcdef0123456789abcdef0123456789abcdef0123456789\n");
    ::chmod(seal_keys.c_str(), 0600);
    std::string password = s.httpd->write_file("noauth.pw", std::string(kNoAuthPassword) + "\n");
    ::chmod(password.c_str(), 0600);
    if (!s.httpd->start(
            [&](const HttpdProcess& h) { return config_body(h, s, htpasswd, seal_keys, password); },
            1)) {
        s.error = "httpd (" + mpm + "): " + s.httpd->error();
    }
    return s;
}

// [error]/[crit]/... lines logged since the last call; down.test's server is down on
// purpose, so what is said about it is expected.
std::vector<std::string> new_unexpected_lines(MpmServers& s) {
    // Servers that are down or silent on purpose: what is said about them is expected.
    auto lines = s.httpd->unexpected_log_lines({"127.0.0.1:" + std::to_string(s.dead_port),
                                                s.silent.address(), s.restart_mc.address(),
                                                s.noauth_mc.address()});
    auto seen = std::min(s.reported_log_lines, lines.size());
    s.reported_log_lines = lines.size();
    return {lines.begin() + static_cast<std::ptrdiff_t>(seen), lines.end()};
}

// Stops every httpd at the end and checks what it logged while shutting down.
class StopServers : public ::testing::Environment {
public:
    void TearDown() override {
        for (auto& [mpm, s] : servers_by_mpm()) {
            if (!s->httpd || !s->httpd->running()) continue;
            s->httpd->stop();
            auto lines = new_unexpected_lines(*s);
            EXPECT_TRUE(lines.empty()) << mpm << ", at shutdown:\n" << join(lines);
        }
        servers_by_mpm().clear();
    }
};
[[maybe_unused]] ::testing::Environment* const kStopServers =
    ::testing::AddGlobalTestEnvironment(new StopServers);

class HttpdTest : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        s_ = &servers_for(GetParam());
        ASSERT_TRUE(s_->error.empty()) << s_->error;
    }

    // Every test fails on a new [error]/[crit]/... line, so the culprit is named.
    void TearDown() override {
        if (!s_ || !s_->httpd) return;
        auto lines = new_unexpected_lines(*s_);
        EXPECT_TRUE(lines.empty()) << "unexpected lines in the error log:\n" << join(lines);
    }

    HttpResponse get(const std::string& target, const std::vector<std::string>& headers = {}) {
        return http_get(s_->httpd->port(0), target, "localhost", headers);
    }
    HttpResponse get_vhost(const std::string& host, const std::string& target) {
        return http_get(s_->httpd->port(1), target, host);
    }
    std::string key(const std::string& name) const { return GetParam() + "-" + name; }

    // The error log once it contains needle (children log while tests run), or after 2 s.
    std::string log_with(const std::string& needle) const {
        std::string log = s_->httpd->error_log();
        for (int i = 0; i < 200 && log.find(needle) == std::string::npos; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            log = s_->httpd->error_log();
        }
        return log;
    }

    MpmServers* s_ = nullptr;
};

TEST_P(HttpdTest, ChildBuildsTheClientFromTheDirective) {
    // The debug line is written when a child builds its client: options reached the engine.
    std::string expected = "MemcacheServer " + s_->main_mc.address() +
                           " for main server: min=2 smax=4 max=5 ttl=60000ms";
    std::string log = log_with(expected);
    EXPECT_NE(log.find(expected), std::string::npos) << log;
}

TEST_P(HttpdTest, PoolDefaultsFollowTheMpmThreadsPerChild) {
    // own.test says only min=1: max and smax default to the threads of a child (the
    // configuration gives threaded MPMs 4), the TTL to 15 s.
    std::string threads = GetParam() == "prefork" ? "1" : "4";
    std::string expected = "MemcacheServer " + s_->vhost_mc.address() + " for virtual host own.test";
    std::string settings = "min=1 smax=" + threads + " max=" + threads + " ttl=15000ms";
    std::string log = log_with(expected);
    auto line = log.find(expected);
    ASSERT_NE(line, std::string::npos) << log;
    EXPECT_NE(log.substr(line, log.find('\n', line) - line).find(settings), std::string::npos)
        << log;
}

TEST_P(HttpdTest, MaxValueSizeReachesTheClientAndDefaultsToOneMegabyte) {
    const std::string binary = "MemcacheServer " + s_->main_mc.address() + " for virtual host binary.test";
    const std::string own = "MemcacheServer " + s_->vhost_mc.address() + " for virtual host own.test";
    log_with(binary);
    const std::string log = log_with(own);  // by now holds both lines
    auto line_of = [&](const std::string& start) {
        auto at = log.find(start);
        return at == std::string::npos ? std::string() : log.substr(at, log.find('\n', at) - at);
    };
    EXPECT_NE(line_of(binary).find("max_value_size=2097152"), std::string::npos) << log;
    EXPECT_NE(line_of(own).find("max_value_size=1048576"), std::string::npos) << log;
}

TEST_P(HttpdTest, SetThenGetReturnsTheValue) {
    auto set = get("/mc?op=set&key=" + key("cow") + "&value=moo");
    ASSERT_EQ(set.status, 200) << set.error << set.body;
    EXPECT_EQ(set.body, "STORED\n");
    auto got = get("/mc?op=get&key=" + key("cow"));
    EXPECT_EQ(got.status, 200) << got.error << got.body;
    EXPECT_EQ(got.body, "moo");
}

TEST_P(HttpdTest, GetOfAMissingKeyIsNotFound) {
    auto got = get("/mc?op=get&key=" + key("never-set"));
    EXPECT_EQ(got.status, 404) << got.error << got.body;
    EXPECT_EQ(got.body, "NOT_FOUND\n");
}

TEST_P(HttpdTest, MultiGetAssemblesAPageFromFragmentsInOrder) {
    ASSERT_EQ(get("/mc?op=set&key=" + key("frag-a") + "&value=header").status, 200);
    ASSERT_EQ(get("/mc?op=set&key=" + key("frag-c") + "&value=footer").status, 200);
    auto got = get("/mc?op=mget&key=" + key("frag-a") + "," + key("frag-b") + "," + key("frag-c") +
                   ",bad%01key," + key("frag-a"));
    ASSERT_EQ(got.status, 200) << got.error << got.body;
    EXPECT_EQ(got.body, "header\n(" + key("frag-b") + ": NOT_FOUND)\nfooter\n(bad\x01key: " +
                            "Invalid argument)\nheader\n");
}

TEST_P(HttpdTest, QueryValuesAreUrlDecoded) {
    ASSERT_EQ(get("/mc?op=set&key=" + key("enc") + "&value=a%20b%26c+d").status, 200);
    EXPECT_EQ(get("/mc?op=get&key=" + key("enc")).body, "a b&c d");
}

TEST_P(HttpdTest, ValueSetThroughHttpIsInMemcached) {
    ASSERT_EQ(get("/mc?op=set&key=" + key("raw") + "&value=seen").status, 200);
    RawClient raw(s_->main_mc.port());
    EXPECT_EQ(raw.get(key("raw")), std::optional<std::string>("seen"));
}

TEST_P(HttpdTest, ValueSetInMemcachedIsReadThroughHttp) {
    RawClient raw(s_->main_mc.port());
    ASSERT_TRUE(raw.set(key("from-raw"), "hello"));
    auto got = get("/mc?op=get&key=" + key("from-raw"));
    EXPECT_EQ(got.status, 200) << got.error;
    EXPECT_EQ(got.body, "hello");
}

TEST_P(HttpdTest, IncrAddsToACounter) {
    EXPECT_EQ(get("/mc?op=incr&key=" + key("n") + "&n=1").status, 404);
    ASSERT_EQ(get("/mc?op=set&key=" + key("n") + "&value=40").status, 200);
    auto incr = get("/mc?op=incr&key=" + key("n") + "&n=2");
    EXPECT_EQ(incr.status, 200) << incr.error << incr.body;
    EXPECT_EQ(incr.body, "42\n");
}

TEST_P(HttpdTest, DeleteRemovesTheKey) {
    ASSERT_EQ(get("/mc?op=set&key=" + key("del") + "&value=x").status, 200);
    EXPECT_EQ(get("/mc?op=delete&key=" + key("del")).body, "DELETED\n");
    EXPECT_EQ(get("/mc?op=get&key=" + key("del")).status, 404);
    EXPECT_EQ(get("/mc?op=delete&key=" + key("del")).status, 404);
}

TEST_P(HttpdTest, BadRequestsAreRejected) {
    EXPECT_EQ(get("/mc?op=get").status, 400);
    EXPECT_EQ(get("/mc?op=frobnicate&key=k").status, 400);
    EXPECT_EQ(get("/mc?op=set&key=k").status, 400);
    EXPECT_EQ(get("/mc?op=incr&key=k&n=abc").status, 400);
    EXPECT_EQ(get("/mc?op=get&key=two%20words").status, 400);  // not a valid memcached key
}

TEST_P(HttpdTest, ServerHashListsTheServerLive) {
    auto servers = get("/mc?op=servers");
    EXPECT_EQ(servers.status, 200) << servers.error;
    EXPECT_EQ(servers.body, s_->main_mc.address() + " live\n");
}

TEST_P(HttpdTest, VirtualHostWithoutServersUsesTheMainServers) {
    auto set = get_vhost("inherit.test", "/mc?op=set&key=" + key("inherit") + "&value=main");
    ASSERT_EQ(set.status, 200) << set.error << set.body;
    EXPECT_EQ(RawClient(s_->main_mc.port()).get(key("inherit")), std::optional<std::string>("main"));
    EXPECT_EQ(RawClient(s_->vhost_mc.port()).get(key("inherit")), std::nullopt);
    EXPECT_EQ(get_vhost("inherit.test", "/mc?op=servers").body, s_->main_mc.address() + " live\n");
}

TEST_P(HttpdTest, VirtualHostWithAKeyFileSealsOnTheMainServers) {
    auto set = get_vhost("sealed.test", "/mc?op=set&key=" + key("sealed") + "&value=secret-value");
    ASSERT_EQ(set.status, 200) << set.error << set.body;
    auto stored = RawClient(s_->main_mc.port()).get(key("sealed"));
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->find("secret-value"), std::string::npos);
    EXPECT_EQ(static_cast<unsigned char>((*stored)[0]), 0xC5);
    EXPECT_EQ(get_vhost("sealed.test", "/mc?op=get&key=" + key("sealed")).body, "secret-value");
    // A value the unsealed main server wrote is no sealed value: a miss here.
    ASSERT_EQ(get("/mc?op=set&key=" + key("plain") + "&value=clear").status, 200);
    EXPECT_EQ(get_vhost("sealed.test", "/mc?op=get&key=" + key("plain")).status, 404);
    // Same servers, same connections: the vhost's client shares the main server's.
    EXPECT_EQ(get_vhost("sealed.test", "/mc?op=servers").body, s_->main_mc.address() + " live\n");
}

TEST_P(HttpdTest, VirtualHostWithItsOwnServersUsesThem) {
    auto set = get_vhost("own.test", "/mc?op=set&key=" + key("own") + "&value=vhost");
    ASSERT_EQ(set.status, 200) << set.error << set.body;
    EXPECT_EQ(RawClient(s_->vhost_mc.port()).get(key("own")), std::optional<std::string>("vhost"));
    EXPECT_EQ(RawClient(s_->main_mc.port()).get(key("own")), std::nullopt);
    EXPECT_EQ(get_vhost("own.test", "/mc?op=servers").body, s_->vhost_mc.address() + " live\n");
}

TEST_P(HttpdTest, VirtualHostCanUseAUnixSocket) {
    auto set = get_vhost("unix.test", "/mc?op=set&key=" + key("unix") + "&value=local");
    ASSERT_EQ(set.status, 200) << set.error << set.body;
    EXPECT_EQ(get_vhost("unix.test", "/mc?op=get&key=" + key("unix")).body, "local");
    EXPECT_EQ(RawClient(s_->main_mc.port()).get(key("unix")), std::nullopt);
    // A unix socket is keyed by its path in ap_memcache_serverhash.
    EXPECT_EQ(get_vhost("unix.test", "/mc?op=servers").body, s_->unix_mc.socket_path() + " live\n");
}

TEST_P(HttpdTest, ServerThatIsDownGives503WithTheError) {
    auto got = get_vhost("down.test", "/mc?op=get&key=" + key("down"));
    EXPECT_EQ(got.status, 503) << got.error << got.body;
    EXPECT_FALSE(got.body.empty());
    // When a failing server is marked dead is the engine's policy, not the module's.
    EXPECT_EQ(get_vhost("down.test", "/mc?op=servers").body.rfind(
                  "127.0.0.1:" + std::to_string(s_->dead_port) + " ", 0),
              0u);
}

// An operator configured a user, and the memcached behind the line does not enforce -Y
// (started without it, or a proxy in front): the request fails, one line in the error
// log says why in words, and nothing reaches the cache, above all not the password.
TEST_P(HttpdTest, ServerThatDoesNotAskForAuthenticationIsNeverSentThePassword) {
    auto set = get_vhost("noauth.test", "/mc?op=set&key=" + key("noauth") + "&value=v");
    EXPECT_EQ(set.status, 503) << set.error << set.body;
    const std::string log = log_with("does not ask for authentication");
    EXPECT_NE(log.find(s_->noauth_mc.address()), std::string::npos) << log;
    EXPECT_NE(log.find("does not ask for authentication"), std::string::npos) << log;
    // Our status codes are written out in words, not left to apr_strerror().
    EXPECT_EQ(log.find("APR does not understand this error code"), std::string::npos) << log;
    EXPECT_EQ(log.find(kNoAuthPassword), std::string::npos) << log;
    RawClient raw(s_->noauth_mc.port());
    EXPECT_EQ(raw.get("mmc-auth"), std::nullopt);
    EXPECT_EQ(raw.get(key("noauth")), std::nullopt);
    EXPECT_EQ(raw.stat("curr_items"), "0");
}

TEST_P(HttpdTest, AprUtilMemcacheWorksInTheSameProcess) {
    // mod_authn_socache keeps alice's login in memcached through apr-util's apr_memcache;
    // the handler behind it stores through ours. Both must reach their own server.
    EXPECT_EQ(get("/private?op=servers").status, 401);
    auto first = get("/private?op=set&key=" + key("socache") + "&value=both", {kAliceAuth});
    ASSERT_EQ(first.status, 200) << first.error << first.body;
    auto second = get("/private?op=get&key=" + key("socache"), {kAliceAuth});
    EXPECT_EQ(second.status, 200) << second.error << second.body;
    EXPECT_EQ(second.body, "both");

    RawClient socache(s_->socache_mc.port());
    EXPECT_NE(socache.stat("cmd_set"), std::optional<std::string>("0"));
    EXPECT_NE(socache.stat("get_hits"), std::optional<std::string>("0"));
    EXPECT_EQ(RawClient(s_->main_mc.port()).get(key("socache")), std::optional<std::string>("both"));
}

TEST_P(HttpdTest, KeysArePlacedByWeightedKetamaByDefault) {
    const std::vector<std::pair<const MemcachedProcess*, std::uint32_t>> cluster = {
        {&s_->main_mc, 1}, {&s_->vhost_mc, 3}};
    int on_each[2] = {0, 0};
    for (int i = 0; i < 40; ++i) {
        std::string k = key("ring" + std::to_string(i));
        auto set = get_vhost("cluster.test", "/mc?op=set&key=" + k + "&value=v");
        ASSERT_EQ(set.status, 200) << set.error << set.body;
        std::size_t owner = ketama_owner(cluster, k);
        ASSERT_LT(owner, 2u);
        EXPECT_TRUE(RawClient(cluster[owner].first->port()).get(k).has_value()) << k;
        EXPECT_FALSE(RawClient(cluster[1 - owner].first->port()).get(k).has_value()) << k;
        ++on_each[owner];
    }
    EXPECT_GT(on_each[1], on_each[0]);  // weight 3 against 1
}

TEST_P(HttpdTest, BinaryProtocolServesTheSameRequests) {
    std::string log = log_with("protocol=binary");
    EXPECT_NE(log.find("protocol=binary"), std::string::npos) << log;
    auto set = get_vhost("binary.test", "/mc?op=set&key=" + key("bin") + "&value=over%20binary");
    ASSERT_EQ(set.status, 200) << set.error << set.body;
    EXPECT_EQ(get_vhost("binary.test", "/mc?op=get&key=" + key("bin")).body, "over binary");
    EXPECT_EQ(get_vhost("binary.test", "/mc?op=get&key=" + key("bin-missing")).status, 404);
    EXPECT_EQ(RawClient(s_->main_mc.port()).get(key("bin")), std::optional<std::string>("over binary"));
}

TEST_P(HttpdTest, MetaProtocolServesTheSameRequests) {
    std::string log = log_with("protocol=meta");
    EXPECT_NE(log.find("protocol=meta"), std::string::npos) << log;
    auto set = get_vhost("meta.test", "/mc?op=set&key=" + key("meta") + "&value=over%20meta");
    ASSERT_EQ(set.status, 200) << set.error << set.body;
    EXPECT_EQ(get_vhost("meta.test", "/mc?op=get&key=" + key("meta")).body, "over meta");
    EXPECT_EQ(get_vhost("meta.test", "/mc?op=get&key=" + key("meta-missing")).status, 404);
    EXPECT_EQ(get_vhost("meta.test", "/mc?op=incr&key=" + key("meta-missing") + "&n=1").status, 404);
    EXPECT_EQ(RawClient(s_->main_mc.port()).get(key("meta")), std::optional<std::string>("over meta"));
    // The lease page needs meta: on a text server it says so.
    EXPECT_EQ(get("/mc?op=page&key=" + key("page-on-text")).status, 501);
}

// The lease pattern under httpd: concurrent requests for a page that is missing, then
// invalidated; each time exactly one request recomputes it, the others wait for it or
// are served the stale page.
TEST_P(HttpdTest, LeasePageIsComputedOncePerMissAndPerInvalidation) {
    const std::string page = "/mc?op=page&ms=200&key=" + key("page");
    for (const char* phase : {"miss", "invalidated"}) {
        constexpr int kRequests = 8;
        std::vector<HttpResponse> got(kRequests);
        std::vector<std::thread> threads;
        for (int i = 0; i < kRequests; ++i) {
            threads.emplace_back([&, i] { got[i] = get_vhost("meta.test", page); });
        }
        for (auto& t : threads) t.join();
        int computed = 0, served = 0;
        for (const auto& r : got) {
            EXPECT_EQ(r.status, 200) << phase << ": " << r.error << r.body;
            if (r.body.rfind("COMPUTED ", 0) == 0) ++computed;
            if (r.body.rfind("HIT ", 0) == 0 || r.body.rfind("STALE ", 0) == 0) ++served;
        }
        EXPECT_EQ(computed, 1) << phase;
        EXPECT_EQ(served, kRequests - 1) << phase;
        auto inv = get_vhost("meta.test", "/mc?op=invalidate&key=" + key("page"));
        EXPECT_EQ(inv.body, "INVALIDATED\n") << inv.error;
    }
}

TEST_P(HttpdTest, SilentServerDoesNotSlowKeysOnTheOtherServer) {
    // slow.test: the live vhost_mc and a listener that never answers, 300 ms deadline.
    auto owner_is_silent = [&](const std::string& k) {
        std::vector<engine::KetamaServer> ring = {
            {engine::ketama_tcp_name("127.0.0.1", s_->vhost_mc.port()), 1},
            {engine::ketama_tcp_name("127.0.0.1", s_->silent.port()), 1}};
        return engine::KetamaRing(ring).server_for(k) == 1;
    };
    std::vector<std::string> silent_keys, live_keys;
    for (int i = 0; silent_keys.size() < 20 || live_keys.size() < 20; ++i) {
        std::string k = key("slow" + std::to_string(i));
        (owner_is_silent(k) ? silent_keys : live_keys).push_back(k);
    }
    // After the graceful-restart test prefork brings its children back one by one; a
    // request queued for a child that does not exist yet would measure the MPM.
    if (GetParam() == "prefork") {
        for (int i = 0; i < 500 && child_count(s_->httpd->pid()) < 4; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        ASSERT_GE(child_count(s_->httpd->pid()), 4);
    }
    std::atomic<bool> stop{false};
    std::atomic<long long> slowest_silent{0};
    std::vector<std::thread> hammer;
    for (int t = 0; t < 2; ++t) {
        hammer.emplace_back([&, t] {
            for (std::size_t i = static_cast<std::size_t>(t); !stop; i += 2) {
                auto t0 = std::chrono::steady_clock::now();
                get_vhost("slow.test", "/mc?op=get&key=" + silent_keys[i % silent_keys.size()]);
                long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now() - t0).count();
                if (ms > slowest_silent) slowest_silent = ms;
            }
        });
    }
    long long slowest_live = 0;
    int live_ok = 0;
    for (int round = 0; round < 3; ++round) {
        for (const auto& k : live_keys) {
            auto t0 = std::chrono::steady_clock::now();
            auto r = get_vhost("slow.test", "/mc?op=get&key=" + k);
            long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - t0).count();
            slowest_live = std::max(slowest_live, ms);
            if (r.status == 404 || r.status == 200) ++live_ok;
        }
    }
    stop = true;
    for (auto& th : hammer) th.join();
    EXPECT_EQ(live_ok, 3 * static_cast<int>(live_keys.size()));
    EXPECT_LT(slowest_live, 150) << "a key on the live server waited for the silent one";
    EXPECT_LE(slowest_silent.load(), 300 + 300 + 200) << "a request on the silent server hung";
    std::printf("[ measured ] %s: slowest live-key request %lld ms, slowest silent-key request %lld ms\n",
                GetParam().c_str(), slowest_live, slowest_silent.load());
}

TEST_P(HttpdTest, KilledMemcachedIsBackWithoutRestartingHttpd) {
    using Clock = std::chrono::steady_clock;
    ASSERT_EQ(get_vhost("restart.test", "/mc?op=set&key=" + key("r") + "&value=1").status, 200);
    std::atomic<bool> stop{false};
    std::atomic<long long> slowest{0};
    std::atomic<Clock::rep> last_failure{0};
    std::atomic<int> ok{0};
    std::vector<std::thread> clients;
    for (int t = 0; t < 3; ++t) {
        clients.emplace_back([&, t] {
            for (int i = 0; !stop; ++i) {
                auto t0 = Clock::now();
                auto r = get_vhost("restart.test", "/mc?op=set&key=" + key("r" + std::to_string(t * 1000 + i % 50)) +
                                                       "&value=v");
                auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
                if (ms > slowest) slowest = ms;
                if (r.status == 200) {
                    ++ok;
                } else {
                    last_failure = Clock::now().time_since_epoch().count();
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                }
            }
        });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    s_->restart_mc.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    ASSERT_TRUE(s_->restart_mc.restart()) << s_->restart_mc.error();
    const auto restarted = Clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    const int ok_at_end = ok;
    stop = true;
    for (auto& c : clients) c.join();

    // Each child finds the server back within one retry period (1 s) of the restart.
    const auto last = Clock::time_point(Clock::duration(last_failure.load()));
    const long long failing_after_restart =
        std::chrono::duration_cast<std::chrono::milliseconds>(last - restarted).count();
    EXPECT_LE(failing_after_restart, 1000 + 500);
    EXPECT_GT(ok_at_end, 0);
    EXPECT_LE(slowest.load(), 1000 + 1000 + 500);  // never a hang: I/O + acquire deadline
    auto after = get_vhost("restart.test", "/mc?op=get&key=" + key("r0"));
    EXPECT_EQ(after.status, 200) << after.error << after.body;
    // No leak: at most max=2 connections per child process reach the restarted server.
    RawClient raw(s_->restart_mc.port());
    const long long ours = raw.settled_number("curr_connections") - 1;  // minus the raw client itself
    EXPECT_LE(ours, 2 * std::max(1, child_count(s_->httpd->pid())));
    std::printf("[ measured ] %s: failures ended %lld ms after the restart; slowest request %lld ms; "
                "%lld connections from httpd afterwards\n",
                GetParam().c_str(), failing_after_restart, slowest.load(), ours);
}

TEST_P(HttpdTest, StatusPageShowsEveryClientAndServer) {
    ASSERT_EQ(get("/mc?op=set&key=" + key("status") + "&value=1").status, 200);
    auto status = get("/server-status?auto");
    ASSERT_EQ(status.status, 200) << status.error;
    EXPECT_NE(status.body.find("Memcache client: main server, 1 server(s), ketama"), std::string::npos)
        << status.body;
    EXPECT_NE(status.body.find("Memcache " + s_->main_mc.address() + ": live open="), std::string::npos)
        << status.body;
    EXPECT_NE(status.body.find("Memcache client: binary.test"), std::string::npos) << status.body;
    EXPECT_NE(status.body.find("protocol=binary"), std::string::npos) << status.body;
    EXPECT_NE(status.body.find("Memcache " + s_->vhost_mc.address() + ": live"), std::string::npos)
        << status.body;
    auto html = get("/server-status");
    EXPECT_NE(html.body.find("<h2>mod_memcache (pid"), std::string::npos) << html.body;
}

// Last: after it prefork brings its children back one at a time, which would slow the
// tests that follow for reasons of the MPM, not of the module.
TEST_P(HttpdTest, ClientsAreRebuiltAfterAGracefulRestart) {
    // Served by a child: the first generation is up before the restart is asked for.
    ASSERT_EQ(get("/mc?op=servers").status, 200);
    const std::size_t offset = s_->httpd->error_log().size();
    ASSERT_EQ(::kill(s_->httpd->pid(), SIGUSR1), 0);
    // The module is unloaded and loaded again, then the new generation's children
    // build their clients after the parent says it is resuming.
    bool rebuilt = false;
    std::string log;
    for (int i = 0; i < 500 && !rebuilt; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        log = s_->httpd->error_log();
        auto resumed = log.find("resuming normal operations", offset);
        rebuilt = resumed != std::string::npos &&
                  log.find("memcache client for main server", resumed) != std::string::npos;
    }
    ASSERT_TRUE(rebuilt) << log.substr(offset);
    ASSERT_EQ(get("/mc?op=set&key=" + key("restart") + "&value=again").status, 200);
    EXPECT_EQ(get("/mc?op=get&key=" + key("restart")).body, "again");
}

INSTANTIATE_TEST_SUITE_P(Mpm, HttpdTest, ::testing::Values("prefork", "worker", "event"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace mmc::test
