// Multi-get: keys grouped per server, every server asked at once, each key its own
// status.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory_resource>
#include <new>
#include <type_traits>
#include <vector>

#include "apr_general.h"
#include "apr_time.h"
#include "compat/facade.h"
#include "compat/key_batches.h"
#include "compat/replicas.h"
#include "engine/multi_get.h"
#include "proto/key.h"

using mmc::compat::guarded;
using mmc::compat::publish_status;
using mmc::compat::to_apr_status;

namespace {

// Both value types: apr_memcache_value_t (16-bit flags) and ap_memcache_item_t (32-bit
// flags and the CAS unique).

// The keys of one call, laid out server by server (key_batches.h), and the caller's
// values in the order the keys were met.
template <class Value>
struct Plan {
    explicit Plan(std::pmr::memory_resource* mr) : batches(mr), values(mr), keys(mr), pos(mr) {}
    mmc::compat::KeyBatches batches;
    std::pmr::vector<Value*> values;
    // Under replicas only: the keys sent, in the order of values, and the place among
    // its servers of the one each was sent to (replicas.h).
    std::pmr::vector<std::string_view> keys;
    std::pmr::vector<std::uint8_t> pos;
};

template <class Value>
struct FillCtx {
    Plan<Value>* plan;
    apr_pool_t* data_pool;
    apr_memcache_t* sealed_by;  // the client when it seals, else nullptr

    // For run_batches (key_batches.h).
    const mmc::compat::KeyBatches& key_batches() const noexcept { return plan->batches; }
    mmc::compat::KeyBatches& mutable_batches() const noexcept { return plan->batches; }
    apr_status_t& status_of(std::uint32_t owner) const noexcept { return plan->values[owner]->status; }
};

template <class Value>
void fill(void* vctx, std::size_t batch, std::size_t key, const mmc::engine::ValueView& v) {
    auto& c = *static_cast<FillCtx<Value>*>(vctx);
    const auto& kb = c.plan->batches;
    const std::size_t at = kb.first[batch] + key;
    Value* value = c.plan->values[kb.owner[at]];
    if (c.sealed_by) {
        // A value that does not open stays a miss (its status is APR_NOTFOUND already).
        std::size_t len = 0;
        char* plain = mmc::compat::unseal_value(c.sealed_by, *kb.servers[batch]->impl->server,
                                                c.data_pool, kb.keys[at], v, len);
        if (!plain) return;
        value->data = plain;
        value->len = len;
    } else {
        value->data = mmc::compat::copy_value(c.data_pool, v.data);
        value->len = v.data.size();
    }
    value->status = APR_SUCCESS;
    if constexpr (std::is_same_v<Value, ap_memcache_item_t>) {
        value->flags = v.flags;
        value->cas = v.cas;
    } else {
        value->flags = static_cast<apr_uint16_t>(v.flags);
    }
}

// Checks and places every key of `values` and groups them per server. Keys that cannot
// be sent get their status here and are left out.
template <class Value>
void plan_keys(apr_memcache_t* mc, apr_pool_t* temp_pool, apr_hash_t* values, Plan<Value>& plan) {
    const std::size_t count = apr_hash_count(values);
    std::pmr::vector<std::string_view> keys(plan.batches.resource());
    std::pmr::vector<Value*> vals(plan.batches.resource());
    keys.reserve(count);
    vals.reserve(count);
    for (apr_hash_index_t* hi = apr_hash_first(temp_pool, values); hi; hi = apr_hash_next(hi)) {
        const void* hkey = nullptr;
        apr_ssize_t hlen = 0;
        void* v = nullptr;
        apr_hash_this(hi, &hkey, &hlen, &v);
        auto* value = static_cast<Value*>(v);
        // As apr-util, the request asks for value->key; add_multget_key makes it the hash
        // key too, whose length the hash already knows.
        std::string_view k;
        if (value->key == hkey) {
            k = std::string_view(value->key, static_cast<std::size_t>(hlen));
        } else if (value->key) {
            k = std::string_view(value->key);
        }
        if (!mmc::proto::valid_key(k)) {
            value->status = APR_EINVAL;
            continue;
        }
        keys.push_back(k);
        vals.push_back(value);
    }
    std::pmr::vector<apr_memcache_server_t*> where(keys.size(), plan.batches.resource());
    if (mc->replicas) {
        plan.pos.resize(keys.size());
        mmc::compat::place_first_usable(mc, keys.data(), keys.size(), where.data(), plan.pos.data());
    } else {
        mmc::compat::place_keys(mc, keys.data(), keys.size(), where.data());
    }
    for (Value* v : vals) v->status = APR_NOTFOUND;
    mmc::compat::group_by_server(keys.data(), where.data(), keys.size(), plan.batches,
                                 [&](std::size_t i) { vals[i]->status = AP_MEMCACHE_ENOSERVER; });
    if (plan.batches.keys.size() != keys.size()) {
        mmc::compat::count_unplaced(mc, keys.data(), where.data(), keys.size());
    }
    plan.values = std::move(vals);
    if (mc->replicas) plan.keys = std::move(keys);
}

template <class Value>
apr_status_t multi_get(apr_memcache_t* mc, apr_pool_t* temp_pool, apr_pool_t* data_pool,
                      apr_hash_t* values) {
    if (!mc || !temp_pool || !data_pool || !values) return APR_EINVAL;
    constexpr bool with_cas = std::is_same_v<Value, ap_memcache_item_t>;
    apr_status_t rv = guarded([&]() -> apr_status_t {
        mmc::compat::CallArena lists;
        Plan<Value> plan(lists.resource());
        plan_keys(mc, temp_pool, values, plan);
        FillCtx<Value> ctx{&plan, data_pool, mmc::compat::keyring_of(mc) ? mc : nullptr};
        const auto start = mc->replicas ? mmc::engine::Clock::now() : mmc::engine::Clock::time_point{};
        mmc::compat::run_batches(with_cas, fill<Value>, ctx);
        if (mc->replicas && !plan.keys.empty()) {
            std::pmr::vector<std::uint32_t> owner(plan.keys.size(), lists.resource());
            for (std::size_t i = 0; i < owner.size(); ++i) owner[i] = static_cast<std::uint32_t>(i);
            mmc::compat::replica_rounds(mc, with_cas, fill<Value>, ctx, plan.keys.data(), owner.data(),
                                        plan.keys.size(), plan.pos.data(), start);
        }
        return APR_SUCCESS;
    });
    // apr-util clears temp_pool on the way out; callers may rely on that.
    apr_pool_clear(temp_pool);
    return rv;
}

// The hash function of the value hashes add_multget_key creates. APR's default walks a
// key a byte at a time (about 10 instructions a byte); this one takes eight bytes at a
// time. It is seeded once per process, as APR seeds its own per table, so that keys
// chosen to collide cannot be prepared in advance. Lookups, apr_hash_merge and
// apr_hash_overlay all go through the table's own function, so callers see no
// difference.
std::uint64_t hash_seed() noexcept {
    std::uint64_t seed = 0;
    if (apr_generate_random_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof seed) != APR_SUCCESS) {
        seed = static_cast<std::uint64_t>(apr_time_now()) ^ reinterpret_cast<std::uintptr_t>(&seed);
    }
    return seed;
}

