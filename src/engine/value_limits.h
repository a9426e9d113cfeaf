// How long a value may be: the limit on what a store sends and the limit on what a reply
// may carry, kept together so that the two cannot disagree.
#ifndef MMC_ENGINE_VALUE_LIMITS_H
#define MMC_ENGINE_VALUE_LIMITS_H

#include <algorithm>
#include <cstddef>

#include "engine/options.h"
#include "proto/text_codec.h"

namespace mmc::engine {

// The reply limit that goes with a store limit: never below the parsers' default, so
// that larger values other clients stored still read, and never below the store limit,
// so that every value this client may store can be read back.
constexpr std::size_t reply_limit_for(std::size_t max_store_size) noexcept {
    return std::max(proto::kDefaultMaxValueSize, max_store_size);
}

static_assert(reply_limit_for(proto::kDefaultMaxStoreSize) == proto::kDefaultMaxValueSize,
              "the default options already agree with the rule");

// Sets the store limit and the reply limit that goes with it. Like every option, before
// the server is used: open connections keep the reply limit they were opened with.
inline void set_max_store_size(ServerOptions& options, std::size_t max_store_size) noexcept {
    options.max_store_size = max_store_size;
    options.max_value_size = reply_limit_for(max_store_size);
}

}  // namespace mmc::engine

#endif
