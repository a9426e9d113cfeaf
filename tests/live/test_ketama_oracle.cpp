// KetamaRing against libmemcached 1.1 as the oracle: for every server list here, every
// key must land on the server libmemcached (weighted ketama, MD5) puts it on. Placement
// needs no connection (memcached_server_by_key only consults the continuum), so most
// lists name servers that are never contacted, 11211 included; the last test stores
// keys through libmemcached on real servers and finds each where the ring says.
#include <gtest/gtest.h>
#include <libmemcached/memcached.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/ketama.h"
#include "memcached_process.h"
#include "raw_client.h"

namespace mmc::test {
namespace {

using engine::KetamaRing;
using engine::KetamaServer;

constexpr int kKeys = 10000;

struct Server {
    std::string host;  // or the socket path
    std::uint16_t port = 0;
    std::uint32_t weight = 1;
    bool unix_socket = false;
};

// The same deterministic keys every run: short and long (up to libmemcached's 250-byte
// limit, so MD5 sees one- and two-block inputs), printable and without spaces.
std::vector<std::string> test_keys() {
    std::vector<std::string> keys;
    keys.reserve(kKeys);
    std::uint32_t x = 2463534242u;
    for (int i = 0; i < kKeys; ++i) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        std::string key = "key:" + std::to_string(i);
        const std::size_t extra = x % 120 == 0 ? 200 + x % 40 : x % 24;
        for (std::size_t j = 0; j < extra; ++j)
            key += static_cast<char>('a' + (x >> (j % 24)) % 26);
        keys.push_back(std::move(key));
    }
    return keys;
}

struct MemcachedDeleter {
    void operator()(memcached_st* m) const { memcached_free(m); }
};
using Oracle = std::unique_ptr<memcached_st, MemcachedDeleter>;

// libmemcached configured as a weighted-ketama user would: the distribution first, then
// KETAMA_WEIGHTED, which also selects MD5. (The other order would not do: setting the
// distribution to CONSISTENT_KETAMA afterwards turns weighting off again.)
Oracle make_oracle(const std::vector<Server>& servers) {
    Oracle m(memcached_create(nullptr));
    EXPECT_EQ(memcached_behavior_set(m.get(), MEMCACHED_BEHAVIOR_DISTRIBUTION,
                                     MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA),
              MEMCACHED_SUCCESS);
    EXPECT_EQ(memcached_behavior_set(m.get(), MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1),
              MEMCACHED_SUCCESS);
    for (const auto& s : servers) {
        const memcached_return_t rc =
            s.unix_socket
                ? memcached_server_add_unix_socket_with_weight(m.get(), s.host.c_str(), s.weight)
                : memcached_server_add_with_weight(m.get(), s.host.c_str(), s.port, s.weight);
        EXPECT_EQ(rc, MEMCACHED_SUCCESS) << s.host << ":" << s.port;
    }
    EXPECT_EQ(memcached_behavior_get(m.get(), MEMCACHED_BEHAVIOR_HASH), MEMCACHED_HASH_MD5);
    EXPECT_EQ(memcached_behavior_get(m.get(), MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED), 1u);
    return m;
}

KetamaRing make_ring(const std::vector<Server>& servers) {
    std::vector<KetamaServer> list;
    for (const auto& s : servers) {
        list.push_back({s.unix_socket ? engine::ketama_unix_name(s.host)
                                      : engine::ketama_tcp_name(s.host, s.port),
                        s.weight});
    }
    return KetamaRing(list);
}

// Index of the server libmemcached names for key: it answers with host and port, which
// the lists here keep unique.
std::size_t oracle_owner(memcached_st* m, const std::vector<Server>& servers,
                         const std::string& key) {
    memcached_return_t rc = MEMCACHED_SUCCESS;
    const memcached_instance_st* inst = memcached_server_by_key(m, key.data(), key.size(), &rc);
    if (inst == nullptr || rc != MEMCACHED_SUCCESS) return KetamaRing::npos;
    const std::string name = memcached_server_name(inst);
    const std::uint16_t port = memcached_server_port(inst);
    for (std::size_t i = 0; i < servers.size(); ++i) {
        const std::uint16_t expected_port =
            servers[i].unix_socket ? 0 : (servers[i].port == 0 ? 11211 : servers[i].port);
        if (servers[i].host == name && expected_port == port) return i;
    }
    return KetamaRing::npos;
}

// Counts the keys both place on the same server, and checks the oracle's own index
// (memcached_generate_hash) says the same as its host and port.
int agreements(const std::vector<Server>& servers) {
    Oracle m = make_oracle(servers);
    const KetamaRing ring = make_ring(servers);
    int agree = 0;
    for (const auto& key : test_keys()) {
        const std::size_t theirs = oracle_owner(m.get(), servers, key);
        EXPECT_EQ(memcached_generate_hash(m.get(), key.data(), key.size()), theirs) << key;
        if (ring.server_for(key) == theirs) ++agree;
    }
    return agree;
}

std::vector<Server> ports_with_weights(std::uint16_t first_port,
                                       const std::vector<std::uint32_t>& weights) {
    std::vector<Server> servers;
    for (std::size_t i = 0; i < weights.size(); ++i) {
        servers.push_back({"127.0.0.1", static_cast<std::uint16_t>(first_port + i), weights[i]});
    }
    return servers;
}

const std::vector<Server> kWeighted = ports_with_weights(22122, {1, 1, 2, 3});
const std::vector<Server> kEqual = ports_with_weights(22122, {1, 1, 1, 1});
// 11211 only in names: libmemcached leaves the default port out of what it hashes.
const std::vector<Server> kDefaultPort = {{"127.0.0.1", 11211, 1},
                                          {"127.0.0.2", 11211, 2},
                                          {"127.0.0.1", 22122, 1},
                                          {"localhost", 11211, 3}};
const std::vector<Server> kOne = {{"127.0.0.1", 22122, 5}};
const std::vector<Server> kTen = ports_with_weights(30000, {1, 2, 3, 4, 1, 2, 3, 4, 1, 2});
// 1/25 * 160 / 4 * 25 is 39.9999962 in float: each server gets 39 digests, not 40.
const std::vector<Server> kTwentyFive =
    ports_with_weights(40000, std::vector<std::uint32_t>(25, 1));
const std::vector<Server> kMixedKinds = {{"/tmp/mmc-ketama-a.sock", 0, 2, true},
                                         {"::1", 22122, 1},
                                         {"127.0.0.9", 22123, 1},
                                         {"localhost", 0, 1}};
const std::vector<Server> kZeroWeight = ports_with_weights(22122, {0, 1, 0, 2});

std::vector<Server> skewed_many() {
    std::vector<Server> servers;
    for (std::uint32_t i = 0; i < 60; ++i) {
        servers.push_back({"127.0.1." + std::to_string(i), 11211, i % 7 == 0 ? 100000u : 1u + i});
    }
    return servers;
}

TEST(KetamaOracle, KeyHashIsLibmemcachedMd5Hash) {
    for (const auto& key : test_keys()) {
        ASSERT_EQ(engine::ketama_key_hash(key),
                  memcached_generate_hash_value(key.data(), key.size(), MEMCACHED_HASH_MD5))
            << key;
    }
}

TEST(KetamaOracle, FourWeightedServersAgreeOnEveryKey) { EXPECT_EQ(agreements(kWeighted), kKeys); }

TEST(KetamaOracle, FourEqualServersAgreeOnEveryKey) { EXPECT_EQ(agreements(kEqual), kKeys); }

TEST(KetamaOracle, DefaultPortIsLeftOutOfTheNameAsLibmemcachedDoes) {
    EXPECT_EQ(agreements(kDefaultPort), kKeys);
}

TEST(KetamaOracle, OneServerAgreesOnEveryKey) { EXPECT_EQ(agreements(kOne), kKeys); }

TEST(KetamaOracle, TenServersAgreeOnEveryKey) { EXPECT_EQ(agreements(kTen), kKeys); }

TEST(KetamaOracle, TwentyFiveServersRoundPointsDownInFloatAsLibmemcachedDoes) {
    EXPECT_EQ(make_ring(kTwentyFive).points_of(0), 156u);
    EXPECT_EQ(agreements(kTwentyFive), kKeys);
}

TEST(KetamaOracle, UnixSocketIpv6AndNamesAgreeOnEveryKey) {
    EXPECT_EQ(agreements(kMixedKinds), kKeys);
}

TEST(KetamaOracle, ZeroWeightCountsAsOne) { EXPECT_EQ(agreements(kZeroWeight), kKeys); }

TEST(KetamaOracle, SixtyServersWithSkewedWeightsAgreeOnEveryKey) {
    EXPECT_EQ(agreements(skewed_many()), kKeys);
}

// End to end: libmemcached stores on real servers; each key must be on the server the
// ring names, and nowhere else (the servers' item counts add up to exactly the keys).
TEST(KetamaOracle, KeysStoredByLibmemcachedAreOnTheServerTheRingNames) {
    std::vector<std::unique_ptr<MemcachedProcess>> procs;
    std::vector<Server> servers;
    const std::uint32_t weights[] = {1, 1, 2, 3};
    for (std::uint32_t w : weights) {
        procs.push_back(std::make_unique<MemcachedProcess>());
        ASSERT_TRUE(procs.back()->start()) << procs.back()->error();
        servers.push_back({"127.0.0.1", procs.back()->port(), w});
    }
    Oracle m = make_oracle(servers);
    const KetamaRing ring = make_ring(servers);
    const auto keys = test_keys();
    for (const auto& key : keys) {
        const std::string value = "v-" + key;
        ASSERT_EQ(memcached_set(m.get(), key.data(), key.size(), value.data(), value.size(), 0, 0),
                  MEMCACHED_SUCCESS)
            << key << ": " << memcached_last_error_message(m.get());
    }

    std::vector<std::unique_ptr<RawClient>> raw;
    for (auto& p : procs) {
        raw.push_back(std::make_unique<RawClient>(p->port()));
        ASSERT_TRUE(raw.back()->connected());
    }
    int found = 0;
    std::vector<long long> per_server(servers.size(), 0);
    for (const auto& key : keys) {
        const std::size_t owner = ring.server_for(key);
        ASSERT_LT(owner, servers.size());
        ++per_server[owner];
        const auto got = raw[owner]->get(key);
        if (got && *got == "v-" + key) ++found;
    }
    EXPECT_EQ(found, kKeys);
    for (std::size_t i = 0; i < servers.size(); ++i) {
        const auto items = raw[i]->stat("curr_items");
        ASSERT_TRUE(items.has_value());
        EXPECT_EQ(std::strtoll(items->c_str(), nullptr, 10), per_server[i]) << "server " << i;
    }
}

}  // namespace
}  // namespace mmc::test
