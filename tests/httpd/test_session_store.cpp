// SessionMemcache: mod_session's sessions in memcached, with mod_auth_form logging in
// through a real prefork apache2 (three children, no keep-alive, so every request is a
// new connection that any child may take). memcached is looked at directly.
#include "httpd_test_options.h"
#include "memcached_process.h"
#include "raw_client.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace mmc::test {
namespace {

using Clock = std::chrono::steady_clock;

// "alice" with password "secret".
const char kHtpasswd[] = "alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n";
const char kLoginBody[] = "httpd_username=alice&httpd_password=secret";
const char kKeyFile[] = "s1 8f2c6d1e0a9b7c5d3e1f2a4b6c8d0e1f3a5b7c9d1e2f4a6b8c0d2e4f6a8b0c1d\n";

long long ms_since(Clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

int connect_to(unsigned short port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{10, 0};
    if (fd < 0) return -1;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

void send_all(int fd, const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
    }
}

// Reads the response on fd to its end and closes fd.
HttpResponse read_response(int fd) {
    HttpResponse response;
    std::string raw;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) raw.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    auto end = raw.find("\r\n\r\n");
    int status = 0;
    if (end == std::string::npos || std::sscanf(raw.c_str(), "HTTP/%*d.%*d %d", &status) != 1) {
        response.error = "not an HTTP response: '" + raw + "'";
        return response;
    }
    response.status = status;
    response.headers = raw.substr(0, end);
    response.body = raw.substr(end + 4);
    return response;
}

// One request over a connection of its own (HTTP/1.0: the body is never chunked). When
// `between` is given, `request` is sent, then between() runs, then `rest`.
HttpResponse http_request(unsigned short port, const std::string& request,
                          const std::function<void()>& between = {},
                          const std::string& rest = "") {
    int fd = connect_to(port);
    if (fd < 0) {
        HttpResponse response;
        response.error = "cannot connect";
        return response;
    }
    send_all(fd, request);
    if (between) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        between();
        send_all(fd, rest);
    }
    return read_response(fd);
}

HttpResponse get(unsigned short port, const std::string& target, const std::string& id = "") {
    std::string req = "GET " + target + " HTTP/1.0\r\nHost: localhost\r\n";
    if (!id.empty()) req += "Cookie: session=" + id + "\r\n";
    return http_request(port, req + "\r\n");
}

HttpResponse login(unsigned short port, const std::string& id = "") {
    std::string req = "POST /dologin HTTP/1.0\r\nHost: localhost\r\n"
                      "Content-Type: application/x-www-form-urlencoded\r\n"
                      "Content-Length: " + std::to_string(sizeof kLoginBody - 1) + "\r\n";
    if (!id.empty()) req += "Cookie: session=" + id + "\r\n";
    return http_request(port, req + "\r\n" + kLoginBody);
}

// The value of the session cookie the response sets ("" when none, "-" when it is
// removed).
std::string set_cookie(const HttpResponse& r) {
    std::smatch m;
    static const std::regex re("\r\nSet-Cookie: session=([^;\r]*);([^\r]*)", std::regex::icase);
    if (!std::regex_search(r.headers, m, re)) return "";
    return m[1].str().empty() ? "-" : m[1].str();
}

std::string header(const HttpResponse& r, const std::string& name) {
    std::smatch m;
    std::regex re("\r\n" + name + ": ([^\r]*)", std::regex::icase);
    return std::regex_search(r.headers, m, re) ? m[1].str() : "";
}

bool asks_for_login(const HttpResponse& r) {
    return (r.status == 302 || r.status == 307) && header(r, "Location").find("/login.html") != std::string::npos;
}

struct SiteOptions {
    std::string max_age = "600";
    std::string update_interval;  // SessionExpiryUpdateInterval, none when empty
    std::string timeout = "300ms";
    bool sealed = false;
    std::string mpm = "prefork";
    // "MemcacheServer" addresses, the fixture's one memcached when empty.
    std::vector<std::string> servers;
    int replicas = 0;
    std::string extra;  // more server config lines
};

