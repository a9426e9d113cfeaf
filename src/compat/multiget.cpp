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

// The keys of one call, laid out server by server: batch i's keys are keys[first[i] ..
// first[i + 1]), and values[] holds the caller's value for each key at the same place,
// so a reply is matched to its value by position (no lookup by key).
template <class Value>
struct Plan {
    std::vector<apr_memcache_server_t*> servers;
    std::vector<std::size_t> first;
    std::vector<std::string_view> keys;
    std::vector<Value*> values;
};

template <class Value>
struct FillCtx {
    const Plan<Value>* plan;
    apr_pool_t* data_pool;
};

template <class Value>
void fill(void* vctx, std::size_t batch, std::size_t key, const mmc::engine::ValueView& v) {
    auto& c = *static_cast<FillCtx<Value>*>(vctx);
    Value* value = c.plan->values[c.plan->first[batch] + key];
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

// Routes every key of `values` and groups them per server. Keys that cannot be routed
// get their status here and are left out.
template <class Value>
void plan_keys(apr_memcache_t* mc, apr_pool_t* temp_pool, apr_hash_t* values, Plan<Value>& plan) {
    struct Routed {
        std::size_t server;
        std::string_view key;
        Value* value;
    };
    std::vector<Routed> routed;
    routed.reserve(apr_hash_count(values));
    for (apr_hash_index_t* hi = apr_hash_first(temp_pool, values); hi; hi = apr_hash_next(hi)) {
        auto* value = static_cast<Value*>(apr_hash_this_val(hi));
        std::string_view k;
        apr_memcache_server_t* ms = nullptr;
        value->status = mmc::compat::route(mc, value->key, k, ms);
        if (value->status != APR_SUCCESS) continue;
        value->status = APR_NOTFOUND;
        std::size_t s = 0;
        while (s < plan.servers.size() && plan.servers[s] != ms) ++s;
        if (s == plan.servers.size()) plan.servers.push_back(ms);
        routed.push_back(Routed{s, k, value});
    }
    // Counting sort by server, keeping each server's keys in the order met.
    plan.first.assign(plan.servers.size() + 1, 0);
    for (const Routed& r : routed) ++plan.first[r.server + 1];
    for (std::size_t s = 1; s < plan.first.size(); ++s) plan.first[s] += plan.first[s - 1];
    std::vector<std::size_t> next(plan.first.begin(), plan.first.end() - 1);
    plan.keys.resize(routed.size());
    plan.values.resize(routed.size());
    for (const Routed& r : routed) {
        const std::size_t at = next[r.server]++;
        plan.keys[at] = r.key;
        plan.values[at] = r.value;
    }
}

template <class Value>
apr_status_t multiget(apr_memcache_t* mc, apr_pool_t* temp_pool, apr_pool_t* data_pool,
                      apr_hash_t* values) {
    if (!mc || !temp_pool || !data_pool || !values) return APR_EINVAL;
    constexpr bool with_cas = std::is_same_v<Value, ap_memcache_item_t>;
    apr_status_t rv = guarded([&]() -> apr_status_t {
        Plan<Value> plan;
        plan_keys(mc, temp_pool, values, plan);
        if (plan.servers.empty()) return APR_SUCCESS;

        std::vector<mmc::engine::GetBatch> batches(plan.servers.size());
        mmc::engine::Duration total = mmc::engine::Duration::zero();
        for (std::size_t i = 0; i < batches.size(); ++i) {
            batches[i].server = plan.servers[i]->impl->server.get();
            batches[i].keys = plan.keys.data() + plan.first[i];
            batches[i].nkeys = plan.first[i + 1] - plan.first[i];
            batches[i].with_cas = with_cas;
            total = std::max(total, batches[i].server->options().timeouts.io);
        }
        FillCtx<Value> ctx{&plan, data_pool};
        mmc::engine::multi_get(batches.data(), batches.size(), total, fill<Value>, &ctx);

        for (std::size_t i = 0; i < batches.size(); ++i) {
            publish_status(plan.servers[i]);
            if (batches[i].outcome.ok()) continue;
            apr_status_t err = to_apr_status(batches[i].outcome);
            for (std::size_t k = plan.first[i]; k < plan.first[i + 1]; ++k) {
                if (plan.values[k]->status != APR_SUCCESS) plan.values[k]->status = err;
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
