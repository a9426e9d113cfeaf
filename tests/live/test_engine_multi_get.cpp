// The engine's multi-get fan-out against servers that answer late or never, with the
// batches in a known order (the compatible API orders them by where keys land).
#include <gtest/gtest.h>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "canned_server.h"
#include "engine/multi_get.h"
#include "engine/server.h"
#include "silent_server.h"

namespace mmc::engine {
namespace {

std::unique_ptr<Server> server_at(unsigned short port) {
    ServerOptions o;
    o.endpoint.host = "127.0.0.1";
    o.endpoint.port = port;
    o.limits.max = 1;
    o.limits.smax = 1;
    return std::make_unique<Server>(std::move(o));
}

// One batch of one key per server, in this order.
struct Batches {
    std::vector<std::unique_ptr<Server>> servers;
    std::vector<std::string_view> keys;
    std::vector<GetBatch> batches;

    Batches(std::initializer_list<unsigned short> ports, std::initializer_list<std::string_view> ks)
        : keys(ks), batches(ports.size()) {
        for (unsigned short port : ports) servers.push_back(server_at(port));
        for (std::size_t i = 0; i < batches.size(); ++i) {
            batches[i].server = servers[i].get();
            batches[i].keys = &keys[i];
            batches[i].nkeys = 1;
        }
    }
};

struct Seen {
    std::vector<std::string> values[3];
};

void collect_value(void* ctx, std::size_t batch, std::size_t, const ValueView& v) {
    static_cast<Seen*>(ctx)->values[batch].emplace_back(v.data);
}
// Text replies name no key in an error: never called here.
void no_key_error(void*, std::size_t, std::size_t, Result) { ADD_FAILURE() << "a key error from a text reply"; }

// Batch 0 never answers, batch 1 answers after the call has started waiting on it, batch
// 2 at once. The call ends at its deadline; what batch 1 sent while the call waited on
// batch 0 still counts, and only batch 0 is blamed.
TEST(EngineMultiGet, ReplyThatArrivedWhileWaitingOnASilentServerStillCounts) {
    test::SilentServer silent;
    test::CannedServer slow("VALUE b 0 4\r\nslow\r\nEND\r\n", std::chrono::milliseconds(150));
    test::CannedServer quick("VALUE c 0 5\r\nquick\r\nEND\r\n");
    Batches b({silent.port(), slow.port(), quick.port()}, {"a", "b", "c"});
    auto& batches = b.batches;
    Seen seen;
    const auto t0 = Clock::now();
    multi_get(batches.data(), 3, std::chrono::milliseconds(500), collect_value, no_key_error, &seen);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    EXPECT_GE(ms, 490);
    EXPECT_LE(ms, 650);
    EXPECT_EQ(batches[0].outcome.result, Result::timeout);
    EXPECT_TRUE(batches[1].outcome.ok()) << to_string(batches[1].outcome.result);
    EXPECT_TRUE(batches[2].outcome.ok()) << to_string(batches[2].outcome.result);
    EXPECT_TRUE(seen.values[0].empty());
    EXPECT_EQ(seen.values[1], std::vector<std::string>{"slow"});
    EXPECT_EQ(seen.values[2], std::vector<std::string>{"quick"});
}

// Replies that come in late, in any order, are all read within one deadline.
TEST(EngineMultiGet, LateRepliesFromEveryServerAreAllRead) {
    test::CannedServer s0("VALUE a 0 1\r\n0\r\nEND\r\n", std::chrono::milliseconds(120));
    test::CannedServer s1("VALUE b 0 1\r\n1\r\nEND\r\n", std::chrono::milliseconds(40));
    test::CannedServer s2("VALUE c 0 1\r\n2\r\nEND\r\n", std::chrono::milliseconds(80));
    Batches b({s0.port(), s1.port(), s2.port()}, {"a", "b", "c"});
    auto& batches = b.batches;
    Seen seen;
    const auto t0 = Clock::now();
    multi_get(batches.data(), 3, std::chrono::milliseconds(1000), collect_value, no_key_error, &seen);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    // The servers worked at the same time: the slowest one's delay, not the sum.
    EXPECT_LE(ms, 240);
    for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(batches[i].outcome.ok()) << i;
        EXPECT_EQ(seen.values[i], std::vector<std::string>{std::to_string(i)});
    }
}

}  // namespace
}  // namespace mmc::engine