SiteOptions site(const std::string& max_age, const std::string& update_interval = "",
                 bool sealed = false) {
    SiteOptions s;
    s.max_age = max_age;
    s.update_interval = update_interval;
    s.sealed = sealed;
    return s;
}

HttpdOptions session_options(const std::string& mpm = "prefork") {
    HttpdOptions o = module_options(mpm);
    o.mod_memcache_example.clear();
    o.log_level = "warn memcache:debug";
    o.system_modules = {"authn_core", "authn_file", "authz_user", "auth_form", "request",
                        "session"};
    return o;
}

class SessionStore : public ::testing::Test {
protected:
    void start(const SiteOptions& site) {
        addresses_ = site.servers;
        if (addresses_.empty()) {
            ASSERT_TRUE(mc_.start()) << mc_.error();
            addresses_.push_back(mc_.address());
        }
        std::string servers;
        for (const auto& a : addresses_) servers += "MemcacheServer " + a + "\n";
        if (site.replicas > 0) servers += "MemcacheReplicas " + std::to_string(site.replicas) + "\n";
        servers += site.extra;
        httpd_ = std::make_unique<HttpdProcess>(session_options(site.mpm));
        ::mkdir((httpd_->dir() + "/htdocs/private").c_str(), 0755);
        httpd_->write_file("htdocs/private/index.html", "secret page\n");
        httpd_->write_file("htdocs/login.html", "<form method=post action=/dologin>\n");
        const std::string htpasswd = httpd_->write_file("htpasswd", kHtpasswd);
        std::string keys;
        if (site.sealed) {
            keys = httpd_->write_file("seal.keys", kKeyFile);
            ::chmod(keys.c_str(), 0600);
        }
        const std::string auth = "  AuthType form\n  AuthName realm\n  AuthFormProvider file\n"
                                 "  AuthUserFile \"" + htpasswd + "\"\n"
                                 "  AuthFormLoginRequiredLocation /login.html\n";
        const std::string session =
            "  Session On\n  SessionMemcache On\n  SessionMaxAge " + site.max_age + "\n" +
            (site.update_interval.empty() ? ""
                                          : "  SessionExpiryUpdateInterval " + site.update_interval + "\n");
        ASSERT_TRUE(httpd_->start([&](const HttpdProcess& h) {
            return "<IfModule mpm_prefork_module>\n  StartServers 3\n  MinSpareServers 3\n"
                   "  MaxSpareServers 4\n  MaxRequestWorkers 3\n</IfModule>\n"
                   "LogFormat \"%P %s %U\" pids\n"
                   "CustomLog \"" + h.dir() + "/access.log\" pids\n"
                   + servers +
                   "MemcacheTimeout " + site.timeout + "\n" +
                   (site.sealed ? "MemcacheSealKeyFile \"" + keys + "\"\n" : "") +
                   "<Location /private>\n" + auth + session + "  Require valid-user\n</Location>\n"
                   "<Location /dologin>\n  SetHandler form-login-handler\n" + auth +
                   "  AuthFormLoginSuccessLocation /private/index.html\n" + session +
                   "  Require all granted\n</Location>\n"
                   "<Location /logout>\n  SetHandler form-logout-handler\n  AuthName realm\n"
                   "  AuthFormLogoutLocation /login.html\n" + session + "</Location>\n";
        })) << httpd_->error();
    }

    void TearDown() override {
        mc_.resume();
        if (!httpd_) return;
        httpd_->stop();
        // Three children are all busy now and then: prefork says so.
        std::vector<std::string> allowed = addresses_;
        allowed.push_back("reached MaxRequestWorkers");
        auto lines = httpd_->unexpected_log_lines(allowed);
        std::string all;
        for (const auto& l : lines) all += l + "\n";
        EXPECT_TRUE(lines.empty()) << "unexpected lines in the error log:\n" << all;
    }

