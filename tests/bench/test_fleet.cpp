// mmc_bench --servers against servers that are already running: it must leave no key of
// its own behind and must not flush (a key that was there before is still there).
#include <unistd.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "ap_memcache.h"
#include "httpd_process.h"
#include "memcached_process.h"
#include "raw_client.h"

namespace {

using mmc::test::MemcachedProcess;

// One client per server, so that what is read and written is that server's.
class ServerProbe {
public:
    explicit ServerProbe(const std::string& host, unsigned short port) {
        apr_pool_create(&pool_, nullptr);
        apr_memcache_server_t* ms = nullptr;
        ok_ = apr_memcache_create(pool_, 1, 0, &mc_) == APR_SUCCESS &&
              apr_memcache_server_create(pool_, host.c_str(), port, 0, 1, 1, 0, &ms) == APR_SUCCESS &&
              apr_memcache_add_server(mc_, ms) == APR_SUCCESS;
        ms_ = ms;
    }
    ~ServerProbe() { apr_pool_destroy(pool_); }
    ServerProbe(const ServerProbe&) = delete;
    ServerProbe& operator=(const ServerProbe&) = delete;

    bool ok() const { return ok_; }
    bool set(const char* key, const std::string& v) {
        return apr_memcache_set(mc_, key, const_cast<char*>(v.data()), v.size(), 0, 0) == APR_SUCCESS;
    }
    std::string get(const char* key) {
        char* data = nullptr;
        apr_size_t len = 0;
        if (apr_memcache_getp(mc_, pool_, key, &data, &len, nullptr) != APR_SUCCESS) return "<miss>";
        return std::string(data, len);
    }
    // curr_items, or -1.
    long long items() {
        apr_memcache_stats_t* st = nullptr;
        if (apr_memcache_stats(ms_, pool_, &st) != APR_SUCCESS || !st) return -1;
        return st->curr_items;
    }

private:
    apr_pool_t* pool_ = nullptr;
    apr_memcache_t* mc_ = nullptr;
    apr_memcache_server_t* ms_ = nullptr;
    bool ok_ = false;
};

class Fleet : public ::testing::Test {
protected:
    static void SetUpTestSuite() { apr_initialize(); }
};

TEST_F(Fleet, BenchAgainstRunningServersLeavesNoKeyBehindAndFlushesNothing) {
    MemcachedProcess tcp1, tcp2, local;
    ASSERT_TRUE(tcp1.start()) << tcp1.error();
    ASSERT_TRUE(tcp2.start()) << tcp2.error();
    const std::string path = "/tmp/mmc-bench-fleet-" + std::to_string(::getpid()) + ".sock";
    ASSERT_TRUE(local.start_unix(path)) << local.error();

    ServerProbe p1("127.0.0.1", tcp1.port()), p2("127.0.0.1", tcp2.port()), p3(path, 0);
    ServerProbe* probes[] = {&p1, &p2, &p3};
    for (ServerProbe* p : probes) {
        ASSERT_TRUE(p->ok());
        // Keys the bench does not own, one of them looking almost like its own.
        ASSERT_TRUE(p->set("app:session:1", "before"));
        ASSERT_TRUE(p->set("mmcbench:get-hit-100:000001", "not the bench's"));
        ASSERT_EQ(p->items(), 2);
    }

    const std::string out = ::testing::TempDir() + "mmc-bench-fleet-out-" + std::to_string(::getpid());
    auto r = mmc::test::run_command(
        {MMC_BENCH_BIN, "--smoke", "--skip", "callgrind,scaling", "--workloads",
         "get-hit-100,get-miss,set-100,mget-100x4,mixed-16t", "--servers",
         tcp1.address() + "," + tcp2.address() + "," + path, "--out-dir", out},
        170);
    ASSERT_EQ(r.exit_code, 0) << r.output.substr(r.output.size() > 3000 ? r.output.size() - 3000 : 0);
    EXPECT_NE(r.output.find("Keys prefixed `mmcbench:"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("about"), std::string::npos) << "no progress line with the time left";

    for (ServerProbe* p : probes) {
        EXPECT_EQ(p->get("app:session:1"), "before");
        EXPECT_EQ(p->get("mmcbench:get-hit-100:000001"), "not the bench's");
        EXPECT_EQ(p->items(), 2) << "the bench left keys behind, or removed others";
    }
    // Every key still there, by name (metadump lists what the server holds).
    for (MemcachedProcess* m : {&tcp1, &tcp2}) {
        mmc::test::RawClient raw(m->port());
        ASSERT_TRUE(raw.connected());
        EXPECT_EQ(raw.number("cmd_flush"), 0);
        const std::string dump = raw.command("lru_crawler metadump all\r\n");
        EXPECT_NE(dump.find("key=app%3Asession%3A1"), std::string::npos) << dump;
        EXPECT_EQ(dump.find("mmcbench%3A0"), std::string::npos) << dump;  // no random-prefixed key
        std::size_t keys = 0;
        for (std::size_t at = dump.find("key="); at != std::string::npos; at = dump.find("key=", at + 1))
            ++keys;
        EXPECT_EQ(keys, 2u) << dump;
    }
}

TEST_F(Fleet, BadServerListIsRefusedBeforeAnythingRuns) {
    auto r = mmc::test::run_command({MMC_BENCH_BIN, "--servers", "127.0.0.1", "--out-dir",
                                     ::testing::TempDir() + "mmc-bench-fleet-bad"},
                                    30);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("--servers"), std::string::npos) << r.output;
}

}  // namespace
