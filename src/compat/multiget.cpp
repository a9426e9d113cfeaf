// Multi-get: keys grouped per server, every server asked at once, each key its own
// status.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "compat/facade.h"
#include "engine/multi_get.h"

using mmc::compat::guarded;
using mmc::compat::publish_status;
using mmc::compat::to_apr_status;

namespace {

// Both value types: apr_memcache_value_t (16-bit flags) and ap_memcache_item_t (32-bit
// flags and the CAS unique).
template <class Value>
struct Group {
    apr_memcache_server_t* ms;
    std::vector<std::string_view> keys;
    std::vector<Value*> values;
};

struct FillCtx {
    apr_hash_t* values;
    apr_pool_t* data_pool;
};

template <class Value>
void fill(void* vctx, const mmc::engine::ValueView& v) {
    auto& c = *static_cast<FillCtx*>(vctx);
    auto* value = static_cast<Value*>(
        apr_hash_get(c.values, v.key.data(), static_cast<apr_ssize_t>(v.key.size())));
    if (!value) return;  // not asked for: ignore rather than trust it
    value->data = mmc::compat::copy_value(c.data_pool, v.data);
    value->len = v.data.size();
    value->status = APR_SUCCESS;
    if constexpr (std::is_same_v<Value, ap_memcache_item_t>) {
        value->flags = v.flags;
        value->cas = v.cas;
    } else {
        value->flags = static_cast<apr_uint16_t>(v.flags);
    }
}

template <class Value>
apr_status_t multiget(apr_memcache_t* mc, apr_pool_t* temp_pool, apr_pool_t* data_pool,
                      apr_hash_t* values) {
    if (!mc || !temp_pool || !data_pool || !values) return APR_EINVAL;
    constexpr bool with_cas = std::is_same_v<Value, ap_memcache_item_t>;
    apr_status_t rv = guarded([&]() -> apr_status_t {
        std::vector<Group<Value>> groups;
        for (apr_hash_index_t* hi = apr_hash_first(temp_pool, values); hi; hi = apr_hash_next(hi)) {
            void* vp = nullptr;
            apr_hash_this(hi, nullptr, nullptr, &vp);
            auto* value = static_cast<Value*>(vp);
            std::string_view k;
            apr_memcache_server_t* ms = nullptr;
            value->status = mmc::compat::route(mc, value->key, k, ms);
            if (value->status != APR_SUCCESS) continue;
            value->status = APR_NOTFOUND;
            Group<Value>* g = nullptr;
            for (auto& candidate : groups) {
                if (candidate.ms == ms) g = &candidate;
            }
            if (!g) g = &groups.emplace_back(Group<Value>{ms, {}, {}});
            g->keys.push_back(k);
            g->values.push_back(value);
        }
        if (groups.empty()) return APR_SUCCESS;

        std::vector<mmc::engine::GetBatch> batches(groups.size());
        mmc::engine::Duration total = mmc::engine::Duration::zero();
        for (std::size_t i = 0; i < groups.size(); ++i) {
            batches[i].server = groups[i].ms->impl->server.get();
            batches[i].keys = groups[i].keys.data();
            batches[i].nkeys = groups[i].keys.size();
            batches[i].with_cas = with_cas;
            total = std::max(total, batches[i].server->options().timeouts.io);
        }
        FillCtx ctx{values, data_pool};
        mmc::engine::multi_get(batches.data(), batches.size(), total, fill<Value>, &ctx);

        for (std::size_t i = 0; i < groups.size(); ++i) {
            publish_status(groups[i].ms);
            if (batches[i].outcome.ok()) continue;
            apr_status_t err = to_apr_status(batches[i].outcome);
            for (Value* value : groups[i].values) {
                if (value->status != APR_SUCCESS) value->status = err;
            }
        }
        return APR_SUCCESS;
    });
    // apr-util clears temp_pool on the way out; callers may rely on that.
    apr_pool_clear(temp_pool);
    return rv;
}

template <class Value>
void add_key(apr_pool_t* data_pool, const char* key, apr_hash_t** values) {
    if (!data_pool || !key || !values) return;
    if (!*values) *values = apr_hash_make(data_pool);
    auto* value = static_cast<Value*>(apr_pcalloc(data_pool, sizeof(Value)));
    value->key = apr_pstrdup(data_pool, key);
    value->status = APR_NOTFOUND;
    apr_hash_set(*values, value->key, APR_HASH_KEY_STRING, value);
}

}  // namespace

extern "C" {

AP_MEMCACHE_DECLARE(void) ap_memcache_add_multget_key(apr_pool_t* data_pool, const char* key,
                                                      apr_hash_t** values) {
    add_key<apr_memcache_value_t>(data_pool, key, values);
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_multgetp(apr_memcache_t* mc, apr_pool_t* temp_pool,
                                                       apr_pool_t* data_pool, apr_hash_t* values) {
    return multiget<apr_memcache_value_t>(mc, temp_pool, data_pool, values);
}

AP_MEMCACHE_DECLARE(void) ap_memcache_add_multigets_key(apr_pool_t* data_pool, const char* key,
                                                        apr_hash_t** items) {
    add_key<ap_memcache_item_t>(data_pool, key, items);
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_multigets(apr_memcache_t* mc, apr_pool_t* temp_pool,
                                                        apr_pool_t* data_pool, apr_hash_t* items) {
    return multiget<ap_memcache_item_t>(mc, temp_pool, data_pool, items);
}

}  // extern "C"
