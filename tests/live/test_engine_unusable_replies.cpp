// A server whose replies cannot be used on every request (here a value longer than the
// client's reply limit, as an item another client stored can be): each one is counted,
// and the log gets one line per interval for that server, not one per request.
#include <gtest/gtest.h>

#include <mutex>
#include <utility>
#include <string>
#include <vector>

#include "canned_server.h"
#include "engine/multi_get.h"
#include "engine/operations.h"
#include "engine/server.h"

namespace mmc::engine {
namespace {

struct Lines {
    std::mutex m;
    std::vector<std::string> lines;
};

// A text server that answers every get with the header of a 2 KiB value, to a client
// whose reply limit (max_value_size) is 1 KiB: the parser refuses the reply from its
// header.
std::unique_ptr<Server> oversized_value_server(const test::CannedServer& canned, Lines& log) {
    ServerOptions o;
    o.endpoint.host = "127.0.0.1";
    o.endpoint.port = canned.port();
    o.limits.max = 1;
    o.limits.smax = 1;
    o.max_value_size = 1024;
    o.timeouts.io = std::chrono::milliseconds(500);
    auto s = std::make_unique<Server>(std::move(o));
    s->set_logger([&log](int, const Outcome&, const std::string& msg) {
        std::lock_guard<std::mutex> g(log.m);
        log.lines.push_back(msg);
    });
    return s;
}

std::size_t unusable_lines(Lines& log) {
    std::lock_guard<std::mutex> g(log.m);
    std::size_t n = 0;
    for (const auto& l : log.lines) n += l.find("unusable reply") != std::string::npos;
    return n;
}

void ignore_value(void*, const ValueView&) {}
void ignore_batch_value(void*, std::size_t, std::size_t, const ValueView&) {}
void ignore_key_error(void*, std::size_t, std::size_t, Result) {}

TEST(UnusableReplies, EveryGetIsCountedAndTheLogHasOneLineForTheServer) {
    test::CannedServer canned("VALUE k 0 2048\r\n");
    Lines log;
    auto server = oversized_value_server(canned, log);
    for (int i = 0; i < 100; ++i) {
        ASSERT_EQ(get(*server, "k", ignore_value, nullptr).result, Result::protocol_error) << i;
    }
    EXPECT_EQ(server->unusable_replies(), 100u);
    EXPECT_EQ(unusable_lines(log), 1u);
    EXPECT_TRUE(server->live());  // a reply it could not use is not an outage
}

TEST(UnusableReplies, EveryMultiGetIsCountedAndTheLogHasOneLineForTheServer) {
    test::CannedServer canned("VALUE k 0 2048\r\n");
    Lines log;
    auto server = oversized_value_server(canned, log);
    std::string_view keys[] = {"k", "j"};
    for (int i = 0; i < 100; ++i) {
        GetBatch batch;
        batch.server = server.get();
        batch.keys = keys;
        batch.nkeys = 2;
        multi_get(&batch, 1, std::chrono::milliseconds(500), ignore_batch_value, ignore_key_error, nullptr);
        ASSERT_EQ(batch.outcome.result, Result::protocol_error) << i;
    }
    EXPECT_EQ(server->unusable_replies(), 100u);
    EXPECT_EQ(unusable_lines(log), 1u);
}

// A well-formed reply of the wrong kind (a store's answer to a get) is as unusable as
// one the parser refuses, and counted the same.
TEST(UnusableReplies, ReplyThatDoesNotAnswerTheRequestIsCountedAndLogged) {
    test::CannedServer canned("STORED\r\n");
    Lines log;
    auto server = oversized_value_server(canned, log);
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(get(*server, "k", ignore_value, nullptr).result, Result::protocol_error) << i;
    }
    EXPECT_EQ(server->unusable_replies(), 3u);
    EXPECT_EQ(unusable_lines(log), 1u);
}

}  // namespace
}  // namespace mmc::engine
