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

// Calls fn for every value any server returns and key_error for every key a server
// answers with an error of its own; sets each batch's outcome (GetBatch, requests.h).
// The whole call ends within `total` (plus the acquire wait, which is bounded by it too).
//
// The per-key error rule, the same for every protocol: a key that got a value keeps it,
// whatever happens after; an error the reply gives one key by name (binary: an error
// status, whose opaque names the key) is that key's only, and the rest of its batch goes
// on; an error that names no key (a text or meta error line, a failed or unusable reply,
// a deadline) becomes the batch's outcome, and so the answer of every key of that server
// that got neither a value nor an error of its own (never a miss). Other servers' batches
// are never touched. The connection goes back to its pool only when the stream is in
// step: the reply ended as the protocol says a reply ends (is_server_reply, outcome.h)
// with nothing left over; otherwise it is closed.
void multi_get(GetBatch* batches, std::size_t n, Duration total, BatchValueFn fn, BatchKeyErrorFn key_error,
               void* ctx);

// A write to several servers at once (a key's primary and its replicas), as batches of
// the same fan-out: every request written before any reply is read, one deadline (the
// largest I/O timeout of the servers), the replies read in the order of the servers.
// each[i] gets servers[i]'s outcome. A store over a server's store limit is refused for
// that server (value_too_large), nothing sent to it. Times are capped as the single
// operations cap them (operations.h). At most 8 servers.
void write_all(Server* const* servers, std::size_t n, const WriteRequest& w, Outcome* each);

}  // namespace mmc::engine

#endif
