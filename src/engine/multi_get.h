// Multi-get fan-out: one request per server, all written before any reply is read,
// replies read as they arrive from whichever server is ready, one total deadline.
#ifndef MMC_ENGINE_MULTI_GET_H
#define MMC_ENGINE_MULTI_GET_H

#include <cstddef>
#include <string_view>

#include "engine/operations.h"
#include "engine/outcome.h"
#include "engine/server.h"

namespace mmc::engine {

struct GetBatch {
    Server* server = nullptr;
    const std::string_view* keys = nullptr;  // valid keys, distinct within the batch
    std::size_t nkeys = 0;
    bool with_cas = false;  // text: "gets" (binary replies always carry the CAS unique)
    // Out: ok when the server answered completely (keys it did not return are misses),
    // otherwise why the keys it did not return have no answer.
    Outcome outcome;
};

// Calls fn for every value any server returns; sets each batch's outcome. The whole
// call ends within `total` (plus the acquire wait, which is bounded by it too).
void multi_get(GetBatch* batches, std::size_t n, Duration total, ValueFn fn, void* ctx);

}  // namespace mmc::engine

#endif