    // Logs alice in; returns the session id.
    std::string logged_in(const std::string& id = "") {
        auto r = login(httpd_->port(0), id);
        EXPECT_EQ(r.status / 100, 3) << r.error << r.headers;
        EXPECT_NE(header(r, "Location").find("/private/index.html"), std::string::npos) << r.headers;
        std::string sid = set_cookie(r);
        EXPECT_TRUE(std::regex_match(sid, std::regex("[0-9a-f]{32}"))) << r.headers;
        return sid;
    }

    std::optional<std::string> item(const std::string& id) {
        return RawClient(mc_.port()).get("session:" + id);
    }

    MemcachedProcess mc_;
    std::vector<std::string> addresses_;
    std::unique_ptr<HttpdProcess> httpd_;
};

TEST_F(SessionStore, LoginHoldsOnNewConnectionsAcrossChildren) {
    ASSERT_NO_FATAL_FAILURE(start(SiteOptions()));
    EXPECT_TRUE(asks_for_login(get(httpd_->port(0), "/private/index.html")));
    const std::string id = logged_in();
    auto stored = item(id);
    ASSERT_TRUE(stored.has_value());
    EXPECT_NE(stored->find("realm-user=alice"), std::string::npos) << *stored;
    auto login_resp = login(httpd_->port(0));
    EXPECT_NE(header(login_resp, "Set-Cookie").find("HttpOnly;Secure;SameSite=Lax;Path=/"),
              std::string::npos) << login_resp.headers;
    EXPECT_NE(header(login_resp, "Set-Cookie").find("Max-Age=600;"), std::string::npos);
    // Three connections open at once: each of the three children holds one of them, so
    // the three requests are served by three processes with clients of their own.
    const std::string request = "GET /private/index.html HTTP/1.0\r\nHost: localhost\r\n"
                                "Cookie: session=" + id + "\r\n\r\n";
    RawClient raw(mc_.port());
    const long long gets = raw.number("cmd_get");
    const long long sets = raw.number("cmd_set");
    for (int round = 0; round < 4; ++round) {
        std::vector<int> fds;
        for (int c = 0; c < 3; ++c) fds.push_back(connect_to(httpd_->port(0)));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        for (int fd : fds) send_all(fd, request);
        for (int fd : fds) {
            auto r = read_response(fd);
            EXPECT_EQ(r.status, 200) << r.error << r.headers;
            EXPECT_EQ(r.body, "secret page\n");
        }
    }
    // SessionMaxAge without SessionExpiryUpdateInterval: each view pushes the expiry.
    EXPECT_EQ(raw.number("cmd_get") - gets, 12);
    EXPECT_EQ(raw.number("cmd_set") - sets, 12);
    std::printf("12 page views, SessionMaxAge and no SessionExpiryUpdateInterval: cmd_get "
                "+%lld, cmd_set +%lld\n", raw.number("cmd_get") - gets, raw.number("cmd_set") - sets);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::ifstream log(httpd_->dir() + "/access.log");
    std::set<std::string> pids;
    std::string pid, status, uri;
    while (log >> pid >> status >> uri) {
        if (uri == "/private/index.html" && status == "200") pids.insert(pid);
    }
    EXPECT_EQ(pids.size(), 3u) << "the page was not served by every child";
    std::printf("12 page views over new connections: 200 from %zu children\n", pids.size());
}

// The same under the event MPM: many threads of one child share its client.
TEST_F(SessionStore, EventMpmLoginAndLogoutFromManyThreads) {
    SiteOptions o;
    o.mpm = "event";
    ASSERT_NO_FATAL_FAILURE(start(o));
    std::vector<std::string> ids;
    for (int i = 0; i < 4; ++i) ids.push_back(logged_in());
    std::vector<std::thread> threads;
    std::vector<int> ok(ids.size(), 0);
    for (std::size_t t = 0; t < ids.size(); ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 10; ++i)
                ok[t] += get(httpd_->port(0), "/private/index.html", ids[t]).status == 200;
        });
    }
    for (auto& th : threads) th.join();
    for (std::size_t t = 0; t < ids.size(); ++t) {
        EXPECT_EQ(ok[t], 10) << "session " << t;
        EXPECT_EQ(get(httpd_->port(0), "/logout", ids[t]).status, 307);
        EXPECT_FALSE(item(ids[t]).has_value());
        EXPECT_TRUE(asks_for_login(get(httpd_->port(0), "/private/index.html", ids[t])));
    }
}

