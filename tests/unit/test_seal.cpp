// Sealed values without a server: the envelope (seal.h), the key file, and the C API's
// refusals that need no network.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include "compat/seal.h"
#include "ap_memcache.h"

namespace {

using mmc::compat::seal::Failure;
using mmc::compat::seal::Keyring;

const std::string kHexA = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string kHexB = "f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f";

std::unique_ptr<Keyring> ring(const std::string& text) {
    std::string err;
    auto r = Keyring::parse(text, err);
    EXPECT_TRUE(r) << err;
    return r;
}

std::string parse_error(const std::string& text) {
    std::string err;
    EXPECT_FALSE(Keyring::parse(text, err));
    return err;
}

std::string seal(const Keyring& r, const std::string& key, std::uint32_t flags, const std::string& plain) {
    std::string out(r.sealed_size(plain.size()), '\0');
    EXPECT_TRUE(r.seal(key, flags, plain, reinterpret_cast<unsigned char*>(out.data())));
    return out;
}

Failure unseal(const Keyring& r, const std::string& key, std::uint32_t flags, const std::string& env,
               std::string* plain = nullptr) {
    std::string out(Keyring::plain_size(env), '\0');
    Failure f = r.unseal(key, flags, env, reinterpret_cast<unsigned char*>(out.data()));
    if (plain) *plain = out;
    return f;
}

TEST(SealEnvelope, RoundTripGivesThePlainValueBack) {
    auto r = ring("k1 " + kHexA + "\n");
    const std::string env = seal(*r, "session:abc", 7, "the session secret");
    std::string plain;
    EXPECT_EQ(unseal(*r, "session:abc", 7, env, &plain), Failure::none);
    EXPECT_EQ(plain, "the session secret");
}

TEST(SealEnvelope, HasTheDocumentedLayout) {
    auto r = ring("k1 " + kHexA + "\n");
    const std::string env = seal(*r, "key", 0, "0123456789");
    ASSERT_EQ(env.size(), 3 + 2 + 12 + 10 + 16u);
    EXPECT_EQ(static_cast<unsigned char>(env[0]), mmc::compat::seal::kMagic);
    EXPECT_EQ(static_cast<unsigned char>(env[1]), mmc::compat::seal::kVersion);
    EXPECT_EQ(env[2], 2);
    EXPECT_EQ(env.substr(3, 2), "k1");
    EXPECT_EQ(env.find("0123456789"), std::string::npos);
    EXPECT_EQ(Keyring::plain_size(env), 10u);
}

TEST(SealEnvelope, EmptyValueRoundTrips) {
    auto r = ring("k1 " + kHexA + "\n");
    const std::string env = seal(*r, "key", 0, "");
    std::string plain = "x";
    EXPECT_EQ(unseal(*r, "key", 0, env, &plain), Failure::none);
    EXPECT_EQ(plain, "");
}

TEST(SealEnvelope, EverySealUsesAFreshNonce) {
    auto r = ring("k1 " + kHexA + "\n");
    EXPECT_NE(seal(*r, "key", 0, "same"), seal(*r, "key", 0, "same"));
}

TEST(SealEnvelope, TamperedCiphertextIsRefusedAndNothingLeaks) {
    auto r = ring("k1 " + kHexA + "\n");
    std::string env = seal(*r, "key", 0, "secret value");
    env[3 + 2 + 12 + 1] ^= 0x01;
    std::string plain;
    EXPECT_EQ(unseal(*r, "key", 0, env, &plain), Failure::forged);
    EXPECT_EQ(plain, std::string(plain.size(), '\0'));
}

TEST(SealEnvelope, TamperedTagIsRefused) {
    auto r = ring("k1 " + kHexA + "\n");
    std::string env = seal(*r, "key", 0, "secret value");
    env.back() ^= 0x80;
    EXPECT_EQ(unseal(*r, "key", 0, env), Failure::forged);
}

TEST(SealEnvelope, TamperedNonceIsRefused) {
    auto r = ring("k1 " + kHexA + "\n");
    std::string env = seal(*r, "key", 0, "secret value");
    env[3 + 2] ^= 0x01;
    EXPECT_EQ(unseal(*r, "key", 0, env), Failure::forged);
}

TEST(SealEnvelope, ValueCopiedUnderAnotherKeyIsRefused) {
    auto r = ring("k1 " + kHexA + "\n");
    const std::string env = seal(*r, "session:alice", 0, "alice's secret");
    EXPECT_EQ(unseal(*r, "session:mallory", 0, env), Failure::forged);
    EXPECT_EQ(unseal(*r, "session:alic", 0, env), Failure::forged);
}

TEST(SealEnvelope, KeysLongerThanMemcachedAllowsStillRoundTrip) {
    // The AAD is built in one buffer for keys memcached accepts; longer ones take
    // another path, which must agree.
    auto r = ring("k1 " + kHexA + "\n");
    for (std::size_t len : {0u, 1u, 250u, 251u, 1000u}) {
        const std::string key(len, 'x');
        std::string plain;
        EXPECT_EQ(unseal(*r, key, 9, seal(*r, key, 9, "v"), &plain), Failure::none) << len;
        EXPECT_EQ(plain, "v");
        EXPECT_EQ(unseal(*r, key + "y", 9, seal(*r, key, 9, "v")), Failure::forged) << len;
    }
}

TEST(SealEnvelope, ChangedFlagsAreRefused) {
    auto r = ring("k1 " + kHexA + "\n");
    const std::string env = seal(*r, "key", 1, "v");
    EXPECT_EQ(unseal(*r, "key", 2, env), Failure::forged);
}

TEST(SealEnvelope, TruncatedEnvelopeIsRefused) {
    auto r = ring("k1 " + kHexA + "\n");
    const std::string env = seal(*r, "key", 0, "secret value");
    for (std::size_t n = 0; n < env.size(); ++n) {
        EXPECT_NE(unseal(*r, "key", 0, env.substr(0, n)), Failure::none) << n;
    }
    EXPECT_EQ(unseal(*r, "key", 0, env.substr(0, 2)), Failure::not_sealed);
    EXPECT_EQ(unseal(*r, "key", 0, env.substr(0, 3 + 2 + 12 + 15)), Failure::not_sealed);
}

TEST(SealEnvelope, PlainValueIsNotSealed) {
    auto r = ring("k1 " + kHexA + "\n");
    EXPECT_EQ(unseal(*r, "key", 0, "just a plain value that is long enough to look like one"),
              Failure::not_sealed);
    EXPECT_EQ(unseal(*r, "key", 0, ""), Failure::not_sealed);
}

TEST(SealEnvelope, OtherVersionIsNotSealed) {
    auto r = ring("k1 " + kHexA + "\n");
    std::string env = seal(*r, "key", 0, "v");
    env[1] = 2;
    EXPECT_EQ(unseal(*r, "key", 0, env), Failure::not_sealed);
}

TEST(SealEnvelope, UnknownKeyIdIsRefused) {
    auto a = ring("old " + kHexA + "\n");
    auto b = ring("new " + kHexB + "\n");
    EXPECT_EQ(unseal(*b, "key", 0, seal(*a, "key", 0, "v")), Failure::unknown_key);
}

TEST(SealEnvelope, SameIdWithAnotherKeyIsRefused) {
    auto a = ring("k " + kHexA + "\n");
    auto b = ring("k " + kHexB + "\n");
    EXPECT_EQ(unseal(*b, "key", 0, seal(*a, "key", 0, "v")), Failure::forged);
}

TEST(SealEnvelope, RelabelledKeyIdIsRefused) {
    // Both keys equal, so only the AAD (which holds the id) tells them apart.
    auto r = ring("k1 " + kHexA + "\nk2 " + kHexA + "\n");
    std::string env = seal(*r, "key", 0, "v");
    env[4] = '2';
    EXPECT_EQ(unseal(*r, "key", 0, env), Failure::forged);
}

TEST(SealKeyRotation, OldValuesStayReadableAndNewWritesUseTheNewKey) {
    auto before = ring("old " + kHexA + "\n");
    const std::string old_env = seal(*before, "key", 0, "written before");

    auto after = ring("new " + kHexB + "\nold " + kHexA + "\n");
    std::string plain;
    EXPECT_EQ(unseal(*after, "key", 0, old_env, &plain), Failure::none);
    EXPECT_EQ(plain, "written before");

    EXPECT_EQ(after->sealing_key_id(), "new");
    const std::string new_env = seal(*after, "key", 0, "written after");
    EXPECT_EQ(new_env.substr(2, 4), std::string("\x03new"));
    EXPECT_EQ(unseal(*before, "key", 0, new_env), Failure::unknown_key);
    EXPECT_EQ(unseal(*after, "key", 0, new_env, &plain), Failure::none);
    EXPECT_EQ(plain, "written after");
}

// Each thread keeps its cipher contexts between calls: switching keys, rings and
// outcomes on one thread must never carry state from one call into the next.
TEST(SealEnvelope, CallsOnOneThreadDoNotLeakIntoEachOther) {
    auto a = ring("a " + kHexA + "\n");
    auto b = ring("b " + kHexB + "\na " + kHexA + "\n");
    const std::string ea = seal(*a, "k", 0, "from a");
    std::string forged = ea;
    forged.back() ^= 1;
    const std::string eb = seal(*b, "k", 0, "from b");
    std::string plain;
    for (int round = 0; round < 3; ++round) {
        EXPECT_EQ(unseal(*a, "k", 0, forged), Failure::forged);
        EXPECT_EQ(unseal(*a, "k", 0, ea, &plain), Failure::none);
        EXPECT_EQ(plain, "from a");
        EXPECT_EQ(unseal(*b, "k", 0, ea, &plain), Failure::none);
        EXPECT_EQ(plain, "from a");
        EXPECT_EQ(unseal(*b, "k", 0, eb, &plain), Failure::none);
        EXPECT_EQ(plain, "from b");
        EXPECT_EQ(unseal(*a, "k", 0, eb), Failure::unknown_key);
    }
}

TEST(SealEnvelope, ANewRingWithAnotherKeyIsNotConfusedWithAnOldOne) {
    std::string env;
    {
        auto old_ring = ring("k " + kHexA + "\n");
        env = seal(*old_ring, "key", 0, "v");
        EXPECT_EQ(unseal(*old_ring, "key", 0, env), Failure::none);
    }
    // Same id, other bytes, perhaps at the same address: the cached context must not
    // still hold the old key.
    auto new_ring = ring("k " + kHexB + "\n");
    EXPECT_EQ(unseal(*new_ring, "key", 0, env), Failure::forged);
    std::string plain;
    EXPECT_EQ(unseal(*new_ring, "key", 0, seal(*new_ring, "key", 0, "w"), &plain), Failure::none);
    EXPECT_EQ(plain, "w");
}

TEST(SealEnvelope, ThreadsSealAndUnsealAtOnce) {
    auto r = ring("new " + kHexB + "\nold " + kHexA + "\n");
    auto old_ring = ring("old " + kHexA + "\n");
    std::atomic<int> bad{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 500; ++i) {
                const std::string key = "k" + std::to_string(t) + ":" + std::to_string(i);
                const std::string value(static_cast<std::size_t>(i % 300), static_cast<char>('a' + t));
                const Keyring& writer = i % 2 ? *r : *old_ring;
                std::string env(writer.sealed_size(value.size()), '\0');
                if (!writer.seal(key, 0, value, reinterpret_cast<unsigned char*>(env.data()))) ++bad;
                std::string out(Keyring::plain_size(env), '\0');
                if (r->unseal(key, 0, env, reinterpret_cast<unsigned char*>(out.data())) != Failure::none ||
                    out != value) {
                    ++bad;
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(bad.load(), 0);
}

TEST(SealKeyFile, AcceptsCommentsBlankLinesAndSpaces) {
    auto r = ring("# keys\n\n  a.b-c_1\t" + kHexA + "  \r\n# old\nold " + kHexB);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->size(), 2u);
    EXPECT_EQ(r->sealing_key_id(), "a.b-c_1");
}

TEST(SealKeyFile, RefusesFilesWithoutKeys) {
    EXPECT_NE(parse_error("").find("no key"), std::string::npos);
    EXPECT_NE(parse_error("# only a comment\n").find("no key"), std::string::npos);
}

TEST(SealKeyFile, RefusesShortLongAndNonHexKeysNamingTheLine) {
    EXPECT_NE(parse_error("k " + kHexA.substr(2) + "\n").find("line 1: key 'k' has 62"), std::string::npos);
    EXPECT_NE(parse_error("# c\nk " + kHexA + "00\n").find("line 2:"), std::string::npos);
    std::string bad = kHexA;
    bad[10] = 'g';
    EXPECT_NE(parse_error("k " + bad).find("not hexadecimal"), std::string::npos);
    EXPECT_NE(parse_error("k\n").find("expected '<key-id> <64 hex digits>'"), std::string::npos);
}

TEST(SealKeyFile, RefusesBadAndDuplicateIds) {
    EXPECT_NE(parse_error("k/1 " + kHexA).find("key id may hold only"), std::string::npos);
    EXPECT_NE(parse_error(std::string(33, 'k') + " " + kHexA).find("longer than 32"), std::string::npos);
    EXPECT_NE(parse_error("k " + kHexA + "\nk " + kHexB).find("appears twice"), std::string::npos);
}

class SealKeyFileOnDisk : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/mmc-seal-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        path_ = dir_ + "/keys";
        ASSERT_EQ(apr_pool_create(&pool_, nullptr), APR_SUCCESS);
    }
    void TearDown() override {
        apr_pool_destroy(pool_);
        std::remove(path_.c_str());
        rmdir(dir_.c_str());
    }
    void write(const std::string& text, mode_t mode) {
        FILE* f = std::fopen(path_.c_str(), "w");
        ASSERT_NE(f, nullptr);
        std::fputs(text.c_str(), f);
        std::fclose(f);
        ASSERT_EQ(chmod(path_.c_str(), mode), 0);
    }

