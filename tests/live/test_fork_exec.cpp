// A connection is used only by the process that opened it, and no program started by
// the process inherits one.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "live_fixture.h"

namespace mmc::test {
namespace {

using ForkExec = Live;

// set+get pairs on keys of its own; the number that went wrong.
int exercise(apr_memcache_t* mc, apr_pool_t* p, const std::string& who, int pairs) {
    int bad = 0;
    for (int i = 0; i < pairs; ++i) {
        std::string k = who + std::to_string(i);
        std::string v = who + "-value-" + std::to_string(i);
        if (apr_memcache_set(mc, k.c_str(), const_cast<char*>(v.data()), v.size(), 0, 0) != APR_SUCCESS) {
            ++bad;
            continue;
        }
        char* data = nullptr;
        apr_size_t len = 0;
        if (apr_memcache_getp(mc, p, k.c_str(), &data, &len, nullptr) != APR_SUCCESS ||
            std::string(data, len) != v) {
            ++bad;
        }
    }
    return bad;
}

TEST_F(ForkExec, ParentAndForkedChildBothWorkOnTheSameClient) {
    // The parent has pooled connections before the fork.
    ASSERT_EQ(exercise(mc_, pool_, "before", 20), 0);
    ap_memcache_server_state_t st{};
    apr_memcache_server_t* ms = mc_->live_servers[0];
    ASSERT_EQ(ap_memcache_server_state(ms, &st), APR_SUCCESS);
    ASSERT_GE(st.idle, 1u);

    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        apr_pool_t* p = nullptr;
        apr_pool_create(&p, nullptr);
        int bad = exercise(mc_, p, "child", 1500);
        // The child opened connections of its own.
        ap_memcache_server_state_t cs{};
        ap_memcache_server_state(ms, &cs);
        ::_exit(bad == 0 && cs.open >= 1 ? 0 : 1 + (bad > 100 ? 100 : bad));
    }
    int bad = exercise(mc_, pool_, "parent", 1500);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_EQ(bad, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the child's calls failed or read the parent's replies";
    // The parent's own connections are still fine.
    EXPECT_EQ(exercise(mc_, pool_, "after", 20), 0);
    ASSERT_EQ(ap_memcache_server_state(ms, &st), APR_SUCCESS);
    EXPECT_EQ(st.failures, 0u);
}

TEST_F(ForkExec, ProgramsStartedByTheProcessInheritNoSocket) {
    start_servers(2);
    ASSERT_EQ(exercise(mc_, pool_, "k", 20), 0);
    ASSERT_GE(open_sockets(), 2);  // pooled connections, open right now

    int out[2];
    ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::dup2(out[1], 1);  // dup2 clears close-on-exec on the copy
        ::execl("/bin/ls", "ls", "-l", "/proc/self/fd", static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(out[1]);
    std::string listing;
    char buf[4096];
    for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) listing.append(buf, static_cast<std::size_t>(n));
    ::close(out[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << listing;
    ASSERT_NE(listing.find("total"), std::string::npos) << listing;
    EXPECT_EQ(listing.find("socket:"), std::string::npos) << "the new program holds a socket:\n" << listing;
}

}  // namespace
}  // namespace mmc::test