TEST_F(SessionStore, LogoutDeletesTheItemAndAsksForLoginAgain) {
    ASSERT_NO_FATAL_FAILURE(start(SiteOptions()));
    const std::string id = logged_in();
    ASSERT_TRUE(item(id).has_value());
    auto out = get(httpd_->port(0), "/logout", id);
    EXPECT_EQ(out.status, 307) << out.headers;
    EXPECT_EQ(set_cookie(out), "-") << "the cookie is removed: " << out.headers;
    EXPECT_FALSE(item(id).has_value());
    EXPECT_TRUE(asks_for_login(get(httpd_->port(0), "/private/index.html", id)));
}

// A request that loaded the session before a logout elsewhere does not store it again:
// the page's request body is held back until the item is gone (the default handler
// reads it before it answers, so the session is loaded before and saved after).
TEST_F(SessionStore, SessionEndedDuringARequestStaysEnded) {
    ASSERT_NO_FATAL_FAILURE(start(SiteOptions()));
    const std::string id = logged_in();
    auto r = http_request(httpd_->port(0),
                          "GET /private/index.html HTTP/1.0\r\nHost: localhost\r\n"
                          "Cookie: session=" + id + "\r\nContent-Length: 2\r\n\r\n",
                          [&] { RawClient(mc_.port()).command("delete session:" + id + "\r\n"); },
                          "ok");
    EXPECT_EQ(r.status, 200) << r.error << r.headers;
    EXPECT_EQ(set_cookie(r), "-") << r.headers;
    EXPECT_FALSE(item(id).has_value());
}

TEST_F(SessionStore, IdSentBeforeLoginIsNotTheIdAfter) {
    ASSERT_NO_FATAL_FAILURE(start(SiteOptions()));
    // An id memcached does not know: a new session, nothing stored under that id.
    const std::string unknown = "0123456789abcdef0123456789abcdef";
    const std::string id = logged_in(unknown);
    EXPECT_NE(id, unknown);
    EXPECT_FALSE(item(unknown).has_value());
    // A session that exists before login (planted by whoever knows its id): the login
    // moves it to a new id and deletes the old one.
    const std::string planted = "fedcba9876543210fedcba9876543210";
    ASSERT_TRUE(RawClient(mc_.port()).set("session:" + planted, "note=hello"));
    const std::string after = logged_in(planted);
    EXPECT_NE(after, planted);
    EXPECT_FALSE(item(planted).has_value());
    auto moved = item(after);
    ASSERT_TRUE(moved.has_value());
    EXPECT_NE(moved->find("note=hello"), std::string::npos) << *moved;
    EXPECT_TRUE(asks_for_login(get(httpd_->port(0), "/private/index.html", planted)));
    EXPECT_EQ(get(httpd_->port(0), "/private/index.html", after).status, 200);
}

TEST_F(SessionStore, MalformedIdIsNeverLookedUp) {
    ASSERT_NO_FATAL_FAILURE(start(SiteOptions()));
    RawClient raw(mc_.port());
    const long long gets = raw.number("cmd_get");
    for (const char* id : {"abc", "0123456789ABCDEF0123456789ABCDEF", "../../etc/passwd",
                           "0123456789abcdef0123456789abcdef0"}) {
        EXPECT_TRUE(asks_for_login(get(httpd_->port(0), "/private/index.html", id))) << id;
    }
    EXPECT_EQ(raw.number("cmd_get"), gets);
}

