// Ketama placement must be libmemcached's bit for bit (tests/live/test_ketama_oracle.cpp
// checks that against libmemcached itself); these tests pin the pieces without it: MD5,
// server names, point counts, a few owners recorded from libmemcached 1.1.4, and the
// consistent-hashing properties failover relies on.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "engine/ketama.h"
#include "engine/md5.h"
#include "engine/md5_lanes.h"

namespace mmc::engine {
namespace {

std::string hex(const Md5Digest& d) {
    std::string out;
    char buf[3];
    for (std::uint8_t b : d) {
        std::snprintf(buf, sizeof buf, "%02x", b);
        out += buf;
    }
    return out;
}

std::string md5_hex(const std::string& s) { return hex(md5(s.data(), s.size())); }

std::vector<std::string> many_keys(int n = 10000) {
    std::vector<std::string> keys;
    for (int i = 0; i < n; ++i) keys.push_back("key:" + std::to_string(i));
    return keys;
}

std::vector<KetamaServer> local_servers(const std::vector<std::uint32_t>& weights) {
    std::vector<KetamaServer> servers;
    for (std::size_t i = 0; i < weights.size(); ++i) {
        servers.push_back(
            {ketama_tcp_name("127.0.0.1", static_cast<std::uint16_t>(22122 + i)), weights[i]});
    }
    return servers;
}

TEST(Md5, MatchesRfc1321TestSuite) {
    EXPECT_EQ(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
    EXPECT_EQ(md5_hex("a"), "0cc175b9c0f1b6a831c399e269772661");
    EXPECT_EQ(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(md5_hex("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
    EXPECT_EQ(md5_hex("abcdefghijklmnopqrstuvwxyz"), "c3fcd3d76192e4007dfb496cca67e13b");
    EXPECT_EQ(md5_hex("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
              "d174ab98d277d9f5a5611c2c9f419d9f");
    EXPECT_EQ(md5_hex("1234567890123456789012345678901234567890"
                      "1234567890123456789012345678901234567890"),
              "57edf4a22be3c955ac49da2e2107b67a");
}

// Where the padding needs a second block, and whole blocks with no tail.
TEST(Md5, PadsCorrectlyAroundBlockBoundaries) {
    const std::pair<std::size_t, const char*> cases[] = {
        {55, "04364420e25c512fd958a70738aa8f72"},  {56, "668a72d5ba17f08e62dabcafad6db14b"},
        {57, "693037871c4a9d3d8685018905cb530a"},  {63, "7dc2ca208106a2f703567bdff99d8981"},
        {64, "c1bb4f81d892b2d57947682aeb252456"},  {65, "1bc932052302d074bdec39795fe00cf6"},
        {119, "ab347a5f68c8a443cfcddc633f12c24f"}, {120, "fb98667f98096de92620b64f46e1c5b5"},
        {128, "d69cb61a6ee87200676eb0d4b90edbcb"},
    };
    for (const auto& [len, digest] : cases)
        EXPECT_EQ(md5_hex(std::string(len, 'x')), digest) << len;
}

TEST(Md5, HashesEveryByteValue) {
    std::string all;
    for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
    EXPECT_EQ(md5_hex(all), "e2c865db4162bed963bfaa9ef6ac18f0");
}

TEST(Md5, HashesLongInput) {
    EXPECT_EQ(md5_hex(std::string(1000000, 'a')), "7707d6ae4e027c70eea2a935c2296f21");
}

TEST(KetamaName, LeavesTheDefaultPortOut) {
    EXPECT_EQ(ketama_tcp_name("127.0.0.1", 11211), "127.0.0.1");
    EXPECT_EQ(ketama_tcp_name("localhost", 0), "localhost");
}

TEST(KetamaName, AppendsAnyOtherPort) {
    EXPECT_EQ(ketama_tcp_name("127.0.0.1", 22122), "127.0.0.1:22122");
    EXPECT_EQ(ketama_tcp_name("::1", 11212), "::1:11212");
}

TEST(KetamaName, NamesUnixSocketWithPortZero) {
    EXPECT_EQ(ketama_unix_name("/run/memcached.sock"), "/run/memcached.sock:0");
    Endpoint unix_ep;
    unix_ep.socket_path = "/run/memcached.sock";
    EXPECT_EQ(ketama_name(unix_ep), "/run/memcached.sock:0");
    Endpoint tcp_ep;
    tcp_ep.host = "127.0.0.5";
    tcp_ep.port = 11211;
    EXPECT_EQ(ketama_name(tcp_ep), "127.0.0.5");
}

TEST(KetamaKeyHash, IsFirstFourDigestBytesLittleEndian) {
    EXPECT_EQ(ketama_key_hash("abc"), 0x98500190u);  // MD5 90 01 50 98 ...
    EXPECT_EQ(ketama_key_hash(""), 0xd98c1dd4u);     // MD5 d4 1d 8c d9 ...
}

TEST(Md5FirstWord, IsTheDigestsFirstFourBytesLittleEndianAtEveryLength) {
    for (std::size_t len = 0; len <= 300; ++len) {
        std::string m(len, '\0');
        for (std::size_t i = 0; i < len; ++i) m[i] = static_cast<char>(i * 37 + len);
        const Md5Digest d = md5(m.data(), m.size());
        const std::uint32_t expected = std::uint32_t{d[0]} | (std::uint32_t{d[1]} << 8) |
                                       (std::uint32_t{d[2]} << 16) | (std::uint32_t{d[3]} << 24);
        EXPECT_EQ(md5_first_word(m.data(), m.size()), expected) << len;
    }
}

// Every lane implementation, every batch size around the lane counts, messages of
// every length up to past one block (those leave the lanes), mixed within a batch.
TEST(Md5FirstWords, MatchHashingOneAtATime) {
    std::vector<std::string> storage;
    for (std::size_t i = 0; i < 130; ++i) {
        std::string m((i * 7) % 121, '\0');
        for (std::size_t j = 0; j < m.size(); ++j) m[j] = static_cast<char>(0x80 + i + j * 3);
        storage.push_back(m);
    }
    std::vector<std::string_view> msgs(storage.begin(), storage.end());
    using Impl = void (*)(const std::string_view*, std::size_t, std::uint32_t*) noexcept;
    std::vector<std::pair<const char*, Impl>> impls = {
        {"dispatch", md5_first_words}, {"portable", md5_detail::first_words_portable}};
#if defined(MMC_MD5_AVX2)
    // The AVX2 version runs only where the CPU has it; elsewhere dispatch must not pick it.
    if (__builtin_cpu_supports("avx2")) impls.push_back({"avx2", md5_detail::first_words_avx2});
#endif
    for (const auto& [name, impl] : impls) {
        for (std::size_t n = 0; n <= 20; ++n) {
            for (std::size_t first = 0; first + n <= msgs.size(); first += 11) {
                std::vector<std::uint32_t> out(n + 1, 0xdeadbeef);
                impl(msgs.data() + first, n, out.data());
                for (std::size_t i = 0; i < n; ++i) {
                    EXPECT_EQ(out[i], md5_first_word(msgs[first + i].data(), msgs[first + i].size()))
                        << name << " n=" << n << " i=" << i;
                }
                EXPECT_EQ(out[n], 0xdeadbeefu) << name << ": wrote past n=" << n;
            }
        }
    }
}

TEST(KetamaKeyHashes, MatchKetamaKeyHash) {
    const auto keys = many_keys(1000);
    std::vector<std::string_view> views(keys.begin(), keys.end());
    std::vector<std::uint32_t> hashes(views.size());
    ketama_key_hashes(views.data(), views.size(), hashes.data());
    for (std::size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(hashes[i], ketama_key_hash(keys[i]));
}

// The ring's bucket index must find what a search of the whole ring finds: the first
// point >= the hash (lowest server index on ties), wrapping past the last point.
TEST(KetamaRing, FindsTheFirstPointAtOrAfterAnyHash) {
    for (const auto& weights : std::vector<std::vector<std::uint32_t>>{
             {1}, {1, 1}, {1, 1, 2, 3}, std::vector<std::uint32_t>(60, 1), {1, 1000}}) {
        const KetamaRing ring(local_servers(weights));
        const auto& points = ring.points();
        std::vector<std::uint32_t> probes = {0, 1, UINT32_MAX, UINT32_MAX - 1, 0x80000000u};
        for (const auto& p : points) {
            probes.push_back(p.value);
            probes.push_back(p.value - 1);
            probes.push_back(p.value + 1);
        }
        for (std::uint32_t i = 0; i < 5000; ++i) probes.push_back(i * 858993u + 12345u * i * i);
        for (std::uint32_t h : probes) {
            std::size_t at = 0;
            while (at < points.size() && points[at].value < h) ++at;
            const std::size_t expected = points[at == points.size() ? 0 : at].server;
            EXPECT_EQ(ring.server_for_hash(h, [](std::size_t) { return true; }), expected)
                << weights.size() << " servers, hash " << h;
        }
    }
}

TEST(KetamaRing, GivesPointsInProportionToWeight) {
    // floor(w / 7 * 160 / 4 * 4) digests of 4 points each.
    const KetamaRing ring(local_servers({1, 1, 2, 3}));
    EXPECT_EQ(ring.points_of(0), 88u);
    EXPECT_EQ(ring.points_of(1), 88u);
    EXPECT_EQ(ring.points_of(2), 180u);
    EXPECT_EQ(ring.points_of(3), 272u);
    EXPECT_EQ(ring.points().size(), 628u);
}

TEST(KetamaRing, GivesEqualServers160Points) {
    const KetamaRing ring(local_servers({1, 1, 1, 1}));
    for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(ring.points_of(i), 160u);
}

TEST(KetamaRing, RoundsPointsInFloatLikeLibmemcached) {
    // 1/25 * 160 / 4 * 25 is 39.9999962 in float.
    const KetamaRing ring(local_servers(std::vector<std::uint32_t>(25, 1)));
    EXPECT_EQ(ring.points_of(0), 156u);
}

TEST(KetamaRing, CountsWeightZeroAsOne) {
    const KetamaRing zero(local_servers({0, 1}));
    const KetamaRing one(local_servers({1, 1}));
    ASSERT_EQ(zero.points().size(), one.points().size());
    for (std::size_t i = 0; i < one.points().size(); ++i) {
        EXPECT_EQ(zero.points()[i].value, one.points()[i].value);
        EXPECT_EQ(zero.points()[i].server, one.points()[i].server);
    }
}

// Owners libmemcached 1.1.4 gave for these keys (weighted ketama, MD5, servers
// 127.0.0.1:22122..22125 with weights 1, 1, 2, 3).
TEST(KetamaRing, PlacesKeysWhereLibmemcachedDoes) {
    const KetamaRing ring(local_servers({1, 1, 2, 3}));
    const std::pair<const char*, std::size_t> owners[] = {
        {"foo", 1},   {"bar", 2},   {"user:42", 3}, {"session:abcdef", 3},
        {"", 0},      {"a", 1},     {"key:0", 3},   {"key:1", 0},
        {"key:2", 3}, {"key:3", 3}, {"key:4", 3},   {"key:5", 3},
    };
    for (const auto& [key, owner] : owners) EXPECT_EQ(ring.server_for(key), owner) << key;
}

TEST(KetamaRing, IsDeterministic) {
    const KetamaRing a(local_servers({1, 1, 2, 3}));
    const KetamaRing b(local_servers({1, 1, 2, 3}));
    ASSERT_EQ(a.points().size(), b.points().size());
    for (std::size_t i = 0; i < a.points().size(); ++i) {
        EXPECT_EQ(a.points()[i].value, b.points()[i].value);
        EXPECT_EQ(a.points()[i].server, b.points()[i].server);
    }
    for (const auto& key : many_keys(1000)) EXPECT_EQ(a.server_for(key), b.server_for(key));
}

TEST(KetamaRing, KeepsPointsSorted) {
    const KetamaRing ring(local_servers({1, 1, 2, 3}));
    const auto& p = ring.points();
    for (std::size_t i = 1; i < p.size(); ++i) EXPECT_LE(p[i - 1].value, p[i].value);
}

TEST(KetamaRing, EmptyRingOwnsNothing) {
    const KetamaRing ring;
    EXPECT_EQ(ring.server_for("foo"), KetamaRing::npos);
    EXPECT_EQ(ring.server_for("foo", [](std::size_t) { return true; }), KetamaRing::npos);
    const KetamaRing built_empty(std::vector<KetamaServer>{});
    EXPECT_EQ(built_empty.server_for("foo"), KetamaRing::npos);
}

TEST(KetamaRing, SingleServerOwnsEveryKey) {
    const KetamaRing ring(local_servers({3}));
    for (const auto& key : many_keys(1000)) EXPECT_EQ(ring.server_for(key), 0u);
}

// The point of consistent hashing: only the removed server's keys move.
TEST(KetamaRing, RemovingOneOfFourServersMovesOnlyItsKeys) {
    const auto four = local_servers({1, 1, 1, 1});
    auto three = four;
    three.erase(three.begin() + 2);
    const KetamaRing before(four);
    const KetamaRing after(three);

    int moved = 0;
    int moved_off_other_servers = 0;
    const auto keys = many_keys();
    for (const auto& key : keys) {
        const std::string& was = four[before.server_for(key)].name;
        const std::string& now = three[after.server_for(key)].name;
        if (was != now) {
            ++moved;
            if (was != four[2].name) ++moved_off_other_servers;
        }
    }
    const double fraction = static_cast<double>(moved) / static_cast<double>(keys.size());
    EXPECT_GT(fraction, 0.15);
    EXPECT_LT(fraction, 0.35);
    EXPECT_EQ(moved_off_other_servers, 0);
}

TEST(KetamaRing, SharesKeysRoughlyByWeight) {
    const std::vector<std::uint32_t> weights = {1, 1, 2, 3};
    const KetamaRing ring(local_servers(weights));
    std::vector<int> count(weights.size(), 0);
    const auto keys = many_keys();
    for (const auto& key : keys) ++count[ring.server_for(key)];
    for (std::size_t i = 0; i < weights.size(); ++i) {
        const double expected = static_cast<double>(keys.size()) * weights[i] / 7.0;
        EXPECT_GT(count[i], 0.7 * expected) << "server " << i;
        EXPECT_LT(count[i], 1.3 * expected) << "server " << i;
    }
    EXPECT_GT(count[3], count[2]);
    EXPECT_GT(count[2], count[0]);
    EXPECT_GT(count[2], count[1]);
}

TEST(KetamaRing, AllUsableGivesTheOwner) {
    const KetamaRing ring(local_servers({1, 1, 2, 3}));
    for (const auto& key : many_keys(1000)) {
        EXPECT_EQ(ring.server_for(key, [](std::size_t) { return true; }), ring.server_for(key));
    }
}

// A dead server's keys go to the server of the next point clockwise; nobody else's move.
TEST(KetamaRing, SkipsAnUnusableServerToTheNextOnTheRing) {
    const KetamaRing ring(local_servers({1, 1, 2, 3}));
    const std::size_t dead = 2;
    const auto usable = [dead](std::size_t i) { return i != dead; };
    const auto& points = ring.points();
    int failed_over = 0;
    for (const auto& key : many_keys()) {
        const std::size_t owner = ring.server_for(key);
        const std::size_t now = ring.server_for(key, usable);
        if (owner != dead) {
            EXPECT_EQ(now, owner) << key;
            continue;
        }
        ++failed_over;
        // The expected heir, found by walking the points directly.
        const std::uint32_t h = ketama_key_hash(key);
        std::size_t at = 0;
        while (at < points.size() && points[at].value < h) ++at;
        std::size_t heir = KetamaRing::npos;
        for (std::size_t step = 0; step < points.size(); ++step) {
            const auto& p = points[(at + step) % points.size()];
            if (p.server != dead) {
                heir = p.server;
                break;
            }
        }
        EXPECT_EQ(now, heir) << key;
    }
    EXPECT_GT(failed_over, 0);
}

TEST(KetamaRing, KeysReturnWhenTheServerIsUsableAgain) {
    const KetamaRing ring(local_servers({1, 1, 2, 3}));
    bool alive[4] = {true, true, true, true};
    const auto usable = [&alive](std::size_t i) { return alive[i]; };
    std::vector<std::size_t> owners;
    const auto keys = many_keys(2000);
    for (const auto& key : keys) owners.push_back(ring.server_for(key, usable));

    alive[1] = false;
    for (std::size_t k = 0; k < keys.size(); ++k) EXPECT_NE(ring.server_for(keys[k], usable), 1u);

    alive[1] = true;
    for (std::size_t k = 0; k < keys.size(); ++k)
        EXPECT_EQ(ring.server_for(keys[k], usable), owners[k]);
}

TEST(KetamaRing, NoUsableServerGivesNpos) {
    const KetamaRing ring(local_servers({1, 1, 2, 3}));
    EXPECT_EQ(ring.server_for("foo", [](std::size_t) { return false; }), KetamaRing::npos);
}

// Health checks are the caller's cost: a usable owner is the only server asked about.
TEST(KetamaRing, AsksOnlyAboutTheOwnerWhenItIsUsable) {
    const KetamaRing ring(local_servers({1, 1, 2, 3}));
    for (const auto& key : many_keys(100)) {
        int asked = 0;
        ring.server_for(key, [&asked](std::size_t) {
            ++asked;
            return true;
        });
        EXPECT_EQ(asked, 1);
    }
}

}  // namespace
}  // namespace mmc::engine
