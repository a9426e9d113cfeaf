#include "engine/openssl_api.h"

#include <dlfcn.h>

#include <mutex>

namespace mmc::engine::openssl {

Crypto libcrypto;
Ssl libssl;

namespace {

#define MMC_STRINGIFY2(x) #x
#define MMC_STRINGIFY(x) MMC_STRINGIFY2(x)

// The tables take functions that first came with OpenSSL 3.0 (EVP_CIPHER_fetch,
// EVP_CipherInit_ex2): 3.0 is the floor, here, in CMake and in the packages' Depends.
// OpenSSL 3 keeps one soname per major version.
#if !defined(OPENSSL_VERSION_MAJOR) || OPENSSL_VERSION_MAJOR < 3
#error "OpenSSL 3.0 or later is needed (libssl-dev 3.x)"
#endif
constexpr const char kCryptoSoname[] = "libcrypto.so." MMC_STRINGIFY(OPENSSL_VERSION_MAJOR);
constexpr const char kSslSoname[] = "libssl.so." MMC_STRINGIFY(OPENSSL_VERSION_MAJOR);
constexpr const char kWanted[] = "OpenSSL 3.0 or later";

// dlerror()'s text; it starts with the soname when the file is missing, which the
// caller's message already names.
std::string dl_reason(const char* soname) {
    const char* e = ::dlerror();
    std::string reason = e ? e : "unknown reason";
    const std::string prefix = std::string(soname) + ": ";
    if (reason.compare(0, prefix.size(), prefix) == 0) reason.erase(0, prefix.size());
    return reason;
}

// Opens the library and resolves every name of the list into `fresh`; the caller's
// table is written only when all were found. The handle is kept open on success (and
// never closed: the functions stay in use for the life of the process).
template <typename Table, typename Resolve>
bool load_table(const char* soname, Table& table, std::string& error, Resolve resolve) {
    ::dlerror();
    void* handle = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        error = std::string("cannot load ") + soname + " (" + kWanted + "): " + dl_reason(soname);
        return false;
    }
    Table fresh;
    const char* missing = resolve(handle, fresh);
    if (missing) {
        error = std::string("cannot load ") + soname + " (" + kWanted + "): " + dl_reason(soname);
        if (error.find(missing) == std::string::npos) error += std::string(" (") + missing + ")";
        ::dlclose(handle);
        return false;
    }
    table = fresh;
    return true;
}

// Each resolver returns the first name it could not find, nullptr when it found all.
#define MMC_OPENSSL_RESOLVE(name)                                        \
    {                                                                    \
        void* sym = ::dlsym(handle, #name);                              \
        if (!sym) return #name;                                          \
        t.name = reinterpret_cast<decltype(t.name)>(sym);                \
    }

const char* resolve_crypto(void* handle, Crypto& t) {
    MMC_OPENSSL_CRYPTO_FUNCTIONS(MMC_OPENSSL_RESOLVE)
    return nullptr;
}

const char* resolve_ssl(void* handle, Ssl& t) {
    MMC_OPENSSL_SSL_FUNCTIONS(MMC_OPENSSL_RESOLVE)
    return nullptr;
}

#undef MMC_OPENSSL_RESOLVE

struct Outcome {
    std::once_flag once;
    bool ok = false;
    std::string error;
};

Outcome crypto_outcome;
Outcome ssl_outcome;

}  // namespace

const char* crypto_soname() noexcept { return kCryptoSoname; }
const char* ssl_soname() noexcept { return kSslSoname; }
const char* wanted() noexcept { return kWanted; }

bool load_crypto_from(const char* soname, Crypto& table, std::string& error) {
    return load_table(soname, table, error, resolve_crypto);
}

bool load_ssl_from(const char* soname, Ssl& table, std::string& error) {
    return load_table(soname, table, error, resolve_ssl);
}

bool load_crypto(std::string& error) {
    // A failure is kept as well: the library will not appear later in this process.
    std::call_once(crypto_outcome.once, [] {
        crypto_outcome.ok = load_crypto_from(kCryptoSoname, libcrypto, crypto_outcome.error);
    });
    if (!crypto_outcome.ok) error = crypto_outcome.error;
    return crypto_outcome.ok;
}

bool load_ssl(std::string& error) {
    if (!load_crypto(error)) return false;
    std::call_once(ssl_outcome.once, [] {
        ssl_outcome.ok = load_ssl_from(kSslSoname, libssl, ssl_outcome.error);
    });
    if (!ssl_outcome.ok) error = ssl_outcome.error;
    return ssl_outcome.ok;
}

}  // namespace mmc::engine::openssl
