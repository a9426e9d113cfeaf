// A server object's life as a consumer meets it: warming up, and the end of its pool.
#include "live_fixture.h"

namespace mmc::test {
namespace {

using ServerLifecycle = Live;

TEST_F(ServerLifecycle, AFailedWarmUpCountsAgainstTheServer) {
    apr_memcache_server_t* ms = nullptr;
    // A port nobody listens on: the connect is refused.
    ASSERT_EQ(apr_memcache_server_create(pool_, "127.0.0.1", free_loopback_port(), 1, 1, 1, 0, &ms),
              APR_SUCCESS);
    EXPECT_NE(ap_memcache_server_warm(ms), APR_SUCCESS);
    ap_memcache_server_state_t st{};
    ASSERT_EQ(ap_memcache_server_state(ms, &st), APR_SUCCESS);
    EXPECT_EQ(st.failures, 1u);
    EXPECT_EQ(st.open, 0u);
}

struct Seen {
    apr_memcache_server_t* ms = nullptr;
    apr_status_t rv = APR_SUCCESS;
};

apr_status_t look_at_server(void* data) {
    auto* seen = static_cast<Seen*>(data);
    ap_memcache_server_state_t st{};
    seen->rv = ap_memcache_server_state(seen->ms, &st);
    return APR_SUCCESS;
}

TEST_F(ServerLifecycle, AServerIsUnusableNotDanglingOnceItsPoolIsCleanedUp) {
    apr_pool_t* sub = nullptr;
    ASSERT_EQ(apr_pool_create(&sub, pool_), APR_SUCCESS);
    Seen seen;
    // Registered first, so it runs after the server's own cleanup (last in, first out).
    apr_pool_cleanup_register(sub, &seen, look_at_server, apr_pool_cleanup_null);
    ASSERT_EQ(apr_memcache_server_create(sub, "127.0.0.1", server().port(), 0, 1, 1, 0, &seen.ms),
              APR_SUCCESS);
    char* version = nullptr;
    ASSERT_EQ(apr_memcache_version(seen.ms, sub, &version), APR_SUCCESS);
    apr_pool_destroy(sub);
    EXPECT_EQ(seen.rv, APR_EINVAL);
}

}  // namespace
}  // namespace mmc::test
