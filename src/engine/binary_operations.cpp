// The operations over the binary protocol. Results mean the same as over text: an add
// of an existing key and a replace of a missing one are "not stored" (the binary
// protocol says "exists" / "not found" there), so callers see one behaviour.
#include "engine/exchange.h"
#include "engine/protocol_operations.h"

namespace mmc::engine::binary {

using detail::exchange;
using detail::Read;
using detail::Retry;
using proto::BinaryEvent;
using proto::BinaryOpcode;
using proto::BinaryStatus;

namespace {

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

// One request: encode(Connection&, opaque) writes it and returns a payload to send
// after it; on_event interprets each response carrying that opaque. A response must
// also echo the request's opcode: a server answering a delete with a get response is
// out of step, whatever its opaque says.
template <class Encode, class OnEvent>
Outcome binary_exchange(Server& server, Retry retry, Encode&& encode, OnEvent&& on_event) {
    std::uint32_t opaque = 0;
    BinaryOpcode opcode = BinaryOpcode::noop;
    auto checked = [&](const BinaryEvent& ev) {
        return ev.opcode == opcode ? on_event(ev) : Result::protocol_error;
    };
    return exchange(
        server, retry, std::string_view{},
        [&](Connection& c) {
            opaque = c.next_opaque();
            std::string_view payload = encode(c, opaque);
            // The request header was just written at the start of out(); its second
            // byte is the opcode. (An encoder that refused wrote nothing.)
            if (c.out().size() > 1) {
                opcode = static_cast<BinaryOpcode>(static_cast<unsigned char>(c.out()[1]));
            }
            return payload;
        },
        [&](Connection& c, Result& r) { return detail::read_binary(server, c, opaque, checked, r); });
}

// The binary request for a store. A text "cas" is a binary set carrying the CAS
// unique; append and prepend are their own (concat) requests. False when the encoder
// refused the lengths, which store() rules out by checking binary_request_fits() first.
bool encode_store(std::string& out, proto::StoreCommand cmd, std::string_view key,
                  std::size_t bytes, std::uint32_t flags, std::uint32_t exptime,
                  std::uint32_t opaque, std::uint64_t cas) {
    switch (cmd) {
        case proto::StoreCommand::append:
        case proto::StoreCommand::prepend:
            return proto::encode_binary_concat_header(out,
                                                      cmd == proto::StoreCommand::append
                                                          ? proto::BinaryConcatCommand::append
                                                          : proto::BinaryConcatCommand::prepend,
                                                      key, bytes, opaque, cas);
        case proto::StoreCommand::add:
            return proto::encode_binary_store_header(out, proto::BinaryStoreCommand::add, key,
                                                     flags, exptime, bytes, opaque, cas);
        case proto::StoreCommand::replace:
            return proto::encode_binary_store_header(out, proto::BinaryStoreCommand::replace, key,
                                                     flags, exptime, bytes, opaque, cas);
        case proto::StoreCommand::set:
        case proto::StoreCommand::cas:
            return proto::encode_binary_store_header(out, proto::BinaryStoreCommand::set, key,
                                                     flags, exptime, bytes, opaque, cas);
    }
    return false;
}

// Bytes of extras in the request encode_store() writes for cmd.
std::size_t store_extras_length(proto::StoreCommand cmd) noexcept {
    return cmd == proto::StoreCommand::append || cmd == proto::StoreCommand::prepend
               ? 0
               : proto::kBinaryStoreExtrasLength;
}

// One key's retrieval (get, gat): a value or a miss, flags and CAS in the response.
template <class Encode>
Outcome retrieve_one(Server& server, std::string_view key, ValueFn fn, void* ctx,
                     Encode&& encode) {
    return binary_exchange(
        server, Retry::if_stale,
        [&](Connection& c, std::uint32_t opaque) {
            encode(c.out(), opaque);
            return std::string_view{};
        },
        [&](const BinaryEvent& ev) {
            if (ev.status == BinaryStatus::ok) {
                fn(ctx, ValueView{key, ev.value, ev.flags, ev.cas, true});
            }
            return status_result(ev);
        });
}

}  // namespace

Outcome get(Server& server, std::string_view key, ValueFn fn, void* ctx, bool /*with_cas*/) {
    // Binary get responses always carry the CAS unique.
    return retrieve_one(server, key, fn, ctx, [&](std::string& out, std::uint32_t opaque) {
        proto::encode_binary_get(out, proto::BinaryGetCommand::get, key, opaque);
    });
}

Outcome get_and_touch(Server& server, std::string_view key, std::uint32_t exptime, ValueFn fn,
                      void* ctx) {
    return retrieve_one(server, key, fn, ctx, [&](std::string& out, std::uint32_t opaque) {
        proto::encode_binary_gat(out, proto::BinaryGatCommand::gat, key, exptime, opaque);
    });
}

Outcome touch(Server& server, std::string_view key, std::uint32_t exptime) {
    return binary_exchange(
        server, Retry::never,
        [&](Connection& c, std::uint32_t opaque) {
            proto::encode_binary_touch(c.out(), key, exptime, opaque);
            return std::string_view{};
        },
        [&](const BinaryEvent& ev) { return status_result(ev); });
}

Outcome flush(Server& server, std::uint32_t delay) {
    return binary_exchange(
        server, Retry::never,
        [&](Connection& c, std::uint32_t opaque) {
            proto::encode_binary_flush(c.out(), opaque, delay);
            return std::string_view{};
        },
        [&](const BinaryEvent& ev) { return status_result(ev); });
}

Outcome store(Server& server, proto::StoreCommand cmd, std::string_view key, std::string_view data,
              std::uint32_t flags, std::uint32_t exptime, std::uint64_t cas) {
    // Whatever the store limit says: the encoder would refuse a body its 32-bit length
    // cannot carry, and by then a connection would be taken and a reply awaited that
    // never comes.
    if (!proto::binary_request_fits(store_extras_length(cmd), key.size(), data.size())) {
        return detail::refuse_value(server);
    }
    return binary_exchange(
        server, Retry::never,
        [&](Connection& c, std::uint32_t opaque) {
            // Checked above, so this cannot refuse; if it ever did, the data must not go
            // out without its header.
            if (!encode_store(c.out(), cmd, key, data.size(), flags, exptime, opaque, cas)) {
                return std::string_view{};
            }
            return data;
        },
        [&](const BinaryEvent& ev) {
            Result r = status_result(ev);
            // Say it as the text protocol does, so both protocols give one answer.
            if ((cmd == proto::StoreCommand::add && r == Result::exists) ||
                (cmd == proto::StoreCommand::replace && r == Result::not_found)) {
                return Result::not_stored;
            }
            return r;
        });
}

Outcome remove(Server& server, std::string_view key) {
    return binary_exchange(
        server, Retry::never,
        [&](Connection& c, std::uint32_t opaque) {
            proto::encode_binary_delete(c.out(), key, opaque);
            return std::string_view{};
        },
        [&](const BinaryEvent& ev) { return status_result(ev); });
}

Outcome arith_create(Server& server, proto::ArithCommand cmd, std::string_view key,
                     std::uint64_t delta, std::uint64_t initial, std::uint32_t exptime,
                     std::uint64_t& value) {
    return binary_exchange(
        server, Retry::never,
        [&](Connection& c, std::uint32_t opaque) {
            proto::encode_binary_arith(c.out(),
                                       cmd == proto::ArithCommand::incr ? proto::BinaryArithCommand::increment
                                                                        : proto::BinaryArithCommand::decrement,
                                       key, delta, initial, exptime, opaque);
            return std::string_view{};
        },
        [&](const BinaryEvent& ev) {
            if (ev.status == BinaryStatus::ok) value = ev.number;
            return status_result(ev);
        });
}

Outcome arith(Server& server, proto::ArithCommand cmd, std::string_view key, std::uint64_t delta,
              std::uint64_t& value) {
    // kBinaryArithNoCreate: a missing counter is a miss, as in the text protocol.
    return binary::arith_create(server, cmd, key, delta, 0, proto::kBinaryArithNoCreate, value);
}

Outcome version(Server& server, std::string& out) {
    return binary_exchange(
        server, Retry::if_stale,
        [&](Connection& c, std::uint32_t opaque) {
            proto::encode_binary_version(c.out(), opaque);
            return std::string_view{};
        },
        [&](const BinaryEvent& ev) {
            if (ev.status == BinaryStatus::ok) out.assign(ev.value);
            return status_result(ev);
        });
}

Outcome stats(Server& server, StatFn fn, void* ctx) {
    return binary_exchange(
        server, Retry::if_stale,
        [&](Connection& c, std::uint32_t opaque) {
            proto::encode_binary_stat(c.out(), opaque);
            return std::string_view{};
        },
        [&](const BinaryEvent& ev) {
            if (ev.status == BinaryStatus::ok && !ev.key.empty()) fn(ctx, ev.key, ev.value);
            return status_result(ev);
        });
}

}  // namespace mmc::engine::binary
