// The memcache-pass handler and the MemcacheStore filter in a real apache2 (prefork and
// event), side by side with Debian's nginx and its memcached_pass against the same
// memcached and the same keys; and the configuration test of their directives.
#include "httpd_test_options.h"
#include "memcached_process.h"
#include "raw_client.h"
#include "silent_server.h"

#include <gtest/gtest.h>

#include <openssl/sha.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

namespace mmc::test {
namespace {

using Clock = std::chrono::steady_clock;

const char kNginxBin[] = "/usr/sbin/nginx";

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// The value of header name (case-insensitive) in a response's header block, or "".
std::string header(const HttpResponse& r, const std::string& name) {
    std::istringstream lines(r.headers);
    std::string line;
    while (std::getline(lines, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        auto colon = line.find(':');
        if (colon == std::string::npos || colon != name.size()) continue;
        bool same = true;
        for (std::size_t i = 0; i < colon; ++i)
            same = same && std::tolower(static_cast<unsigned char>(line[i])) ==
                               std::tolower(static_cast<unsigned char>(name[i]));
        if (!same) continue;
        auto v = line.find_first_not_of(' ', colon + 1);
        return v == std::string::npos ? "" : line.substr(v);
    }
    return "";
}

bool has_header(const HttpResponse& r, const std::string& name) {
    return r.headers.find("\n" + name + ":") != std::string::npos;
}

// nginx in the foreground (daemon off) as our child, with a generated configuration
// in a temporary directory (pid file, logs, temp paths), on a free loopback port,
// stopped by PID.
class NginxProcess {
public:
    NginxProcess() {
        char tmpl[] = "/tmp/mmc-nginx-XXXXXX";
        if (::mkdtemp(tmpl) == nullptr) return;
        dir_ = tmpl;
        ::chmod(dir_.c_str(), 0755);
    }
    ~NginxProcess() {
        stop();
        if (!dir_.empty() && std::getenv("MMC_KEEP_TEST_DIRS") == nullptr) {
            std::error_code ec;
            std::filesystem::remove_all(dir_, ec);
        }
    }
    NginxProcess(const NginxProcess&) = delete;
    NginxProcess& operator=(const NginxProcess&) = delete;

    // servers: the server { } blocks' content, given the port to listen on.
    bool start(const std::function<std::string(unsigned short)>& server) {
        if (::access(kNginxBin, X_OK) != 0) {
            error_ = std::string(kNginxBin) + " not found: install Debian's nginx package "
                     "(scripts/install-deps.sh)";
            return false;
        }
        for (int attempt = 0; attempt < 5; ++attempt) {
            port_ = free_loopback_port();
            const std::string conf = dir_ + "/nginx.conf";
            std::ofstream(conf, std::ios::trunc)
                << "daemon off;\n"
                << "worker_processes 1;\n"
                << "pid " << dir_ << "/nginx.pid;\n"
                << "error_log " << dir_ << "/error.log info;\n"
                << "events { worker_connections 256; }\n"
                << "http {\n"
                << "  access_log off;\n"
                << "  client_body_temp_path " << dir_ << "/body;\n"
                << "  proxy_temp_path " << dir_ << "/proxy;\n"
                << "  fastcgi_temp_path " << dir_ << "/fastcgi;\n"
                << "  uwsgi_temp_path " << dir_ << "/uwsgi;\n"
                << "  scgi_temp_path " << dir_ << "/scgi;\n"
                << "  default_type text/html;\n"
                << "  server {\n"
                << "    listen 127.0.0.1:" << port_ << ";\n"
                << server(port_) << "  }\n}\n";
            if (launch(conf) && wait_until_up()) return true;
            if (error_.find("Address already in use") == std::string::npos) return false;
        }
        return false;
    }

    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGQUIT);
        const auto until = Clock::now() + std::chrono::seconds(10);
        int status = 0;
        while (::waitpid(pid_, &status, WNOHANG) == 0) {
            if (Clock::now() > until) {
                ::kill(-pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        pid_ = -1;
    }

    unsigned short port() const { return port_; }
    const std::string& error() const { return error_; }

private:
    bool launch(const std::string& conf) {
        std::vector<std::string> argv = {kNginxBin, "-p", dir_, "-c", conf, "-e",
                                         dir_ + "/error.log"};
        const pid_t pid = spawn_server(std::move(argv), dir_ + "/stderr.log");
        if (pid < 0) return false;
        pid_ = pid;
        return true;
    }

    bool wait_until_up() {
        const auto until = Clock::now() + std::chrono::seconds(10);
        while (Clock::now() < until) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                error_ = "nginx exited at start:\n" + slurp(dir_ + "/stderr.log") +
                         slurp(dir_ + "/error.log");
                return false;
            }
            if (http_get(port_, "/").status != 0) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        error_ = "nginx did not answer within 10 s\n" + slurp(dir_ + "/error.log");
        stop();
        return false;
    }

    std::string dir_;
    unsigned short port_ = 0;
    pid_t pid_ = -1;
    std::string error_;
};

// The gzip form of "hello gzip world" (gzip -n).
const std::string& gzipped_hello() {
    static const unsigned char bytes[] = {
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9,
        0xc9, 0x57, 0x48, 0xaf, 0xca, 0x2c, 0x50, 0x28, 0xcf, 0x2f, 0xca, 0x49, 0x01, 0x00,
        0x6b, 0x7d, 0xe8, 0xb7, 0x10, 0x00, 0x00, 0x00};
    static const std::string s(reinterpret_cast<const char*>(bytes), sizeof bytes);
    return s;
}

struct PassServers {
    MemcachedProcess mc;
    unsigned short dead_port = 0;
    SilentServer silent;  // slow.test's server: accepts, never answers
    std::unique_ptr<HttpdProcess> httpd;
    NginxProcess nginx;
    std::string error;
    std::size_t reported_log_lines = 0;
};

std::string httpd_body(const HttpdProcess& h, const PassServers& s) {
    const std::string self = "http://127.0.0.1:" + std::to_string(h.port(0));
    const std::string vhost = "127.0.0.1:" + std::to_string(h.port(1));
    return "MemcacheServer " + s.mc.address() + "\n"
           "TypesConfig /etc/mime.types\n"
           "<Location />\n"
           "    SetHandler memcache-pass\n"
           "    MemcachePassGzipFlag 2\n"
           "</Location>\n"
           "<Location /m404>\n"
           "    MemcachePassMiss 404\n"
           "</Location>\n"
           "<Location /app>\n"
           "    ProxyPass " + self + "/backend/app\n"
           "    MemcacheStore on\n"
           "    MemcacheStoreTTL 60\n"
           "    MemcacheStoreMaxSize 1k\n"
           "</Location>\n"
           "<Location /appenv>\n"
           "    ProxyPass " + self + "/backend/app\n"
           "    MemcacheStore on\n"
           "    MemcachePassHeaderFlag 4\n"
           "</Location>\n"
           "<Location /loop>\n"
           "    MemcachePassFallback /loop%{REQUEST_URI}\n"
           "</Location>\n"
           "<Location /fb>\n"
           "    MemcachePassFallback /backend%{REQUEST_URI}\n"
           "</Location>\n"
           "<Location /env>\n"
           "    MemcachePassHeaderFlag 4\n"
           "</Location>\n"
           "<Location /typed>\n"
           "    MemcachePassType \"text/plain; charset=utf-8\"\n"
           "</Location>\n"
           "<Location /keyed>\n"
           "    MemcachePassKey \"page:%{QUERY_STRING}\"\n"
           "</Location>\n"
           "<Location /backend>\n"
           "    SetHandler none\n"
           "</Location>\n"
           "<Location /backend/app/nostore>\n"
           "    Header set Cache-Control no-store\n"
           "</Location>\n"
           "<Location /backend/app/private>\n"
           "    Header set Cache-Control \"private, max-age=60\"\n"
           "</Location>\n"
           "Listen " + vhost + "\n"
           "<VirtualHost " + vhost + ">\n"
           "    ServerName down.test\n"
           "    MemcacheServer 127.0.0.1:" + std::to_string(s.dead_port) + "\n"
           "    MemcacheRetryPeriod 60s\n"
           "    <Location />\n"
           "        SetHandler memcache-pass\n"
           "    </Location>\n"
           "    <Location /m404>\n"
           "        MemcachePassMiss 404\n"
           "    </Location>\n"
           "</VirtualHost>\n"
           "<VirtualHost " + vhost + ">\n"
           "    ServerName slow.test\n"
           "    MemcacheServer " + s.silent.address() + "\n"
           "    MemcacheTimeout 200ms\n"
           "    <Location />\n"
           "        SetHandler memcache-pass\n"
           "    </Location>\n"
           "</VirtualHost>\n";
}

std::string nginx_body(const PassServers& s, unsigned short httpd_port) {
    const std::string mc = s.mc.address();
    return "    include /etc/nginx/mime.types;\n"
           "    location / {\n"
           "      set $memcached_key \"$uri?$args\";\n"
           "      memcached_pass " + mc + ";\n"
           "      memcached_gzip_flag 2;\n"
           "    }\n"
           "    location /app/ {\n"
           "      set $memcached_key \"$uri?$args\";\n"
           "      memcached_pass " + mc + ";\n"
           "      error_page 404 = @app;\n"
           "    }\n"
           "    location @app {\n"
           "      rewrite ^/app/(.*)$ /backend/app/$1 break;\n"
           "      proxy_pass http://127.0.0.1:" + std::to_string(httpd_port) + ";\n"
           "    }\n";
}

std::map<std::string, std::unique_ptr<PassServers>>& servers_by_mpm() {
    static std::map<std::string, std::unique_ptr<PassServers>> servers;
    return servers;
}

PassServers& servers_for(const std::string& mpm) {
    auto& slot = servers_by_mpm()[mpm];
    if (slot) return *slot;
    slot = std::make_unique<PassServers>();
    PassServers& s = *slot;
    if (!s.mc.start()) {
        s.error = "memcached: " + s.mc.error();
        return s;
    }
    s.dead_port = free_loopback_port();
    HttpdOptions options = module_options(mpm);
    options.system_modules = {"proxy", "proxy_http", "deflate", "filter", "headers", "mime"};
    s.httpd = std::make_unique<HttpdProcess>(options);
    const std::string backend = s.httpd->dir() + "/htdocs/backend/app";
    std::filesystem::create_directories(backend);
    for (const char* name : {"page", "nginx", "gone", "nostore", "private", "long"})
        s.httpd->write_file(std::string("htdocs/backend/app/") + name, std::string("backend ") + name + "\n");
    s.httpd->write_file("htdocs/backend/app/big", std::string(2000, 'b'));
    s.httpd->write_file("htdocs/backend/fb", "fallback page\n");
    s.httpd->write_file("htdocs/static.html", "a static file\n");
    if (!s.httpd->start([&](const HttpdProcess& h) { return httpd_body(h, s); }, 1)) {
        s.error = "httpd (" + mpm + "): " + s.httpd->error();
        return s;
    }
    const unsigned short httpd_port = s.httpd->port(0);
    if (!s.nginx.start([&](unsigned short) { return nginx_body(s, httpd_port); })) {
        s.error = "nginx: " + s.nginx.error();
    }
    return s;
}

class StopServers : public ::testing::Environment {
public:
    void TearDown() override { servers_by_mpm().clear(); }
};
[[maybe_unused]] ::testing::Environment* const kStopServers =
    ::testing::AddGlobalTestEnvironment(new StopServers);

class PassTest : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        s_ = &servers_for(GetParam());
        ASSERT_TRUE(s_->error.empty()) << s_->error;
        mc_ = std::make_unique<RawClient>(s_->mc.port());
        ASSERT_TRUE(mc_->connected());
    }
    void TearDown() override {
        if (!s_ || !s_->httpd) return;
        auto all = s_->httpd->unexpected_log_lines(
            {"127.0.0.1:" + std::to_string(s_->dead_port), s_->silent.address()});
        const auto seen = std::min(s_->reported_log_lines, all.size());
        s_->reported_log_lines = all.size();
        std::vector<std::string> lines(all.begin() + static_cast<std::ptrdiff_t>(seen), all.end());
        EXPECT_TRUE(lines.empty()) << "unexpected lines in the error log:\n"
                                   << testing::PrintToString(lines);
    }
    HttpResponse httpd(const std::string& target, const std::vector<std::string>& headers = {},
                       const std::string& method = "GET") {
        return http_request(s_->httpd->port(0), method, target, "localhost", headers);
    }
    HttpResponse down(const std::string& target) {
        return http_get(s_->httpd->port(1), target, "down.test");
    }
    HttpResponse nginx(const std::string& target, const std::vector<std::string>& headers = {},
                       const std::string& method = "GET") {
        return http_request(s_->nginx.port(), method, target, "localhost", headers);
    }
    bool set(const std::string& key, const std::string& value, unsigned flags = 0) {
        return mc_->set(key, value, flags);
    }

