// Every wait ends by the call's deadline, whatever the server does and whatever
// signals arrive meanwhile.
#include <signal.h>
#include <sys/time.h>

#include "live_fixture.h"
#include "silent_server.h"

namespace mmc::test {
namespace {

using Deadlines = Live;

constexpr apr_interval_time_t kIo = 300 * 1000;
constexpr long long kSlackMs = 100;

apr_memcache_t* client_for(apr_pool_t* p, unsigned short port, apr_memcache_server_t** out = nullptr) {
    apr_memcache_t* mc = nullptr;
    EXPECT_EQ(apr_memcache_create(p, 1, 0, &mc), APR_SUCCESS);
    // Room for the 8 MiB sets below.
    apr_memcache_server_t* ms = add_server_with(p, mc, port, 1, kIo, 16 * 1024 * 1024);
    if (out) *out = ms;
    return mc;
}

TEST_F(Deadlines, LargeSetToAServerThatNeverReadsEndsAtTheDeadline) {
    SilentServer silent;
    apr_memcache_server_t* ms = nullptr;
    apr_memcache_t* mc = client_for(pool_, silent.port(), &ms);
    // Larger than the socket buffers on both ends can take, so the send must wait.
    std::string big(8 * 1024 * 1024, 'x');
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(apr_memcache_set(mc, "big", big.data(), big.size(), 0, 0), APR_TIMEUP);
    const long long ms_taken = elapsed_ms(t0);
    EXPECT_GE(ms_taken, kIo / 1000 - 10);
    EXPECT_LE(ms_taken, kIo / 1000 + kSlackMs);
}

TEST_F(Deadlines, GetFromASilentServerEndsAtTheDeadline) {
    SilentServer silent;
    apr_memcache_t* mc = client_for(pool_, silent.port());
    char* data = nullptr;
    apr_size_t len = 0;
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(apr_memcache_getp(mc, pool_, "k", &data, &len, nullptr), APR_TIMEUP);
    EXPECT_LE(elapsed_ms(t0), kIo / 1000 + kSlackMs);
}

void on_alarm(int) {}

// A process that takes signals all the time (a timer, a profiler, httpd's own): each one
// interrupts the wait, and the wait must go on with the time left, not start over.
TEST_F(Deadlines, SignalsDoNotStretchAWait) {
    SilentServer silent;
    apr_memcache_t* mc = client_for(pool_, silent.port());
    struct sigaction sa {};
    sa.sa_handler = on_alarm;  // no SA_RESTART: the calls see EINTR
    struct sigaction old {};
    ASSERT_EQ(::sigaction(SIGALRM, &sa, &old), 0);
    itimerval every{{0, 7000}, {0, 7000}};
    ASSERT_EQ(::setitimer(ITIMER_REAL, &every, nullptr), 0);

    char* data = nullptr;
    apr_size_t len = 0;
    const auto t0 = std::chrono::steady_clock::now();
    apr_status_t rv = apr_memcache_getp(mc, pool_, "k", &data, &len, nullptr);
    const long long ms_taken = elapsed_ms(t0);
    std::string big(8 * 1024 * 1024, 'x');
    const auto t1 = std::chrono::steady_clock::now();
    apr_status_t rv_set = apr_memcache_set(mc, "big", big.data(), big.size(), 0, 0);
    const long long set_ms = elapsed_ms(t1);

    itimerval off{};
    ::setitimer(ITIMER_REAL, &off, nullptr);
    ::sigaction(SIGALRM, &old, nullptr);
    EXPECT_EQ(rv, APR_TIMEUP);
    EXPECT_LE(ms_taken, kIo / 1000 + kSlackMs);
    EXPECT_NE(rv_set, APR_SUCCESS);
    EXPECT_LE(set_ms, kIo / 1000 + kSlackMs);
}

}  // namespace
}  // namespace mmc::test
