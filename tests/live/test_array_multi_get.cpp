// The array multi-get (ap_memcache_multiget_array) against apr_memcache_multgetp and
// ap_memcache_multigets: on the same keys, with the same servers and the same faults,
// every key must come back with the same status, value, flags (and CAS unique).
//
// Each comparison runs the two calls on two clients built alike over the same servers,
// so that each call meets the same server health and the same pooled connections (a
// failure marks a server of the client that saw it, and would change what the second
// call does on a shared client). Values are stored through a third client.
#include "live_fixture.h"

#include <map>

namespace mmc::test {
namespace {

struct Outcome {
    apr_status_t status = -1;
    std::string data;
    apr_uint32_t flags = 0;
    apr_uint64_t cas = 0;
    bool operator==(const Outcome& o) const {
        return status == o.status && data == o.data && flags == o.flags && cas == o.cas;
    }
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
    return os << "{status " << o.status << ", \"" << o.data.substr(0, 40) << "\" ("
              << o.data.size() << " B), flags " << o.flags << ", cas " << o.cas << "}";
}

// A key list as the array call takes it; NULL entries stand for a NULL key pointer.
struct Keys {
    std::vector<std::string> text;
    std::vector<bool> null;
    void add(const std::string& k, bool is_null = false) {
        text.push_back(k);
        null.push_back(is_null);
    }
    std::vector<ap_memcache_key_t> view() const {
        std::vector<ap_memcache_key_t> v(text.size());
        for (std::size_t i = 0; i < text.size(); ++i)
            v[i] = ap_memcache_key_t{null[i] ? nullptr : text[i].data(), null[i] ? 0 : text[i].size()};
        return v;
    }
};

class ArrayMultiGet : public Live {
protected:
    // Two clients over the same servers, built the same way.
    void two_clients(ap_memcache_distribution_e d, PoolSpec spec = {}) {
        a_ = make_client(spec);
        b_ = make_client(spec);
        ASSERT_EQ(ap_memcache_set_distribution(a_, d), APR_SUCCESS);
        ASSERT_EQ(ap_memcache_set_distribution(b_, d), APR_SUCCESS);
        ASSERT_EQ(ap_memcache_set_distribution(mc_, d), APR_SUCCESS);
    }

    // multgetp (or multigets with cas) on client a_, keyed by key text.
    std::map<std::string, Outcome> by_hash(const Keys& keys, bool cas) {
        apr_pool_t* temp = nullptr;
        apr_pool_create(&temp, pool_);
        std::map<std::string, Outcome> out;
        apr_hash_t* values = nullptr;
        for (std::size_t i = 0; i < keys.text.size(); ++i) {
            if (keys.null[i]) continue;
            if (cas) ap_memcache_add_multigets_key(pool_, keys.text[i].c_str(), &values);
            else apr_memcache_add_multget_key(pool_, keys.text[i].c_str(), &values);
        }
        if (!values) return out;
        apr_status_t rv = cas ? ap_memcache_multigets(a_, temp, pool_, values)
                              : apr_memcache_multgetp(a_, temp, pool_, values);
        EXPECT_EQ(rv, APR_SUCCESS);
        for (apr_hash_index_t* hi = apr_hash_first(pool_, values); hi; hi = apr_hash_next(hi)) {
            void* v = nullptr;
            apr_hash_this(hi, nullptr, nullptr, &v);
            Outcome o;
            std::string key;
            if (cas) {
                auto* item = static_cast<ap_memcache_item_t*>(v);
                key = item->key;
                o.status = item->status;
                if (o.status == APR_SUCCESS) {
                    o.data.assign(item->data, item->len);
                    o.flags = item->flags;
                    o.cas = item->cas;
                }
            } else {
                auto* value = static_cast<apr_memcache_value_t*>(v);
                key = value->key;
                o.status = value->status;
                if (o.status == APR_SUCCESS) {
                    o.data.assign(value->data, value->len);
                    o.flags = value->flags;
                }
            }
            out[key] = o;
        }
        return out;
    }

    // The array call on client b_, one outcome per key, in order.
    std::vector<Outcome> by_array(const Keys& keys, bool cas, apr_status_t expect_rv = APR_SUCCESS) {
        std::vector<ap_memcache_key_t> v = keys.view();
        std::vector<ap_memcache_result_t> results(v.size());
        EXPECT_EQ(ap_memcache_multiget_array(b_, pool_, v.data(), v.size(), results.data(),
                                             cas ? AP_MEMCACHE_MULTIGET_CAS : 0),
                  expect_rv);
        std::vector<Outcome> out;
        for (const auto& r : results) {
            Outcome o;
            o.status = r.status;
            if (r.status == APR_SUCCESS) {
                EXPECT_NE(r.data, nullptr);
                EXPECT_EQ(r.data[r.len], '\0');
                o.data.assign(r.data, r.len);
                o.flags = r.flags;
                o.cas = r.cas;
            } else {
                EXPECT_EQ(r.data, nullptr);
                EXPECT_EQ(r.len, 0u);
            }
            if (!cas) {
                EXPECT_EQ(r.cas, 0u);
            }
            out.push_back(o);
        }
        return out;
    }

