// mod_authn_socache and mod_cache_socache through mcpool in a real apache2: a cached
// Basic-auth lookup, a response to a URL of over 400 bytes served from the cache, a
// forged hash collision; and the memcache: provider on the same long URL.
#include "httpd_test_options.h"
#include "memcached_process.h"
#include "raw_client.h"
#include "socache_fixture.h"
#include "tls_tools.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

namespace mmc::test {
namespace {

// ---- mod_authn_socache --------------------------------------------------------------

// "alice" with password "secret", and the header that logs her in.
const char kHtpasswd[] = "alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n";
const char kAliceAuth[] = "Authorization: Basic YWxpY2U6c2VjcmV0";

// memcached's list of keys ("key=<uri-encoded key> exp=..."), once it holds `needle` or
// after about 2 s: the crawler answers BUSY while an earlier dump still runs, and a dump
// may miss an item written a moment before.
std::string metadump(unsigned short port, const std::string& needle = "key=") {
    std::string dump;
    for (int i = 0; i < 40; ++i) {
        dump = RawClient(port).command("lru_crawler metadump all\r\n");
        if (dump.find(needle) != std::string::npos) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return dump;
}

class AuthnSocache : public SocacheTest {};

TEST_F(AuthnSocache, SecondRequestIsAnsweredFromTheCache) {
    ASSERT_NO_FATAL_FAILURE(start({"authn_core", "authn_file", "auth_basic", "authz_user", "authn_socache"},
          [&](const HttpdProcess& h) {
              const std::string htpasswd = h.write_file("htpasswd", kHtpasswd);
              h.write_file("htdocs/private.txt", "secret page\n");
              return "MemcacheServer " + mc_.address() + "\n"
                     "AuthnCacheSOCache mcpool\n"
                     "<Location /private.txt>\n"
                     "  AuthType Basic\n"
                     "  AuthName private\n"
                     "  AuthBasicProvider socache file\n"
                     "  AuthUserFile \"" + htpasswd + "\"\n"
                     "  AuthnCacheProvideFor file\n"
                     "  Require valid-user\n"
                     "</Location>\n";
          }));
    EXPECT_EQ(http_get(httpd_->port(0), "/private.txt").status, 401);
    RawClient raw(mc_.port());
    const long long hits_before = raw.number("get_hits");
    auto first = http_get(httpd_->port(0), "/private.txt", "localhost", {kAliceAuth});
    ASSERT_EQ(first.status, 200) << first.error << first.body;
    EXPECT_GE(raw.number("cmd_set"), 1);
    EXPECT_EQ(raw.number("get_hits"), hits_before) << "the first lookup cannot hit";
    auto second = http_get(httpd_->port(0), "/private.txt", "localhost", {kAliceAuth});
    ASSERT_EQ(second.status, 200) << second.error << second.body;
    EXPECT_EQ(second.body, "secret page\n");
    EXPECT_GT(raw.number("get_hits"), hits_before) << "the second lookup did not hit memcached";
    const std::string keys = metadump(mc_.port(), "key=authn-socache%3A");
    EXPECT_NE(keys.find("key=authn-socache%3A"), std::string::npos) << keys;
}

// ---- mod_cache_socache ---------------------------------------------------------------

std::string long_url() { return "/page.txt?q=" + std::string(420, 'x'); }

std::string header(const HttpResponse& r, const std::string& name) {
    std::istringstream lines(r.headers);
    std::string line;
    while (std::getline(lines, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (lower(line.substr(0, name.size() + 1)) == lower(name) + ":") {
            auto v = line.substr(name.size() + 1);
            return v.substr(v.find_first_not_of(' '));
        }
    }
    return "";
}

// The memcached key of the only hashed entry, from the metadump ("%3A%23": ":#").
std::string hashed_key(unsigned short port, const std::string& cname) {
    const std::string dump = metadump(port, "key=" + cname + "%3A%23");
    const std::string needle = "key=" + cname + "%3A%23";
    auto at = dump.find(needle);
    if (at == std::string::npos) return "";
    auto end = dump.find(' ', at);
    return cname + ":#" + dump.substr(at + needle.size(), end - at - needle.size());
}

class CacheSocache : public SocacheTest {
protected:
    // provider "memcache:" gets the address of the memcached started here.
    void start_cache(const std::string& provider) {
        start({"cache", "cache_socache", "socache_memcache", "expires", "status"}, [&](const HttpdProcess& h) {
            h.write_file("htdocs/page.txt", "cached body\n");
            return "MemcacheServer " + mc_.address() + "\n"
                   "CacheEnable socache /\n"
                   "CacheSocache " + provider + (provider == "memcache:" ? mc_.address() : "") + "\n"
                   "CacheHeader on\n"
                   "ExpiresActive On\n"
                   "ExpiresDefault \"access plus 1 hours\"\n"
                   "<Location /server-status>\n"
                   "  SetHandler server-status\n"
                   "</Location>\n";
        });
    }
    HttpResponse get(const std::string& url) { return http_get(httpd_->port(0), url); }
};

TEST_F(CacheSocache, ResponseOfAUrlOver400BytesIsServedFromTheCache) {
    ASSERT_NO_FATAL_FAILURE(start_cache("mcpool"));
    ASSERT_GT(long_url().size(), 400u);
    auto first = get(long_url());
    ASSERT_EQ(first.status, 200) << first.error;
    EXPECT_EQ(header(first, "X-Cache").rfind("MISS", 0), 0u) << first.headers;
    auto second = get(long_url());
    ASSERT_EQ(second.status, 200) << second.error;
    EXPECT_EQ(second.body, "cached body\n");
    EXPECT_EQ(header(second, "X-Cache").rfind("HIT", 0), 0u) << second.headers;
    // The id was too long for a memcached key: its key is the hash form.
    EXPECT_NE(hashed_key(mc_.port(), "cache-socache"), "") << metadump(mc_.port());
    auto status = get("/server-status?auto");
    EXPECT_NE(status.body.find("MCPool cache-socache: hits="), std::string::npos) << status.body;
}

TEST_F(CacheSocache, EntryOfAnotherIdUnderTheSameHashedKeyIsAMiss) {
    ASSERT_NO_FATAL_FAILURE(start_cache("mcpool"));
    ASSERT_EQ(get(long_url()).status, 200);
    ASSERT_EQ(header(get(long_url()), "X-Cache").rfind("HIT", 0), 0u);
    const std::string key = hashed_key(mc_.port(), "cache-socache");
    ASSERT_NE(key, "") << metadump(mc_.port());
    RawClient raw(mc_.port());
    auto value = raw.get(key);
    ASSERT_TRUE(value.has_value() && value->size() > 4);
    // What a SHA-1 collision would leave there: the entry of another id (the same id
    // with its last byte changed), complete with its data.
    std::string forged = *value;
    const std::size_t idlen = (static_cast<unsigned char>(forged[0]) << 24) |
                              (static_cast<unsigned char>(forged[1]) << 16) |
                              (static_cast<unsigned char>(forged[2]) << 8) |
                              static_cast<unsigned char>(forged[3]);
    ASSERT_GT(idlen, 0u);
    ASSERT_LE(4 + idlen, forged.size());
    forged[4 + idlen - 1] ^= 0x01;
    ASSERT_TRUE(raw.set(key, forged, 0x6d63));
    auto after = get(long_url());
    ASSERT_EQ(after.status, 200) << after.error;
    EXPECT_EQ(after.body, "cached body\n");
    EXPECT_EQ(header(after, "X-Cache").rfind("MISS", 0), 0u)
        << "another id's entry was served: " << after.headers;
}

TEST_F(CacheSocache, AnchorMemcacheProviderCannotCacheTheLongUrl) {
    ASSERT_NO_FATAL_FAILURE(start_cache("memcache:"));
    get(long_url());
    auto second = get(long_url());
    ASSERT_EQ(second.status, 200) << second.error;
    EXPECT_NE(header(second, "X-Cache").rfind("HIT", 0), 0u)
        << "mod_socache_memcache cached an id of over 120 bytes: the anchor no longer holds";
    std::printf("[ measured ] memcache: (mod_socache_memcache), URL of %zu bytes: X-Cache %s\n",
                long_url().size(), header(second, "X-Cache").c_str());
}

}  // namespace
}  // namespace mmc::test
