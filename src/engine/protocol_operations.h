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

namespace mmc::engine::detail {

// Ends a store whose value may not be sent (over the store limit, or longer than the
// protocol can carry) before a connection is taken: nothing is sent. report() leaves
// the server's health as it is and only lets go of a retry probe the caller may have
// claimed when it picked the server, which this call will never make.
inline Outcome refuse_value(Server& server) {
    const Outcome refused{Result::value_too_large};
    server.report(refused);
    return refused;
}

}  // namespace mmc::engine::detail

#endif
