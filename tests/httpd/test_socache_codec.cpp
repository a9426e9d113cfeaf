// The mcpool provider's keys, envelopes and expiry times (src/module/socache_codec.c),
// without httpd or memcached.
extern "C" {
#include "socache_codec.h"
}

#include <gtest/gtest.h>

#include "apr_general.h"

#include <cstring>
#include <string>

namespace {

struct Apr : ::testing::Environment {
    void SetUp() override { apr_initialize(); }
    void TearDown() override { apr_terminate(); }
};
[[maybe_unused]] ::testing::Environment* const kApr = ::testing::AddGlobalTestEnvironment(new Apr);

const std::string kTag = "mod_ssl-sess:";

struct Key {
    std::string text;
    bool hashed;
};

Key key_of(const std::string& id, const std::string& tag = kTag,
           mmc_socache_hash_fn hash = mmc_socache_sha1) {
    char key[MMC_SOCACHE_KEY_MAX + 1];
    int hashed = mmc_socache_key(tag.c_str(), tag.size(),
                                 reinterpret_cast<const unsigned char*>(id.data()), id.size(),
                                 hash, key);
    return {key, hashed != 0};
}

std::string envelope(const std::string& id, const std::string& data) {
    std::string out(mmc_socache_envelope_size(id.size(), data.size()), '\0');
    mmc_socache_envelope_write(reinterpret_cast<unsigned char*>(&out[0]),
                               reinterpret_cast<const unsigned char*>(id.data()), id.size(),
                               reinterpret_cast<const unsigned char*>(data.data()), data.size());
    return out;
}

// The data the envelope gives for id, or "<refused>".
std::string open_for(const std::string& value, const std::string& id) {
    const unsigned char* data = nullptr;
    apr_size_t len = 0;
    if (!mmc_socache_envelope_open(reinterpret_cast<const unsigned char*>(value.data()),
                                   value.size(), reinterpret_cast<const unsigned char*>(id.data()),
                                   id.size(), &data, &len)) {
        return "<refused>";
    }
    return std::string(reinterpret_cast<const char*>(data), len);
}

void constant_hash(const unsigned char*, apr_size_t, unsigned char digest[20]) {
    std::memset(digest, 0x42, 20);
}

TEST(SocacheKey, ShortIdIsTheTagAndTheIdInLowercaseHex) {
    Key k = key_of(std::string("\x00\xff\x10 a", 5));
    EXPECT_FALSE(k.hashed);
    EXPECT_EQ(k.text, "mod_ssl-sess:00ff102061");
}

TEST(SocacheKey, EveryByteOfABinaryIdBecomesPrintableKeyCharacters) {
    std::string id;
    for (int b = 0; b < 256; ++b) id += static_cast<char>(b);
    for (const Key& k : {key_of(id.substr(0, 100)), key_of(id)}) {
        EXPECT_LE(k.text.size(), 250u);
        for (char c : k.text) {
            EXPECT_GT(static_cast<unsigned char>(c), 0x20) << k.text;
            EXPECT_LT(static_cast<unsigned char>(c), 0x7f) << k.text;
        }
    }
}

TEST(SocacheKey, IdWhoseHexFillsExactly250BytesIsNotHashed) {
    const std::string tag = "authn-socache:";  // 14 bytes: 14 + 2 * 118 = 250
    Key k = key_of(std::string(118, 'x'), tag);
    EXPECT_FALSE(k.hashed);
    EXPECT_EQ(k.text.size(), 250u);
}

TEST(SocacheKey, OneByteMoreIsHashedWithSha1AfterAHash) {
    const std::string tag = "authn-socache:";
    Key k = key_of(std::string(119, 'x'), tag);
    EXPECT_TRUE(k.hashed);
    EXPECT_EQ(k.text.size(), tag.size() + 1 + 40);
    EXPECT_EQ(k.text.rfind(tag + "#", 0), 0u);
}

TEST(SocacheKey, HashIsSha1OfTheWholeId) {
    // FIPS 180 test vector: SHA-1 of 1,000,000 times 'a'.
    Key k = key_of(std::string(1000000, 'a'));
    EXPECT_EQ(k.text, kTag + "#34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(SocacheKey, HashedAndHexKeysNeverMeet) {
    // '#' is no hex digit: a hashed key cannot be the hex key of another id.
    Key k = key_of(std::string(200, 'y'));
    EXPECT_NE(k.text.find('#'), std::string::npos);
    EXPECT_EQ(key_of("ab").text.find('#'), std::string::npos);
}

TEST(SocacheKey, PrefixAndConsumerNameMustBePrintableWithoutBlanks) {
    apr_pool_t* p = nullptr;
    apr_pool_create(&p, nullptr);
    EXPECT_EQ(mmc_socache_check_key_part(p, "prefix", "fleet-a/"), nullptr);
    EXPECT_NE(mmc_socache_check_key_part(p, "prefix", "two words"), nullptr);
    EXPECT_NE(mmc_socache_check_key_part(p, "prefix", "tab\there"), nullptr);
    EXPECT_NE(mmc_socache_check_key_part(p, "prefix", "caf\xc3\xa9"), nullptr);
    apr_pool_destroy(p);
}

TEST(SocacheEnvelope, OpensForItsOwnIdAndGivesTheData) {
    const std::string id(300, 'u');
    EXPECT_EQ(open_for(envelope(id, "session bytes"), id), "session bytes");
    EXPECT_EQ(open_for(envelope(id, ""), id), "");
}

TEST(SocacheEnvelope, ForcedHashCollisionNeverGivesAnotherIdsData) {
    // Two long ids whose hashes collide share one memcached key; the entry there
    // carries the id that stored it, and the other id must see a miss.
    const std::string a = "http://example.test/" + std::string(400, 'a');
    const std::string b = "http://example.test/" + std::string(400, 'b');
    ASSERT_EQ(key_of(a, kTag, constant_hash).text, key_of(b, kTag, constant_hash).text);
    ASSERT_TRUE(key_of(a, kTag, constant_hash).hashed);
    const std::string stored_by_b = envelope(b, "b's response");
    EXPECT_EQ(open_for(stored_by_b, a), "<refused>");
    EXPECT_EQ(open_for(stored_by_b, b), "b's response");
}

TEST(SocacheEnvelope, IdThatIsAPrefixOfTheStoredIdIsRefused) {
    const std::string stored = envelope("abcdef", "data");
    EXPECT_EQ(open_for(stored, "abc"), "<refused>");
    EXPECT_EQ(open_for(stored, "abcdefdata"), "<refused>");
}

TEST(SocacheEnvelope, TruncatedOrForeignValuesAreRefused) {
    const std::string id = "id";
    const std::string whole = envelope(id, "data");
    for (std::size_t n = 0; n < 6; ++n) EXPECT_EQ(open_for(whole.substr(0, n), id), "<refused>") << n;
    EXPECT_EQ(open_for(std::string("\xff\xff\xff\xff", 4) + "id", id), "<refused>");
    EXPECT_EQ(open_for("plain value", id), "<refused>");
}

apr_uint32_t exptime_of(apr_time_t expiry, apr_time_t now, bool* stored) {
    apr_uint32_t e = 12345;
    *stored = mmc_socache_exptime(expiry, now, &e) != 0;
    return e;
}

const apr_time_t kNow = apr_time_from_sec(1800000000) + 250000;  // 2027, and a quarter second

TEST(SocacheExpiry, SecondsLeftAreRoundedUpNeverToZero) {
    bool stored = false;
    EXPECT_EQ(exptime_of(kNow + 1, kNow, &stored), 1u);
    EXPECT_TRUE(stored);
    EXPECT_EQ(exptime_of(kNow + 400000, kNow, &stored), 1u);
    EXPECT_EQ(exptime_of(kNow + apr_time_from_sec(300), kNow, &stored), 300u);
    EXPECT_EQ(exptime_of(kNow + apr_time_from_sec(300) + 1, kNow, &stored), 301u);
}

TEST(SocacheExpiry, ThirtyDaysAreStillRelative) {
    bool stored = false;
    EXPECT_EQ(exptime_of(kNow + apr_time_from_sec(30 * 86400), kNow, &stored), 30u * 86400u);
    EXPECT_TRUE(stored);
}

TEST(SocacheExpiry, BeyondThirtyDaysIsAnAbsoluteUnixTime) {
    bool stored = false;
    const apr_time_t expiry = kNow + apr_time_from_sec(31 * 86400);
    // memcached would read 31 days in seconds as a Unix time in 1970: long expired.
    EXPECT_EQ(exptime_of(expiry, kNow, &stored), 1800000000u + 31u * 86400u + 1u);
    EXPECT_TRUE(stored);
}

// memcached 1.6 reads a Unix time above 2^31 - 1 as one in the past: an entry meant to
// outlive January 2038 is kept until then instead.
TEST(SocacheExpiry, AfterJanuary2038IsCappedAtTheLastTimeMemcachedReadsAsMeant) {
    bool stored = false;
    EXPECT_EQ(exptime_of(apr_time_from_sec(0x7FFFFFFFLL), kNow, &stored), 0x7FFFFFFFu);
    EXPECT_TRUE(stored);
    stored = false;
    EXPECT_EQ(exptime_of(apr_time_from_sec(0x7FFFFFFFLL) + 1, kNow, &stored), 0x7FFFFFFFu);
    EXPECT_TRUE(stored);
    EXPECT_EQ(exptime_of(apr_time_from_sec(4294967196LL), kNow, &stored), 0x7FFFFFFFu);
    EXPECT_EQ(exptime_of(apr_time_from_sec(5000000000LL), kNow, &stored), 0x7FFFFFFFu);
}

TEST(SocacheExpiry, ExpiryNowOrInThePastStoresNothing) {
    bool stored = true;
    exptime_of(kNow, kNow, &stored);
    EXPECT_FALSE(stored);
    exptime_of(kNow - 1, kNow, &stored);
    EXPECT_FALSE(stored);
    exptime_of(0, kNow, &stored);
    EXPECT_FALSE(stored);
    exptime_of(-apr_time_from_sec(100), kNow, &stored);
    EXPECT_FALSE(stored);
}

}  // namespace
