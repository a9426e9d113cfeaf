// The binary protocol behind the protocol seam. Results mean the same as over text: an
// add of an existing key and a replace of a missing one are "not stored" (the binary
// protocol says "exists" / "not found" there), so callers see one behaviour.
//
// Every request carries an opaque of its own on the connection; a response with another
// opaque, or answering another opcode, is out of step and ends the exchange as a
// protocol error.
#include "engine/exchange.h"

namespace mmc::engine {

namespace {

using detail::Read;
using proto::BinaryEvent;
using proto::BinaryOpcode;
using proto::BinaryStatus;

Result status_result(const BinaryEvent& ev) {
    switch (ev.status) {
        case BinaryStatus::ok: return Result::ok;
        case BinaryStatus::key_not_found: return Result::not_found;
        case BinaryStatus::key_exists: return Result::exists;
        case BinaryStatus::item_not_stored: return Result::not_stored;
        case BinaryStatus::invalid_arguments:
        case BinaryStatus::non_numeric: return Result::client_error;
        default: return Result::server_error;
    }
}

// What an error status makes of one key of a multi-get: the request was refused
// (client_error) or the server failed it (server_error); nothing else answers a get.
Result batch_key_error(const BinaryEvent& ev) {
    return status_result(ev) == Result::client_error ? Result::client_error : Result::server_error;
}

// Bytes of extras in the request write() makes for a store of cmd.
std::size_t store_extras_length(proto::StoreCommand cmd) noexcept {
    return cmd == proto::StoreCommand::append || cmd == proto::StoreCommand::prepend
               ? 0
               : proto::kBinaryStoreExtrasLength;
}

struct BinaryCodec {
    static constexpr Protocol kProtocol = Protocol::binary;
    static constexpr bool kCreatesCounters = true;
    static constexpr std::string_view kTrailer = {};

    struct Pending {
        std::uint32_t opaque = 0;
        BinaryOpcode opcode = BinaryOpcode::noop;
    };

    // Times are unsigned 32-bit numbers on the wire, read as such: any is sent.
    template <class R>
    static constexpr Result check(const R&) noexcept {
        return Result::ok;
    }
    static Result check(const StoreRequest& r) noexcept {
        return proto::binary_request_fits(store_extras_length(r.cmd), r.key.size(), r.data.size())
                   ? Result::ok
                   : Result::value_too_large;
    }

    // ---- requests ----

    template <class R>
    static std::string_view encode(Connection& c, const R& r, Pending& p) {
        p.opaque = c.next_opaque();
        std::string_view payload = write(c.out(), r, p.opaque);
        // The request header was just written at the start of out(); its second byte is
        // the opcode, which the response must echo. (An encoder that refused wrote
        // nothing.)
        if (c.out().size() > 1) p.opcode = static_cast<BinaryOpcode>(static_cast<unsigned char>(c.out()[1]));
        return payload;
    }

    static std::string_view write(std::string& out, const GetRequest& r, std::uint32_t opaque) {
        // Binary get responses always carry the CAS unique.
        proto::encode_binary_get(out, proto::BinaryGetCommand::get, r.key, opaque);
        return {};
    }

    static std::string_view write(std::string& out, const GetAndTouchRequest& r, std::uint32_t opaque) {
        proto::encode_binary_gat(out, proto::BinaryGatCommand::gat, r.key, r.exptime, opaque);
        return {};
    }

    static std::string_view write(std::string& out, const TouchRequest& r, std::uint32_t opaque) {
        proto::encode_binary_touch(out, r.key, r.exptime, opaque);
        return {};
    }

    // A text "cas" is a binary set carrying the CAS unique; append and prepend are their
    // own (concat) requests. check() was passed, so the encoders cannot refuse; if one
    // ever did, the data must not go out without its header.
    static std::string_view write(std::string& out, const StoreRequest& r, std::uint32_t opaque) {
        bool written = false;
        switch (r.cmd) {
            case proto::StoreCommand::append:
            case proto::StoreCommand::prepend:
                written = proto::encode_binary_concat_header(out,
                                                             r.cmd == proto::StoreCommand::append
                                                                 ? proto::BinaryConcatCommand::append
                                                                 : proto::BinaryConcatCommand::prepend,
                                                             r.key, r.data.size(), opaque, r.cas);
                break;
            case proto::StoreCommand::add:
                written = proto::encode_binary_store_header(out, proto::BinaryStoreCommand::add, r.key, r.flags,
                                                            r.exptime, r.data.size(), opaque, r.cas);
                break;
            case proto::StoreCommand::replace:
                written = proto::encode_binary_store_header(out, proto::BinaryStoreCommand::replace, r.key,
                                                            r.flags, r.exptime, r.data.size(), opaque, r.cas);
                break;
            case proto::StoreCommand::set:
            case proto::StoreCommand::cas:
                written = proto::encode_binary_store_header(out, proto::BinaryStoreCommand::set, r.key, r.flags,
                                                            r.exptime, r.data.size(), opaque, r.cas);
                break;
        }
        return written ? r.data : std::string_view{};
    }

    static std::string_view write(std::string& out, const RemoveRequest& r, std::uint32_t opaque) {
        proto::encode_binary_delete(out, r.key, opaque);
        return {};
    }

    static std::string_view write(std::string& out, const ArithRequest& r, std::uint32_t opaque) {
        // kBinaryArithNoCreate: a missing counter is a miss, as in the text protocol.
        proto::encode_binary_arith(out,
                                   r.cmd == proto::ArithCommand::incr ? proto::BinaryArithCommand::increment
                                                                      : proto::BinaryArithCommand::decrement,
                                   r.key, r.delta, r.create ? r.initial : 0,
                                   r.create ? r.exptime : proto::kBinaryArithNoCreate, opaque);
        return {};
    }