const std::uint64_t kHashSeed = hash_seed();

unsigned int value_key_hash(const char* key, apr_ssize_t* klen) {
    if (*klen == APR_HASH_KEY_STRING) *klen = static_cast<apr_ssize_t>(std::strlen(key));
    const std::size_t n = static_cast<std::size_t>(*klen);
    constexpr std::uint64_t kMul = 0x9e3779b97f4a7c15ULL;
    std::uint64_t h = kHashSeed ^ (n * kMul);
    // A multiply carries each word's bits upwards only; the shifts at the end bring the
    // high bits down to the low ones apr_hash picks its bucket with.
    const auto mix = [&h](std::uint64_t w) { h = (h ^ w) * kMul; };
    const auto load8 = [](const char* p) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        return w;
    };
    const auto load4 = [](const char* p) {
        std::uint32_t w;
        std::memcpy(&w, p, 4);
        return std::uint64_t{w};
    };
    // Whole words, then the last eight bytes (overlapping the words before them): the
    // length is already in the seed, so the overlap cannot make two keys collide.
    if (n >= 8) {
        std::size_t i = 0;
        for (; i + 8 < n; i += 8) mix(load8(key + i));
        mix(load8(key + n - 8));
    } else if (n >= 4) {
        mix(load4(key) | (load4(key + n - 4) << 32));
    } else if (n > 0) {
        mix(std::uint64_t{static_cast<unsigned char>(key[0])} |
            (std::uint64_t{static_cast<unsigned char>(key[n / 2])} << 8) |
            (std::uint64_t{static_cast<unsigned char>(key[n - 1])} << 16));
    }
    h ^= h >> 32;
    h *= kMul;
    return static_cast<unsigned int>(h ^ (h >> 29));
}

template <class Value>
void add_key(apr_pool_t* data_pool, const char* key, apr_hash_t** values) {
    if (!data_pool || !key || !values) return;
    if (!*values) *values = apr_hash_make_custom(data_pool, value_key_hash);
    const std::size_t len = std::strlen(key);
    // The value and its copy of the key in one allocation.
    static_assert(sizeof(Value) % alignof(Value) == 0);
    void* mem = apr_palloc(data_pool, sizeof(Value) + len + 1);
    auto* value = new (mem) Value{};
    char* copy = static_cast<char*>(mem) + sizeof(Value);
    std::memcpy(copy, key, len + 1);
    value->key = copy;
    value->status = APR_NOTFOUND;
    apr_hash_set(*values, copy, static_cast<apr_ssize_t>(len), value);
}

}  // namespace

extern "C" {

AP_MEMCACHE_DECLARE(void) ap_memcache_add_multget_key(apr_pool_t* data_pool, const char* key,
                                                      apr_hash_t** values) {
    add_key<apr_memcache_value_t>(data_pool, key, values);
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_multgetp(apr_memcache_t* mc, apr_pool_t* temp_pool,
                                                       apr_pool_t* data_pool, apr_hash_t* values) {
    return multi_get<apr_memcache_value_t>(mc, temp_pool, data_pool, values);
}

AP_MEMCACHE_DECLARE(void) ap_memcache_add_multigets_key(apr_pool_t* data_pool, const char* key,
                                                        apr_hash_t** items) {
    add_key<ap_memcache_item_t>(data_pool, key, items);
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_multigets(apr_memcache_t* mc, apr_pool_t* temp_pool,
                                                        apr_pool_t* data_pool, apr_hash_t* items) {
    return multi_get<ap_memcache_item_t>(mc, temp_pool, data_pool, items);
}

}  // extern "C"
