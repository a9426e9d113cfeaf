// fork() while other threads hold the engine's locks: the child must never start with
// a lock taken by a thread that does not exist there. Each child makes one call within
// its deadlines and reports by its exit code; the parent waits for it with a bound of
// its own and kills a child that is stuck, so the test itself can never hang.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <netdb.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "engine/operations.h"
#include "engine/server.h"
#include "memcached_process.h"

namespace mmc::engine {
namespace {

// Set while the tests below fork: every lookup then takes over a millisecond (see
// getaddrinfo below) instead of the few microseconds "localhost" takes, so that most
// forks land inside one.
std::atomic<bool> g_slow_lookups{false};
// Stands for the C library's own resolver lock (glibc's resolv_conf lock is one): held
// during a lookup and, like it, inherited taken by a child forked meanwhile.
std::mutex g_resolver_lock;

}  // namespace
}  // namespace mmc::engine

// The engine is linked into this program, so its getaddrinfo() calls come here before
// the C library's.
extern "C" int getaddrinfo(const char* node, const char* service, const addrinfo* hints, addrinfo** res) {
    using Real = int (*)(const char*, const char*, const addrinfo*, addrinfo**);
    static const Real real = reinterpret_cast<Real>(::dlsym(RTLD_NEXT, "getaddrinfo"));
    if (!mmc::engine::g_slow_lookups.load()) return real(node, service, hints, res);
    std::lock_guard<std::mutex> lock(mmc::engine::g_resolver_lock);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return real(node, service, hints, res);
}

namespace mmc::engine {
namespace {

using namespace std::chrono_literals;

// What a child's exit code says: one of these, plus kForkedDuringLookup.
constexpr int kChildOk = 0;
constexpr int kChildFailed = 1;    // the call returned an error
constexpr int kChildLate = 2;      // the call succeeded, but after its deadlines
constexpr int kChildTimedOut = 3;  // the call gave up at its connect deadline
constexpr int kChildStuck = 7;     // still running at the parent's bound: killed
constexpr int kForkedDuringLookup = 8;

// Waits up to `bound` for pid; kills it when it is still running then.
int wait_bounded(pid_t pid, Clock::duration bound) {
    const auto until = Clock::now() + bound;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : kChildFailed;
        if (r < 0) return kChildFailed;
        if (Clock::now() >= until) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            return kChildStuck;
        }
        std::this_thread::sleep_for(2ms);
    }
}

// One call on s, bounded: the child's whole life. The exit code says how it went.
[[noreturn]] void call_and_exit(Server& s) {
    const auto start = Clock::now();
    std::string version_text;
    const Outcome o = version(s, version_text);
    // connect + io timeouts (1 s each) and the acquire wait (1 s): anything longer is
    // a call that waited for something else.
    const bool in_time = Clock::now() - start < 3s;
    const int during = lookups_unsafe_after_fork() ? kForkedDuringLookup : 0;
    if (!in_time) ::_exit(kChildLate | during);
    if (o.result == Result::connect_timeout) ::_exit(kChildTimedOut | during);
    ::_exit((o.ok() ? kChildOk : kChildFailed) | during);
}

// A thread looks "localhost" up again and again for a server's pool while the test
// forks; each child makes one call (child_call) and must finish it in time:
// with success, or, where timeouts_allowed, with a timeout at its deadline.
class EngineFork : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(memcached_.start()) << memcached_.error();
        server_ = std::make_unique<Server>(localhost_options());
    }

    ServerOptions localhost_options() const {
        ServerOptions o;
        o.endpoint.host = "localhost";  // a name: getaddrinfo really runs
        o.endpoint.port = memcached_.port();
        o.limits.max = 4;
        o.limits.smax = 4;
        return o;
    }

    template <class ChildCall>
    void fork_while_resolving(int forks, ChildCall child_call, bool timeouts_allowed) {
        Server& s = *server_;
        g_slow_lookups = true;
        // Each fresh connection looks the name up once more.
        std::atomic<bool> stop{false};
        std::atomic<long> lookups{0};
        std::thread resolver([&] {
            while (!stop.load()) {
                s.pool().forget_addresses();
                std::unique_ptr<Connection> conn;
                bool fresh = false;
                const auto now = Clock::now();
                s.pool().acquire(now + 1s, now + 1s, conn, fresh);
                if (conn) s.pool().release(std::move(conn), false);
                lookups.fetch_add(1);
            }
        });
        while (lookups.load() < 3) std::this_thread::sleep_for(1ms);

        int ok = 0, interrupted = 0, failed = 0, late = 0, timed_out = 0;
        int stuck_at = -1;
        for (int i = 0; i < forks && stuck_at < 0; ++i) {
            const pid_t pid = ::fork();
            ASSERT_GE(pid, 0) << "fork failed";
            if (pid == 0) child_call();
            const int code = wait_bounded(pid, 5s);
            if (code & kForkedDuringLookup) ++interrupted;
            switch (code & ~kForkedDuringLookup) {
                case kChildOk: ++ok; break;
                case kChildLate: ++late; break;
                case kChildTimedOut: ++timed_out; break;
                case kChildStuck: stuck_at = i; break;
                default: ++failed; break;
            }
        }
        stop = true;
        resolver.join();
        g_slow_lookups = false;

        // One stuck child is enough to know (and each costs the parent's whole bound).
        EXPECT_EQ(stuck_at, -1) << "child " << stuck_at << " was still in its call after 5 s";
        EXPECT_EQ(failed, 0);
        EXPECT_EQ(late, 0);
        if (!timeouts_allowed) {
            EXPECT_EQ(timed_out, 0);
        }
        // Else the forks all missed the lookups, and the test showed nothing.
        EXPECT_GT(interrupted, 0);
        std::printf("[ measured ] %d children: %d succeeded, %d timed out; %d forked during a "
                    "lookup; %ld lookups meanwhile\n",
                    forks, ok, timed_out, interrupted, lookups.load());
    }

    test::MemcachedProcess memcached_;
    std::unique_ptr<Server> server_;
};

// The child calls the server whose pool was looking its name up: it must not find the
// lookup's lock taken by a thread that is not there.
TEST_F(EngineFork, ChildForkedWhileAnotherThreadResolvesCallsWithinItsDeadline) {
    fork_while_resolving(200, [&] { call_and_exit(*server_); }, false);
}

// The child calls a server it has never looked up: the lookup, which meets the C
// library's resolver lock taken for ever, waits no longer than the connect deadline.
// (A short one: most children wait it out.)
TEST_F(EngineFork, ChildForkedDuringALookupLooksUpANewServerWithinItsDeadline) {
#if defined(__SANITIZE_THREAD__)
    // ThreadSanitizer's runtime cannot follow a thread started in a child forked from a
    // threaded process (it stops such a child, or loses track of its threads).
    GTEST_SKIP() << "the helper thread a forked child starts is beyond ThreadSanitizer";
#endif
    fork_while_resolving(50, [this] {
        ServerOptions o = localhost_options();
        o.timeouts.connect = 100ms;
        Server fresh(std::move(o));
        call_and_exit(fresh);
    }, true);
}

}  // namespace
}  // namespace mmc::engine
