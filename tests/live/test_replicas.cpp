// Replicas (ap_memcache_set_replicas) on real servers, in every protocol of the suite:
// writes reach the primary and its replicas, reads survive a killed server, a restarted
// empty primary is refilled by read repair (meta) without a newer value being replaced.
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <set>
#include <thread>

#include "live_fixture.h"

namespace mmc::test {
namespace {

std::string key_of(int i) { return "rk:" + std::to_string(i); }

class Replicas : public Live {
protected:
    // n servers, ketama, `replicas`, a dead server found at its first failure and not
    // retried during the test.
    void start(std::size_t n, apr_uint16_t replicas, PoolSpec spec = {}) {
        start_servers(n, spec);
        ASSERT_EQ(ap_memcache_set_distribution(mc_, AP_MEMCACHE_DIST_KETAMA), APR_SUCCESS);
        for (std::size_t i = 0; i < n; ++i) {
            ap_memcache_server_options_t o;
            ap_memcache_server_get_options(mc_->live_servers[i], &o);
            o.failure_limit = 1;
            o.retry_period = 60 * 1000 * 1000;
            o.io_timeout = 500 * 1000;
            ASSERT_EQ(ap_memcache_server_set_options(mc_->live_servers[i], &o), APR_SUCCESS);
        }
        ASSERT_EQ(ap_memcache_set_replicas(mc_, replicas), APR_SUCCESS);
    }
    // The index of the server holding key as its primary (its first holder in list
    // order after the ring's choice), through a client without replicas.
    std::size_t primary_of(const std::string& k) {
        apr_memcache_t* plain = make_client();
        EXPECT_EQ(ap_memcache_set_distribution(plain, AP_MEMCACHE_DIST_KETAMA), APR_SUCCESS);
        apr_memcache_server_t* ms = apr_memcache_find_server_hash(plain, apr_memcache_hash(plain, k.data(), k.size()));
        for (std::size_t i = 0; i < servers_.size(); ++i) {
            if (plain->live_servers[i] == ms) return i;
        }
        return servers_.size();
    }
    std::set<std::size_t> holders(const std::string& k) {
        std::set<std::size_t> out;
        for (std::size_t s = 0; s < servers_.size(); ++s) {
            if (!servers_[s]->running()) continue;
            RawClient raw(servers_[s]->port());
            if (raw.get(k)) out.insert(s);
        }
        return out;
    }
    // Server i speaks meta, whatever the suite's protocol (before any call through it).
    void make_meta(std::size_t i) {
        ap_memcache_server_options_t o;
        ap_memcache_server_get_options(mc_->live_servers[i], &o);
        o.protocol = AP_MEMCACHE_PROTOCOL_META;
        ASSERT_EQ(ap_memcache_server_set_options(mc_->live_servers[i], &o), APR_SUCCESS);
    }
    // The first `count` keys with `prefix` whose primary is server p.
    std::vector<std::string> keys_on(std::size_t p, const std::string& prefix, std::size_t count) {
        std::vector<std::string> out;
        for (int i = 0; out.size() < count && i < 10000; ++i) {
            std::string k = prefix + std::to_string(i);
            if (primary_of(k) == p) out.push_back(k);
        }
        return out;
    }
    // A repair is not waited for: what server s holds for k once it has had the time to
    // read it (polled for up to a second while it does not hold `want`).
    std::optional<std::string> settled(std::size_t s, const std::string& k, const std::string& want) {
        RawClient raw(server(s).port());
        std::optional<std::string> got;
        for (int i = 0; i < 100; ++i) {
            got = raw.get(k);
            if (got == std::optional<std::string>(want)) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return got;
    }
    ap_memcache_replica_stats_t stats_of(std::size_t i) {
        ap_memcache_replica_stats_t st{};
        EXPECT_EQ(ap_memcache_server_replica_stats(mc_->live_servers[i], &st), APR_SUCCESS);
        return st;
    }
};

TEST_F(Replicas, SetReachesThePrimaryAndTheNextServerInTheList) {
    start(3, 1);
    for (int i = 0; i < 100; ++i) {
        ASSERT_EQ(set(key_of(i), "v"), APR_SUCCESS);
        const std::size_t p = primary_of(key_of(i));
        EXPECT_EQ(holders(key_of(i)), (std::set<std::size_t>{p, (p + 1) % 3})) << key_of(i);
    }
    std::uint64_t writes = 0;
    for (std::size_t s = 0; s < 3; ++s) writes += stats_of(s).writes;
    EXPECT_EQ(writes, 100u);
}

TEST_F(Replicas, DeleteTouchAppendAndAddReachEveryReplica) {
    start(3, 2);
    ASSERT_EQ(set("k", "a"), APR_SUCCESS);
    EXPECT_EQ(holders("k").size(), 3u);
    EXPECT_EQ(ap_memcache_store(mc_, AP_MEMCACHE_APPEND, "k", "b", 1, 0, 0), APR_SUCCESS);
    for (auto& s : servers_) EXPECT_EQ(RawClient(s->port()).get("k"), std::optional<std::string>("ab"));
    EXPECT_EQ(ap_memcache_store(mc_, AP_MEMCACHE_ADD, "k", "c", 1, 0, 0), APR_EEXIST);
    EXPECT_EQ(ap_memcache_touch(mc_, "k", 100), APR_SUCCESS);
    EXPECT_EQ(apr_memcache_delete(mc_, "k", 0), APR_SUCCESS);
    EXPECT_TRUE(holders("k").empty());
    EXPECT_EQ(apr_memcache_delete(mc_, "k", 0), APR_NOTFOUND);
}

TEST_F(Replicas, KilledServerLosesNoKeyAndEachReadTakesAtMostOneDeadline) {
    start(3, 1);
    constexpr int kKeys = 600;
    for (int i = 0; i < kKeys; ++i) ASSERT_EQ(set(key_of(i), std::to_string(i)), APR_SUCCESS);
    server(1).stop();
    int found = 0;
    long long slowest = 0;
    for (int i = 0; i < kKeys; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        if (get(key_of(i)) == std::to_string(i)) ++found;
        slowest = std::max(slowest, elapsed_ms(t0));
    }
    EXPECT_EQ(found, kKeys);
    EXPECT_LT(slowest, 500);
    std::printf("[ measured ] 1 of 3 servers killed, 1 replica: %d of %d keys read back, slowest read %lld ms\n",
                found, kKeys, slowest);
    // The multi-gets too, the keys of the dead server asked of their replicas.
    std::vector<std::string> keys;
    for (int i = 0; i < kKeys; ++i) keys.push_back(key_of(i));
    int in_multi = 0;
    for (auto& [k, g] : multiget(keys)) in_multi += g.status == APR_SUCCESS;
    EXPECT_EQ(in_multi, kKeys);
    // Every key of the dead server was a hit on its replica, once by the gets above and
    // once by this multi-get.
    std::uint64_t hits = 0;
    for (std::size_t s = 0; s < 3; ++s) hits += stats_of(s).hits;
    std::size_t on_one = 0;
    for (int i = 0; i < kKeys; ++i) on_one += primary_of(key_of(i)) == 1;
    EXPECT_EQ(hits, 2 * on_one);
    std::vector<ap_memcache_key_t> ak;
    for (auto& k : keys) ak.push_back({k.c_str(), k.size()});
    std::vector<ap_memcache_result_t> res(keys.size());
    ASSERT_EQ(ap_memcache_multiget_array(mc_, pool_, ak.data(), ak.size(), res.data(), 0), APR_SUCCESS);
    int in_array = 0;
    for (std::size_t i = 0; i < res.size(); ++i) {
        in_array += res[i].status == APR_SUCCESS && std::string(res[i].data, res[i].len) == std::to_string(i);
    }
    EXPECT_EQ(in_array, kKeys);
    // Writes go on, the dead server skipped.
    EXPECT_EQ(set("after", "x"), APR_SUCCESS);
    EXPECT_EQ(get("after"), "x");
}

TEST_F(Replicas, GetsAndGatAskTheReplicaOfAKilledPrimary) {
    start(3, 1);
    std::vector<std::string> keys;
    for (int i = 0; keys.size() < 20; ++i) {
        if (primary_of(key_of(i)) == 0) keys.push_back(key_of(i));
    }
    for (auto& k : keys) ASSERT_EQ(set(k, k), APR_SUCCESS);
    server(0).stop();
    for (std::size_t i = 0; i < keys.size(); ++i) {
        ap_memcache_item_t item{};
        const apr_status_t rv = i % 2 ? ap_memcache_gets(mc_, pool_, keys[i].c_str(), &item)
                                      : ap_memcache_gat(mc_, pool_, keys[i].c_str(), 300, &item);
        ASSERT_EQ(rv, APR_SUCCESS) << keys[i];
        EXPECT_EQ(std::string(item.data, item.len), keys[i]);
    }
    EXPECT_EQ(stats_of(1).hits, keys.size());
}

TEST_F(Replicas, TwoReplicasSurviveTwoKilledServersInEveryKindOfGet) {
    start(3, 2);
    constexpr int kKeys = 200;
    std::vector<std::string> keys;
    for (int i = 0; i < kKeys; ++i) {
        keys.push_back(key_of(i));
        ASSERT_EQ(set(key_of(i), std::to_string(i)), APR_SUCCESS);
    }
    server(0).stop();
    server(1).stop();
    int found = 0;
    for (int i = 0; i < kKeys; ++i) found += get(key_of(i)) == std::to_string(i);
    EXPECT_EQ(found, kKeys);
    int in_multi = 0;
    for (auto& [k, g] : multiget(keys)) in_multi += g.status == APR_SUCCESS;
    EXPECT_EQ(in_multi, kKeys);
    EXPECT_EQ(mc_->live_servers[0]->status, APR_MC_SERVER_DEAD);
    EXPECT_EQ(mc_->live_servers[1]->status, APR_MC_SERVER_DEAD);
}

TEST_F(Replicas, MultiGetAsksTheReplicaOnlyForTheKeysThePrimaryMissed) {
    start(2, 1);
    std::vector<std::string> keys;
    for (int i = 0; i < 40; ++i) {
        keys.push_back(key_of(i));
        ASSERT_EQ(set(key_of(i), "v"), APR_SUCCESS);
    }
    // Server 0 loses its copies of every key: its own keys are then found on server 1,
    // server 1's own keys are found at once.
    RawClient(server(0).port()).command("flush_all\r\n");
    int ok = 0;
    for (auto& [k, g] : multiget(keys)) ok += g.status == APR_SUCCESS;
    EXPECT_EQ(ok, 40);
    std::size_t on_zero = 0;
    for (auto& k : keys) on_zero += primary_of(k) == 0;
    EXPECT_EQ(stats_of(1).hits, on_zero);
    // A key no server has stays a miss.
    auto got = multiget({"nowhere"});
    EXPECT_EQ(got["nowhere"].status, APR_NOTFOUND);
}

TEST_F(Replicas, HungPrimaryCostsOneTimeoutThenTheReplicaAnswers) {
    start(3, 1);
    std::vector<std::string> keys;
    for (int i = 0; keys.size() < 10; ++i) {
        if (primary_of(key_of(i)) == 0) keys.push_back(key_of(i));
    }
    for (auto& k : keys) ASSERT_EQ(set(k, k), APR_SUCCESS);
    server(0).pause();  // SIGSTOP: connections stay open, nothing answers
    auto t0 = std::chrono::steady_clock::now();
    auto got = multiget({keys.begin() + 1, keys.end()});
    const long long multi_ms = elapsed_ms(t0);
    for (auto& [k, g] : got) EXPECT_EQ(g.status, APR_SUCCESS) << k;
    // The timeout marked it dead (failure limit 1): now skipped without a wait.
    t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(get(keys[0]), keys[0]);
    const long long single_ms = elapsed_ms(t0);
    server(0).resume();
    // The primary's I/O timeout (500 ms), then the replica at once.
    EXPECT_GE(multi_ms, 450);
    EXPECT_LT(multi_ms, 500 + 300);
    EXPECT_LT(single_ms, 100);
    std::printf("[ measured ] hung primary: multi-get of 9 keys %lld ms (I/O timeout 500 ms), then a get "
                "%lld ms (primary marked dead)\n", multi_ms, single_ms);
}

TEST_F(Replicas, WithoutReplicasAKilledServerLosesItsShare) {
    start(3, 0);
    constexpr int kKeys = 600;
    for (int i = 0; i < kKeys; ++i) ASSERT_EQ(set(key_of(i), std::to_string(i)), APR_SUCCESS);
    server(1).stop();
    int found = 0;
    for (int i = 0; i < kKeys; ++i) found += get(key_of(i)) == std::to_string(i);
    EXPECT_GT(kKeys - found, kKeys / 6);
    EXPECT_LT(kKeys - found, kKeys / 2);
    std::printf("[ measured ] 1 of 3 servers killed, no replica: %d of %d keys lost\n", kKeys - found, kKeys);
}

TEST_F(Replicas, AReplicaThatFailsNeverFailsTheWrite) {
    start(3, 1);
    // Keys whose primary is server 1, so that server 2 is their replica.
    std::vector<std::string> keys;
    for (int i = 0; keys.size() < 30; ++i) {
        if (primary_of(key_of(i)) == 1) keys.push_back(key_of(i));
    }
    server(2).stop();
    int ok = 0;
    for (auto& k : keys) ok += set(k, "v") == APR_SUCCESS;
    EXPECT_EQ(ok, 30);
    // The first write to it failed and marked it dead; the later ones skip it.
    EXPECT_EQ(stats_of(2).failures, 1u);
    EXPECT_EQ(stats_of(2).writes, 1u);
    EXPECT_EQ(mc_->live_servers[2]->status, APR_MC_SERVER_DEAD);
}

TEST_F(Replicas, APrimaryThatDiesUnnoticedLeavesTheWritesStatusToItsReplica) {
    start(3, 1);
    // A key whose primary is server 1 and replica server 2; server 1 killed before this
    // client knows it: the write's first attempt meets a refused connection.
    const std::string k = keys_on(1, "unnoticed", 1).at(0);
    ASSERT_EQ(mc_->live_servers[1]->status, APR_MC_SERVER_LIVE);
    server(1).stop();
    EXPECT_EQ(set(k, "kept"), APR_SUCCESS);
    EXPECT_EQ(holders(k), (std::set<std::size_t>{2}));
    apr_status_t rv = APR_EGENERAL;
    EXPECT_EQ(get(k, &rv), "kept");
    EXPECT_EQ(rv, APR_SUCCESS);
    // The replica answered for the call: its write is no failure.
    EXPECT_EQ(stats_of(2).writes, 1u);
    EXPECT_EQ(stats_of(2).failures, 0u);
    EXPECT_EQ(mc_->live_servers[1]->status, APR_MC_SERVER_DEAD);
    // With no server answering, the call fails with the last one's failure.
    server(2).stop();
    const std::string k2 = keys_on(2, "unnoticed", 1).at(0);  // primary 2, replica 0
    server(0).stop();
    EXPECT_NE(set(k2, "lost"), APR_SUCCESS);
}

TEST_F(Replicas, AllServersOfAKeyDeadIsNoServer) {
    start(2, 1);
    server(0).stop();
    server(1).stop();
    set("x", "v");  // marks them dead
    set("x", "v");
    const std::size_t p = primary_of("x");
    ASSERT_LT(p, 2u);
    ap_memcache_server_metrics_t before[2];
    for (std::size_t s = 0; s < 2; ++s) {
        before[s].size = sizeof before[s];
        ASSERT_EQ(ap_memcache_server_metrics(mc_->live_servers[s], &before[s]), APR_SUCCESS);
    }
    EXPECT_EQ(set("x", "v"), AP_MEMCACHE_ENOSERVER);
    apr_status_t rv = APR_SUCCESS;
    get("x", &rv);
    EXPECT_EQ(rv, AP_MEMCACHE_ENOSERVER);
    EXPECT_EQ(apr_memcache_delete(mc_, "x", 0), AP_MEMCACHE_ENOSERVER);
    EXPECT_EQ(multiget({"x"})["x"].status, AP_MEMCACHE_ENOSERVER);
    // Each counted on the key's primary, by kind, as no_server; nothing on its replica.
    for (std::size_t s = 0; s < 2; ++s) {
        ap_memcache_server_metrics_t m{};
        m.size = sizeof m;
        ASSERT_EQ(ap_memcache_server_metrics(mc_->live_servers[s], &m), APR_SUCCESS);
        const apr_uint64_t one = s == p ? 1 : 0;
        const auto error_delta = [&](int op) {
            return m.requests[op][AP_MEMCACHE_METRIC_ERROR] - before[s].requests[op][AP_MEMCACHE_METRIC_ERROR];
        };
        EXPECT_EQ(error_delta(AP_MEMCACHE_METRIC_OP_STORE), one) << s;
        EXPECT_EQ(error_delta(AP_MEMCACHE_METRIC_OP_GET), one) << s;
        EXPECT_EQ(error_delta(AP_MEMCACHE_METRIC_OP_DELETE), one) << s;
        EXPECT_EQ(error_delta(AP_MEMCACHE_METRIC_OP_MULTIGET_KEY), one) << s;
        EXPECT_EQ(m.errors[AP_MEMCACHE_METRIC_ERR_NO_SERVER] - before[s].errors[AP_MEMCACHE_METRIC_ERR_NO_SERVER],
                  4 * one) << s;
    }
}

TEST_F(Replicas, CountersGoToThePrimaryOnlyOrItsFirstLiveReplica) {
    start(3, 1);
    ASSERT_EQ(set("n", "10"), APR_SUCCESS);
    apr_uint32_t v = 0;
    ASSERT_EQ(apr_memcache_incr(mc_, "n", 5, &v), APR_SUCCESS);
    EXPECT_EQ(v, 15u);
    const std::size_t p = primary_of("n");
    EXPECT_EQ(RawClient(server(p).port()).get("n"), std::optional<std::string>("15"));
    EXPECT_EQ(RawClient(server((p + 1) % 3).port()).get("n"), std::optional<std::string>("10"));
    server(p).stop();
    ASSERT_NE(apr_memcache_incr(mc_, "n", 1, &v), APR_SUCCESS);  // finds it dead
    ASSERT_EQ(apr_memcache_incr(mc_, "n", 1, &v), APR_SUCCESS);
    EXPECT_EQ(v, 11u);
}

TEST_F(Replicas, RestartedEmptyPrimaryIsRefilledByReadsOnMetaServers) {
    start(3, 1);
    constexpr int kKeys = 300;
    for (int i = 0; i < kKeys; ++i) {
        ASSERT_EQ(apr_memcache_set(mc_, key_of(i).c_str(), const_cast<char*>("old"), 3, 3600, 0), APR_SUCCESS);
    }
    std::vector<int> on_one;
    for (int i = 0; i < kKeys; ++i) {
        if (primary_of(key_of(i)) == 1) on_one.push_back(i);
    }
    ASSERT_GT(on_one.size(), 20u);
    server(1).stop();
    ASSERT_TRUE(server(1).restart()) << server(1).error();
    // One key is written meanwhile: a repair must not put the replica's older value back.
    const std::string updated = key_of(on_one[0]);
    RawClient raw(server(1).port());
    ASSERT_TRUE(raw.set(updated, "new"));
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kKeys; ++i) EXPECT_FALSE(get(key_of(i)).empty()) << key_of(i);
    const long long pass_ms = elapsed_ms(t0);
    int back = 0;
    const bool meta = test_protocol() == AP_MEMCACHE_PROTOCOL_META;
    for (int i : on_one) back += (meta && i != on_one[0] ? settled(1, key_of(i), "old") : raw.get(key_of(i))).has_value();
    EXPECT_EQ(raw.get(updated), std::optional<std::string>("new"));
    if (meta) {
        EXPECT_EQ(back, static_cast<int>(on_one.size()));
        EXPECT_EQ(stats_of(1).repairs, on_one.size() - 1);
        // The repaired items keep about the time they had left.
        auto ttl = raw.command("mg " + key_of(on_one[1]) + " t\r\nget -\r\n");
        EXPECT_NE(ttl.find("HD t3"), std::string::npos) << ttl;
    } else {
        // Text and binary replies carry no time to live: nothing is repaired.
        EXPECT_EQ(back, 1);
        EXPECT_EQ(stats_of(1).repairs, 0u);
    }
    std::printf("[ measured ] restarted empty primary: %d of %zu of its keys back after one pass of reads "
                "of %d keys (%lld ms)\n",
                back, on_one.size(), kKeys, pass_ms);
}

// The primary speaks the suite's protocol, its replica meta (which tells the time to
// live a repair needs): the repair is sent to the primary in the suite's protocol, not
// waited for, and leaves the primary's one connection ready for the next get.
TEST_F(Replicas, RepairIsSentWithoutWaitingAndTheConnectionServesTheNextGet) {
    PoolSpec one;
    one.smax = 1;
    one.max = 1;
    start(2, 1, one);
    make_meta(1);
    const auto keys = keys_on(0, "ff:", 2);
    ASSERT_EQ(keys.size(), 2u);
    ASSERT_EQ(apr_memcache_set(mc_, keys[0].c_str(), const_cast<char*>("v0"), 2, 3600, 0), APR_SUCCESS);
    ASSERT_EQ(apr_memcache_set(mc_, keys[1].c_str(), const_cast<char*>("v1"), 2, 3600, 0), APR_SUCCESS);
    RawClient raw(server(0).port());
    raw.command("delete " + keys[0] + "\r\n");
    EXPECT_EQ(get(keys[0]), "v0");
    EXPECT_EQ(stats_of(0).repairs, 1u);
    // The next call on the primary's only connection reads its own reply, not one owed
    // to the repair.
    EXPECT_EQ(get(keys[1]), "v1");
    EXPECT_EQ(get(keys[0]), "v0");
    EXPECT_EQ(settled(0, keys[0], "v0"), std::optional<std::string>("v0"));
    EXPECT_EQ(stats_of(1).hits, 1u);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(get(keys[i % 2]), i % 2 ? "v1" : "v0");
}

// A primary that holds the key but whose value is refused (not sealed, on a sealed
// client: a miss) gets the repair's add, which does not apply: its value stays, no
// reply is left on its connection (binary's is closed), and the next gets are right.
TEST_F(Replicas, RepairOfAKeyThePrimaryHoldsOverwritesNothing) {
    PoolSpec one;
    one.smax = 1;
    one.max = 1;
    start(2, 1, one);
    make_meta(1);
    char dir[] = "/tmp/mmc-repair-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string path = std::string(dir) + "/keys";
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("k1 1111111111111111111111111111111111111111111111111111111111111111\n", f);
    std::fclose(f);
    chmod(path.c_str(), 0600);
    ap_memcache_seal_t* seal = nullptr;
    const char* why = nullptr;
    ASSERT_EQ(ap_memcache_seal_load(pool_, path.c_str(), &seal, &why), APR_SUCCESS) << (why ? why : "");
    std::remove(path.c_str());
    rmdir(dir);
    ASSERT_EQ(ap_memcache_set_seal(mc_, seal), APR_SUCCESS);
    const auto keys = keys_on(0, "fo:", 2);
    ASSERT_EQ(keys.size(), 2u);
    ASSERT_EQ(apr_memcache_set(mc_, keys[0].c_str(), const_cast<char*>("sealed"), 6, 3600, 0), APR_SUCCESS);
    ASSERT_EQ(apr_memcache_set(mc_, keys[1].c_str(), const_cast<char*>("other"), 5, 3600, 0), APR_SUCCESS);
    RawClient raw(server(0).port());
    ASSERT_TRUE(raw.set(keys[0], "plain"));
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(get(keys[0]), "sealed");
        EXPECT_EQ(get(keys[1]), "other");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(raw.get(keys[0]), std::optional<std::string>("plain"));
    EXPECT_EQ(stats_of(1).hits, 10u);
}

// A primary restarted empty (in the suite's protocol) whose replica speaks meta: one
// multi-get refills it with every key it asked for, hash and array alike, with the time
// to live the replica had; a key written there meanwhile keeps its newer value.
TEST_F(Replicas, OneMultiGetRefillsARestartedEmptyPrimary) {
    start(2, 1);
    make_meta(1);
    const auto keys = keys_on(0, "mr:", 40);
    ASSERT_EQ(keys.size(), 40u);
    for (auto& k : keys) {
        ASSERT_EQ(apr_memcache_set(mc_, k.c_str(), const_cast<char*>(k.data()), k.size(), 3600, 0), APR_SUCCESS);
    }
    const auto restart_empty = [&] {
        server(0).stop();
        ASSERT_TRUE(server(0).restart()) << server(0).error();
        // The client finds out at its first call (a closed connection), and retries.
        RawClient(server(0).port()).command("version\r\n");
    };
    restart_empty();
    RawClient raw(server(0).port());
    ASSERT_TRUE(raw.set(keys[0], "newer"));
    const std::vector<std::string> half(keys.begin(), keys.begin() + 20);
    int ok = 0;
    for (auto& [k, g] : multiget(half)) ok += g.status == APR_SUCCESS;
    EXPECT_EQ(ok, 20);
    EXPECT_EQ(stats_of(0).repairs, 19u);
    for (std::size_t i = 1; i < half.size(); ++i) EXPECT_EQ(settled(0, half[i], half[i]), half[i]) << half[i];
    EXPECT_EQ(raw.get(keys[0]), std::optional<std::string>("newer"));
    auto ttl = raw.command("mg " + keys[1] + " t\r\nget -\r\n");
    EXPECT_NE(ttl.find("HD t3"), std::string::npos) << ttl;
    // The array multi-get repairs too.
    std::vector<ap_memcache_key_t> ak;
    for (std::size_t i = 20; i < keys.size(); ++i) ak.push_back({keys[i].c_str(), keys[i].size()});
    std::vector<ap_memcache_result_t> res(ak.size());
    ASSERT_EQ(ap_memcache_multiget_array(mc_, pool_, ak.data(), ak.size(), res.data(), 0), APR_SUCCESS);
    for (std::size_t i = 0; i < res.size(); ++i) EXPECT_EQ(res[i].status, APR_SUCCESS) << keys[20 + i];
    EXPECT_EQ(stats_of(0).repairs, 39u);
    for (std::size_t i = 20; i < keys.size(); ++i) EXPECT_EQ(settled(0, keys[i], keys[i]), keys[i]) << keys[i];
    // Refilled: the next multi-get finds everything on the primary.
    const auto hits = stats_of(1).hits;
    ok = 0;
    for (auto& [k, g] : multiget(keys)) ok += g.status == APR_SUCCESS;
    EXPECT_EQ(ok, 40);
    EXPECT_EQ(stats_of(1).hits, hits);
}

// Replicas that cannot tell the time to live (text, binary) leave the primary as it is,
// as single gets do.
TEST_F(Replicas, MultiGetRepairsNothingFromTextOrBinaryReplicas) {
    start(2, 1);
    const auto keys = keys_on(0, "mn:", 10);
    for (auto& k : keys) ASSERT_EQ(set(k, "v"), APR_SUCCESS);
    RawClient(server(0).port()).command("flush_all\r\n");
    int ok = 0;
    for (auto& [k, g] : multiget(keys)) ok += g.status == APR_SUCCESS;
    EXPECT_EQ(ok, 10);
    const bool meta = test_protocol() == AP_MEMCACHE_PROTOCOL_META;
    EXPECT_EQ(stats_of(0).repairs, meta ? 10u : 0u);
}

// The meta extensions under replicas, on meta servers: the bkey writes and invalidate
// reach every server of the key, bkey_get and meta_get fail over to the replica, a
// lease stays on the primary.
TEST_F(Replicas, MetaExtensionWritesReachEveryReplicaAndTheirReadsFailOver) {
    start(2, 1);
    make_meta(0);
    make_meta(1);
    const std::string bkey("b\x01k", 3);  // base64: YgFr
    const std::size_t bp = primary_of(bkey);
    ASSERT_LT(bp, 2u);
    ASSERT_EQ(ap_memcache_bkey_store(mc_, AP_MEMCACHE_SET, bkey.data(), bkey.size(), "val", 3, 3600, 0),
              APR_SUCCESS);
    for (std::size_t s = 0; s < 2; ++s) {
        EXPECT_NE(RawClient(server(s).port()).command("mg YgFr b v\r\n").find("VA 3"), std::string::npos) << s;
    }
    RawClient(server(bp).port()).command("md YgFr b\r\n");
    ap_memcache_item_t item{};
    ASSERT_EQ(ap_memcache_bkey_get(mc_, pool_, bkey.data(), bkey.size(), &item), APR_SUCCESS);
    EXPECT_EQ(std::string(item.data, item.len), "val");
    EXPECT_EQ(stats_of(1 - bp).hits, 1u);
    ASSERT_EQ(ap_memcache_bkey_store(mc_, AP_MEMCACHE_SET, bkey.data(), bkey.size(), "val", 3, 3600, 0),
              APR_SUCCESS);
    ASSERT_EQ(ap_memcache_bkey_delete(mc_, bkey.data(), bkey.size()), APR_SUCCESS);
    for (std::size_t s = 0; s < 2; ++s) {
        EXPECT_EQ(RawClient(server(s).port()).command("mg YgFr b v\r\n"), "EN\r\n") << s;
    }
    EXPECT_EQ(ap_memcache_bkey_get(mc_, pool_, bkey.data(), bkey.size(), &item), APR_NOTFOUND);

    const auto keys = keys_on(0, "mx:", 3);
    ASSERT_EQ(keys.size(), 3u);
    // meta_get: the primary lost the key, the replica answers.
    ASSERT_EQ(set(keys[0], "m"), APR_SUCCESS);
    RawClient(server(0).port()).command("delete " + keys[0] + "\r\n");
    ap_memcache_meta_t meta{};
    EXPECT_EQ(ap_memcache_meta_get(mc_, keys[0].c_str(), 1, &meta), APR_SUCCESS);
    EXPECT_EQ(meta.size, 1u);
    // invalidate marks both copies stale.
    ASSERT_EQ(set(keys[1], "i"), APR_SUCCESS);
    ASSERT_EQ(ap_memcache_invalidate(mc_, keys[1].c_str(), 30), APR_SUCCESS);
    for (std::size_t s = 0; s < 2; ++s) {
        const auto line = RawClient(server(s).port()).command("mg " + keys[1] + " v\r\n");
        EXPECT_NE(line.find(" X"), std::string::npos) << s << ": " << line;
    }
    // A lease is the primary's alone.
    ap_memcache_lease_t lease{};
    EXPECT_EQ(ap_memcache_lease_get(mc_, pool_, keys[2].c_str(), 30, 0, &lease), APR_NOTFOUND);
    EXPECT_TRUE(lease.won);
    EXPECT_EQ(RawClient(server(1).port()).command("mg " + keys[2] + " v\r\n"), "EN\r\n");
    EXPECT_NE(RawClient(server(0).port()).command("mg " + keys[2] + " v\r\n"), "EN\r\n");
}

// On the suite's own protocol: text and binary servers refuse the meta extensions
// (APR_ENOTIMPL, nothing sent) with replicas as without; meta servers replicate them.
TEST_F(Replicas, MetaExtensionWritesNeedAMetaPrimary) {
    start(2, 1);
    const bool meta = test_protocol() == AP_MEMCACHE_PROTOCOL_META;
    const std::string bkey("bk", 2);
    EXPECT_EQ(ap_memcache_bkey_store(mc_, AP_MEMCACHE_SET, bkey.data(), bkey.size(), "v", 1, 0, 0),
              meta ? APR_SUCCESS : APR_ENOTIMPL);
    ap_memcache_item_t item{};
    EXPECT_EQ(ap_memcache_bkey_get(mc_, pool_, bkey.data(), bkey.size(), &item), meta ? APR_SUCCESS : APR_ENOTIMPL);
    EXPECT_EQ(ap_memcache_invalidate(mc_, "bk", 0), meta ? APR_SUCCESS : APR_ENOTIMPL);
    EXPECT_EQ(ap_memcache_bkey_delete(mc_, bkey.data(), bkey.size()), meta ? APR_SUCCESS : APR_ENOTIMPL);
    for (std::size_t s = 0; s < 2; ++s) EXPECT_FALSE(RawClient(server(s).port()).get("bk").has_value());
    EXPECT_EQ(stats_of(0).failures + stats_of(1).failures, 0u);
}

TEST_F(Replicas, RepairCanBeTurnedOff) {
    start(2, 1);
    ASSERT_EQ(ap_memcache_set_replica_repair(mc_, 0), APR_SUCCESS);
    ASSERT_EQ(set("k", "v"), APR_SUCCESS);
    const std::size_t p = primary_of("k");
    RawClient raw(server(p).port());
    raw.command("delete k\r\n");
    EXPECT_EQ(get("k"), "v");
    EXPECT_FALSE(raw.get("k").has_value());
    EXPECT_EQ(stats_of((p + 1) % 2).hits, 1u);
}

// The replica counters are per-server metrics (ap_memcache_server_metrics' replica_*
// fields), the same as ap_memcache_server_replica_stats reports.
TEST_F(Replicas, ReplicaCountersAreServerMetrics) {
    start(3, 1);
    std::vector<std::string> keys;
    for (int i = 0; keys.size() < 10; ++i) {
        if (primary_of(key_of(i)) == 0) keys.push_back(key_of(i));
    }
    for (auto& k : keys) ASSERT_EQ(apr_memcache_set(mc_, k.c_str(), const_cast<char*>("v"), 1, 3600, 0), APR_SUCCESS);
    // The primary loses them: each read misses there and hits on server 1.
    RawClient(server(0).port()).command("flush_all\r\n");
    for (auto& k : keys) EXPECT_EQ(get(k), "v") << k;
    const bool meta = test_protocol() == AP_MEMCACHE_PROTOCOL_META;
    for (std::size_t s = 0; s < 3; ++s) {
        ap_memcache_server_metrics_t m{};
        m.size = sizeof m;
        ASSERT_EQ(ap_memcache_server_metrics(mc_->live_servers[s], &m), APR_SUCCESS);
        const ap_memcache_replica_stats_t st = stats_of(s);
        EXPECT_EQ(m.replica_writes, st.writes) << s;
        EXPECT_EQ(m.replica_hits, st.hits) << s;
        EXPECT_EQ(m.replica_repairs, st.repairs) << s;
        EXPECT_EQ(m.replica_failures, st.failures) << s;
        EXPECT_EQ(m.replica_writes, s == 1 ? keys.size() : 0u) << s;
        EXPECT_EQ(m.replica_hits, s == 1 ? keys.size() : 0u) << s;
        // Repaired on meta only (text and binary replies carry no time to live).
        EXPECT_EQ(m.replica_repairs, s == 0 && meta ? keys.size() : 0u) << s;
        EXPECT_EQ(m.replica_failures, 0u) << s;
    }
    // A caller whose struct ends before the replica fields gets none of them.
    ap_memcache_server_metrics_t older{};
    older.size = offsetof(ap_memcache_server_metrics_t, replica_writes);
    older.replica_writes = 777;
    ASSERT_EQ(ap_memcache_server_metrics(mc_->live_servers[1], &older), APR_SUCCESS);
    EXPECT_EQ(older.size, offsetof(ap_memcache_server_metrics_t, replica_writes));
    EXPECT_EQ(older.replica_writes, 777u);
    EXPECT_EQ(older.live, 1);
}

TEST_F(Replicas, WithoutReplicasTheReplicaCountersStayZero) {
    start(3, 0);
    for (int i = 0; i < 20; ++i) ASSERT_EQ(set(key_of(i), "v"), APR_SUCCESS);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(get(key_of(i)), "v");
    for (std::size_t s = 0; s < 3; ++s) {
        ap_memcache_server_metrics_t m{};
        m.size = sizeof m;
        ASSERT_EQ(ap_memcache_server_metrics(mc_->live_servers[s], &m), APR_SUCCESS);
        EXPECT_EQ(m.replica_writes + m.replica_hits + m.replica_repairs + m.replica_failures, 0u) << s;
    }
}

TEST_F(Replicas, SetReplicasNeedsThatManyMoreServers) {
    start(3, 0);
    EXPECT_EQ(ap_memcache_set_replicas(mc_, 2), APR_SUCCESS);
    EXPECT_EQ(ap_memcache_set_replicas(mc_, 3), APR_EINVAL);
    EXPECT_EQ(ap_memcache_set_replicas(nullptr, 1), APR_EINVAL);
    EXPECT_EQ(ap_memcache_set_replicas(mc_, 0), APR_SUCCESS);
}

}  // namespace
}  // namespace mmc::test
