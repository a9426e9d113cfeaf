// Shared pieces of the apr_memcache-compatible facade: the engine object behind each
// apr_memcache_server_t, the one mapping from engine outcomes to apr_status_t, and the
// guard that keeps C++ exceptions from crossing into C callers.
#ifndef MMC_COMPAT_FACADE_H
#define MMC_COMPAT_FACADE_H

#include <cstring>
#include <memory>
#include <string_view>
#include <new>

#include "compat/seal.h"
#include "engine/outcome.h"
#include "engine/requests.h"
#include "engine/server.h"
#include "ap_memcache.h"

struct ap_memcache_server_impl {
    std::unique_ptr<mmc::engine::Server> server;
};

// What ap_memcache_set_seal attaches to a client: the keys and the limiter of the log
// lines about refused values. Shared by every client it is attached to.
struct ap_memcache_seal_t {
    std::unique_ptr<mmc::compat::seal::Keyring> ring;
    mmc::compat::seal::FailureLog failures;
};

namespace mmc::compat {

// The only place engine outcomes become APR status codes.
apr_status_t to_apr_status(const engine::Outcome& outcome) noexcept;

inline engine::Server& engine_of(apr_memcache_server_t* ms) noexcept { return *ms->impl->server; }

// Mirrors the engine's health into the public fields consumers read (ms->status,
// ms->btime). Atomic stores: several threads may do this at once.
void publish_status(apr_memcache_server_t* ms) noexcept;

// Ketama placement (distribution.cpp): whether mc uses it, and (re)building its ring
// from mc's servers.
bool uses_ketama(const apr_memcache_t* mc) noexcept;
apr_status_t build_ketama(apr_memcache_t* mc);

// Picks the server of each of n keys that passed valid_key(): out[i] for keys[i], or
// nullptr when no server is usable for it. The caller's hash and server hooks are
// honoured; under our own ketama the keys are hashed several at a time and each server's
// health is checked once per call. With one server nothing is hashed: every placement
// gives that server (as libmemcached does). Allocates only for n > 1.
void place_keys(apr_memcache_t* mc, const std::string_view* keys, std::size_t n,
                apr_memcache_server_t** out);

// The index in mc->live_servers of key's primary: where the distribution places it on
// the full list, dead servers included (no failover). kNoPrimary when the application's
// server_func names none.
inline constexpr std::size_t kNoPrimary = static_cast<std::size_t>(-1);
std::size_t primary_index(apr_memcache_t* mc, std::string_view key);

// A call of kind `op` on key that ends with no server (every server that could take it
// is dead): counted on key's primary (primary_index: the server the key maps to on the
// full configured list) as an error of class no_server, and AP_MEMCACHE_ENOSERVER
// returned. Nothing is counted when no primary is known (an application's server_func
// that names none). Only the failure paths call it.
[[gnu::cold, gnu::noinline]] apr_status_t no_server(apr_memcache_t* mc, std::string_view key,
                                                    engine::MetricOp op) noexcept;
// no_server() for each key of a multi-get that placement left without a server
// (where[i] null, or a server without an engine): a multi-get key. Called only when a
// call left keys out.
[[gnu::cold, gnu::noinline]] void count_unplaced(apr_memcache_t* mc, const std::string_view* keys,
                                                 apr_memcache_server_t* const* where, std::size_t n) noexcept;

// Checks the key and picks its server (the caller's hash and server hooks honoured):
// APR_SUCCESS with *ms and the key as a view, else APR_EINVAL (bad key, nothing sent)
// or AP_MEMCACHE_ENOSERVER (counted as no_server() does, for a call of kind `op`).
apr_status_t route(apr_memcache_t* mc, const char* key, std::string_view& k,
                   apr_memcache_server_t*& ms, engine::MetricOp op);

// Copies a value into pool memory, NUL-terminated as apr-util's are.
inline char* copy_value(apr_pool_t* p, std::string_view data) {
    char* d = static_cast<char*>(apr_palloc(p, data.size() + 1));
    if (!data.empty()) std::memcpy(d, data.data(), data.size());
    d[data.size()] = '\0';
    return d;
}

// Sealed values (seal_api.cpp). The key ring of mc, or nullptr when it does not seal.
inline const seal::Keyring* keyring_of(const apr_memcache_t* mc) noexcept {
    return mc && mc->seal ? mc->seal->ring.get() : nullptr;
}

// An envelope being built for a store: small ones on the stack, larger ones on the
// heap; freed when the call returns.
class SealedValue {
public:
    SealedValue() = default;
    SealedValue(const SealedValue&) = delete;  // data_ may point into this object
    SealedValue& operator=(const SealedValue&) = delete;
    std::string_view view() const noexcept { return {reinterpret_cast<const char*>(data_), size_}; }
    // Seals plain for key into this; APR_EGENERAL when OpenSSL fails.
    apr_status_t seal(const seal::Keyring& ring, std::string_view key, std::uint32_t flags,
                      std::string_view plain);

private:
    unsigned char inline_[1024];
    std::unique_ptr<unsigned char[]> heap_;
    unsigned char* data_ = inline_;
    std::size_t size_ = 0;
};

// Opens a value that server `from` returned for key into pool memory (NUL-terminated,
// as copy_value). nullptr when it does not authenticate: the caller reports a miss; the
// refusal is logged through the server's logger, rate-limited (seal::FailureLog).
char* unseal_value(apr_memcache_t* mc, engine::Server& from, apr_pool_t* p, std::string_view key,
                   const engine::ValueView& v, std::size_t& len);

// Runs f, turning an escaping exception into an APR status: nothing may unwind into C.
template <class F>
apr_status_t guarded(F&& f) noexcept {
    try {
        return f();
    } catch (const std::bad_alloc&) {
        return APR_ENOMEM;
    } catch (...) {
        return APR_EGENERAL;
    }
}

// Runs op(server) on ms and publishes the server's health afterwards.
template <class Op>
apr_status_t run_on(apr_memcache_server_t* ms, Op&& op) {
    return guarded([&] {
        engine::Outcome o = op(*ms->impl->server);
        publish_status(ms);
        return to_apr_status(o);
    });
}

// Runs op(server, key) on the server that owns key (checked with valid_key()), as
// run_on does. `kind`: the call's kind in the metrics, for a call with no server.
template <class Op>
apr_status_t on_owner(apr_memcache_t* mc, const char* key, engine::MetricOp kind, Op&& op) {
    std::string_view k;
    apr_memcache_server_t* ms = nullptr;
    if (apr_status_t rv = route(mc, key, k, ms, kind)) return rv;
    return run_on(ms, [&](engine::Server& s) { return op(s, k); });
}

}  // namespace mmc::compat

#endif
