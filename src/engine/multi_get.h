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

// Called for every value a server returns: `batch` is the index of the batch it
// answers, `key` the position of its key in that batch's keys. Replies are matched to
// keys by position (text: memcached answers in the order asked, and the search for the
// key starts where the last one was found; binary: by opaque), so no lookup by key is
// needed. A value for a key the batch did not ask for makes the batch a protocol error.
using BatchValueFn = void (*)(void* ctx, std::size_t batch, std::size_t key, const ValueView& value);

// Calls fn for every value any server returns; sets each batch's outcome. The whole
// call ends within `total` (plus the acquire wait, which is bounded by it too).
void multi_get(GetBatch* batches, std::size_t n, Duration total, BatchValueFn fn, void* ctx);

}  // namespace mmc::engine

#endif