    static std::string_view write(std::string& out, const FlushRequest& r, std::uint32_t opaque) {
        proto::encode_binary_flush(out, opaque, r.delay);
        return {};
    }

    static std::string_view write(std::string& out, const VersionRequest&, std::uint32_t opaque) {
        proto::encode_binary_version(out, opaque);
        return {};
    }

    static std::string_view write(std::string& out, const StatsRequest&, std::uint32_t opaque) {
        proto::encode_binary_stat(out, opaque);
        return {};
    }

    // ---- replies ----

    template <class R>
    static Read read(Server& s, Connection& c, const R& r, Pending& p, Result& result) {
        return detail::read_events<BinaryEvent>(
            s, c, c.binary_parser(),
            [&](const BinaryEvent& ev) {
                // A server answering a delete with a get response is out of step,
                // whatever its opaque says.
                return ev.opaque == p.opaque && ev.opcode == p.opcode ? on_event(ev, r) : Result::protocol_error;
            },
            result);
    }

    // One key's retrieval: a value or a miss, flags and CAS in the response.
    static Result on_value(const BinaryEvent& ev, std::string_view key, ValueFn fn, void* ctx) {
        if (ev.status == BinaryStatus::ok) fn(ctx, ValueView{key, ev.value, ev.flags, ev.cas, true});
        return status_result(ev);
    }

    static Result on_event(const BinaryEvent& ev, const GetRequest& r) { return on_value(ev, r.key, r.fn, r.ctx); }

    static Result on_event(const BinaryEvent& ev, const GetAndTouchRequest& r) {
        return on_value(ev, r.key, r.fn, r.ctx);
    }

    static Result on_event(const BinaryEvent& ev, const TouchRequest&) { return status_result(ev); }

    static Result on_event(const BinaryEvent& ev, const StoreRequest& r) {
        Result res = status_result(ev);
        // Say it as the text protocol does, so both protocols give one answer.
        if ((r.cmd == proto::StoreCommand::add && res == Result::exists) ||
            (r.cmd == proto::StoreCommand::replace && res == Result::not_found)) {
            return Result::not_stored;
        }
        return res;
    }

    static Result on_event(const BinaryEvent& ev, const RemoveRequest&) { return status_result(ev); }

    static Result on_event(const BinaryEvent& ev, const ArithRequest& r) {
        if (ev.status == BinaryStatus::ok) *r.value = ev.number;
        return status_result(ev);
    }

    static Result on_event(const BinaryEvent& ev, const FlushRequest&) { return status_result(ev); }

    static Result on_event(const BinaryEvent& ev, const VersionRequest& r) {
        if (ev.status == BinaryStatus::ok) r.out->assign(ev.value);
        return status_result(ev);
    }

    static Result on_event(const BinaryEvent& ev, const StatsRequest& r) {
        if (ev.status == BinaryStatus::ok && !ev.key.empty()) r.fn(r.ctx, ev.key, ev.value);
        return status_result(ev);
    }

    // ---- multi-get: one getkq per key and a noop, in one write. Hits come back as
    // getkq responses, misses send nothing, an error comes back as its key's own (its
    // opaque names the key), and the noop's response ends the batch ----

    static void write_batch(Connection& c, const GetBatch& b, BatchCursor& cursor) {
        cursor = BatchCursor{};
        cursor.first_opaque = c.next_opaque(static_cast<std::uint32_t>(b.nkeys) + 1);
        proto::encode_binary_get_multi(c.out(), b.keys, b.nkeys, cursor.first_opaque);
    }

    static BatchRead read_batch(Connection& c, const GetBatch& b, BatchCursor& cursor, const BatchSink& sink) {
        proto::BinaryReplyParser& parser = c.binary_parser();
        const std::uint32_t noop_opaque = cursor.first_opaque + static_cast<std::uint32_t>(b.nkeys);
        for (;;) {
            BinaryEvent ev;
            std::size_t consumed = 0;
            auto pr = parser.parse(c.in().view(), ev, consumed);
            if (pr == proto::ParseResult::need_more) return {};
            if (pr == proto::ParseResult::error) {
                return {BatchRead::State::unusable, Result::protocol_error, parser.error_message()};
            }
            if (ev.opcode == BinaryOpcode::noop && ev.opaque == noop_opaque) {
                c.in().consume(consumed);
                return {BatchRead::State::done, Result::ok};
            }
            if (ev.opcode != BinaryOpcode::getkq || ev.opaque - cursor.first_opaque >= b.nkeys) {
                return {BatchRead::State::unusable, Result::protocol_error, "response to a request not sent"};
            }
            const std::size_t key = ev.opaque - cursor.first_opaque;
            if (ev.status == BinaryStatus::ok) {
                if (ev.key != b.keys[key]) {
                    return {BatchRead::State::unusable, Result::protocol_error, "value for a key not asked for"};
                }
                sink(key, ValueView{ev.key, ev.value, ev.flags, ev.cas, true});
            } else if (ev.status != BinaryStatus::key_not_found) {
                // The opaque names the key the error is for (an error response carries
                // no key): that key gets it, and its siblings go on.
                sink.fail(key, batch_key_error(ev));
            }
            c.in().consume(consumed);
        }
    }
};

constexpr ProtocolAdapter kBinary = make_adapter<BinaryCodec>();

}  // namespace

const ProtocolAdapter& binary_adapter() noexcept { return kBinary; }

}  // namespace mmc::engine
