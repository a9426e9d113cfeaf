// The operations of operations.h once per protocol; operations.cpp picks by the
// server's protocol. Internal to the engine.
#ifndef MMC_ENGINE_PROTOCOL_OPERATIONS_H
#define MMC_ENGINE_PROTOCOL_OPERATIONS_H

#include "engine/operations.h"

#define MMC_ENGINE_DECLARE_OPERATIONS                                                          \
    Outcome get(Server& server, std::string_view key, ValueFn fn, void* ctx, bool with_cas);   \
    Outcome store(Server& server, proto::StoreCommand cmd, std::string_view key,               \
                  std::string_view data, std::uint32_t flags, std::uint32_t exptime,           \
                  std::uint64_t cas);                                                          \
    Outcome touch(Server& server, std::string_view key, std::uint32_t exptime);                \
    Outcome get_and_touch(Server& server, std::string_view key, std::uint32_t exptime,         \
                          ValueFn fn, void* ctx);                                              \
    Outcome flush(Server& server, std::uint32_t delay);                                        \
    Outcome arith_create(Server& server, proto::ArithCommand cmd, std::string_view key,        \
                         std::uint64_t delta, std::uint64_t initial, std::uint32_t exptime,    \
                         std::uint64_t& value);                                                \
    Outcome remove(Server& server, std::string_view key);                                      \
    Outcome arith(Server& server, proto::ArithCommand cmd, std::string_view key,               \
                  std::uint64_t delta, std::uint64_t& value);                                  \
    Outcome version(Server& server, std::string& out);                                         \
    Outcome stats(Server& server, StatFn fn, void* ctx);

namespace mmc::engine::text {
MMC_ENGINE_DECLARE_OPERATIONS
}
namespace mmc::engine::binary {
MMC_ENGINE_DECLARE_OPERATIONS
}

#undef MMC_ENGINE_DECLARE_OPERATIONS

#endif
