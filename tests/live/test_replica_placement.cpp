// Replica placement against libmemcached as the oracle: libmemcached stores keys with
// MEMCACHED_BEHAVIOR_NUMBER_OF_REPLICAS (binary protocol, the only one it replicates
// on), each server is asked directly which keys it holds, and the same keys stored
// through ap_memcache_set_replicas on the same servers (emptied between the two) must be
// on exactly the same servers: every key, ketama and modula, one and two replicas.
#include <libmemcached/memcached.h>

#include <algorithm>
#include <set>

#include "live_fixture.h"

namespace mmc::test {
namespace {

constexpr int kKeys = 500;

std::string key_of(int i) { return "replica:" + std::to_string(i) + ":" + std::to_string(i * 7919 % 104729); }

enum class Dist { ketama, modula };

class ReplicaPlacement : public Live {
protected:
    // Which servers hold each key, asked of each server directly.
    std::vector<std::set<std::size_t>> holders() {
        std::vector<std::set<std::size_t>> out(kKeys);
        for (std::size_t s = 0; s < servers_.size(); ++s) {
            RawClient raw(servers_[s]->port());
            for (int i = 0; i < kKeys; ++i) {
                if (raw.get(key_of(i))) out[i].insert(s);
            }
        }
        return out;
    }
    void flush_all() {
        for (auto& s : servers_) {
            RawClient raw(s->port());
            EXPECT_NE(raw.command("flush_all\r\n").find("OK"), std::string::npos);
        }
    }

    // Stores the keys through libmemcached: binary protocol, n replicas, the
    // distribution as a user of libmemcached matching ours would set it.
    void store_with_libmemcached(Dist d, std::uint64_t n) {
        memcached_st* m = memcached_create(nullptr);
        ASSERT_EQ(memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1), MEMCACHED_SUCCESS);
        if (d == Dist::ketama) {
            ASSERT_EQ(memcached_behavior_set(m, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1), MEMCACHED_SUCCESS);
        } else {
            // apr-util's modula hash is libmemcached's CRC hash.
            ASSERT_EQ(memcached_behavior_set(m, MEMCACHED_BEHAVIOR_DISTRIBUTION, MEMCACHED_DISTRIBUTION_MODULA),
                      MEMCACHED_SUCCESS);
            ASSERT_EQ(memcached_behavior_set(m, MEMCACHED_BEHAVIOR_HASH, MEMCACHED_HASH_CRC), MEMCACHED_SUCCESS);
        }
        ASSERT_EQ(memcached_behavior_set(m, MEMCACHED_BEHAVIOR_NUMBER_OF_REPLICAS, n), MEMCACHED_SUCCESS);
        for (auto& s : servers_) {
            ASSERT_EQ(memcached_server_add(m, "127.0.0.1", s->port()), MEMCACHED_SUCCESS);
        }
        for (int i = 0; i < kKeys; ++i) {
            const std::string k = key_of(i);
            ASSERT_EQ(memcached_set(m, k.data(), k.size(), "v", 1, 0, 0), MEMCACHED_SUCCESS) << k;
        }
        // Replica writes are quiet: a round trip to every server makes sure they landed.
        memcached_return_t rc;
        memcached_stat_st* st = memcached_stat(m, nullptr, &rc);
        memcached_stat_free(m, st);
        memcached_free(m);
    }

    void store_with_ours(Dist d, apr_uint16_t n) {
        if (d == Dist::ketama) {
            ASSERT_EQ(ap_memcache_set_distribution(mc_, AP_MEMCACHE_DIST_KETAMA), APR_SUCCESS);
        }
        ASSERT_EQ(ap_memcache_set_replicas(mc_, n), APR_SUCCESS);
        for (int i = 0; i < kKeys; ++i) ASSERT_EQ(set(key_of(i), "v"), APR_SUCCESS) << key_of(i);
    }

    void agree_with_libmemcached(Dist d, apr_uint16_t n) {
        start_servers(4);
        // Listed with the ports descending: libmemcached's replicas follow the order the
        // servers were added in, not an order of its own (sorted names, the continuum).
        std::sort(servers_.begin(), servers_.end(),
                  [](const auto& a, const auto& b) { return a->port() > b->port(); });
        mc_ = make_client();
        store_with_libmemcached(d, n);
        const auto theirs = holders();
        flush_all();
        store_with_ours(d, n);
        const auto ours = holders();
        int agree = 0;
        for (int i = 0; i < kKeys; ++i) {
            EXPECT_EQ(theirs[i].size(), n + 1u) << key_of(i);
            if (ours[i] == theirs[i]) ++agree;
        }
        EXPECT_EQ(agree, kKeys);
        std::printf("[ measured ] %s, %u replica(s): %d of %d keys on the servers libmemcached uses\n",
                    d == Dist::ketama ? "ketama" : "modula", n, agree, kKeys);
    }
};

TEST_F(ReplicaPlacement, KetamaOneReplicaOnLibmemcachedsServers) { agree_with_libmemcached(Dist::ketama, 1); }
TEST_F(ReplicaPlacement, KetamaTwoReplicasOnLibmemcachedsServers) { agree_with_libmemcached(Dist::ketama, 2); }
TEST_F(ReplicaPlacement, ModulaOneReplicaOnLibmemcachedsServers) { agree_with_libmemcached(Dist::modula, 1); }
TEST_F(ReplicaPlacement, ModulaTwoReplicasOnLibmemcachedsServers) { agree_with_libmemcached(Dist::modula, 2); }

}  // namespace
}  // namespace mmc::test