TEST_F(SessionStore, StoppedServerMeansLoggedOutWithinTheTimeout) {
    ASSERT_NO_FATAL_FAILURE(start(SiteOptions()));
    const std::string id = logged_in();
    ASSERT_EQ(get(httpd_->port(0), "/private/index.html", id).status, 200);
    mc_.pause();
    long long worst = 0;
    for (int i = 0; i < 6; ++i) {
        const auto t0 = Clock::now();
        auto r = get(httpd_->port(0), "/private/index.html", id);
        const long long ms = ms_since(t0);
        worst = std::max(worst, ms);
        EXPECT_TRUE(asks_for_login(r)) << r.status << r.error << r.headers;
        EXPECT_LT(ms, 300 + 200) << "request " << i;
    }
    std::printf("stopped memcached: slowest of 6 requests %lld ms (MemcacheTimeout 300ms)\n", worst);
    mc_.resume();
    // One warning per child at most (once a minute each), not one per request.
    const std::string log = httpd_->error_log();
    std::size_t warnings = 0;
    for (auto at = log.find("SessionMemcache: cannot load the session"); at != std::string::npos;
         at = log.find("SessionMemcache: cannot load the session", at + 1)) {
        ++warnings;
    }
    EXPECT_GE(warnings, 1u) << log;
    EXPECT_LE(warnings, 3u) << log;
}

TEST_F(SessionStore, ExpiredSessionIsGoneAndLoginIsAsked) {
    ASSERT_NO_FATAL_FAILURE(start(site("2")));
    const std::string id = logged_in();
    ASSERT_TRUE(item(id).has_value());
    std::this_thread::sleep_for(std::chrono::seconds(3));
    EXPECT_FALSE(item(id).has_value());
    EXPECT_TRUE(asks_for_login(get(httpd_->port(0), "/private/index.html", id)));
}

TEST_F(SessionStore, UnchangedSessionCostsOneGetAndNoSet) {
    ASSERT_NO_FATAL_FAILURE(start(site("600", "300")));
    const std::string id = logged_in();
    RawClient raw(mc_.port());
    for (int i = 0; i < 5; ++i) {
        const long long gets = raw.number("cmd_get");
        const long long sets = raw.number("cmd_set");
        auto r = get(httpd_->port(0), "/private/index.html", id);
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(set_cookie(r), "") << "an unchanged session is not saved";
        EXPECT_EQ(raw.number("cmd_get") - gets, 1);
        EXPECT_EQ(raw.number("cmd_set") - sets, 0);
        if (i == 0) {
            std::printf("page view with an unchanged session: cmd_get +%lld, cmd_set +%lld\n",
                        raw.number("cmd_get") - gets, raw.number("cmd_set") - sets);
        }
    }
}

// The hooks are found again in each configuration cycle, once: after a graceful
// restart sessions still load, with one get a page view.
TEST_F(SessionStore, GracefulRestartKeepsSessions) {
    ASSERT_NO_FATAL_FAILURE(start(site("600", "300")));
    const std::string id = logged_in();
    ASSERT_EQ(::kill(httpd_->pid(), SIGUSR1), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    RawClient raw(mc_.port());
    for (int i = 0; i < 3; ++i) {
        const long long gets = raw.number("cmd_get");
        const long long sets = raw.number("cmd_set");
        auto r = get(httpd_->port(0), "/private/index.html", id);
        EXPECT_EQ(r.status, 200) << r.error << r.headers;
        EXPECT_EQ(raw.number("cmd_get") - gets, 1);
        EXPECT_EQ(raw.number("cmd_set") - sets, 0);
    }
    EXPECT_NE(httpd_->error_log().find("resuming normal operations"), std::string::npos);
}

TEST_F(SessionStore, SealedSessionHidesThePassword) {
    ASSERT_NO_FATAL_FAILURE(start(site("600", "", true)));
    const std::string id = logged_in();
    auto stored = item(id);
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->find("alice"), std::string::npos);
    EXPECT_EQ(stored->find("secret"), std::string::npos);
    EXPECT_EQ(get(httpd_->port(0), "/private/index.html", id).status, 200);
    // Data that was not sealed with the key does not open: a new session.
    ASSERT_TRUE(RawClient(mc_.port()).set("session:" + id, "realm-user=alice&realm-pw=secret"));
    EXPECT_TRUE(asks_for_login(get(httpd_->port(0), "/private/index.html", id)));
}

// ---- replicas -------------------------------------------------------------------------

