// Sealed values: the envelope and the key ring (its key file is read by
// seal_key_file.cpp). All cryptography is OpenSSL's EVP AES-256-GCM; nonces come from
// RAND_bytes, which OpenSSL reseeds in a forked child. libcrypto is loaded when the first ring is built (engine/openssl_api.h),
// so its functions are called through that table; a ring exists only once it is loaded.
#include "compat/seal.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "engine/openssl_api.h"

namespace mmc::compat::seal {

using mmc::engine::openssl::libcrypto;

const char* to_string(Failure f) noexcept {
    switch (f) {
        case Failure::none: return "none";
        case Failure::not_sealed: return "not a sealed value";
        case Failure::unknown_key: return "sealed with an unknown key id";
        case Failure::forged: return "authentication failed";
    }
    return "?";
}

// The cipher is fetched once per ring: an implicit fetch by EVP_aes_256_gcm() on every
// call looks it up again in OpenSSL 3's provider store.
struct Keyring::Cipher {
    EVP_CIPHER* cipher = nullptr;
    ~Cipher() {
        if (cipher) libcrypto.EVP_CIPHER_free(cipher);
    }
};

namespace {

// Key material is wiped without OpenSSL (OPENSSL_cleanse would do the same), so that a
// key file rejected before libcrypto is loaded is wiped too.
void wipe(void* p, std::size_t n) noexcept { engine::wipe_bytes(p, n); }

struct CtxFree {
    void operator()(EVP_CIPHER_CTX* c) const noexcept { libcrypto.EVP_CIPHER_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

std::atomic<std::uint64_t> next_key_serial{1};

// Each thread keeps one context per direction with the key it last used, so a call
// with the same key only sets a new nonce: no allocation, no key schedule, no parameter
// lookups (together about two thirds of a 100-byte get's sealing cost with a context
// per call). A context is never shared between threads.
struct ThreadCipher {
    CtxPtr ctx;
    std::uint64_t serial = 0;  // the key the context holds; 0: none

    // Ready to encrypt (enc 1) or decrypt (enc 0) with key k and nonce iv.
    EVP_CIPHER_CTX* start(const EVP_CIPHER* cipher, const Key& k, const unsigned char* iv, int enc) noexcept {
        if (!ctx) {
            ctx.reset(libcrypto.EVP_CIPHER_CTX_new());
            if (!ctx) return nullptr;
        }
        const bool same_key = serial == k.serial;
        serial = 0;
        const int ok = same_key
                           ? libcrypto.EVP_CipherInit_ex2(ctx.get(), nullptr, nullptr, iv, enc, nullptr)
                           : libcrypto.EVP_CipherInit_ex2(ctx.get(), cipher, k.bytes.udata(), iv, enc, nullptr);
        if (ok != 1) return nullptr;
        serial = k.serial;
        return ctx.get();
    }
    // After a failed step: the next call sets the key again.
    void forget() noexcept { serial = 0; }
};

thread_local ThreadCipher tl_encrypt;
thread_local ThreadCipher tl_decrypt;

// The AAD: the envelope's header, the flags and the memcached key. The header carries
// its own length, so the parts cannot be shifted into one another.
bool add_aad(EVP_CIPHER_CTX* ctx, std::string_view header, std::uint32_t flags,
             std::string_view key) noexcept {
    // One update for the whole AAD when it fits (memcached keys are at most 250 bytes):
    // each update costs a pass through OpenSSL's dispatch.
    unsigned char aad[3 + kMaxKeyIdSize + 4 + 250];
    const std::size_t total = header.size() + 4 + key.size();
    const unsigned char f[4] = {static_cast<unsigned char>(flags >> 24), static_cast<unsigned char>(flags >> 16),
                                static_cast<unsigned char>(flags >> 8), static_cast<unsigned char>(flags)};
    int n = 0;
    if (total <= sizeof aad) {
        std::memcpy(aad, header.data(), header.size());
        std::memcpy(aad + header.size(), f, sizeof f);
        if (!key.empty()) std::memcpy(aad + header.size() + sizeof f, key.data(), key.size());
        return libcrypto.EVP_CipherUpdate(ctx, nullptr, &n, aad, static_cast<int>(total)) == 1;
    }
    return libcrypto.EVP_CipherUpdate(ctx, nullptr, &n, reinterpret_cast<const unsigned char*>(header.data()),
                            static_cast<int>(header.size())) == 1 &&
           libcrypto.EVP_CipherUpdate(ctx, nullptr, &n, f, sizeof f) == 1 &&
           libcrypto.EVP_CipherUpdate(ctx, nullptr, &n, reinterpret_cast<const unsigned char*>(key.data()),
                            static_cast<int>(key.size())) == 1;
}

// OpenSSL takes lengths as int; values are bounded far below that (1 GiB at most).
constexpr std::size_t kMaxChunk = 1u << 30;

bool crypt(EVP_CIPHER_CTX* ctx, const unsigned char* in, std::size_t len, unsigned char* out) noexcept {
    while (len > 0) {
        const std::size_t chunk = len < kMaxChunk ? len : kMaxChunk;
        int n = 0;
        if (libcrypto.EVP_CipherUpdate(ctx, out, &n, in, static_cast<int>(chunk)) != 1) return false;
        in += chunk;
        out += chunk;
        len -= chunk;
    }
    return true;
}

}  // namespace

Keyring::Keyring(std::vector<Key> keys) : keys_(std::move(keys)), cipher_(std::make_unique<Cipher>()) {
    overhead_ = 3 + keys_.front().id.size() + kNonceSize + kTagSize;
    for (Key& k : keys_) k.serial = next_key_serial.fetch_add(1, std::memory_order_relaxed);
}

Keyring::~Keyring() = default;  // each Key wipes its own bytes

std::unique_ptr<Keyring> Keyring::make(std::vector<Key> keys, std::string& err) {
    // The first ring loads libcrypto (in httpd: the parent, reading its configuration).
    std::string why;
    if (!mmc::engine::openssl::load_crypto(why)) {
        err = "sealed values need OpenSSL: " + why;
        return nullptr;
    }
    std::unique_ptr<Keyring> ring(new Keyring(std::move(keys)));
    ring->cipher_->cipher = libcrypto.EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    if (!ring->cipher_->cipher) {
        err = "OpenSSL offers no AES-256-GCM";
        return nullptr;
    }
    return ring;
}

const Key* Keyring::find(std::string_view id) const noexcept {
    for (const Key& k : keys_) {
        if (k.id == id) return &k;
    }
    return nullptr;
}

std::size_t Keyring::plain_size(std::string_view env) noexcept {
    if (env.size() < 3) return 0;
    const std::size_t idlen = static_cast<unsigned char>(env[2]);
    const std::size_t overhead = 3 + idlen + kNonceSize + kTagSize;
    return env.size() > overhead ? env.size() - overhead : 0;
}

bool Keyring::seal(std::string_view key, std::uint32_t flags, std::string_view plain,
                   unsigned char* out) const noexcept {
    const Key& k = keys_.front();
    unsigned char* p = out;
    *p++ = kMagic;
    *p++ = kVersion;
    *p++ = static_cast<unsigned char>(k.id.size());
    std::memcpy(p, k.id.data(), k.id.size());
    p += k.id.size();
    const std::string_view header(reinterpret_cast<const char*>(out), static_cast<std::size_t>(p - out));
    unsigned char* nonce = p;
    if (libcrypto.RAND_bytes(nonce, kNonceSize) != 1) return false;
    p += kNonceSize;

    EVP_CIPHER_CTX* ctx = tl_encrypt.start(cipher_->cipher, k, nonce, 1);
    int n = 0;
    const bool ok = ctx && add_aad(ctx, header, flags, key) &&
                    crypt(ctx, reinterpret_cast<const unsigned char*>(plain.data()), plain.size(), p) &&
                    libcrypto.EVP_EncryptFinal_ex(ctx, p + plain.size(), &n) == 1 &&
                    libcrypto.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTagSize, p + plain.size()) == 1;
    if (!ok) {
        tl_encrypt.forget();
        wipe(out, sealed_size(plain.size()));
    }
    return ok;
}

Failure Keyring::unseal(std::string_view key, std::uint32_t flags, std::string_view env,
                        unsigned char* out) const noexcept {
    if (env.size() < 3 || static_cast<unsigned char>(env[0]) != kMagic ||
        static_cast<unsigned char>(env[1]) != kVersion) {
        return Failure::not_sealed;
    }
    const std::size_t idlen = static_cast<unsigned char>(env[2]);
    if (idlen == 0 || idlen > kMaxKeyIdSize || env.size() < 3 + idlen + kNonceSize + kTagSize) {
        return Failure::not_sealed;
    }
    const Key* k = find(env.substr(3, idlen));
    if (!k) return Failure::unknown_key;

    const std::string_view header = env.substr(0, 3 + idlen);
    const auto* nonce = reinterpret_cast<const unsigned char*>(env.data()) + header.size();
    const unsigned char* ct = nonce + kNonceSize;
    const std::size_t len = env.size() - header.size() - kNonceSize - kTagSize;
    unsigned char tag[kTagSize];
    std::memcpy(tag, ct + len, kTagSize);

    EVP_CIPHER_CTX* ctx = tl_decrypt.start(cipher_->cipher, *k, nonce, 0);
    int n = 0;
    unsigned char last[16];
    const bool ok = ctx && add_aad(ctx, header, flags, key) && crypt(ctx, ct, len, out) &&
                    libcrypto.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTagSize, tag) == 1 &&
                    libcrypto.EVP_DecryptFinal_ex(ctx, last, &n) == 1;
    if (!ok) {
        // A forged value is the common failure; the context is set afresh all the same.
        tl_decrypt.forget();
        // GCM writes the plaintext before the tag is checked: none of it may remain.
        wipe(out, len);
        return Failure::forged;
    }
    return Failure::none;
}

}  // namespace mmc::compat::seal