    std::string dir_, path_;
    apr_pool_t* pool_ = nullptr;
};

TEST_F(SealKeyFileOnDisk, LoadsAnOwnerOnlyFile) {
    write("k1 " + kHexA + "\n", 0600);
    ap_memcache_seal_t* seal = nullptr;
    const char* why = nullptr;
    ASSERT_EQ(ap_memcache_seal_load(pool_, path_.c_str(), &seal, &why), APR_SUCCESS) << why;
    EXPECT_STREQ(ap_memcache_seal_key_id(seal), "k1");
}

TEST_F(SealKeyFileOnDisk, GroupMayReadIt) {
    write("k1 " + kHexA + "\n", 0640);
    ap_memcache_seal_t* seal = nullptr;
    EXPECT_EQ(ap_memcache_seal_load(pool_, path_.c_str(), &seal, nullptr), APR_SUCCESS);
}

TEST_F(SealKeyFileOnDisk, RefusesAWorldReadableFile) {
    write("k1 " + kHexA + "\n", 0644);
    ap_memcache_seal_t* seal = nullptr;
    const char* why = nullptr;
    EXPECT_EQ(ap_memcache_seal_load(pool_, path_.c_str(), &seal, &why), APR_EINVAL);
    EXPECT_EQ(seal, nullptr);
    ASSERT_NE(why, nullptr);
    EXPECT_NE(std::string(why).find("others may read"), std::string::npos);
}