// Three memcached and MemcacheReplicas 1: each session is on its primary and on the
// server after it in the list, so a session survives the loss of either.
class SessionStoreReplicas : public SessionStore {
protected:
    void start_three(SiteOptions site) {
        for (auto& m : three_) ASSERT_TRUE(m.start()) << m.error();
        for (auto& m : three_) site.servers.push_back(m.address());
        site.replicas = 1;
        // A server that is back is asked again after a second.
        site.extra += "MemcacheRetryPeriod 1s\n";
        ASSERT_NO_FATAL_FAILURE(start(site));
    }

    std::optional<std::string> item_on(int s, const std::string& id) {
        return RawClient(three_[s].port()).get("session:" + id);
    }

    // The server the session's key maps to, asked of the servers themselves: of the two
    // that hold it, the one whose next server in the list (its replica) holds it too.
    int primary_of(const std::string& id) {
        bool holds[3];
        for (int s = 0; s < 3; ++s) holds[s] = item_on(s, id).has_value();
        EXPECT_EQ(holds[0] + holds[1] + holds[2], 2) << "the session is not on two servers";
        for (int s = 0; s < 3; ++s) {
            if (holds[s] && holds[(s + 1) % 3]) return s;
        }
        return -1;
    }

    // The protected page from the three children at once (three connections open
    // together: each child holds one), after the access log's first `skip` lines; the
    // time of each request from its send to its response's end.
    std::vector<HttpResponse> page_from_three_children(const std::string& id,
                                                       std::vector<long long>* ms = nullptr) {
        const std::string request = "GET /private/index.html HTTP/1.0\r\nHost: localhost\r\n"
                                    "Cookie: session=" + id + "\r\n\r\n";
        std::vector<int> fds;
        for (int c = 0; c < 3; ++c) fds.push_back(connect_to(httpd_->port(0)));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        std::vector<Clock::time_point> sent;
        for (int fd : fds) {
            sent.push_back(Clock::now());
            send_all(fd, request);
        }
        std::vector<HttpResponse> out;
        for (std::size_t i = 0; i < fds.size(); ++i) {
            out.push_back(read_response(fds[i]));
            if (ms) ms->push_back(ms_since(sent[i]));
        }
        return out;
    }

    // The children that served the page with 200 after the access log's first `skip`
    // lines.
    std::set<std::string> children_with_200(std::size_t skip) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        std::ifstream log(httpd_->dir() + "/access.log");
        std::set<std::string> pids;
        std::string line;
        for (std::size_t n = 0; std::getline(log, line); ++n) {
            std::istringstream fields(line);
            std::string pid, status, uri;
            fields >> pid >> status >> uri;
            if (n >= skip && uri == "/private/index.html" && status == "200") pids.insert(pid);
        }
        return pids;
    }

    std::size_t access_log_lines() {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        std::ifstream log(httpd_->dir() + "/access.log");
        std::size_t n = 0;
        for (std::string line; std::getline(log, line);) ++n;
        return n;
    }

    void killed_primary(const std::string& protocol);

    MemcachedProcess three_[3];
};

