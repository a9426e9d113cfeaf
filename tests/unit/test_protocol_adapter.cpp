// The protocol seam without any network: which adapter a server calls through, and
// that it follows the protocol chosen for the server.
#include <gtest/gtest.h>

#include "compat/facade.h"
#include "engine/protocol_adapter.h"
#include "engine/server.h"
#include "ap_memcache.h"

namespace {

using mmc::engine::Protocol;

const char kNowhere[] = "/nonexistent-mmc-test-dir/memcached.sock";

mmc::engine::ServerOptions nowhere(Protocol p) {
    mmc::engine::ServerOptions o;
    o.endpoint.socket_path = kNowhere;
    o.protocol = p;
    return o;
}

TEST(ProtocolAdapter, AServerCallsThroughTheAdapterOfTheProtocolItIsCreatedWith) {
    mmc::engine::Server text(nowhere(Protocol::text));
    mmc::engine::Server binary(nowhere(Protocol::binary));
    mmc::engine::Server meta(nowhere(Protocol::meta));
    EXPECT_EQ(&text.adapter(), &mmc::engine::text_adapter());
    EXPECT_EQ(&binary.adapter(), &mmc::engine::binary_adapter());
    EXPECT_EQ(&meta.adapter(), &mmc::engine::meta_adapter());
    EXPECT_EQ(text.adapter().protocol, Protocol::text);
    EXPECT_EQ(binary.adapter().protocol, Protocol::binary);
    EXPECT_EQ(meta.adapter().protocol, Protocol::meta);
}

TEST(ProtocolAdapter, SetProtocolChangesTheAdapterAndTheOptionsTogether) {
    mmc::engine::Server s(nowhere(Protocol::text));
    s.set_protocol(Protocol::binary);
    EXPECT_EQ(s.options().protocol, Protocol::binary);
    EXPECT_EQ(&s.adapter(), &mmc::engine::binary_adapter());
}

TEST(ProtocolAdapter, ServerOptionsOfTheCApiChooseTheAdapter) {
    apr_pool_t* pool = nullptr;
    ASSERT_EQ(apr_pool_create(&pool, nullptr), APR_SUCCESS);
    apr_memcache_server_t* ms = nullptr;
    ASSERT_EQ(apr_memcache_server_create(pool, kNowhere, 0, 0, 1, 1, 0, &ms), APR_SUCCESS);
    EXPECT_EQ(mmc::compat::engine_of(ms).adapter().protocol, Protocol::text);
    ap_memcache_server_options_t o;
    ASSERT_EQ(ap_memcache_server_get_options(ms, &o), APR_SUCCESS);
    o.protocol = AP_MEMCACHE_PROTOCOL_BINARY;
    ASSERT_EQ(ap_memcache_server_set_options(ms, &o), APR_SUCCESS);
    EXPECT_EQ(mmc::compat::engine_of(ms).adapter().protocol, Protocol::binary);
    o.protocol = AP_MEMCACHE_PROTOCOL_META;
    ASSERT_EQ(ap_memcache_server_set_options(ms, &o), APR_SUCCESS);
    EXPECT_EQ(mmc::compat::engine_of(ms).adapter().protocol, Protocol::meta);
    ASSERT_EQ(ap_memcache_server_get_options(ms, &o), APR_SUCCESS);
    EXPECT_EQ(o.protocol, AP_MEMCACHE_PROTOCOL_META);
    o.protocol = 3;  // names no protocol: refused, nothing changes
    EXPECT_EQ(ap_memcache_server_set_options(ms, &o), APR_EINVAL);
    EXPECT_EQ(mmc::compat::engine_of(ms).adapter().protocol, Protocol::meta);
    apr_pool_destroy(pool);
}

TEST(ProtocolAdapter, OnlyTextNeedsCounterCreationComposedOfIncrAndAdd) {
    EXPECT_FALSE(mmc::engine::text_adapter().creates_counters);
    EXPECT_TRUE(mmc::engine::binary_adapter().creates_counters);
    EXPECT_TRUE(mmc::engine::meta_adapter().creates_counters);
}

// Text and meta are one ASCII protocol to memcached: a meta server's multi-get is the
// text adapter's one get line and its reader (docs/design.md, "Multi-get"), while its
// single get stays mg.
TEST(ProtocolAdapter, MetaMultiGetIsTheTextAdaptersBatchWriterAndReader) {
    const auto& meta = mmc::engine::meta_adapter();
    const auto& text = mmc::engine::text_adapter();
    EXPECT_EQ(meta.write_batch, text.write_batch);
    EXPECT_EQ(meta.read_batch, text.read_batch);
    EXPECT_NE(meta.get, text.get);
    EXPECT_NE(mmc::engine::binary_adapter().write_batch, text.write_batch);
}

}  // namespace
