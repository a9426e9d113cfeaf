// The array multi-get (ap_memcache_multiget_array): the caller's keys in an array, the
// results in an array at the same indexes. Placement, batches, fan-out, deadline and
// per-key statuses are those of apr_memcache_multgetp (key_batches.h, the engine's
// multi_get); what differs is only where keys come from and where values go: no value
// hash built key by key and walked twice, and the values packed into a few blocks of
// the caller's pool instead of one allocation each.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory_resource>
#include <new>
#include <string_view>
#include <vector>

#include "compat/facade.h"
#include "compat/key_batches.h"
#include "compat/replicas.h"
#include "proto/key.h"

using mmc::compat::guarded;

namespace {

// Values of one call, copied one after the other into blocks taken from the caller's
// pool: a block is taken only when the open one is full, so a call costs a few pool
// allocations whatever its number of keys. Blocks double from 16 KiB up to 1 MiB; a
// value over half the next block's size gets an allocation of its own and leaves the
// open block to the smaller values after it.
class ValueArena {
public:
    explicit ValueArena(apr_pool_t* pool) noexcept : pool_(pool) {}

    // A NUL-terminated copy of data.
    char* copy(std::string_view data) {
        const std::size_t need = data.size() + 1;
        char* d;
        if (need <= static_cast<std::size_t>(end_ - next_)) {
            d = next_;
            next_ += need;
        } else {
            d = take(need);
        }
        if (!data.empty()) std::memcpy(d, data.data(), data.size());
        d[data.size()] = '\0';
        return d;
    }

private:
    static constexpr std::size_t kFirstBlock = 16 * 1024;
    static constexpr std::size_t kMaxBlock = 1024 * 1024;

    char* take(std::size_t need) {
        const std::size_t size = block_ ? std::min(block_ * 2, kMaxBlock) : kFirstBlock;
        if (need > size / 2) return alloc(need);
        char* block = alloc(size);
        block_ = size;
        next_ = block + need;
        end_ = block + size;
        return block;
    }
    char* alloc(std::size_t n) {
        auto* p = static_cast<char*>(apr_palloc(pool_, n));
        if (!p) throw std::bad_alloc();
        return p;
    }

    apr_pool_t* pool_;
    std::size_t block_ = 0;
    char* next_ = nullptr;
    char* end_ = nullptr;
};

struct Call {
    explicit Call(std::pmr::memory_resource* mr, ap_memcache_result_t* res, apr_pool_t* p, bool cas,
                  apr_memcache_t* sealer)
        : batches(mr), results(res), arena(p), with_cas(cas), sealed_by(sealer), pool(p) {}
    mmc::compat::KeyBatches batches;
    ap_memcache_result_t* results;
    ValueArena arena;
    // The binary protocol always returns the CAS unique; it is given only when asked
    // for, so that results do not depend on the protocol.
    bool with_cas;
    // A sealed client's values are opened into the caller's pool (a value that does not
    // open stays a miss), as multgetp does.
    apr_memcache_t* sealed_by;
    apr_pool_t* pool;

    // For run_batches (key_batches.h).
    const mmc::compat::KeyBatches& key_batches() const noexcept { return batches; }
    mmc::compat::KeyBatches& mutable_batches() noexcept { return batches; }
    apr_status_t& status_of(std::uint32_t owner) const noexcept { return results[owner].status; }
};

void fill(void* vctx, std::size_t batch, std::size_t key, const mmc::engine::ValueView& v) {
    auto& c = *static_cast<Call*>(vctx);
    const std::size_t at = c.batches.first[batch] + key;
    ap_memcache_result_t& r = c.results[c.batches.owner[at]];
    if (c.sealed_by) {
        std::size_t len = 0;
        char* plain = mmc::compat::unseal_value(c.sealed_by, *c.batches.servers[batch]->impl->server, c.pool,
                                                c.batches.keys[at], v, len);
        if (!plain) return;
        r.data = plain;
        r.len = len;
    } else {
        r.data = c.arena.copy(v.data);
        r.len = v.data.size();
    }
    r.flags = v.flags;
    r.cas = c.with_cas ? v.cas : 0;
    r.status = APR_SUCCESS;
}

}  // namespace

extern "C" {

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_multiget_array(apr_memcache_t* mc,
                                                             apr_pool_t* data_pool,
                                                             const ap_memcache_key_t* keys,
                                                             apr_size_t nkeys,
                                                             ap_memcache_result_t* results,
                                                             apr_uint32_t options) {
    if (!mc || !data_pool || (nkeys > 0 && (!keys || !results)) ||
        (options & ~static_cast<apr_uint32_t>(AP_MEMCACHE_MULTIGET_CAS)) != 0 ||
        nkeys >= UINT32_MAX) {
        return APR_EINVAL;
    }
    if (nkeys == 0) return APR_SUCCESS;
    return guarded([&]() -> apr_status_t {
        mmc::compat::CallArena lists;
        // Valid keys in the order given, and where each came from.
        std::pmr::vector<std::string_view> valid(lists.resource());
        std::pmr::vector<std::uint32_t> index(lists.resource());
        valid.reserve(nkeys);
        index.reserve(nkeys);
        for (apr_size_t i = 0; i < nkeys; ++i) {
            ap_memcache_result_t& r = results[i];
            r.data = nullptr;
            r.len = 0;
            r.flags = 0;
            r.cas = 0;
            const std::string_view k = keys[i].key ? std::string_view(keys[i].key, keys[i].len)
                                                   : std::string_view();
            if (!mmc::proto::valid_key(k)) {
                r.status = APR_EINVAL;
                continue;
            }
            r.status = APR_NOTFOUND;
            valid.push_back(k);
            index.push_back(static_cast<std::uint32_t>(i));
        }
        std::pmr::vector<apr_memcache_server_t*> where(valid.size(), lists.resource());
        std::pmr::vector<std::uint8_t> pos(lists.resource());
        if (mc->replicas) {
            pos.resize(valid.size());
            mmc::compat::place_first_usable(mc, valid.data(), valid.size(), where.data(), pos.data());
        } else {
            mmc::compat::place_keys(mc, valid.data(), valid.size(), where.data());
        }

        const bool with_cas = (options & AP_MEMCACHE_MULTIGET_CAS) != 0;
        Call call(lists.resource(), results, data_pool, with_cas, mmc::compat::keyring_of(mc) ? mc : nullptr);
        mmc::compat::group_by_server(valid.data(), where.data(), valid.size(), call.batches,
                                     [&](std::size_t i) {
                                         results[index[i]].status = AP_MEMCACHE_ENOSERVER;
                                     });
        if (call.batches.keys.size() != valid.size()) {
            mmc::compat::count_unplaced(mc, valid.data(), where.data(), valid.size());
        }
        // Batches name keys by their place among the valid ones; results want the
        // caller's index (the same when every key was valid).
        if (valid.size() != nkeys) {
            for (std::uint32_t& o : call.batches.owner) o = index[o];
        }
        const auto start = mc->replicas ? mmc::engine::Clock::now() : mmc::engine::Clock::time_point{};
        mmc::compat::run_batches(with_cas, fill, call);
        if (mc->replicas) {
            mmc::compat::replica_rounds(mc, with_cas, fill, call, valid.data(), index.data(), valid.size(),
                                        pos.data(), start);
        }
        return APR_SUCCESS;
    });
}

}  // extern "C"
