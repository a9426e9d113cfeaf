// The text protocol's codec (exchange.h says what a codec is): each request as text
// commands, each reply read with proto's TextReplyParser. Replies do not name their
// request, so the parser is told which kind comes next (expect) when the request is
// written. text_adapter.cpp makes the text adapter of it; the meta adapter
// (meta_adapter.cpp) sends the commands meta has no word for (flush_all, version,
// stats) and its multi-gets with it, on the same connection. Internal to the engine.
#ifndef MMC_ENGINE_TEXT_ADAPTER_H
#define MMC_ENGINE_TEXT_ADAPTER_H

#include "engine/exchange.h"

namespace mmc::engine::detail {

using proto::EventType;
using proto::ReplyKind;
using proto::TextEvent;

// Whether memcached reads a time (an expiry, a delay) sent as text as it was meant.
constexpr bool time_fits(std::uint32_t t) noexcept { return t <= proto::kMaxTextTime; }

// append and prepend keep the item's flags and expiry: what they send of them is ignored.
constexpr bool is_concat(proto::StoreCommand cmd) noexcept {
    return cmd == proto::StoreCommand::append || cmd == proto::StoreCommand::prepend;
}

// The error replies end any request the same way.
inline Result error_result(EventType t) {
    return t == EventType::client_error ? Result::client_error : Result::server_error;
}

struct TextCodec {
    static constexpr Protocol kProtocol = Protocol::text;
    // incr on a missing key is NOT_FOUND; there is no initial value to give.
    static constexpr bool kCreatesCounters = false;
    static constexpr std::string_view kTrailer = "\r\n";

    struct Pending {
        bool found = false;  // a retrieval's VALUE has come
    };

    // Times above 2^31 - 1 are refused: memcached reads a text time as a signed 32-bit
    // number, so the item would expire at once. The operations cap them before they get
    // here (operations.h); this is the net for any other caller.
    template <class R>
    static constexpr Result check(const R&) noexcept {
        return Result::ok;
    }
    static Result check(const StoreRequest& r) noexcept {
        if (r.data.size() > proto::kMaxTextValueLength) return Result::value_too_large;
        return is_concat(r.cmd) || time_fits(r.exptime) ? Result::ok : Result::invalid_argument;
    }
    static Result check(const TouchRequest& r) noexcept {
        return time_fits(r.exptime) ? Result::ok : Result::invalid_argument;
    }
    static Result check(const GetAndTouchRequest& r) noexcept {
        return time_fits(r.exptime) ? Result::ok : Result::invalid_argument;
    }
    static Result check(const FlushRequest& r) noexcept {
        return time_fits(r.delay) ? Result::ok : Result::invalid_argument;
    }

    // ---- requests ----

    static std::string_view encode(Connection& c, const GetRequest& r, Pending&) {
        c.text_parser().expect(ReplyKind::retrieval);
        if (r.with_cas) {
            proto::encode_gets(c.out(), r.key);
        } else {
            proto::encode_get(c.out(), r.key);
        }
        return {};
    }

    static std::string_view encode(Connection& c, const GetAndTouchRequest& r, Pending&) {
        // gats rather than gat: the caller gets the CAS unique as well.
        c.text_parser().expect(ReplyKind::retrieval);
        proto::encode_gats(c.out(), r.exptime, r.key);
        return {};
    }

    static std::string_view encode(Connection& c, const TouchRequest& r, Pending&) {
        c.text_parser().expect(ReplyKind::touch);
        proto::encode_touch(c.out(), r.key, r.exptime);
        return {};
    }

    static std::string_view encode(Connection& c, const StoreRequest& r, Pending&) {
        c.text_parser().expect(ReplyKind::storage);
        // check() was passed, so this cannot refuse; if it ever did, the data must not
        // go out without its command line.
        if (!proto::encode_store_header(c.out(), r.cmd, r.key, r.flags, r.exptime, r.data.size(), r.cas)) {
            return {};
        }
        if (r.data.empty()) {
            c.out().append("\r\n");
            return {};
        }
        return r.data;
    }

    static std::string_view encode(Connection& c, const RemoveRequest& r, Pending&) {
        c.text_parser().expect(ReplyKind::deletion);
        proto::encode_delete(c.out(), r.key);
        return {};
    }

    static std::string_view encode(Connection& c, const ArithRequest& r, Pending&) {
        // r.create is never asked of this codec (kCreatesCounters).
        c.text_parser().expect(ReplyKind::arithmetic);
        proto::encode_arith(c.out(), r.cmd, r.key, r.delta);
        return {};
    }

    static std::string_view encode(Connection& c, const FlushRequest& r, Pending&) {
        c.text_parser().expect(ReplyKind::ok);
        proto::encode_flush_all(c.out(), r.delay);
        return {};
    }

    static std::string_view encode(Connection& c, const VersionRequest&, Pending&) {
        c.text_parser().expect(ReplyKind::version);
        proto::encode_version(c.out());
        return {};
    }

    static std::string_view encode(Connection& c, const StatsRequest&, Pending&) {
        c.text_parser().expect(ReplyKind::stats);
        proto::encode_stats(c.out());
        return {};
    }

    // ---- replies ----

    template <class R>
    static Read read(Server& s, Connection& c, const R& r, Pending& p, Result& result) {
        return detail::read_events<TextEvent>(
            s, c, c.text_parser(), [&](const TextEvent& ev) { return on_event(ev, r, p); }, result);
    }

