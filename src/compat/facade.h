// Shared pieces of the apr_memcache-compatible facade: the engine object behind each
// apr_memcache_server_t, the one mapping from engine outcomes to apr_status_t, and the
// guard that keeps C++ exceptions from crossing into C callers.
#ifndef MMC_COMPAT_FACADE_H
#define MMC_COMPAT_FACADE_H

#include <cstring>
#include <memory>
#include <string_view>
#include <new>

#include "engine/outcome.h"
#include "engine/server.h"
#include "ap_memcache.h"

struct ap_memcache_server_impl {
    std::unique_ptr<mmc::engine::Server> server;
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

// Checks the key and picks its server (the caller's hash and server hooks honoured):
// APR_SUCCESS with *ms and the key as a view, else APR_EINVAL (bad key, nothing sent)
// or AP_MEMCACHE_ENOSERVER.
apr_status_t route(apr_memcache_t* mc, const char* key, std::string_view& k,
                   apr_memcache_server_t*& ms);

// Copies a value into pool memory, NUL-terminated as apr-util's are.
inline char* copy_value(apr_pool_t* p, std::string_view data) {
    char* d = static_cast<char*>(apr_palloc(p, data.size() + 1));
    if (!data.empty()) std::memcpy(d, data.data(), data.size());
    d[data.size()] = '\0';
    return d;
}

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
// run_on does.
template <class Op>
apr_status_t on_owner(apr_memcache_t* mc, const char* key, Op&& op) {
    std::string_view k;
    apr_memcache_server_t* ms = nullptr;
    if (apr_status_t rv = route(mc, key, k, ms)) return rv;
    return run_on(ms, [&](engine::Server& s) { return op(s, k); });
}

}  // namespace mmc::compat

#endif