    // Both calls agree key by key; NULL keys (which the hash API cannot carry) are
    // APR_EINVAL. Returns the array's outcomes.
    std::vector<Outcome> expect_agreement(const Keys& keys, bool cas) {
        auto hashed = by_hash(keys, cas);
        auto arrayed = by_array(keys, cas);
        EXPECT_EQ(arrayed.size(), keys.text.size());
        for (std::size_t i = 0; i < arrayed.size() && i < keys.text.size(); ++i) {
            if (keys.null[i]) {
                EXPECT_EQ(arrayed[i].status, APR_EINVAL) << "NULL key at " << i;
                continue;
            }
            auto it = hashed.find(keys.text[i]);
            if (it == hashed.end()) {
                ADD_FAILURE() << "multgetp lost key '" << keys.text[i] << "'";
                continue;
            }
            EXPECT_EQ(arrayed[i], it->second) << "key '" << keys.text[i] << "' at " << i;
        }
        return arrayed;
    }

    void store(const std::string& k, const std::string& v, apr_uint16_t flags) {
        ASSERT_EQ(apr_memcache_set(mc_, k.c_str(), const_cast<char*>(v.data()), v.size(), 0, flags),
                  APR_SUCCESS);
    }

    // Stored keys (odd ones stored, even ones not), invalid keys, a duplicate.
    Keys mixed_keys(int n) {
        Keys keys;
        for (int i = 0; i < n; ++i) {
            std::string k = "am:" + std::to_string(i);
            if (i % 2) store(k, "value-" + std::to_string(i) + std::string(i % 7 * 10, 'x'),
                             static_cast<apr_uint16_t>(i * 37));
            keys.add(k);
        }
        keys.add("has space");
        keys.add(std::string(251, 'k'));
        keys.add("");
        keys.add("ctl\x01key");
        keys.add("am:1");  // a duplicate of a stored key
        keys.add("am:2");  // a duplicate of a missing one
        keys.add("null", true);
        return keys;
    }