TEST_F(SealKeyFileOnDisk, MissingFileGivesTheOpenError) {
    ap_memcache_seal_t* seal = nullptr;
    const char* why = nullptr;
    EXPECT_TRUE(APR_STATUS_IS_ENOENT(ap_memcache_seal_load(pool_, path_.c_str(), &seal, &why)));
    ASSERT_NE(why, nullptr);
    EXPECT_NE(std::string(why).find("cannot open"), std::string::npos);
}

TEST_F(SealKeyFileOnDisk, RefusesADirectory) {
    ap_memcache_seal_t* seal = nullptr;
    const char* why = nullptr;
    ASSERT_EQ(chmod(dir_.c_str(), 0700), 0);
    EXPECT_EQ(ap_memcache_seal_load(pool_, dir_.c_str(), &seal, &why), APR_EINVAL);
    EXPECT_STREQ(why, "not a regular file");
}

// What a sealed client refuses needs no server: nothing is sent.
TEST_F(SealKeyFileOnDisk, SealedClientRefusesCountersAndAppends) {
    write("k1 " + kHexA + "\n", 0600);
    ap_memcache_seal_t* seal = nullptr;
    ASSERT_EQ(ap_memcache_seal_load(pool_, path_.c_str(), &seal, nullptr), APR_SUCCESS);
    apr_memcache_t* mc = nullptr;
    apr_memcache_server_t* ms = nullptr;
    ASSERT_EQ(apr_memcache_create(pool_, 1, 0, &mc), APR_SUCCESS);
    ASSERT_EQ(apr_memcache_server_create(pool_, "/nonexistent-mmc-test-dir/m.sock", 0, 0, 1, 1, 0, &ms),
              APR_SUCCESS);
    ASSERT_EQ(apr_memcache_add_server(mc, ms), APR_SUCCESS);
    ASSERT_EQ(ap_memcache_set_seal(mc, seal), APR_SUCCESS);

    apr_uint32_t nv32 = 0;
    apr_uint64_t nv = 0;
    EXPECT_EQ(apr_memcache_incr(mc, "n", 1, &nv32), APR_ENOTIMPL);
    EXPECT_EQ(apr_memcache_decr(mc, "n", 1, &nv32), APR_ENOTIMPL);
    EXPECT_EQ(ap_memcache_incr64(mc, "n", 1, nullptr, 0, &nv), APR_ENOTIMPL);
    EXPECT_EQ(ap_memcache_decr64(mc, "n", 1, &nv, 0, &nv), APR_ENOTIMPL);
    EXPECT_EQ(ap_memcache_store(mc, AP_MEMCACHE_APPEND, "k", "x", 1, 0, 0), APR_ENOTIMPL);
    EXPECT_EQ(ap_memcache_store(mc, AP_MEMCACHE_PREPEND, "k", "x", 1, 0, 0), APR_ENOTIMPL);
    ap_memcache_server_state_t st;
    ASSERT_EQ(ap_memcache_server_state(ms, &st), APR_SUCCESS);
    EXPECT_EQ(st.open, 0u);
    EXPECT_EQ(st.failures, 0u);

    ASSERT_EQ(ap_memcache_set_seal(mc, nullptr), APR_SUCCESS);
    EXPECT_NE(apr_memcache_incr(mc, "n", 1, &nv32), APR_ENOTIMPL);
}

TEST(SealFailureLog, ReportsTheFirstFailureAndCountsTheRest) {
    mmc::compat::seal::FailureLog log;
    std::uint64_t n = 0;
    EXPECT_TRUE(log.should_log(Failure::forged, &n));
    EXPECT_EQ(n, 1u);
    EXPECT_FALSE(log.should_log(Failure::forged, &n));
    EXPECT_FALSE(log.should_log(Failure::forged, &n));
    // Each reason has its own limit.
    EXPECT_TRUE(log.should_log(Failure::unknown_key, &n));
    EXPECT_EQ(n, 1u);
}

}  // namespace