// The session's primary is killed: every child still finds the session, on the
// replica, and each page view (SessionMaxAge without SessionExpiryUpdateInterval: each
// one saves) stores it again there. Then the primary comes back empty.
void SessionStoreReplicas::killed_primary(const std::string& protocol) {
    SiteOptions o;
    o.extra = "MemcacheProtocol " + protocol + "\n";
    ASSERT_NO_FATAL_FAILURE(start_three(o));
    const std::string id = logged_in();
    // Every child has talked to every server before the kill (its pool holds
    // connections that the kill resets).
    for (int round = 0; round < 2; ++round) {
        for (const auto& r : page_from_three_children(id)) ASSERT_EQ(r.status, 200) << r.headers;
    }
    const int primary = primary_of(id);
    ASSERT_GE(primary, 0);
    const int replica = (primary + 1) % 3;
    const std::string before = item_on(replica, id).value_or("");
    three_[primary].stop();  // SIGKILL
    const std::size_t skip = access_log_lines();

    std::vector<long long> ms;
    auto first = page_from_three_children(id, &ms);
    for (const auto& r : first) {
        EXPECT_EQ(r.status, 200) << r.error << r.headers;
        EXPECT_EQ(r.body, "secret page\n");
        EXPECT_EQ(set_cookie(r), id) << "the page view's save is stored: " << r.headers;
    }
    const long long slowest = *std::max_element(ms.begin(), ms.end());
    EXPECT_LT(slowest, 300) << "the first requests after the kill (MemcacheTimeout 300ms)";
    std::printf("[ measured ] %s: session's primary SIGKILLed: first page view of each of 3 children "
                "%lld / %lld / %lld ms (MemcacheTimeout 300ms)\n", protocol.c_str(), ms[0], ms[1], ms[2]);
    for (int round = 0; round < 3; ++round) {
        for (const auto& r : page_from_three_children(id)) {
            EXPECT_EQ(r.status, 200) << r.error << r.headers;
            EXPECT_EQ(set_cookie(r), id) << r.headers;
        }
    }
    EXPECT_EQ(children_with_200(skip).size(), 3u) << "the page was not served by every child";
    // The saves went to the replica: mod_session's expiry entry moved.
    const auto after = item_on(replica, id);
    ASSERT_TRUE(after.has_value());
    EXPECT_NE(*after, before);
    EXPECT_NE(after->find("realm-user=alice"), std::string::npos) << *after;
    // A login again (the session changes, the same user: the same id) is stored too.
    const std::string again = logged_in(id);
    EXPECT_EQ(again, id);
    EXPECT_EQ(get(httpd_->port(0), "/private/index.html", id).status, 200);

    // The primary comes back empty: its replace answers NOT_STORED, the replica's is
    // stored, and the user stays logged in (the cookie is not taken away).
    ASSERT_TRUE(three_[primary].restart()) << three_[primary].error();
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    for (int round = 0; round < 2; ++round) {
        for (const auto& r : page_from_three_children(id)) {
            EXPECT_EQ(r.status, 200) << r.error << r.headers;
            EXPECT_EQ(set_cookie(r), id) << r.headers;
        }
    }
    EXPECT_TRUE(item_on(replica, id).has_value());
    // meta tells the replica's time to live, so the first read put the session back on
    // its primary (read repair); text cannot, and the session stays on the replica.
    EXPECT_EQ(item_on(primary, id).has_value(), protocol == "meta");
    // Then a logout ends it everywhere.
    EXPECT_EQ(get(httpd_->port(0), "/logout", id).status, 307);
    for (int s = 0; s < 3; ++s) EXPECT_FALSE(item_on(s, id).has_value()) << "server " << s;
    EXPECT_TRUE(asks_for_login(get(httpd_->port(0), "/private/index.html", id)));
}

TEST_F(SessionStoreReplicas, KilledPrimaryLeavesTheUserLoggedIn) { killed_primary("text"); }
TEST_F(SessionStoreReplicas, KilledPrimaryLeavesTheUserLoggedInMeta) { killed_primary("meta"); }

// A logout while the primary is dead deletes the replica's copy: when the primary comes
// back (empty, as a killed server does), nothing brings the session back.
TEST_F(SessionStoreReplicas, LogoutWithADeadPrimaryDeletesTheReplicaCopy) {
    ASSERT_NO_FATAL_FAILURE(start_three(SiteOptions()));
    const std::string id = logged_in();
    for (const auto& r : page_from_three_children(id)) ASSERT_EQ(r.status, 200) << r.headers;
    const int primary = primary_of(id);
    ASSERT_GE(primary, 0);
    const int replica = (primary + 1) % 3;
    three_[primary].stop();
    // The logout is the first request after the kill: its child learns of the death
    // from this request's own calls.
    auto out = get(httpd_->port(0), "/logout", id);
    EXPECT_EQ(out.status, 307) << out.headers;
    EXPECT_EQ(set_cookie(out), "-") << out.headers;
    EXPECT_FALSE(item_on(replica, id).has_value()) << "the replica still holds the session";
    for (const auto& r : page_from_three_children(id)) EXPECT_TRUE(asks_for_login(r)) << r.headers;
    ASSERT_TRUE(three_[primary].restart()) << three_[primary].error();
    // Past the retry period: every child asks the primary again.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    for (int round = 0; round < 2; ++round) {
        for (const auto& r : page_from_three_children(id)) EXPECT_TRUE(asks_for_login(r)) << r.headers;
    }
    for (int s = 0; s < 3; ++s) EXPECT_FALSE(item_on(s, id).has_value()) << "server " << s;
}

