// What each operation asks of a server, said once for every protocol. A protocol
// adapter (protocol_adapter.h) turns a request into its own bytes and its own replies
// back into a Result and the request's outputs; the exchange loop (exchange.h) and the
// fan-out (multi_get.cpp) never look inside.
//
// A new operation is a struct here, an entry in ProtocolAdapter and make_adapter
// (protocol_adapter.h), an encoder and a reply reader in each codec, and its public
// function (operations.h, operations.cpp).
#ifndef MMC_ENGINE_REQUESTS_H
#define MMC_ENGINE_REQUESTS_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "engine/outcome.h"
#include "proto/meta_codec.h"
#include "proto/text_codec.h"

namespace mmc::engine {

class Server;

struct ValueView {
    std::string_view key;
    std::string_view data;  // valid only during the callback
    std::uint32_t flags = 0;
    std::uint64_t cas = 0;
    bool has_cas = false;
};

// Plain function + context rather than std::function: called per value on the hot path.
using ValueFn = void (*)(void* ctx, const ValueView& value);
using StatFn = void (*)(void* ctx, std::string_view name, std::string_view value);

// Whether a request may be sent again on a new connection when a pooled one turns out
// closed before any reply byte came: only when repeating it changes nothing.
enum class Retry : bool { never, if_stale };

// One key's value: the reply is that value or a miss. with_cas asks for the CAS unique
// where the protocol makes it optional (text: gets).
struct GetRequest {
    static constexpr Retry retry = Retry::if_stale;
    std::string_view key;
    ValueFn fn;
    void* ctx;
    bool with_cas;
};

// As GetRequest (the CAS unique always asked for), and the item's expiry becomes exptime.
struct GetAndTouchRequest {
    static constexpr Retry retry = Retry::if_stale;
    std::string_view key;
    std::uint32_t exptime;
    ValueFn fn;
    void* ctx;
};

struct TouchRequest {
    static constexpr Retry retry = Retry::never;
    std::string_view key;
    std::uint32_t exptime;
};

// Every store the text protocol names. Results are said the text protocol's way
// whatever the wire said: not_stored for an add or replace that did not apply.
struct StoreRequest {
    static constexpr Retry retry = Retry::never;
    proto::StoreCommand cmd;
    std::string_view key;
    std::string_view data;
    std::uint32_t flags;
    std::uint32_t exptime;
    std::uint64_t cas;  // StoreCommand::cas only
};

struct RemoveRequest {
    static constexpr Retry retry = Retry::never;
    std::string_view key;
};

// incr/decr. With `create`, a missing counter is created with `initial` and exptime;
// only adapters whose ProtocolAdapter::creates_counters is true are asked that.
struct ArithRequest {
    static constexpr Retry retry = Retry::never;
    proto::ArithCommand cmd;
    std::string_view key;
    std::uint64_t delta;
    std::uint64_t initial;
    std::uint32_t exptime;
    bool create;
    std::uint64_t* value;  // out: the counter after the operation
};

struct FlushRequest {
    static constexpr Retry retry = Retry::never;
    std::uint32_t delay;
};

struct VersionRequest {
    static constexpr Retry retry = Retry::if_stale;
    std::string* out;
};

struct StatsRequest {
    static constexpr Retry retry = Retry::if_stale;
    StatFn fn;
    void* ctx;
};

// ---- what only the meta protocol can say ----
// Requests marked meta_only are refused with not_supported, nothing sent, by a server
// that speaks another protocol (exchange.h). They carry the meta request as the codec
// (proto/meta_codec.h) describes it, keys and flags already checked by the caller, and
// hand back the reply line itself: what it means (won, stale, metadata) is the caller's.

using MetaReplyFn = void (*)(void* ctx, const proto::MetaEvent& reply);

// mg: reply VA or HD (ok, passed to fn) or EN (not_found).
struct MetaGetCall {
    // Not even when stale: an mg may create an item (N) or take a lease, and a second
    // one would find its own lease taken.
    static constexpr Retry retry = Retry::never;
    static constexpr bool meta_only = true;
    const proto::MetaGetRequest* req;
    MetaReplyFn fn;
    void* ctx;
};

// ms with its data: HD (ok, passed to fn), NS (not_stored), EX (exists), NF (not_found).
struct MetaSetCall {
    static constexpr Retry retry = Retry::never;
    static constexpr bool meta_only = true;
    const proto::MetaSetRequest* req;
    std::string_view data;
    MetaReplyFn fn;
    void* ctx;
};

// md: HD (ok), NF (not_found), EX (exists).
struct MetaDeleteCall {
    static constexpr Retry retry = Retry::never;
    static constexpr bool meta_only = true;
    const proto::MetaDeleteRequest* req;
};

template <class R, class = void>
struct IsMetaOnly : std::false_type {};
template <class R>
struct IsMetaOnly<R, std::void_t<decltype(R::meta_only)>> : std::bool_constant<R::meta_only> {};

// ---- replicated writes --------------------------------------------------------------

// One write sent to a key's primary and replicas through the fan-out (multi_get.h), each
// server's as a batch of its own (GetBatch::write). `store` carries the key and, for a
// store, the whole request; a touch uses its key and exptime, a delete its key.
// The meta extensions' writes (meta_set, meta_delete) carry their meta request instead,
// store.key still naming the key; only meta servers are given them.
struct MetaSetCall;
struct MetaDeleteCall;
struct WriteRequest {
    enum class Kind : std::uint8_t { store, touch, remove, meta_set, meta_delete };
    Kind kind;
    StoreRequest store;
    const MetaSetCall* meta_set = nullptr;
    const MetaDeleteCall* meta_delete = nullptr;
};

// ---- multi-get --------------------------------------------------------------------

// One server's share of a multi-get.
struct GetBatch {
    Server* server = nullptr;
    // Valid keys. A key may come more than once (the array multi-get passes the
    // caller's list as it is): each copy is asked and answered at its own position.
    const std::string_view* keys = nullptr;
    std::size_t nkeys = 0;
    bool with_cas = false;  // the CAS unique where the protocol makes it optional
    // A replicated write instead of a retrieval (keys then names its key, nkeys is 1):
    // the batch is that one request, and outcome is its result (not_stored, not_found
    // ... as the single operation's). Never a value for fn.
    const WriteRequest* write = nullptr;
    // Out: ok when the server answered completely (keys it returned neither a value nor
    // an error of their own for are misses), otherwise why those keys have no answer:
    // the server's error line (client_error, server_error), or why its reply was cut
    // short or unusable. multi_get.h states the rule.
    Outcome outcome;
};

// Called for every value a server returns: `batch` is the index of the batch it
// answers, `key` the position of its key in that batch's keys. Adapters match replies
// to keys by position (text: memcached answers in the order asked; binary: by opaque),
// so no lookup by key is needed. A value for a key the batch did not ask for makes the
// batch a protocol error.
using BatchValueFn = void (*)(void* ctx, std::size_t batch, std::size_t key, const ValueView& value);

// Called for a key the server answered with an error of its own (a binary error status,
// which names its key by opaque): `result` is client_error or server_error. The key has
// no value; the rest of its batch goes on. Rare, so the caller's handler may be slow.
using BatchKeyErrorFn = void (*)(void* ctx, std::size_t batch, std::size_t key, Result result);

}  // namespace mmc::engine

#endif
