// The protocol seam: everything the engine does that depends on the protocol a server
// speaks, as one table per protocol. A server picks its table once, when it is created
// (Server::adapter()); operations and the multi-get fan-out call through it. The one
// place an operation names a protocol is meta_set's size check (operations.cpp): only
// a meta server sends the value, the others refuse the call whatever its size.
//
// Each entry is the one exchange loop (exchange.h) or the fan-out's reader, compiled
// for one protocol's codec (make_adapter), so within a call nothing is dispatched: the
// call costs one indirect jump, where the protocol used to be tested per call.
#ifndef MMC_ENGINE_PROTOCOL_ADAPTER_H
#define MMC_ENGINE_PROTOCOL_ADAPTER_H

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/options.h"
#include "engine/outcome.h"
#include "engine/requests.h"

namespace mmc::engine {

class Connection;
class Server;

// What the reader of one server's multi-get reply remembers between reads.
struct BatchCursor {
    // Where the opaque numbering of the batch starts: key i was asked with
    // first_opaque + i (binary), the marker that ends the batch with first_opaque + nkeys.
    std::uint32_t first_opaque = 0;
    // Where the search for the next returned key starts (replies that name their key
    // come in the order asked).
    std::size_t next_key = 0;
    // A write batch's reader state (its codec's Pending), between reads.
    alignas(8) unsigned char pending[16] = {};
};

// The position of `key` among the batch's keys, searched from `from` onwards and then
// from the start (a server that answers out of order costs a longer search, nothing
// more); nkeys when the batch did not ask for it.
inline std::size_t find_key(const GetBatch& b, std::size_t from, std::string_view key) noexcept {
    for (std::size_t i = from; i < b.nkeys; ++i) {
        if (b.keys[i] == key) return i;
    }
    for (std::size_t i = 0; i < from && i < b.nkeys; ++i) {
        if (b.keys[i] == key) return i;
    }
    return b.nkeys;
}

// Where the values of one batch go, and the errors the protocol gives a key of its own.
struct BatchSink {
    BatchValueFn fn;
    BatchKeyErrorFn key_error;
    void* ctx;
    std::size_t batch;  // passed back to fn and key_error
    // How many keys got a value and how many an error of their own, for the metrics.
    std::size_t* answered;  // [0] values, [1] key errors

    void operator()(std::size_t key, const ValueView& v) const {
        ++answered[0];
        fn(ctx, batch, key, v);
    }
    // Out of the way of the value path: error replies are rare.
    [[gnu::cold, gnu::noinline]] void fail(std::size_t key, Result r) const {
        ++answered[1];
        key_error(ctx, batch, key, r);
    }
};

// What reading a batch's reply came to.
struct BatchRead {
    enum class State : std::uint8_t {
        need_more,  // everything that arrived is consumed; more is owed
        // Complete, and the stream is in step: `result` is the batch's outcome, ok or the
        // error line the server sent in the reply (client_error, server_error), which
        // names no key and so answers every key that got no value.
        done,
        unusable,   // the stream cannot be trusted: `why` says why (a static string)
    };
    State state = State::need_more;
    Result result = Result::ok;
    const char* why = "";
};

struct ProtocolAdapter {
    Protocol protocol;
    // Whether incr/decr can create a missing counter in one request. When not (text),
    // arith_create is incr, then add when it missed, then incr again if another
    // client's add won (operations.cpp).
    bool creates_counters;

