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
// after it; on_event interprets each response carrying that opaque.
template <class Encode, class OnEvent>
Outcome binary_exchange(Server& server, Retry retry, Encode&& encode, OnEvent&& on_event) {
    std::uint32_t opaque = 0;
    return exchange(
        server, retry, std::string_view{},
        [&](Connection& c) {
            opaque = c.next_opaque();
            return encode(c, opaque);
        },
        [&](Connection& c, Result& r) { return detail::read_binary(server, c, opaque, on_event, r); });
}

// set/add/replace; false for the text commands that are not stores in the binary
// protocol's sense (append/prepend/cas take other opcodes or fields).
bool store_command(proto::StoreCommand cmd, proto::BinaryStoreCommand& out) {
    switch (cmd) {
        case proto::StoreCommand::set: out = proto::BinaryStoreCommand::set; return true;
        case proto::StoreCommand::add: out = proto::BinaryStoreCommand::add; return true;
        case proto::StoreCommand::replace: out = proto::BinaryStoreCommand::replace; return true;
        default: return false;
    }
}

}  // namespace

Outcome get(Server& server, std::string_view key, ValueFn fn, void* ctx) {
    return binary_exchange(
        server, Retry::if_stale,
        [&](Connection& c, std::uint32_t opaque) {
            proto::encode_binary_get(c.out(), proto::BinaryGetCommand::get, key, opaque);
            return std::string_view{};
        },
        [&](const BinaryEvent& ev) {
            if (ev.opcode != BinaryOpcode::get) return Result::protocol_error;
            if (ev.status == BinaryStatus::ok) {
                fn(ctx, ValueView{key, ev.value, ev.flags, ev.cas, true});
            }
            return status_result(ev);
        });
}

Outcome store(Server& server, proto::StoreCommand cmd, std::string_view key, std::string_view data,
              std::uint32_t flags, std::uint32_t exptime) {
    proto::BinaryStoreCommand op;
    if (!store_command(cmd, op)) return {Result::invalid_argument};
    return binary_exchange(
        server, Retry::never,
        [&](Connection& c, std::uint32_t opaque) {
            proto::encode_binary_store_header(c.out(), op, key, flags, exptime, data.size(), opaque);
            return data;
        },
        [&](const BinaryEvent& ev) {
            Result r = status_result(ev);
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

Outcome arith(Server& server, proto::ArithCommand cmd, std::string_view key, std::uint64_t delta,
              std::uint64_t& value) {
    return binary_exchange(
        server, Retry::never,
        [&](Connection& c, std::uint32_t opaque) {
            // No initial value: a missing counter is a miss, as in the text protocol.
            proto::encode_binary_arith(c.out(),
                                       cmd == proto::ArithCommand::incr ? proto::BinaryArithCommand::increment
                                                                        : proto::BinaryArithCommand::decrement,
                                       key, delta, 0, proto::kBinaryArithNoCreate, opaque);
            return std::string_view{};
        },
        [&](const BinaryEvent& ev) {
            if (ev.status == BinaryStatus::ok) value = ev.number;
            return status_result(ev);
        });
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