// Logins while a server is dead: the sessions whose primary it is are stored on their
// replica alone and read back from it by every child; once the server is back (empty),
// they are still found.
TEST_F(SessionStoreReplicas, LoginWhileThePrimaryIsDeadIsKeptOnTheReplica) {
    ASSERT_NO_FATAL_FAILURE(start_three(SiteOptions()));
    for (const auto& r : page_from_three_children(logged_in())) ASSERT_EQ(r.status, 200);
    three_[1].stop();
    std::vector<std::string> on_replica;
    int logins = 0;
    while (on_replica.size() < 3 && logins < 60) {
        ++logins;
        const std::string id = logged_in();
        if (id.empty()) continue;
        // Primary 1 (dead): the replica, server 2, holds it and server 0 does not.
        if (item_on(2, id) && !item_on(0, id)) on_replica.push_back(id);
    }
    ASSERT_EQ(on_replica.size(), 3u) << "in " << logins << " logins";
    std::printf("%d logins with server 1 dead: %zu sessions whose primary it is, on server 2\n",
                logins, on_replica.size());
    for (const auto& id : on_replica) {
        for (const auto& r : page_from_three_children(id)) {
            EXPECT_EQ(r.status, 200) << r.error << r.headers;
            EXPECT_EQ(set_cookie(r), id) << r.headers;
        }
    }
    ASSERT_TRUE(three_[1].restart()) << three_[1].error();
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    for (const auto& id : on_replica) {
        for (const auto& r : page_from_three_children(id)) EXPECT_EQ(r.status, 200) << r.headers;
    }
}

// ---- configuration ----------------------------------------------------------------

class SessionStoreConfig : public ::testing::Test {
protected:
    CommandResult check(const std::string& body, bool with_session = true) {
        HttpdOptions o = session_options();
        if (!with_session) o.system_modules = {};
        httpd_ = std::make_unique<HttpdProcess>(o);
        return httpd_->config_test("MemcacheServer 127.0.0.1:1\n<Location /a>\n" + body +
                                   "</Location>\n");
    }
    std::unique_ptr<HttpdProcess> httpd_;
};

TEST_F(SessionStoreConfig, GoodLinesPass) {
    auto r = check("Session On\nSessionMemcache On\n"
                   "SessionMemcacheCookieName sid \"HttpOnly;Secure;Path=/app\"\n"
                   "SessionMemcacheCookieName sid\n");
    EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(SessionStoreConfig, BadArgumentsAreNamed) {
    struct Case {
        std::string line, expect;
    } cases[] = {
        {"SessionMemcache maybe\n", "SessionMemcache: 'maybe': expected On or Off"},
        {"SessionMemcacheCookieName \"a;b\"\n", "SessionMemcacheCookieName: 'a;b'"},
        {"SessionMemcacheCookieName sid \"Path=/,x\"\n", "SessionMemcacheCookieName: 'Path=/,x'"},
    };
    for (const auto& c : cases) {
        auto r = check(c.line);
        EXPECT_NE(r.exit_code, 0) << c.line;
        EXPECT_NE(r.output.find(c.expect), std::string::npos) << c.line << r.output;
    }
}

TEST_F(SessionStoreConfig, WithoutModSessionSaysSo) {
    auto r = check("SessionMemcache On\n", false);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.output.find("SessionMemcache: 'On': mod_session is not loaded"), std::string::npos)
        << r.output;
    // Off, and the module itself, need no mod_session.
    EXPECT_EQ(check("SessionMemcache Off\n", false).exit_code, 0);
}

}  // namespace
}  // namespace mmc::test
