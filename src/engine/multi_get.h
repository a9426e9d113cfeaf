// Multi-get fan-out: one request per server, all written before any reply is read,
// replies read as they arrive from whichever server is ready, one total deadline. Each
// server's request and reply are its protocol adapter's (write_batch, read_batch); the
// loop is the same for every protocol.
#ifndef MMC_ENGINE_MULTI_GET_H
#define MMC_ENGINE_MULTI_GET_H

#include <cstddef>

#include "engine/outcome.h"
#include "engine/requests.h"
#include "engine/server.h"

namespace mmc::engine {

// Calls fn for every value any server returns; sets each batch's outcome (GetBatch,
// requests.h). The whole call ends within `total` (plus the acquire wait, which is
// bounded by it too).
void multi_get(GetBatch* batches, std::size_t n, Duration total, BatchValueFn fn, void* ctx);

}  // namespace mmc::engine

#endif
