// Edges of the engine that the C API cannot reach directly: the probe of a dead server,
// a unix socket whose listen queue is full, name resolution, poll failures.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/address.h"
#include "engine/multi_get.h"
#include "engine/operations.h"
#include "engine/server.h"
#include "memcached_process.h"

namespace mmc::engine {
namespace {

ServerOptions options_for(const std::string& host, unsigned short port) {
    ServerOptions o;
    o.endpoint.host = host;
    o.endpoint.port = port;
    o.limits.max = 2;
    o.limits.smax = 2;
    return o;
}

// A server marked dead whose retry period has just passed: the next usable() claims
// its probe.
std::unique_ptr<Server> dead_server_past_its_retry_period() {
    ServerOptions o = options_for("127.0.0.1", 1);
    // Long enough that a claim cannot lapse while a loaded machine runs the test.
    o.timeouts.retry = std::chrono::milliseconds(400);
    auto s = std::make_unique<Server>(std::move(o));
    s->mark_dead(Outcome{Result::timeout});
    std::this_thread::sleep_for(std::chrono::milliseconds(410));
    return s;
}

TEST(ServerProbe, AnOutcomeThatSaysNothingLeavesAnotherCallersProbeClaimAlone) {
    auto owned = dead_server_past_its_retry_period();
    Server& s = *owned;
    ASSERT_TRUE(s.usable());  // this thread now probes the server
    // Another caller's operation that never reached the server.
    std::thread other([&] {
        s.report(Outcome{Result::pool_timeout});
        s.report(Outcome{Result::invalid_argument});
        EXPECT_FALSE(s.usable()) << "a second probe started while the first one runs";
    });
    other.join();
    // The probe's own answer decides.
    s.report(Outcome{Result::not_found});
    EXPECT_TRUE(s.live());
}

TEST(ServerProbe, TheProbersOwnOutcomeReleasesItsClaimWhateverItIs) {
    auto owned = dead_server_past_its_retry_period();
    Server& s = *owned;
    ASSERT_TRUE(s.usable());
    // The prober queued for a busy pool and gave up without reaching the server.
    s.report(Outcome{Result::no_server});
    bool again = false;
    std::thread other([&] { again = s.usable(); });
    other.join();
    EXPECT_TRUE(again) << "the abandoned probe kept the server out for a whole retry period";
}

TEST(ServerProbe, AConnectTimeoutTakesTheServerOutAtOnce) {
    Server s(options_for("127.0.0.1", 1));
    ASSERT_GE(s.options().health.failure_limit, 2u);
    s.report(Outcome{Result::connect_timeout});
    EXPECT_FALSE(s.live());
}

TEST(UnixSocket, AFullListenQueueIsAFailureNotAnUnconnectedSocket) {
    std::string path = "/tmp/mmc-full-" + std::to_string(::getpid()) + ".sock";
    ::unlink(path.c_str());
    int l = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
    ASSERT_EQ(::bind(l, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    ASSERT_EQ(::listen(l, 0), 0);
    std::vector<int> fillers;
    for (int i = 0; i < 8; ++i) {
        int c = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int rc = ::connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
        fillers.push_back(c);
        if (rc != 0 && errno == EAGAIN) break;
    }

    ServerOptions o;
    o.endpoint.socket_path = path;
    Server s(std::move(o));
    std::string v;
    const auto t0 = std::chrono::steady_clock::now();
    Outcome r = version(s, v);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    EXPECT_EQ(r.result, Result::connect_failed) << to_string(r.result);
    EXPECT_EQ(r.sys_error, EAGAIN);
    EXPECT_LT(ms.count(), 100);
    for (int c : fillers) ::close(c);
    ::close(l);
    ::unlink(path.c_str());
}

TEST(Resolution, AHostNameIsLookedUpOncePerProcessAndAgainAfterAFailure) {
    test::MemcachedProcess mc;
    ASSERT_TRUE(mc.start()) << mc.error();
    ServerOptions o = options_for("localhost", mc.port());
    // No idle connection is kept: every operation opens a new one.
    o.limits = PoolLimits{0, 0, 1, Duration::zero()};
    Server s(std::move(o));
    const unsigned long before = resolver_lookups();
    for (int i = 0; i < 20; ++i) {
        std::string v;
        ASSERT_TRUE(version(s, v).ok());
    }
    EXPECT_EQ(s.pool().counts().open, 0u);
    EXPECT_EQ(resolver_lookups() - before, 1u);
    s.mark_dead(Outcome{Result::closed});
    s.mark_live();
    std::string v;
    ASSERT_TRUE(version(s, v).ok());
    EXPECT_EQ(resolver_lookups() - before, 2u);
}

struct Count {
    int values = 0;
};
void count_value(void* ctx, std::size_t, std::size_t, const ValueView&) { ++static_cast<Count*>(ctx)->values; }
void no_key_error(void*, std::size_t, std::size_t, Result) { ADD_FAILURE() << "a key error from memcached"; }

TEST(MultiGetPoll, APollFailureIsNotBlamedOnTheServers) {
    std::vector<std::unique_ptr<test::MemcachedProcess>> procs;
    std::vector<std::unique_ptr<Server>> servers;
    for (int i = 0; i < 4; ++i) {
        procs.push_back(std::make_unique<test::MemcachedProcess>());
        ASSERT_TRUE(procs.back()->start()) << procs.back()->error();
        servers.push_back(std::make_unique<Server>(options_for("127.0.0.1", procs.back()->port())));
        std::string v;
        ASSERT_TRUE(version(*servers.back(), v).ok());  // one idle connection each
    }
    std::string_view keys[4] = {"a", "b", "c", "d"};
    std::vector<GetBatch> batches(4);
    for (int i = 0; i < 4; ++i) {
        batches[i].server = servers[i].get();
        batches[i].keys = &keys[i];
        batches[i].nkeys = 1;
    }
    // poll() refuses more descriptors than RLIMIT_NOFILE allows (EINVAL).
    rlimit old{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
    rlimit low = old;
    low.rlim_cur = 3;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    Count seen;
    multi_get(batches.data(), batches.size(), std::chrono::milliseconds(500), count_value, no_key_error, &seen);
    ::setrlimit(RLIMIT_NOFILE, &old);
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(batches[i].outcome.result, Result::io_error) << i;
        EXPECT_EQ(servers[i]->consecutive_failures(), 0u) << i;
        EXPECT_TRUE(servers[i]->live()) << i;
    }
}


TEST(ServerHealth, AReplyOnAConnectionFromBeforeTheDeathDoesNotBringTheServerBack) {
    test::MemcachedProcess mc;
    ASSERT_TRUE(mc.start()) << mc.error();
    Server s(options_for("127.0.0.1", mc.port()));
    // A caller holds a connection, as one whose reply is on its way does.
    std::unique_ptr<Connection> held;
    bool fresh = false;
    const auto later = Clock::now() + std::chrono::seconds(2);
    ASSERT_TRUE(s.pool().acquire(later, later, held, fresh).ok());
    const std::uint32_t epoch = held->epoch;
    // Meanwhile another caller's failure takes the server out.
    s.mark_dead(Outcome{Result::closed});
    const auto dead_since = s.dead_since();
    // The held connection's outcome, a reply it had buffered or a failure it waited
    // out, is about the server as it was.
    s.report(Outcome{Result::ok}, epoch);
    EXPECT_FALSE(s.live()) << "a reply sent before the failure marked the server live";
    s.report(Outcome{Result::timeout}, epoch);
    EXPECT_EQ(s.dead_since(), dead_since) << "an old failure restarted the retry period";
    // It goes back closed, not pooled.
    s.pool().release(std::move(held), true);
    EXPECT_EQ(s.pool().counts().open, 0u);
    // A reply on a connection of the new epoch does bring it back.
    s.report(Outcome{Result::ok}, s.pool().epoch());
    EXPECT_TRUE(s.live());
}

TEST(ServerPoolMin, APoolThatLostItsConnectionsGetsBackToMinUnderSequentialTraffic) {
    test::MemcachedProcess mc;
    ASSERT_TRUE(mc.start()) << mc.error();
    ServerOptions o = options_for("127.0.0.1", mc.port());
    o.limits = PoolLimits{3, 3, 4, std::chrono::seconds(60)};
    Server s(std::move(o));
    ASSERT_TRUE(s.warm().ok());
    ASSERT_EQ(s.pool().counts().open, 3u);
    // memcached restarted: every pooled connection is gone.
    ASSERT_TRUE(mc.restart()) << mc.error();
    s.mark_dead(Outcome{Result::closed});
    s.mark_live();
    ASSERT_EQ(s.pool().counts().open, 0u);
    // One caller at a time would only ever need one connection; the pool still returns
    // to min, one connect started per clean release.
    for (int i = 0; i < 6; ++i) {
        std::string v;
        ASSERT_TRUE(version(s, v).ok()) << i;
    }
    EXPECT_EQ(s.pool().counts().open, 3u);
    EXPECT_EQ(s.pool().counts().idle, 3u);
    // The connections it opened on its own work, for single operations and fan-out.
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int t = 0; t < 3; ++t) {
        threads.emplace_back([&] {
            std::string v;
            if (version(s, v).ok()) ++ok;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 3);
    std::string_view key = "k";
    GetBatch batch;
    batch.server = &s;
    batch.keys = &key;
    batch.nkeys = 1;
    Count seen;
    multi_get(&batch, 1, std::chrono::milliseconds(500), count_value, no_key_error, &seen);
    EXPECT_EQ(batch.outcome.result, Result::ok);
    EXPECT_TRUE(s.live());
    EXPECT_EQ(s.consecutive_failures(), 0u);
}

}  // namespace
}  // namespace mmc::engine
