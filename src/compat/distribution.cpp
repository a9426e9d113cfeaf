// Key placement: apr-util's modula is the built-in default (hash_func and server_func
// unset); ketama is installed through the same two hooks apr_memcache offers to
// applications, so code that reads or replaces them keeps working.
#include <algorithm>
#include <memory>
#include <vector>

#include "compat/facade.h"
#include "engine/ketama.h"

using mmc::compat::engine_of;
using mmc::compat::publish_status;
using mmc::engine::KetamaRing;

namespace mmc::compat {

namespace {

apr_status_t destroy_ring(void* data) {
    std::unique_ptr<KetamaRing> ring(static_cast<KetamaRing*>(data));
    return APR_SUCCESS;
}

apr_uint32_t ketama_hash(void*, const char* data, const apr_size_t len) {
    return engine::ketama_key_hash(std::string_view(data, len));
}

apr_memcache_server_t* ketama_server(void* baton, apr_memcache_t* mc, const apr_uint32_t hash) {
    const auto* ring = static_cast<const KetamaRing*>(baton);
    std::size_t i = ring->server_for_hash(hash, [mc](std::size_t index) {
        apr_memcache_server_t* ms = mc->live_servers[index];
        bool usable = engine_of(ms).usable();
        publish_status(ms);
        return usable;
    });
    return i == KetamaRing::npos ? nullptr : mc->live_servers[i];
}

// Ketama placement of many keys: hashed a batch at a time, each server's health
// asked once (a dead server that is due for a probe is claimed once, and this call's
// keys for it probe it together).
void place_ketama(apr_memcache_t* mc, const std::string_view* keys, std::size_t n,
                  apr_memcache_server_t** out) {
    const auto* ring = static_cast<const KetamaRing*>(mc->server_baton);
    enum : signed char { unknown = -1, no = 0, yes = 1 };
    std::vector<signed char> usable(mc->ntotal, unknown);
    const auto is_usable = [mc, &usable](std::size_t index) {
        if (usable[index] == unknown) {
            apr_memcache_server_t* ms = mc->live_servers[index];
            usable[index] = engine_of(ms).usable() ? yes : no;
            publish_status(ms);
        }
        return usable[index] == yes;
    };
    constexpr std::size_t kBatch = 64;
    std::uint32_t hashes[kBatch];
    for (std::size_t first = 0; first < n; first += kBatch) {
        const std::size_t m = std::min(kBatch, n - first);
        engine::ketama_key_hashes(keys + first, m, hashes);
        for (std::size_t i = 0; i < m; ++i) {
            const std::size_t s = ring->server_for_hash(hashes[i], is_usable);
            out[first + i] = s == KetamaRing::npos ? nullptr : mc->live_servers[s];
        }
    }
}

}  // namespace

bool uses_ketama(const apr_memcache_t* mc) noexcept { return mc->server_func == ketama_server; }

void place_keys(apr_memcache_t* mc, const std::string_view* keys, std::size_t n,
                apr_memcache_server_t** out) {
    if (n == 0) return;
    if (mc->ntotal == 1 && (!mc->server_func || uses_ketama(mc))) {
        // One server: modula and ketama both place every key on it, so hashing the keys
        // (MD5 under ketama) would decide nothing. A server_func of the application's
        // own still gets its hashes.
        apr_memcache_server_t* ms = mc->live_servers[0];
        const bool usable = engine_of(ms).usable();
        publish_status(ms);
        std::fill(out, out + n, usable ? ms : nullptr);
        return;
    }
    if (n > 1 && mc->hash_func == ketama_hash && uses_ketama(mc)) {
        place_ketama(mc, keys, n, out);
        return;
    }
    for (std::size_t i = 0; i < n; ++i) {
        out[i] = ap_memcache_find_server_hash(mc, ap_memcache_hash(mc, keys[i].data(), keys[i].size()));
    }
}

std::size_t primary_index(apr_memcache_t* mc, std::string_view key) {
    if (mc->ntotal == 1) return 0;
    const apr_uint32_t hash = ap_memcache_hash(mc, key.data(), key.size());
    if (uses_ketama(mc)) {
        // The key's own point on the ring, its server dead or not (no failover walk).
        const auto* ring = static_cast<const KetamaRing*>(mc->server_baton);
        const std::size_t i = ring->server_for_hash(hash, [](std::size_t) { return true; });
        return i == KetamaRing::npos ? kNoPrimary : i;
    }
    if (!mc->server_func) return (hash ? hash : 1) % mc->ntotal;  // apr-util's start
    // The application's own choice: its server, wherever it is in the list.
    apr_memcache_server_t* ms = mc->server_func(mc->server_baton, mc, hash);
    for (apr_uint16_t i = 0; i < mc->ntotal; ++i) {
        if (mc->live_servers[i] == ms) return i;
    }
    return kNoPrimary;
}

apr_status_t no_server(apr_memcache_t* mc, std::string_view key, engine::MetricOp op) noexcept {
    if (mc && mc->ntotal > 0) {
        const std::size_t i = primary_index(mc, key);
        if (i < mc->ntotal && mc->live_servers[i] && mc->live_servers[i]->impl) {
            engine_of(mc->live_servers[i]).metrics().common().count(op, engine::Result::no_server);
        }
    }
    return AP_MEMCACHE_ENOSERVER;
}

void count_unplaced(apr_memcache_t* mc, const std::string_view* keys, apr_memcache_server_t* const* where,
                    std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) {
        if (!where[i] || !where[i]->impl) no_server(mc, keys[i], engine::MetricOp::multiget_key);
    }
}

apr_status_t build_ketama(apr_memcache_t* mc) {
    std::vector<engine::KetamaServer> servers;
    servers.reserve(mc->ntotal);
    for (apr_uint16_t i = 0; i < mc->ntotal; ++i) {
        const auto& opt = engine_of(mc->live_servers[i]).options();
        servers.push_back({engine::ketama_name(opt.endpoint), opt.weight});
    }
    auto ring = std::make_unique<KetamaRing>(servers);
    if (uses_ketama(mc) && mc->server_baton) {
        // Replacing the ring: free the old one now rather than with the pool.
        apr_pool_cleanup_run(mc->p, mc->server_baton, destroy_ring);
    }
    mc->server_baton = ring.release();
    apr_pool_cleanup_register(mc->p, mc->server_baton, destroy_ring, apr_pool_cleanup_null);
    mc->server_func = ketama_server;
    mc->hash_baton = nullptr;
    mc->hash_func = ketama_hash;
    return APR_SUCCESS;
}

}  // namespace mmc::compat

extern "C" AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_set_distribution(apr_memcache_t* mc,
                                                                     ap_memcache_distribution_e d) {
    if (!mc) return APR_EINVAL;
    switch (d) {
        case AP_MEMCACHE_DIST_MODULA:
            if (mmc::compat::uses_ketama(mc) && mc->server_baton) {
                apr_pool_cleanup_run(mc->p, mc->server_baton, mmc::compat::destroy_ring);
            }
            mc->hash_func = nullptr;
            mc->hash_baton = nullptr;
            mc->server_func = nullptr;
            mc->server_baton = nullptr;
            return APR_SUCCESS;
        case AP_MEMCACHE_DIST_KETAMA:
            return mmc::compat::guarded([&] { return mmc::compat::build_ketama(mc); });
    }
    return APR_EINVAL;
}
