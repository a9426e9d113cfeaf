#include "aprutil_oracle.h"

#include "apr_memcache.h"

namespace mmc::test {

struct AprUtilOracle::State {
    apr_pool_t* pool = nullptr;
    apr_memcache_t* mc = nullptr;
    std::vector<apr_memcache_server_t*> servers;
};

AprUtilOracle::AprUtilOracle(const std::vector<unsigned short>& ports) : state_(new State) {
    apr_pool_create(&state_->pool, nullptr);
    apr_memcache_create(state_->pool, static_cast<apr_uint16_t>(ports.size()), 0, &state_->mc);
    for (unsigned short port : ports) {
        apr_memcache_server_t* ms = nullptr;
        // min 0: apr-util opens no connection at creation.
        apr_memcache_server_create(state_->pool, "127.0.0.1", port, 0, 1, 1, 0, &ms);
        apr_memcache_add_server(state_->mc, ms);
        state_->servers.push_back(ms);
    }
}

AprUtilOracle::~AprUtilOracle() { apr_pool_destroy(state_->pool); }

std::size_t AprUtilOracle::owner(const std::string& key) const {
    apr_uint32_t h = apr_memcache_hash(state_->mc, key.data(), key.size());
    apr_memcache_server_t* ms = apr_memcache_find_server_hash(state_->mc, h);
    for (std::size_t i = 0; i < state_->servers.size(); ++i) {
        if (state_->servers[i] == ms) return i;
    }
    return static_cast<std::size_t>(-1);
}

}  // namespace mmc::test