    apr_memcache_t* a_ = nullptr;
    apr_memcache_t* b_ = nullptr;
};

TEST_F(ArrayMultiGet, AgreesWithMultgetpOverFourServersUnderModula) {
    start_servers(4);
    two_clients(AP_MEMCACHE_DIST_MODULA);
    auto out = expect_agreement(mixed_keys(200), false);
    int found = 0;
    for (const auto& o : out) found += o.status == APR_SUCCESS;
    EXPECT_EQ(found, 100 + 1);  // the odd keys and the stored duplicate
}

TEST_F(ArrayMultiGet, AgreesWithMultgetpOverFourServersUnderKetama) {
    start_servers(4);
    two_clients(AP_MEMCACHE_DIST_KETAMA);
    expect_agreement(mixed_keys(200), false);
}

TEST_F(ArrayMultiGet, AgreesWithMultigetsOnFlagsAndCasUniques) {
    start_servers(3);
    two_clients(AP_MEMCACHE_DIST_KETAMA);
    Keys keys;
    for (int i = 0; i < 60; ++i) {
        std::string k = "cas:" + std::to_string(i);
        // 32-bit flags through the extension store.
        ASSERT_EQ(ap_memcache_store(mc_, AP_MEMCACHE_SET, k.c_str(), "v", 1, 0, 0x80000000u + i),
                  APR_SUCCESS);
        keys.add(k);
    }
    keys.add("cas:missing");
    auto out = expect_agreement(keys, true);
    for (std::size_t i = 0; i < 60; ++i) {
        EXPECT_EQ(out[i].flags, 0x80000000u + i);
        EXPECT_NE(out[i].cas, 0u);  // (each server counts its own, so they repeat across servers)
    }
}

TEST_F(ArrayMultiGet, KeysOfAStoppedServerGetTheSameErrorAsMultgetp) {
    start_servers(3);
    two_clients(AP_MEMCACHE_DIST_MODULA);
    Keys keys = mixed_keys(90);
    server(2).stop();
    // Three rounds: the server's health moves (a failure, then marked dead, after which
    // its keys go to the next live server) the same way on both clients, and every
    // round must agree.
    for (int round = 0; round < 3; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        auto out = expect_agreement(keys, false);
        int errors = 0;
        for (const auto& o : out)
            errors += o.status != APR_SUCCESS && o.status != APR_NOTFOUND && o.status != APR_EINVAL;
        if (round == 0) {
            EXPECT_GT(errors, 0);
        }
    }
}

TEST_F(ArrayMultiGet, KeysOfAStoppedServerFailOverAlikeUnderKetama) {
    start_servers(3);
    two_clients(AP_MEMCACHE_DIST_KETAMA);
    Keys keys = mixed_keys(90);
    server(1).stop();
    for (int round = 0; round < 3; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        expect_agreement(keys, false);
    }
}

TEST_F(ArrayMultiGet, SilentServerCostsOneDeadlineAndTimesOutOnlyItsKeys) {
    start_servers(2);
    a_ = make_client();
    b_ = make_client();
    for (apr_memcache_t* mc : {a_, b_}) {
        for (int i = 0; i < mc->ntotal; ++i) {
            ap_memcache_server_options_t o;
            ap_memcache_server_get_options(mc->live_servers[i], &o);
            o.io_timeout = 300 * 1000;
            ASSERT_EQ(ap_memcache_server_set_options(mc->live_servers[i], &o), APR_SUCCESS);
        }
    }
    Keys keys;
    for (int i = 0; i < 30; ++i) {
        keys.add("slow:" + std::to_string(i));
        store(keys.text.back(), "v", 0);
    }
    // Connections open before the pause, so the wait is the I/O deadline's.
    expect_agreement(keys, false);
    server(1).pause();
    auto t0 = std::chrono::steady_clock::now();
    auto arrayed = by_array(keys, false);
    const long long ms = elapsed_ms(t0);
    EXPECT_GE(ms, 250);
    EXPECT_LE(ms, 300 + 150);
    auto hashed = by_hash(keys, false);
    int timeups = 0;
    for (std::size_t i = 0; i < arrayed.size(); ++i) {
        EXPECT_EQ(arrayed[i], hashed[keys.text[i]]) << keys.text[i];
        if (arrayed[i].status == APR_TIMEUP) ++timeups;
        else {
            EXPECT_EQ(arrayed[i].status, APR_SUCCESS) << keys.text[i];
        }
    }
    EXPECT_GT(timeups, 0);
    EXPECT_LT(timeups, 30);
    server(1).resume();
}

TEST_F(ArrayMultiGet, LargeValuesAndManyBlocksComeBackWhole) {
    servers_.clear();
    // The suite's server arguments too: in the .tls variants these servers speak TLS.
    std::vector<std::string> args = test_server_args();
    args.insert(args.end(), {"-I", "4m"});
    for (int i = 0; i < 2; ++i) {
        servers_.push_back(std::make_unique<MemcachedProcess>(args));
        ASSERT_TRUE(servers_.back()->start()) << servers_.back()->error();
    }
    a_ = make_client();
    b_ = make_client();
    for (apr_memcache_t* mc : {a_, b_}) {
        for (int i = 0; i < mc->ntotal; ++i) {
            ap_memcache_server_options_t o;
            ap_memcache_server_get_options(mc->live_servers[i], &o);
            o.max_value_size = 4 * 1024 * 1024;
            ASSERT_EQ(ap_memcache_server_set_options(mc->live_servers[i], &o), APR_SUCCESS);
        }
    }
    mc_ = make_client();
    for (int i = 0; i < mc_->ntotal; ++i) {
        ap_memcache_server_options_t o;
        ap_memcache_server_get_options(mc_->live_servers[i], &o);
        o.max_value_size = 4 * 1024 * 1024;
        ASSERT_EQ(ap_memcache_server_set_options(mc_->live_servers[i], &o), APR_SUCCESS);
    }
    Keys keys;
    // Small values spanning several arena blocks, with large ones (their own
    // allocations) in between.
    for (int i = 0; i < 400; ++i) {
        const std::size_t size = i % 50 == 7 ? (i % 100 == 7 ? 3 * 1024 * 1024 : 600 * 1024) : 1000 + i;
        std::string v(size, static_cast<char>('a' + i % 26));
        v[0] = static_cast<char>('A' + i % 26);
        keys.add("big:" + std::to_string(i));
        store(keys.text.back(), v, 0);
    }
    auto out = expect_agreement(keys, false);
    for (const auto& o : out) EXPECT_EQ(o.status, APR_SUCCESS);
}

TEST_F(ArrayMultiGet, EmptyListSendsNothing) {
    start_servers(1);
    two_clients(AP_MEMCACHE_DIST_MODULA);
    RawClient raw(server().port());
    const long long gets = raw.number("cmd_get");
    EXPECT_EQ(ap_memcache_multiget_array(b_, pool_, nullptr, 0, nullptr, 0), APR_SUCCESS);
    Keys none;
    EXPECT_TRUE(by_array(none, false).empty());
    EXPECT_EQ(raw.number("cmd_get"), gets);
}

TEST_F(ArrayMultiGet, OnlyInvalidKeysSendNothing) {
    start_servers(1);
    two_clients(AP_MEMCACHE_DIST_MODULA);
    RawClient raw(server().port());
    const long long gets = raw.number("cmd_get");
    Keys keys;
    keys.add("two words");
    keys.add("", false);
    keys.add("x", true);
    for (const auto& o : expect_agreement(keys, false)) EXPECT_EQ(o.status, APR_EINVAL);
    EXPECT_EQ(raw.number("cmd_get"), gets);
}

TEST_F(ArrayMultiGet, KeyLengthsAreTakenAsGivenWithoutNul) {
    start_servers(2);
    two_clients(AP_MEMCACHE_DIST_KETAMA);
    store("abc", "three", 3);
    const char buf[] = "abcdef";
    ap_memcache_key_t k[2] = {{buf, 3}, {buf, 6}};
    ap_memcache_result_t r[2];
    ASSERT_EQ(ap_memcache_multiget_array(b_, pool_, k, 2, r, 0), APR_SUCCESS);
    ASSERT_EQ(r[0].status, APR_SUCCESS);
    EXPECT_EQ(std::string(r[0].data, r[0].len), "three");
    EXPECT_EQ(r[0].flags, 3u);
    EXPECT_EQ(r[1].status, APR_NOTFOUND);
}

TEST_F(ArrayMultiGet, DuplicateKeysEachGetTheResult) {
    start_servers(2);
    two_clients(AP_MEMCACHE_DIST_KETAMA);
    store("dup", "once", 9);
    Keys keys;
    for (int i = 0; i < 5; ++i) keys.add("dup");
    keys.add("dup-missing");
    keys.add("dup-missing");
    auto out = expect_agreement(keys, false);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(out[i], (Outcome{APR_SUCCESS, "once", 9, 0}));
    EXPECT_EQ(out[5].status, APR_NOTFOUND);
    EXPECT_EQ(out[6].status, APR_NOTFOUND);
}

TEST_F(ArrayMultiGet, UnusableArgumentsAreRefusedAndChangeNothing) {
    start_servers(1);
    two_clients(AP_MEMCACHE_DIST_MODULA);
    ap_memcache_key_t k[1] = {{"k", 1}};
    ap_memcache_result_t r[1];
    auto untouched = [&] {
        std::memset(r, 0x5a, sizeof r);
        return r[0].status;
    };
    const apr_status_t mark = untouched();
    EXPECT_EQ(ap_memcache_multiget_array(nullptr, pool_, k, 1, r, 0), APR_EINVAL);
    EXPECT_EQ(r[0].status, mark);
    EXPECT_EQ(ap_memcache_multiget_array(b_, nullptr, k, 1, r, 0), APR_EINVAL);
    EXPECT_EQ(r[0].status, mark);
    EXPECT_EQ(ap_memcache_multiget_array(b_, pool_, nullptr, 1, r, 0), APR_EINVAL);
    EXPECT_EQ(r[0].status, mark);
    EXPECT_EQ(ap_memcache_multiget_array(b_, pool_, k, 1, nullptr, 0), APR_EINVAL);
    EXPECT_EQ(ap_memcache_multiget_array(b_, pool_, k, 1, r, 0x2), APR_EINVAL);
    EXPECT_EQ(r[0].status, mark);
}

TEST_F(ArrayMultiGet, NoLiveServerIsNotAMiss) {
    start_servers(2);
    two_clients(AP_MEMCACHE_DIST_MODULA);
    for (apr_memcache_t* mc : {a_, b_})
        for (int i = 0; i < mc->ntotal; ++i)
            ASSERT_EQ(apr_memcache_disable_server(mc, mc->live_servers[i]), APR_SUCCESS);
    Keys keys;
    keys.add("nobody-home");
    keys.add("bad key");
    auto out = expect_agreement(keys, false);
    EXPECT_EQ(out[0].status, AP_MEMCACHE_ENOSERVER);
    EXPECT_EQ(out[1].status, APR_EINVAL);
}

}  // namespace
}  // namespace mmc::test
