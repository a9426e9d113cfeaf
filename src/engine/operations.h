// Single-server operations: one request, one reply, on a pooled connection, under the
// server's deadlines, in whatever protocol the server speaks (its ProtocolAdapter).
// Each reports its outcome to the server's health.
#ifndef MMC_ENGINE_OPERATIONS_H
#define MMC_ENGINE_OPERATIONS_H

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/outcome.h"
#include "engine/requests.h"
#include "engine/server.h"
#include "proto/text_codec.h"

namespace mmc::engine {

// Every time these operations take (an exptime, a flush delay: seconds, or a Unix time
// beyond 30 days) is sent as proto::capped_time(t): one after January 2038 becomes
// 2^31 - 1, which memcached reads as meant, rather than a time it would misread.

// ok (fn called once) or not_found. with_cas: the value carries its CAS unique (text:
// "gets"; binary replies always carry it).
Outcome get(Server& server, std::string_view key, ValueFn fn, void* ctx, bool with_cas = false);

// ok; not_stored for an add/replace/append/prepend that did not apply; for cas, exists
// when the item changed since `cas` was read and not_found when it is gone; a cas of 0
// is invalid_argument, nothing sent. flags and exptime are ignored by append/prepend.
Outcome store(Server& server, proto::StoreCommand cmd, std::string_view key,
              std::string_view data, std::uint32_t flags, std::uint32_t exptime,
              std::uint64_t cas = 0);

// ok or not_found: the item's expiry becomes exptime.
Outcome touch(Server& server, std::string_view key, std::uint32_t exptime);

// As get (with cas), and the item's expiry becomes exptime.
Outcome get_and_touch(Server& server, std::string_view key, std::uint32_t exptime, ValueFn fn,
                      void* ctx);

// Adds that are sent and not waited for (read repair), all on one connection in one
// write: no reply is read, and the connection is left with none owed. Text and meta
// servers get the text protocol's `add ... noreply` (memcached sends nothing for it,
// stored or not; a meta connection takes text commands); binary servers get ADDQ, which
// memcached still answers when the add does not apply, so that connection is closed
// after the send rather than pooled with a reply owed. The connection is taken, opened
// and written by `deadline` at the latest (and within the server's own timeouts); ok
// means the requests went out, not that they were stored. Adds whose value is over the
// store limit (or the protocol's) are left out; `sent` (optional) counts the others.
struct UnansweredAdd {
    std::string_view key;
    std::string_view data;
    std::uint32_t flags;
    std::uint32_t exptime;
};
Outcome add_unanswered(Server& server, const UnansweredAdd* adds, std::size_t n, Clock::time_point deadline,
                       std::size_t* sent = nullptr);

// Invalidates every item, after delay seconds (0: now).
Outcome flush(Server& server, std::uint32_t delay);

// As arith, but a missing counter is created with `initial` (and exptime) and `value`
// is initial. Where incr cannot create a counter (text: the command has no initial value),
// this is incr, then add when it missed, then incr once more if another client's add won.
Outcome arith_create(Server& server, proto::ArithCommand cmd, std::string_view key,
                     std::uint64_t delta, std::uint64_t initial, std::uint32_t exptime,
                     std::uint64_t& value);

// ok (deleted) or not_found.
Outcome remove(Server& server, std::string_view key);

// ok with the new value, not_found, or client_error for a non-numeric value.
Outcome arith(Server& server, proto::ArithCommand cmd, std::string_view key,
              std::uint64_t delta, std::uint64_t& value);

Outcome version(Server& server, std::string& out);

Outcome stats(Server& server, StatFn fn, void* ctx);

// The meta protocol's own requests, sent as given (keys checked with valid_meta_key,
// quiet and opaque left unset): fn gets the reply line of a hit (mg) or a store (ms).
// not_supported, nothing sent, when the server speaks another protocol.
Outcome meta_get(Server& server, const proto::MetaGetRequest& req, MetaReplyFn fn, void* ctx);
Outcome meta_set(Server& server, const proto::MetaSetRequest& req, std::string_view data,
                 MetaReplyFn fn, void* ctx);
Outcome meta_delete(Server& server, const proto::MetaDeleteRequest& req);

}  // namespace mmc::engine

#endif
