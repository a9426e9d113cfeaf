// The operations over the text protocol.
#include "engine/exchange.h"
#include "engine/protocol_operations.h"

namespace mmc::engine::text {

using detail::exchange;
using detail::Read;
using detail::Retry;
using proto::EventType;
using proto::ReplyKind;
using proto::TextEvent;

namespace {

// The error replies end any request the same way.
Result error_result(EventType t) {
    return t == EventType::client_error ? Result::client_error : Result::server_error;
}

// One request of `kind`: encode writes it (and returns a payload to send after it,
// followed by CRLF), on_event interprets each event of the reply.
template <class Encode, class OnEvent>
Outcome text_exchange(Server& server, ReplyKind kind, Retry retry, Encode&& encode, OnEvent&& on_event) {
    return exchange(
        server, retry, "\r\n",
        [&](Connection& c) {
            c.parser().expect(kind);
            return encode(c);
        },
        [&](Connection& c, Result& r) { return detail::read_text(server, c, on_event, r); });
}

}  // namespace

Outcome get(Server& server, std::string_view key, ValueFn fn, void* ctx) {
    bool found = false;
    return text_exchange(
        server, ReplyKind::retrieval, Retry::if_stale,
        [&](Connection& c) {
            proto::encode_get(c.out(), key);
            return std::string_view{};
        },
        [&](const TextEvent& ev) {
            switch (ev.type) {
                case EventType::value:
                    if (ev.key != key || found) return Result::protocol_error;
                    found = true;
                    fn(ctx, ValueView{ev.key, ev.data, ev.flags, ev.cas, ev.has_cas});
                    return Result::ok;
                case EventType::end: return found ? Result::ok : Result::not_found;
                default: return error_result(ev.type);
            }
        });
}

Outcome store(Server& server, proto::StoreCommand cmd, std::string_view key,
              std::string_view data, std::uint32_t flags, std::uint32_t exptime) {
    return text_exchange(
        server, ReplyKind::storage, Retry::never,
        [&](Connection& c) -> std::string_view {
            proto::encode_store_header(c.out(), cmd, key, flags, exptime, data.size());
            if (data.empty()) {
                c.out().append("\r\n");
                return {};
            }
            return data;
        },
        [&](const TextEvent& ev) {
            switch (ev.type) {
                case EventType::stored: return Result::ok;
                case EventType::not_stored: return Result::not_stored;
                case EventType::exists: return Result::exists;
                case EventType::not_found: return Result::not_found;
                default: return error_result(ev.type);
            }
        });
}

Outcome remove(Server& server, std::string_view key) {
    return text_exchange(
        server, ReplyKind::deletion, Retry::never,
        [&](Connection& c) {
            proto::encode_delete(c.out(), key);
            return std::string_view{};
        },
        [&](const TextEvent& ev) {
            switch (ev.type) {
                case EventType::deleted: return Result::ok;
                case EventType::not_found: return Result::not_found;
                default: return error_result(ev.type);
            }
        });
}

Outcome arith(Server& server, proto::ArithCommand cmd, std::string_view key,
              std::uint64_t delta, std::uint64_t& value) {
    return text_exchange(
        server, ReplyKind::arithmetic, Retry::never,
        [&](Connection& c) {
            proto::encode_arith(c.out(), cmd, key, delta);
            return std::string_view{};
        },
        [&](const TextEvent& ev) {
            switch (ev.type) {
                case EventType::number: value = ev.number; return Result::ok;
                case EventType::not_found: return Result::not_found;
                default: return error_result(ev.type);
            }
        });
}

Outcome version(Server& server, std::string& out) {
    return text_exchange(
        server, ReplyKind::version, Retry::if_stale,
        [&](Connection& c) {
            proto::encode_version(c.out());
            return std::string_view{};
        },
        [&](const TextEvent& ev) {
            if (ev.type != EventType::version) return error_result(ev.type);
            out.assign(ev.data);
            return Result::ok;
        });
}

Outcome stats(Server& server, StatFn fn, void* ctx) {
    return text_exchange(
        server, ReplyKind::stats, Retry::if_stale,
        [&](Connection& c) {
            proto::encode_stats(c.out());
            return std::string_view{};
        },
        [&](const TextEvent& ev) {
            switch (ev.type) {
                case EventType::stat: fn(ctx, ev.key, ev.data); return Result::ok;
                case EventType::end: return Result::ok;
                default: return error_result(ev.type);
            }
        });
}

}  // namespace mmc::engine::text
