// Sealed values: AES-256-GCM envelopes around the values a client stores, bound to the
// memcached key they are stored under, and the key ring they are sealed with.
//
// Envelope (docs/security.md, "Sealed values"):
//
//   byte 0        kMagic (0xC5)
//   byte 1        kVersion (1)
//   byte 2        n, the length of the key id (1 to kMaxKeyIdSize)
//   bytes 3..     the key id (n bytes)
//   12 bytes      the nonce (random, from RAND_bytes)
//   m bytes       the ciphertext (as long as the value)
//   16 bytes      the GCM tag
//
// The additional authenticated data is the header (magic, version, n, key id), the
// item's 32-bit flags (big-endian) and the memcached key, so a value copied under another
// key, given other flags, or relabelled with another key id fails authentication.
//
// Internal to the facade; the C API is ap_memcache_seal_load / ap_memcache_set_seal.
#ifndef MMC_COMPAT_SEAL_H
#define MMC_COMPAT_SEAL_H

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/log_limiter.h"
#include "engine/secret.h"

namespace mmc::compat::seal {

inline constexpr unsigned char kMagic = 0xC5;
inline constexpr unsigned char kVersion = 1;
inline constexpr std::size_t kKeySize = 32;
inline constexpr std::size_t kNonceSize = 12;
inline constexpr std::size_t kTagSize = 16;
inline constexpr std::size_t kMaxKeyIdSize = 32;
inline constexpr std::size_t kMaxKeys = 64;

// Why a value was not accepted. Ordered for the per-reason log limiter.
enum class Failure : std::uint8_t {
    none,
    not_sealed,   // too short, or not our magic and version: a plain or foreign value
    unknown_key,  // sealed with a key id this ring does not hold
    forged,       // the tag did not verify: tampered, moved to another key, wrong key
};
inline constexpr std::size_t kFailureKinds = 4;

const char* to_string(Failure f) noexcept;

struct Key {
    std::string id;
    // kKeySize bytes. In a Secret, so that a Key moved (into the ring, by vector
    // growth) hands its buffer over instead of leaving a copy behind, and the bytes are
    // wiped whenever a Key goes away.
    engine::Secret bytes{kKeySize};
    // Unique in the process for the life of the process (never reused), so a thread's
    // cached cipher context can tell whether it already holds this key.
    std::uint64_t serial = 0;
};

// The keys of one key file. The first key seals; every key unseals. Immutable once
// built, so any number of threads may use one ring; each call has its own cipher
// context. Key bytes are wiped when the ring is destroyed (Key::bytes).
class Keyring {
public:
    // Parses key file text: one key per line, "<id> <64 hex digits>", blank lines and
    // lines starting with '#' ignored. On error returns nullptr and sets err (which
    // names the line).
    static std::unique_ptr<Keyring> parse(std::string_view text, std::string& err);
    // Reads and parses a key file, refusing one that is not a regular file or that
    // others (not owner or group) may read or write. *sys_error (may be null) gets the
    // errno of a failed open, stat or read, and 0 for any other failure.
    static std::unique_ptr<Keyring> load(const char* path, std::string& err, int* sys_error = nullptr);

    ~Keyring();
    Keyring(const Keyring&) = delete;
    Keyring& operator=(const Keyring&) = delete;

    const std::string& sealing_key_id() const noexcept { return keys_.front().id; }
    std::size_t size() const noexcept { return keys_.size(); }

    // Bytes an envelope of a plain value of `plain` bytes takes with the sealing key.
    std::size_t sealed_size(std::size_t plain) const noexcept { return overhead_ + plain; }
    // The plain size of an envelope, 0 when it is too short to be one.
    static std::size_t plain_size(std::string_view envelope) noexcept;

    // Seals `plain` for memcached key `key` with `flags` into out, which has room for
    // sealed_size(plain.size()) bytes. False only if OpenSSL fails (no randomness).
    bool seal(std::string_view key, std::uint32_t flags, std::string_view plain,
              unsigned char* out) const noexcept;

    // Checks and opens an envelope read under `key` with `flags`; the plain value
    // (plain_size(envelope) bytes) goes to out. On any failure out is wiped.
    Failure unseal(std::string_view key, std::uint32_t flags, std::string_view envelope,
                   unsigned char* out) const noexcept;

private:
    explicit Keyring(std::vector<Key> keys);
    // The ring of parsed keys (at least one): loads libcrypto and fetches the cipher.
    // On failure returns nullptr and sets err; the keys wipe themselves as they go.
    static std::unique_ptr<Keyring> make(std::vector<Key> keys, std::string& err);
    const Key* find(std::string_view id) const noexcept;

    std::vector<Key> keys_;
    std::size_t overhead_ = 0;
    struct Cipher;
    std::unique_ptr<Cipher> cipher_;
};

// Says at most once per interval and reason that values were refused, with how many
// were since the last line, so a storm of forged values cannot flood the error log.
// One engine::LogLimiter per reason.
class FailureLog {
public:
    static constexpr std::int64_t kIntervalNs = engine::LogLimiter::kIntervalNs;
    // True when the caller should log now; *count gets the failures of this reason
    // since the last line (this one included).
    bool should_log(Failure f, std::uint64_t* count) noexcept {
        const auto i = static_cast<std::size_t>(f);
        return i < kFailureKinds && reasons_[i].should_log(count);
    }

private:
    std::array<engine::LogLimiter, kFailureKinds> reasons_;
};

}  // namespace mmc::compat::seal

#endif
