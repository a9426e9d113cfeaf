// Multi-get: keys grouped per server, every server asked at once, each key its own
// status.
#include <cstring>
#include <vector>

#include "compat/facade.h"
#include "engine/multi_get.h"
#include "proto/key.h"

using mmc::compat::guarded;
using mmc::compat::publish_status;
using mmc::compat::to_apr_status;

namespace {

struct Group {
    apr_memcache_server_t* ms;
    std::vector<std::string_view> keys;
    std::vector<apr_memcache_value_t*> values;
};

struct FillCtx {
    apr_hash_t* values;
    apr_pool_t* data_pool;
};

void fill(void* vctx, const mmc::engine::ValueView& v) {
    auto& c = *static_cast<FillCtx*>(vctx);
    auto* value = static_cast<apr_memcache_value_t*>(
        apr_hash_get(c.values, v.key.data(), static_cast<apr_ssize_t>(v.key.size())));
    if (!value) return;  // not asked for: ignore rather than trust it
    char* d = static_cast<char*>(apr_palloc(c.data_pool, v.data.size() + 1));
    if (!v.data.empty()) std::memcpy(d, v.data.data(), v.data.size());
    d[v.data.size()] = '\0';
    value->data = d;
    value->len = v.data.size();
    value->flags = static_cast<apr_uint16_t>(v.flags);
    value->status = APR_SUCCESS;
}

}  // namespace

extern "C" {

AP_MEMCACHE_DECLARE(void) ap_memcache_add_multget_key(apr_pool_t* data_pool, const char* key,
                                                      apr_hash_t** values) {
    if (!data_pool || !key || !values) return;
    if (!*values) *values = apr_hash_make(data_pool);
    auto* value = static_cast<apr_memcache_value_t*>(apr_pcalloc(data_pool, sizeof(apr_memcache_value_t)));
    value->key = apr_pstrdup(data_pool, key);
    value->status = APR_NOTFOUND;
    apr_hash_set(*values, value->key, APR_HASH_KEY_STRING, value);
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_multgetp(apr_memcache_t* mc, apr_pool_t* temp_pool,
                                                       apr_pool_t* data_pool, apr_hash_t* values) {
    if (!mc || !temp_pool || !data_pool || !values) return APR_EINVAL;
    apr_status_t rv = guarded([&]() -> apr_status_t {
        std::vector<Group> groups;
        for (apr_hash_index_t* hi = apr_hash_first(temp_pool, values); hi; hi = apr_hash_next(hi)) {
            void* vp = nullptr;
            apr_hash_this(hi, nullptr, nullptr, &vp);
            auto* value = static_cast<apr_memcache_value_t*>(vp);
            std::string_view k(value->key ? value->key : "");
            if (!mmc::proto::valid_key(k)) {
                value->status = APR_EINVAL;
                continue;
            }
            apr_memcache_server_t* ms =
                ap_memcache_find_server_hash(mc, ap_memcache_hash(mc, k.data(), k.size()));
            if (!ms || !ms->impl) {
                value->status = AP_MEMCACHE_ENOSERVER;
                continue;
            }
            value->status = APR_NOTFOUND;
            Group* g = nullptr;
            for (auto& candidate : groups) {
                if (candidate.ms == ms) g = &candidate;
            }
            if (!g) g = &groups.emplace_back(Group{ms, {}, {}});
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
            total = std::max(total, batches[i].server->options().timeouts.io);
        }
        FillCtx ctx{values, data_pool};
        mmc::engine::multi_get(batches.data(), batches.size(), total, fill, &ctx);

        for (std::size_t i = 0; i < groups.size(); ++i) {
            publish_status(groups[i].ms);
            if (batches[i].outcome.ok()) continue;
            apr_status_t err = to_apr_status(batches[i].outcome);
            for (apr_memcache_value_t* value : groups[i].values) {
                if (value->status != APR_SUCCESS) value->status = err;
            }
        }
        return APR_SUCCESS;
    });
    // apr-util clears temp_pool on the way out; callers may rely on that.
    apr_pool_clear(temp_pool);
    return rv;
}

}  // extern "C"