    // One request and its reply on a pooled connection, under the server's deadlines,
    // its outcome reported to the server's health (exchange.h). A request the protocol
    // cannot carry (a value too long for its length field) is refused before a
    // connection is taken.
    Outcome (*get)(Server&, const GetRequest&);
    Outcome (*get_and_touch)(Server&, const GetAndTouchRequest&);
    Outcome (*touch)(Server&, const TouchRequest&);
    Outcome (*store)(Server&, const StoreRequest&);
    Outcome (*remove)(Server&, const RemoveRequest&);
    Outcome (*arith)(Server&, const ArithRequest&);
    Outcome (*flush)(Server&, const FlushRequest&);
    Outcome (*version)(Server&, const VersionRequest&);
    Outcome (*stats)(Server&, const StatsRequest&);
    // The meta protocol's own requests: not_supported, nothing sent, on the others.
    Outcome (*meta_get)(Server&, const MetaGetCall&);
    Outcome (*meta_set)(Server&, const MetaSetCall&);
    Outcome (*meta_delete)(Server&, const MetaDeleteCall&);

    // Multi-get, one server's share (multi_get.cpp): writes the request for every key of
    // the batch into the connection's request buffer, in one piece, and readies the
    // reader; the cursor remembers what the reader needs.
    void (*write_batch)(Connection&, const GetBatch&, BatchCursor&);
    // Parses what has arrived of the batch's reply, consuming it from the connection's
    // receive buffer and handing every value to the sink, and every error the reply
    // gives one key (naming it) to sink.fail; an error that names no key is the batch's
    // (done with that result).
    BatchRead (*read_batch)(Connection&, const GetBatch&, BatchCursor&, const BatchSink&);
    // A replicated write's batch (GetBatch::write), in the server's own protocol: the
    // request written as the single operation writes it, its reply read as that one is.
    void (*write_one)(Connection&, const GetBatch&, BatchCursor&);
    BatchRead (*read_one)(Connection&, const GetBatch&, BatchCursor&, const BatchSink&);
};

namespace detail {
// The one exchange loop (exchange.h), for a codec and a request type.
template <class Codec, class Request>
Outcome exchange(Server& server, const Request& req);
// A write as one batch of the fan-out (exchange.h).
template <class Codec>
void write_one(Connection& conn, const GetBatch& b, BatchCursor& cursor);
template <class Codec>
BatchRead read_one(Connection& conn, const GetBatch& b, BatchCursor& cursor, const BatchSink& sink);
}  // namespace detail

// The adapter of a codec (exchange.h says what a codec provides): the exchange loop
// compiled for each request type, and the multi-get steps of BatchCodec, which is the
// codec itself unless the protocol sends its multi-gets as another protocol's requests
// on the same connection (meta sends text's: meta_adapter.cpp says why). Used where
// the codec is defined, after including exchange.h.
template <class Codec, class BatchCodec = Codec>
constexpr ProtocolAdapter make_adapter() noexcept {
    return ProtocolAdapter{
        Codec::kProtocol,
        Codec::kCreatesCounters,
        &detail::exchange<Codec, GetRequest>,
        &detail::exchange<Codec, GetAndTouchRequest>,
        &detail::exchange<Codec, TouchRequest>,
        &detail::exchange<Codec, StoreRequest>,
        &detail::exchange<Codec, RemoveRequest>,
        &detail::exchange<Codec, ArithRequest>,
        &detail::exchange<Codec, FlushRequest>,
        &detail::exchange<Codec, VersionRequest>,
        &detail::exchange<Codec, StatsRequest>,
        &detail::exchange<Codec, MetaGetCall>,
        &detail::exchange<Codec, MetaSetCall>,
        &detail::exchange<Codec, MetaDeleteCall>,
        &BatchCodec::write_batch,
        &BatchCodec::read_batch,
        &detail::write_one<Codec>,
        &detail::read_one<Codec>,
    };
}

const ProtocolAdapter& text_adapter() noexcept;    // text_adapter.cpp
const ProtocolAdapter& binary_adapter() noexcept;  // binary_adapter.cpp
const ProtocolAdapter& meta_adapter() noexcept;    // meta_adapter.cpp

inline const ProtocolAdapter& adapter_for(Protocol p) noexcept {
    switch (p) {
        case Protocol::binary: return binary_adapter();
        case Protocol::meta: return meta_adapter();
        case Protocol::text: break;
    }
    return text_adapter();
}

}  // namespace mmc::engine

#endif
