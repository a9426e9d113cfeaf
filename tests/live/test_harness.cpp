// The test harness itself: a memcached server started by a test must not outlive the
// test process, however that process ends.
#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "memcached_process.h"

namespace {

// Whether pid is gone: no such process, or a zombie nobody has reaped yet.
bool gone(pid_t pid) {
    if (::kill(pid, 0) != 0) return errno == ESRCH;
    std::string path = "/proc/" + std::to_string(pid) + "/stat";
    FILE* f = std::fopen(path.c_str(), "r");
    if (!f) return true;
    char buf[512] = {};
    std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    const char* close = std::strrchr(buf, ')');
    return n > 0 && close && close[1] == ' ' && (close[2] == 'Z' || close[2] == 'X');
}

}  // namespace

// SIGKILL leaves no destructor to stop the server; as root, memcached's own change to
// user nobody also clears the parent-death signal. The harness's watchdog covers both.
TEST(Harness, AServerGoesWhenItsTestProcessIsKilled) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t test_process = ::fork();
    ASSERT_GE(test_process, 0);
    if (test_process == 0) {
        ::close(fds[0]);
        mmc::test::MemcachedProcess server;
        pid_t pid = server.start() ? server.pid() : -1;
        if (::write(fds[1], &pid, sizeof pid) != sizeof pid) ::_exit(1);
        for (;;) ::pause();
    }
    ::close(fds[1]);
    pollfd p{fds[0], POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 10000), 1) << "the test process did not start a server in 10 s";
    pid_t server = -1;
    ASSERT_EQ(::read(fds[0], &server, sizeof server), static_cast<ssize_t>(sizeof server));
    ::close(fds[0]);
    ASSERT_GT(server, 0) << "memcached did not start";
    ASSERT_FALSE(gone(server));

    ::kill(test_process, SIGKILL);
    int status = 0;
    ::waitpid(test_process, &status, 0);
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!gone(server) && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    bool server_gone = gone(server);
    if (!server_gone) ::kill(server, SIGKILL);
    EXPECT_TRUE(server_gone) << "memcached (pid " << server << ") outlived its test process by 5 s";
}