    PassServers* s_ = nullptr;
    std::unique_ptr<RawClient> mc_;
};

TEST_P(PassTest, StoredPageHasTheSameBodyAndTypeAsFromNginx) {
    const std::string page = "<html><body>cached page</body></html>\n";
    ASSERT_TRUE(set("/page.html?", page));
    auto a = httpd("/page.html");
    auto n = nginx("/page.html");
    ASSERT_EQ(a.status, 200) << a.error << a.headers;
    ASSERT_EQ(n.status, 200) << n.error << n.headers;
    EXPECT_EQ(a.body, page);
    EXPECT_EQ(n.body, a.body);
    EXPECT_EQ(header(a, "Content-Type"), "text/html");
    EXPECT_EQ(header(n, "Content-Type"), header(a, "Content-Type"));
    EXPECT_EQ(header(a, "Content-Length"), std::to_string(page.size()));
    // A plain value carries no validators: nothing is made up.
    EXPECT_FALSE(has_header(a, "ETag")) << a.headers;
    EXPECT_FALSE(has_header(a, "Last-Modified")) << a.headers;
}

TEST_P(PassTest, TypeFollowsTheExtensionAsNginxsTypes) {
    ASSERT_TRUE(set("/style.css?", "p { color: red }"));
    ASSERT_TRUE(set("/noext?", "no extension"));
    auto a = httpd("/style.css");
    auto n = nginx("/style.css");
    EXPECT_EQ(header(a, "Content-Type"), "text/css");
    EXPECT_EQ(header(n, "Content-Type"), "text/css");
    EXPECT_EQ(header(httpd("/noext"), "Content-Type"), "text/html");
    EXPECT_EQ(header(nginx("/noext"), "Content-Type"), "text/html");
}

TEST_P(PassTest, KeysAreNginxsUriQuestionMarkArgs) {
    // nginx escapes '%' (and space, control characters) in the whole key: the query
    // string's %41 is looked up as %2541.
    ASSERT_TRUE(set("/q?a=1&b=%2541", "with args"));
    ASSERT_TRUE(set("/sp%20ace?", "escaped space"));
    ASSERT_TRUE(set("/dec/x?", "decoded path"));
    for (const auto& [target, body] : std::vector<std::pair<std::string, std::string>>{
             {"/q?a=1&b=%41", "with args"}, {"/sp%20ace", "escaped space"},
             {"/sp%20ace?", "escaped space"}, {"/d%65c/x", "decoded path"}}) {
        auto a = httpd(target);
        auto n = nginx(target);
        EXPECT_EQ(a.status, 200) << target << a.error;
        EXPECT_EQ(a.body, body) << target;
        EXPECT_EQ(n.status, 200) << target << n.error;
        EXPECT_EQ(n.body, body) << target;
    }
}

TEST_P(PassTest, GzipFlaggedValueIsSentAsGzipByBoth) {
    ASSERT_TRUE(set("/gz?", gzipped_hello(), 2 | 1));
    auto a = httpd("/gz", {"Accept-Encoding: gzip, deflate"});
    auto n = nginx("/gz", {"Accept-Encoding: gzip, deflate"});
    ASSERT_EQ(a.status, 200) << a.error;
    ASSERT_EQ(n.status, 200) << n.error;
    EXPECT_EQ(header(a, "Content-Encoding"), "gzip");
    EXPECT_EQ(header(n, "Content-Encoding"), "gzip");
    EXPECT_EQ(a.body, gzipped_hello());
    EXPECT_EQ(n.body, a.body);
    EXPECT_EQ(header(a, "Vary"), "Accept-Encoding");
}

TEST_P(PassTest, GzipFlaggedValueIsInflatedForAClientWithoutGzip) {
    ASSERT_TRUE(set("/gz2?", gzipped_hello(), 2));
    for (const std::vector<std::string>& h :
         {std::vector<std::string>{}, std::vector<std::string>{"Accept-Encoding: gzip;q=0"}}) {
        auto a = httpd("/gz2", h);
        ASSERT_EQ(a.status, 200) << a.error;
        EXPECT_FALSE(has_header(a, "Content-Encoding")) << a.headers;
        EXPECT_EQ(a.body, "hello gzip world");
    }
    // Without the flag the value is served as it is.
    ASSERT_TRUE(set("/gz3?", gzipped_hello(), 1));
    auto plain = httpd("/gz3", {"Accept-Encoding: gzip"});
    EXPECT_FALSE(has_header(plain, "Content-Encoding")) << plain.headers;
    EXPECT_EQ(plain.body, gzipped_hello());
}

TEST_P(PassTest, MissIsNginxs404WithMemcachePassMiss404) {
    auto a = httpd("/m404/never-stored");
    auto n = nginx("/m404/never-stored");
    EXPECT_EQ(a.status, 404) << a.error;
    EXPECT_EQ(n.status, 404) << n.error;
}

TEST_P(PassTest, MissFallsThroughToTheNextHandlerByDefault) {
    // A file: the default handler serves it, as a static site behind the cache.
    auto file = httpd("/static.html");
    EXPECT_EQ(file.status, 200) << file.error;
    EXPECT_EQ(file.body, "a static file\n");
    // Nothing there: the default handler's 404.
    EXPECT_EQ(httpd("/never-stored").status, 404);
}

TEST_P(PassTest, MissFallsThroughToTheBackendAsNginxErrorPage404) {
    mc_->command("delete /app/nginx?\r\n");
    auto n = nginx("/app/nginx");
    auto a = httpd("/app/nginx");
    ASSERT_EQ(a.status, 200) << a.error << a.body;
    ASSERT_EQ(n.status, 200) << n.error << n.body;
    EXPECT_EQ(a.body, "backend nginx\n");
    EXPECT_EQ(n.body, a.body);
}

TEST_P(PassTest, FallbackRedirectsInternallyKeepingTheQuery) {
    auto a = httpd("/fb?x=1");
    ASSERT_EQ(a.status, 200) << a.error << a.body;
    EXPECT_EQ(a.body, "fallback page\n");
}

TEST_P(PassTest, FallbackBackToMemcachePassIsNotLookedUpAgain) {
    // /loop/x is redirected to /loop/loop/x, which declines instead of redirecting
    // again: the default handler's 404, not LimitInternalRecursion's 500.
    ASSERT_TRUE(set("/loop/loop/x?", "not looked up"));
    auto a = httpd("/loop/x");
    EXPECT_EQ(a.status, 404) << a.error << a.body;
}

TEST_P(PassTest, StoreFilterFillsMemcachedAndTheNextRequestIsAHitInBoth) {
    const std::string key = "/app/gone?v=" + GetParam();
    mc_->command("delete " + key + "\r\n");
    auto first = httpd("/app/gone?v=" + GetParam());
    ASSERT_EQ(first.status, 200) << first.error;
    EXPECT_EQ(first.body, "backend gone\n");
    // Stored before the response ended.
    EXPECT_EQ(mc_->get(key).value_or("(miss)"), "backend gone\n");
    // Served from memcached now, by both: the application's file is no longer read.
    ASSERT_TRUE(set(key, "from memcached"));
    EXPECT_EQ(httpd("/app/gone?v=" + GetParam()).body, "from memcached");
    EXPECT_EQ(nginx("/app/gone?v=" + GetParam()).body, "from memcached");
}

TEST_P(PassTest, StoreHonoursNoStorePrivateAndTheSizeLimit) {
    for (const std::string name : {"nostore", "private", "big"}) {
        const std::string key = "/app/" + name + "?m=" + GetParam();
        mc_->command("delete " + key + "\r\n");
        auto a = httpd("/app/" + name + "?m=" + GetParam());
        ASSERT_EQ(a.status, 200) << name << a.error;
        EXPECT_FALSE(mc_->get(key).has_value()) << name << " was stored";
    }
}

TEST_P(PassTest, HeadSendsTheHeadersOfGetWithoutBody) {
    ASSERT_TRUE(set("/head?", "12345"));
    auto a = httpd("/head", {}, "HEAD");
    auto n = nginx("/head", {}, "HEAD");
    ASSERT_EQ(a.status, 200) << a.error;
    ASSERT_EQ(n.status, 200) << n.error;
    EXPECT_EQ(a.body, "");
    EXPECT_EQ(n.body, "");
    EXPECT_EQ(header(a, "Content-Length"), "5");
    EXPECT_EQ(header(n, "Content-Length"), "5");
    EXPECT_EQ(header(a, "Content-Type"), header(n, "Content-Type"));
}

TEST_P(PassTest, RangeRequestGetsPartialContentFromBoth) {
    ASSERT_TRUE(set("/range?", "0123456789"));
    auto a = httpd("/range", {"Range: bytes=2-5"});
    auto n = nginx("/range", {"Range: bytes=2-5"});
    ASSERT_EQ(a.status, 206) << a.error << a.headers;
    ASSERT_EQ(n.status, 206) << n.error << n.headers;
    EXPECT_EQ(a.body, "2345");
    EXPECT_EQ(n.body, "2345");
    EXPECT_EQ(header(a, "Content-Range"), "bytes 2-5/10");
    EXPECT_EQ(header(n, "Content-Range"), "bytes 2-5/10");
    EXPECT_EQ(header(a, "Accept-Ranges"), "bytes");
}

TEST_P(PassTest, EnvelopeGivesValidatorsAndConditionalRequests) {
    const std::string lm = "Tue, 01 Dec 2026 10:00:00 GMT";
    ASSERT_TRUE(set("/env/page?",
                    "ETag: \"v1\"\r\nLast-Modified: " + lm +
                        "\r\nContent-Type: application/json\r\n\r\n{\"a\":1}",
                    4));
    auto a = httpd("/env/page");
    ASSERT_EQ(a.status, 200) << a.error;
    EXPECT_EQ(a.body, "{\"a\":1}");
    EXPECT_EQ(header(a, "ETag"), "\"v1\"");
    EXPECT_EQ(header(a, "Last-Modified"), lm);
    EXPECT_EQ(header(a, "Content-Type"), "application/json");
    EXPECT_EQ(httpd("/env/page", {"If-None-Match: \"v1\""}).status, 304);
    EXPECT_EQ(httpd("/env/page", {"If-None-Match: \"v2\""}).status, 200);
    EXPECT_EQ(httpd("/env/page", {"If-Modified-Since: " + lm}).status, 304);
    EXPECT_EQ(httpd("/env/page", {"If-Match: \"v2\""}).status, 412);
    // Without the flag bit the same bytes are a plain page, byte for byte.
    ASSERT_TRUE(set("/env/plain?", "ETag: \"v1\"\r\n\r\nbody"));
    EXPECT_EQ(httpd("/env/plain").body, "ETag: \"v1\"\r\n\r\nbody");
}

TEST_P(PassTest, StoreFilterKeepsTheValidatorsInTheEnvelope) {
    const std::string key = "/appenv/page?e=" + GetParam();
    mc_->command("delete " + key + "\r\n");
    auto first = httpd("/appenv/page?e=" + GetParam());
    ASSERT_EQ(first.status, 200) << first.error;
    const std::string etag = header(first, "ETag");
    ASSERT_FALSE(etag.empty()) << first.headers;
    const std::string raw = mc_->command("get " + key + "\r\n");
    EXPECT_EQ(raw.rfind("VALUE " + key + " 4 ", 0), 0u) << raw;
    EXPECT_NE(raw.find("ETag: " + etag + "\r\n"), std::string::npos) << raw;
    // The next request is a hit with the same validators: 304 on If-None-Match.
    auto hit = httpd("/appenv/page?e=" + GetParam(), {"If-None-Match: " + etag});
    EXPECT_EQ(hit.status, 304) << hit.headers;
    auto again = httpd("/appenv/page?e=" + GetParam());
    EXPECT_EQ(again.body, "backend page\n");
    EXPECT_EQ(header(again, "Last-Modified"), header(first, "Last-Modified"));
}

TEST_P(PassTest, TypeAndKeyExpressionAreConfigurable) {
    ASSERT_TRUE(set("/typed/t.css?", "text"));
    auto t = httpd("/typed/t.css");
    EXPECT_EQ(t.body, "text");
    EXPECT_EQ(header(t, "Content-Type"), "text/plain; charset=utf-8");
    ASSERT_TRUE(set("page:id=7", "seven"));
    EXPECT_EQ(httpd("/keyed/anything?id=7").body, "seven");
}

std::string hashed_key(const std::string& key) {
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
    std::string hashed = "mmc-sha1:";
    for (unsigned char c : digest) {
        static const char hex[] = "0123456789abcdef";
        hashed += hex[c >> 4];
        hashed += hex[c & 15];
    }
    return hashed;
}

TEST_P(PassTest, KeysWithADelByteAreHashed) {
    ASSERT_TRUE(set(hashed_key("/d\x7fl?"), "del byte"));
    EXPECT_EQ(httpd("/d%7Fl").body, "del byte");
}

TEST_P(PassTest, KeysLongerThanMemcachedAllowsAreHashed) {
    // 300 bytes of query: the store filter keeps the page under mmc-sha1:<SHA-1 of the
    // key in hex>, where the handler then finds it.
    const std::string query = GetParam() + std::string(300, 'x');
    const std::string key = "/app/long?" + query;
    const std::string hashed = hashed_key(key);
    mc_->command("delete " + hashed + "\r\n");
    auto first = httpd("/app/long?" + query);
    ASSERT_EQ(first.status, 200) << first.error;
    EXPECT_EQ(mc_->get(hashed).value_or("(miss)"), "backend long\n");
    ASSERT_TRUE(set(hashed, "long key, from memcached"));
    EXPECT_EQ(httpd("/app/long?" + query).body, "long key, from memcached");
}

TEST_P(PassTest, OnlyGetAndHeadAreServed) {
    ASSERT_TRUE(set("/post?", "cached"));
    auto a = httpd("/post", {"Content-Length: 0"}, "POST");
    EXPECT_NE(a.body, "cached");
    EXPECT_NE(a.status, 200) << a.headers;
}

TEST_P(PassTest, DeadServerFallsThroughOr404) {
    auto a = down("/anything");
    EXPECT_EQ(a.status, 404) << a.error;
    EXPECT_EQ(down("/m404/anything").status, 404);
}

TEST_P(PassTest, TimeoutFallsThroughWithinTheDeadline) {
    // The static file behind the cache, served once MemcacheTimeout has passed.
    const auto start = Clock::now();
    auto a = http_get(s_->httpd->port(1), "/static.html", "slow.test");
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    EXPECT_EQ(a.status, 200) << a.error;
    EXPECT_EQ(a.body, "a static file\n");
    EXPECT_LT(ms, 2000) << "the miss took " << ms << " ms";
}

INSTANTIATE_TEST_SUITE_P(Mpm, PassTest, ::testing::Values("prefork", "worker", "event"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// ---- apachectl -t ---------------------------------------------------------------

struct BadPassLine {
    std::string line;
    std::string directive;
    std::string value;
};

class BadPassDirective : public ::testing::TestWithParam<BadPassLine> {};

TEST_P(BadPassDirective, FailsTheConfigTestNamingDirectiveAndValue) {
    HttpdProcess httpd(module_options());
    auto r = httpd.config_test("<Location /p>\n" + GetParam().line + "\n</Location>\n");
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find(GetParam().directive), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(GetParam().value), std::string::npos) << r.output;
}

INSTANTIATE_TEST_SUITE_P(
    Args, BadPassDirective,
    ::testing::Values(BadPassLine{"MemcachePassKey \"%{REQUEST_URI\"", "MemcachePassKey", "%{REQUEST_URI"},
                      BadPassLine{"MemcachePassType html", "MemcachePassType", "'html'"},
                      BadPassLine{"MemcachePassGzipFlag two", "MemcachePassGzipFlag", "'two'"},
                      BadPassLine{"MemcachePassGzipFlag 4294967296", "MemcachePassGzipFlag", "'4294967296'"},
                      BadPassLine{"MemcachePassHeaderFlag -1", "MemcachePassHeaderFlag", "'-1'"},
                      BadPassLine{"MemcachePassMiss 500", "MemcachePassMiss", "'500'"},
                      BadPassLine{"MemcachePassFallback http://app/", "MemcachePassFallback", "'http://app/'"},
                      BadPassLine{"MemcacheStoreTTL 0", "MemcacheStoreTTL", "0"},
                      BadPassLine{"MemcacheStoreTTL 31d", "MemcacheStoreTTL", "31d"},
                      BadPassLine{"MemcacheStoreMaxSize lots", "MemcacheStoreMaxSize", "lots"}),
    [](const ::testing::TestParamInfo<BadPassLine>& info) { return "case" + std::to_string(info.index); });

TEST(PassDirectives, GoodLinesPassTheConfigTest) {
    HttpdProcess httpd(module_options());
    auto r = httpd.config_test(
        "MemcacheServer 127.0.0.1:1\n"
        "<Location /p>\n"
        "  SetHandler memcache-pass\n"
        "  MemcachePassKey \"site:%{HTTP_HOST}%{REQUEST_URI}\"\n"
        "  MemcachePassType \"text/html; charset=utf-8\"\n"
        "  MemcachePassGzipFlag 2\n"
        "  MemcachePassHeaderFlag 4\n"
        "  MemcachePassMiss 404\n"
        "  MemcachePassFallback /app%{REQUEST_URI}\n"
        "  MemcacheStore on\n"
        "  MemcacheStoreTTL 5min\n"
        "  MemcacheStoreMaxSize 512k\n"
        "</Location>\n");
    EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace
}  // namespace mmc::test
