// The operations over the text protocol.
#include <charconv>

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

// One key's retrieval (get, gets, gat, gats): encode writes the request; the reply is
// at most one VALUE for exactly that key, then END.
template <class Encode>
Outcome retrieve_one(Server& server, std::string_view key, ValueFn fn, void* ctx, Encode&& encode) {
    bool found = false;
    return text_exchange(
        server, ReplyKind::retrieval, Retry::if_stale,
        [&](Connection& c) {
            encode(c.out());
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

}  // namespace

Outcome get(Server& server, std::string_view key, ValueFn fn, void* ctx, bool with_cas) {
    return retrieve_one(server, key, fn, ctx, [&](std::string& out) {
        if (with_cas) {
            proto::encode_gets(out, key);
        } else {
            proto::encode_get(out, key);
        }
    });
}

Outcome get_and_touch(Server& server, std::string_view key, std::uint32_t exptime, ValueFn fn,
                      void* ctx) {
    // gats rather than gat: the caller gets the CAS unique as well.
    return retrieve_one(server, key, fn, ctx,
                        [&](std::string& out) { proto::encode_gats(out, exptime, key); });
}

Outcome touch(Server& server, std::string_view key, std::uint32_t exptime) {
    return text_exchange(
        server, ReplyKind::touch, Retry::never,
        [&](Connection& c) {
            proto::encode_touch(c.out(), key, exptime);
            return std::string_view{};
        },
        [&](const TextEvent& ev) {
            switch (ev.type) {
                case EventType::touched: return Result::ok;
                case EventType::not_found: return Result::not_found;
                default: return error_result(ev.type);
            }
        });
}

Outcome flush(Server& server, std::uint32_t delay) {
    return text_exchange(
        server, ReplyKind::ok, Retry::never,
        [&](Connection& c) {
            proto::encode_flush_all(c.out(), delay);
            return std::string_view{};
        },
        [&](const TextEvent& ev) { return ev.type == EventType::ok ? Result::ok : error_result(ev.type); });
}

Outcome arith_create(Server& server, proto::ArithCommand cmd, std::string_view key,
                     std::uint64_t delta, std::uint64_t initial, std::uint32_t exptime,
                     std::uint64_t& value) {
    // Qualified calls: argument-dependent lookup would also find the dispatching
    // mmc::engine versions. Two rounds at most: if another client creates the counter between our miss and
    // our add, the add is not stored and the second incr finds it.
    for (int round = 0; round < 2; ++round) {
        Outcome o = text::arith(server, cmd, key, delta, value);
        if (o.result != Result::not_found) return o;
        char digits[24];
        auto [end, ec] = std::to_chars(digits, digits + sizeof digits, initial);
        (void)ec;
        o = text::store(server, proto::StoreCommand::add, key,
                  std::string_view(digits, static_cast<std::size_t>(end - digits)), 0, exptime, 0);
        if (o.result != Result::not_stored) {
            if (o.ok()) value = initial;
            return o;
        }
    }
    return text::arith(server, cmd, key, delta, value);
}

Outcome store(Server& server, proto::StoreCommand cmd, std::string_view key,
              std::string_view data, std::uint32_t flags, std::uint32_t exptime, std::uint64_t cas) {
    // Whatever the store limit says: the encoder would refuse this length, and by then
    // a connection would be taken and a reply awaited that never comes.
    if (data.size() > proto::kMaxTextValueLength) return detail::refuse_value(server);
    return text_exchange(
        server, ReplyKind::storage, Retry::never,
        [&](Connection& c) -> std::string_view {
            // Checked above, so this cannot refuse; if it ever did, the data must not go
            // out without its command line.
            if (!proto::encode_store_header(c.out(), cmd, key, flags, exptime, data.size(), cas)) {
                return {};
            }
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
