// What the end-to-end memory measurement reads from /proc, checked on this process and
// on processes it starts: resident memory, mapped files, a process group's members and
// TCP connections by remote port.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <vector>

#include "proc_memory.h"

namespace {

using namespace mmc::bench;

// A socket file descriptor closed when it goes out of scope.
class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    int get() const { return fd_; }

private:
    int fd_;
};

// A listening socket on a free loopback port.
Fd listen_on_loopback(unsigned short& port) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd.get() < 0 || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(fd.get(), 16) != 0 || ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
        return Fd(-1);
    port = ntohs(a.sin_port);
    return fd;
}

Fd connect_to_loopback(unsigned short port) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (fd.get() < 0 || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return Fd(-1);
    return fd;
}

TEST(ProcMemory, ResidentSetGrowsWithTouchedMemory) {
    ProcessMemory before, after;
    ASSERT_TRUE(read_process_memory(::getpid(), before));
    EXPECT_GT(before.rss_kb, 0);
    EXPECT_GE(before.anon_kb, 0);
    EXPECT_GE(before.file_kb, 0);
    std::vector<char> block(32u << 20);
    for (std::size_t i = 0; i < block.size(); i += 4096) block[i] = 1;
    ASSERT_TRUE(read_process_memory(::getpid(), after));
    EXPECT_GE(after.rss_kb - before.rss_kb, 30 * 1024);
    EXPECT_GE(after.anon_kb - before.anon_kb, 30 * 1024);
    // Pages only this process maps count whole in both.
    EXPECT_GE(after.pss_kb - before.pss_kb, 30 * 1024);
    EXPECT_GE(after.private_kb - before.private_kb, 30 * 1024);
    EXPECT_LE(after.pss_kb, after.rss_kb);
    EXPECT_LE(after.private_kb, after.pss_kb);
    EXPECT_EQ(block[4096], 1);
}

TEST(ProcMemory, NoProcessNoFigures) {
    ProcessMemory m;
    EXPECT_FALSE(read_process_memory(0x3fffffff, m));
    EXPECT_EQ(m.rss_kb, -1);
}

TEST(ProcMemory, MappingsIncludeThisProgramAndTheHeap) {
    char self[4096];
    const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    ASSERT_GT(n, 0);
    self[n] = '\0';
    const auto mappings = rss_by_mapping(::getpid());
    ASSERT_EQ(mappings.count(self), 1u) << self;
    EXPECT_GT(mappings.at(self), 0);
    ASSERT_EQ(mappings.count("[heap]"), 1u);
    EXPECT_GT(mappings.at("[heap]"), 0);
    for (const auto& [name, kb] : mappings) {
        EXPECT_TRUE(name[0] == '/' || name[0] == '[') << name;
        EXPECT_GE(kb, 0) << name;
    }
}

TEST(ProcMemory, CountsOnlyConnectionsToTheGivenPortsThatThisProcessHolds) {
    unsigned short a = 0, b = 0;
    Fd la = listen_on_loopback(a);
    Fd lb = listen_on_loopback(b);
    ASSERT_GE(la.get(), 0);
    ASSERT_GE(lb.get(), 0);
    std::vector<Fd> conns;
    for (int i = 0; i < 3; ++i) conns.push_back(connect_to_loopback(a));
    conns.push_back(connect_to_loopback(b));
    for (const auto& c : conns) ASSERT_GE(c.get(), 0);
    // The accepted ends have a's port as their local port, not their remote one.
    std::vector<Fd> accepted;
    for (int i = 0; i < 3; ++i) accepted.emplace_back(::accept4(la.get(), nullptr, nullptr, SOCK_CLOEXEC));

    const unsigned short unused = 1;  // never an ephemeral port
    auto counts = tcp_connections_by_remote_port(::getpid(), {a, b, unused});
    EXPECT_EQ(counts[a], 3);
    EXPECT_EQ(counts[b], 1);
    EXPECT_EQ(counts[unused], 0);
    EXPECT_EQ(counts.size(), 3u);

    conns.pop_back();  // closes the connection to b
    counts = tcp_connections_by_remote_port(::getpid(), {a, b});
    EXPECT_EQ(counts[a], 3);
    EXPECT_EQ(counts[b], 0);
}

TEST(ProcMemory, GroupMembersAreTheLeadersChildrenNotTheLeader) {
    // A group leader with one child, as httpd with one worker process.
    int ready[2];
    ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
    const pid_t leader = ::fork();
    ASSERT_GE(leader, 0);
    if (leader == 0) {
        ::setpgid(0, 0);
        const pid_t child = ::fork();
        if (child == 0) {
            ::pause();
            ::_exit(0);
        }
        if (::write(ready[1], &child, sizeof child) != static_cast<ssize_t>(sizeof child)) ::_exit(1);
        ::pause();
        ::_exit(0);
    }
    ::close(ready[1]);
    pid_t child = 0;
    const bool got = ::read(ready[0], &child, sizeof child) == static_cast<ssize_t>(sizeof child);
    ::close(ready[0]);
    std::vector<pid_t> members;
    if (got) members = group_members_except_leader(leader);
    if (got && child > 0) ::kill(child, SIGKILL);
    ::kill(leader, SIGKILL);
    ::waitpid(leader, nullptr, 0);
    ASSERT_TRUE(got);
    EXPECT_EQ(members, std::vector<pid_t>{child});
}

}  // namespace