    // One key's retrieval: at most one VALUE, for exactly that key, then END.
    static Result on_value(const TextEvent& ev, std::string_view key, ValueFn fn, void* ctx, Pending& p) {
        switch (ev.type) {
            case EventType::value:
                if (ev.key != key || p.found) return Result::protocol_error;
                p.found = true;
                fn(ctx, ValueView{ev.key, ev.data, ev.flags, ev.cas, ev.has_cas});
                return Result::ok;
            case EventType::end: return p.found ? Result::ok : Result::not_found;
            default: return error_result(ev.type);
        }
    }

    static Result on_event(const TextEvent& ev, const GetRequest& r, Pending& p) {
        return on_value(ev, r.key, r.fn, r.ctx, p);
    }

    static Result on_event(const TextEvent& ev, const GetAndTouchRequest& r, Pending& p) {
        return on_value(ev, r.key, r.fn, r.ctx, p);
    }

    static Result on_event(const TextEvent& ev, const TouchRequest&, Pending&) {
        switch (ev.type) {
            case EventType::touched: return Result::ok;
            case EventType::not_found: return Result::not_found;
            default: return error_result(ev.type);
        }
    }

    static Result on_event(const TextEvent& ev, const StoreRequest&, Pending&) {
        switch (ev.type) {
            case EventType::stored: return Result::ok;
            case EventType::not_stored: return Result::not_stored;
            case EventType::exists: return Result::exists;
            case EventType::not_found: return Result::not_found;
            default: return error_result(ev.type);
        }
    }

    static Result on_event(const TextEvent& ev, const RemoveRequest&, Pending&) {
        switch (ev.type) {
            case EventType::deleted: return Result::ok;
            case EventType::not_found: return Result::not_found;
            default: return error_result(ev.type);
        }
    }

    static Result on_event(const TextEvent& ev, const ArithRequest& r, Pending&) {
        switch (ev.type) {
            case EventType::number: *r.value = ev.number; return Result::ok;
            case EventType::not_found: return Result::not_found;
            default: return error_result(ev.type);
        }
    }

    static Result on_event(const TextEvent& ev, const FlushRequest&, Pending&) {
        return ev.type == EventType::ok ? Result::ok : error_result(ev.type);
    }

    static Result on_event(const TextEvent& ev, const VersionRequest& r, Pending&) {
        if (ev.type != EventType::version) return error_result(ev.type);
        r.out->assign(ev.data);
        return Result::ok;
    }

    static Result on_event(const TextEvent& ev, const StatsRequest& r, Pending&) {
        switch (ev.type) {
            case EventType::stat: r.fn(r.ctx, ev.key, ev.data); return Result::ok;
            case EventType::end: return Result::ok;
            default: return error_result(ev.type);
        }
    }

    // ---- multi-get: one "get k1 k2 ..." (gets with CAS), answered VALUE* END ----

    static void write_batch(Connection& c, const GetBatch& b, BatchCursor& cursor) {
        if (b.with_cas) {
            proto::encode_gets_multi(c.out(), b.keys, b.nkeys);
        } else {
            proto::encode_get_multi(c.out(), b.keys, b.nkeys);
        }
        c.text_parser().expect(ReplyKind::retrieval);
        cursor = BatchCursor{};
    }

    static BatchRead read_batch(Connection& c, const GetBatch& b, BatchCursor& cursor, const BatchSink& sink) {
        proto::TextReplyParser& parser = c.text_parser();
        // One event for the whole reply: both parsers set every field they report, so
        // it needs no clearing per value.
        TextEvent ev;
        for (;;) {
            std::size_t consumed = 0;
            const std::string_view in = c.in().view();
            // memcached answers a multi-get in the order asked, leaving out misses, so
            // the next value is most often the next key's: tried first, it needs no scan
            // for the key's end and no lookup. Anything else takes the general way.
            if (cursor.next_key < b.nkeys && parser.parse_value_of(in, b.keys[cursor.next_key], ev, consumed)) {
                sink(cursor.next_key, ValueView{ev.key, ev.data, ev.flags, ev.cas, ev.has_cas});
                ++cursor.next_key;
                c.in().consume(consumed);
                continue;
            }
            auto pr = parser.parse(in, ev, consumed);
            if (pr == proto::ParseResult::need_more) return {};
            if (pr == proto::ParseResult::error) {
                return {BatchRead::State::unusable, Result::protocol_error, parser.error_message()};
            }
            Result r = Result::ok;
            if (ev.type == EventType::value) {
                const std::size_t key = find_key(b, cursor.next_key, ev.key);
                if (key == b.nkeys) {
                    return {BatchRead::State::unusable, Result::protocol_error, "value for a key not asked for"};
                }
                cursor.next_key = key + 1;
                sink(key, ValueView{ev.key, ev.data, ev.flags, ev.cas, ev.has_cas});
            } else if (ev.type == EventType::client_error) {
                // An error line ends the reply (memcached sends nothing after it) and names
                // no key: the batch's error (multi_get.h), with the stream in step.
                r = Result::client_error;
            } else if (ev.type != EventType::end) {
                r = Result::server_error;
            }
            c.in().consume(consumed);
            if (ev.final) return {BatchRead::State::done, r};
        }
    }
};

}  // namespace mmc::engine::detail

#endif
