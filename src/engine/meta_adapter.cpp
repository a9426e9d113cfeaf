// The meta protocol behind the protocol seam: mg, ms, md and ma for the operations.
// Results mean what they mean over text and binary (an add of an existing key is "not
// stored", a miss is "not found").
//
// A meta reply does not name its request unless asked to (O, k). A single exchange has
// one request on a connection whose receive buffer is empty, so its one reply line
// answers it: each request's reader takes the codes that can answer its command; an
// error line is the server's error, any other code a protocol error (error_result).
//
// Text and meta are one ASCII protocol to memcached, which takes either command on any
// connection, so some requests go out as text commands on the same connection and are
// read with the text codec (text_adapter.h):
// - flush_all, version and stats, which meta has no word for;
// - the multi-get: the text adapter's one "get k1 k2 ..." (gets with CAS) rather than a
//   quiet mg per key and mn. memcached serves at most -R requests (default 20) from one
//   connection before it turns to its others, and a pipeline of n mg is n + 1 requests,
//   so a multi-get of more than 19 keys per server would cost it a second round of
//   sends and polls; the get line is one request whatever the number of keys, and its
//   reply is smaller. What only mg can do (leases, stale values, metadata, keys of any
//   bytes) is a call of its own (MetaGetCall), not a multi-get.
#include "engine/text_adapter.h"
#include "proto/meta_codec.h"

namespace mmc::engine {

namespace {

using detail::is_concat;
using detail::Read;
using detail::time_fits;
using proto::MetaEvent;
using proto::MetaEventType;
using proto::MetaFlag;

// What an error line makes of a request, or a well-formed reply of a kind the request
// never gets (the stream is out of step).
Result error_result(const MetaEvent& ev) {
    switch (ev.type) {
        case MetaEventType::client_error: return Result::client_error;
        case MetaEventType::server_error:
        case MetaEventType::error: return Result::server_error;
        default: return Result::protocol_error;
    }
}

proto::MetaSetMode set_mode(proto::StoreCommand cmd) noexcept {
    switch (cmd) {
        case proto::StoreCommand::add: return proto::MetaSetMode::add;
        case proto::StoreCommand::replace: return proto::MetaSetMode::replace;
        case proto::StoreCommand::append: return proto::MetaSetMode::append;
        case proto::StoreCommand::prepend: return proto::MetaSetMode::prepend;
        case proto::StoreCommand::set:
        case proto::StoreCommand::cas: break;
    }
    return proto::MetaSetMode::set;
}

struct MetaCodec {
    static constexpr Protocol kProtocol = Protocol::meta;
    // ma with N creates a missing counter, J giving its first value.
    static constexpr bool kCreatesCounters = true;
    static constexpr std::string_view kTrailer = "\r\n";

    using Text = detail::TextCodec;

    struct Pending {
        Text::Pending text;  // flush, version and stats are text commands
    };

    // ---- what can be sent ----
    // Times above 2^31 - 1 are refused: memcached reads them as negative times and the
    // item expires at once (proto/meta_codec.h). The operations cap them before they get
    // here (operations.h); this is the net for any other caller.

    static Result check(const GetRequest&) noexcept { return Result::ok; }
    static Result check(const GetAndTouchRequest& r) noexcept {
        return time_fits(r.exptime) ? Result::ok : Result::invalid_argument;
    }
    static Result check(const TouchRequest& r) noexcept {
        return time_fits(r.exptime) ? Result::ok : Result::invalid_argument;
    }
    static Result check(const StoreRequest& r) noexcept {
        if (r.data.size() > proto::kMaxTextValueLength) return Result::value_too_large;
        return is_concat(r.cmd) || time_fits(r.exptime) ? Result::ok : Result::invalid_argument;
    }
    static Result check(const RemoveRequest&) noexcept { return Result::ok; }
    static Result check(const ArithRequest& r) noexcept {
        return !r.create || time_fits(r.exptime) ? Result::ok : Result::invalid_argument;
    }
    static Result check(const FlushRequest& r) noexcept { return Text::check(r); }
    static Result check(const VersionRequest& r) noexcept { return Text::check(r); }
    static Result check(const StatsRequest& r) noexcept { return Text::check(r); }
    // The meta calls come with their times checked by the caller; the encoders refuse
    // what is left (a time above kMaxMetaTtl), so it is refused here first.
    static Result check(const MetaGetCall& r) noexcept {
        const auto fits = [](const std::optional<std::uint32_t>& t) { return !t || time_fits(*t); };
        return fits(r.req->vivify_ttl) && fits(r.req->recache_ttl) && fits(r.req->touch_ttl)
                   ? Result::ok
                   : Result::invalid_argument;
    }
    static Result check(const MetaSetCall& r) noexcept {
        if (r.data.size() > proto::kMaxTextValueLength) return Result::value_too_large;
        return time_fits(r.req->ttl) ? Result::ok : Result::invalid_argument;
    }
    static Result check(const MetaDeleteCall& r) noexcept {
        return !r.req->ttl || time_fits(*r.req->ttl) ? Result::ok : Result::invalid_argument;
    }

    // ---- requests ----

    static std::string_view encode(Connection& c, const GetRequest& r, Pending&) {
        proto::encode_meta_value_get(c.out(), r.key, r.with_cas);
        return {};
    }

    static std::string_view encode(Connection& c, const GetAndTouchRequest& r, Pending&) {
        proto::MetaGetRequest mg;
        mg.key = r.key;
        mg.value = true;
        mg.return_flags = true;
        mg.return_cas = true;
        mg.touch_ttl = r.exptime;
        proto::encode_meta_get(c.out(), mg);
        return {};
    }

    static std::string_view encode(Connection& c, const TouchRequest& r, Pending&) {
        proto::MetaGetRequest mg;
        mg.key = r.key;
        mg.touch_ttl = r.exptime;
        proto::encode_meta_get(c.out(), mg);
        return {};
    }

    static std::string_view encode(Connection& c, const StoreRequest& r, Pending&) {
        proto::MetaSetRequest ms;
        ms.key = r.key;
        ms.mode = set_mode(r.cmd);
        // append and prepend keep the item's flags and expiry, as their text commands do.
        if (!is_concat(r.cmd)) {
            ms.flags = r.flags;
            ms.ttl = r.exptime;
        }
        if (r.cmd == proto::StoreCommand::cas) ms.compare_cas = r.cas;
        // check() was done, so this cannot refuse; if it ever did, the data must not go
        // out without its command line.
        if (!proto::encode_meta_set_header(c.out(), ms, r.data.size())) return {};
        if (r.data.empty()) {
            c.out().append("\r\n");
            return {};
        }
        return r.data;
    }

    static std::string_view encode(Connection& c, const RemoveRequest& r, Pending&) {
        proto::MetaDeleteRequest md;
        md.key = r.key;
        proto::encode_meta_delete(c.out(), md);
        return {};
    }

    static std::string_view encode(Connection& c, const ArithRequest& r, Pending&) {
        proto::MetaArithmeticRequest ma;
        ma.key = r.key;
        ma.mode = r.cmd == proto::ArithCommand::incr ? proto::MetaArithMode::increment
                                                    : proto::MetaArithMode::decrement;
        ma.delta = r.delta;
        ma.value = true;
        if (r.create) {
            ma.vivify_ttl = r.exptime;
            ma.initial = r.initial;
        }
        proto::encode_meta_arithmetic(c.out(), ma);
        return {};
    }

    static std::string_view encode(Connection& c, const MetaGetCall& r, Pending&) {
        proto::encode_meta_get(c.out(), *r.req);
        return {};
    }

    static std::string_view encode(Connection& c, const MetaSetCall& r, Pending&) {
        if (!proto::encode_meta_set_header(c.out(), *r.req, r.data.size())) return {};
        if (r.data.empty()) {
            c.out().append("\r\n");
            return {};
        }
        return r.data;
    }

    static std::string_view encode(Connection& c, const MetaDeleteCall& r, Pending&) {
        proto::encode_meta_delete(c.out(), *r.req);
        return {};
    }

    static std::string_view encode(Connection& c, const FlushRequest& r, Pending& p) {
        return Text::encode(c, r, p.text);
    }
    static std::string_view encode(Connection& c, const VersionRequest& r, Pending& p) {
        return Text::encode(c, r, p.text);
    }
    static std::string_view encode(Connection& c, const StatsRequest& r, Pending& p) {
        return Text::encode(c, r, p.text);
    }

    // ---- replies: one line (and a value) per request ----

    template <class R>
    static Read read(Server& s, Connection& c, const R& r, Pending& p, Result& result) {
        if constexpr (std::is_same_v<R, FlushRequest> || std::is_same_v<R, VersionRequest> ||
                      std::is_same_v<R, StatsRequest>) {
            return Text::read(s, c, r, p.text, result);
        } else {
            return detail::read_events<MetaEvent>(
                s, c, c.meta_parser(), [&](const MetaEvent& ev) { return on_event(ev, r); }, result);
        }
    }

    // One key's retrieval: VA with the value, or EN.
    static Result on_value(const MetaEvent& ev, std::string_view key, ValueFn fn, void* ctx) {
        switch (ev.type) {
            case MetaEventType::value:
                fn(ctx, ValueView{key, ev.data, ev.flags, ev.cas, ev.has(MetaFlag::cas)});
                return Result::ok;
            case MetaEventType::miss: return Result::not_found;
            default: return error_result(ev);
        }
    }

    static Result on_event(const MetaEvent& ev, const GetRequest& r) { return on_value(ev, r.key, r.fn, r.ctx); }

    static Result on_event(const MetaEvent& ev, const GetAndTouchRequest& r) {
        return on_value(ev, r.key, r.fn, r.ctx);
    }

    static Result on_event(const MetaEvent& ev, const TouchRequest&) {
        switch (ev.type) {
            case MetaEventType::ok: return Result::ok;
            case MetaEventType::miss: return Result::not_found;
            default: return error_result(ev);
        }
    }

    static Result on_event(const MetaEvent& ev, const StoreRequest& r) {
        switch (ev.type) {
            case MetaEventType::ok: return Result::ok;
            // add of an existing key, replace/append/prepend of a missing one: as text.
            case MetaEventType::not_stored: return Result::not_stored;
            case MetaEventType::exists: return Result::exists;
            // Only a compare-and-swap can find nothing (text's cas says NOT_FOUND).
            case MetaEventType::not_found:
                return r.cmd == proto::StoreCommand::cas ? Result::not_found : Result::protocol_error;
            default: return error_result(ev);
        }
    }

    static Result on_event(const MetaEvent& ev, const RemoveRequest&) {
        switch (ev.type) {
            case MetaEventType::ok: return Result::ok;
            case MetaEventType::not_found: return Result::not_found;
            default: return error_result(ev);
        }
    }

    static Result on_event(const MetaEvent& ev, const ArithRequest& r) {
        switch (ev.type) {
            case MetaEventType::value:
                // The new value, in decimal, as the data block.
                return proto::parse_meta_number(ev.data, *r.value) ? Result::ok : Result::protocol_error;
            case MetaEventType::not_found: return Result::not_found;
            // Creating the counter failed (another client's store raced it, or memory).
            case MetaEventType::not_stored: return Result::not_stored;
            default: return error_result(ev);
        }
    }

    // The meta calls: the reply line goes to the caller as it came.
    static Result on_event(const MetaEvent& ev, const MetaGetCall& r) {
        switch (ev.type) {
            // VA when the value was asked for (v), HD when it was not: the other is a
            // reply to some other request.
            case MetaEventType::value:
            case MetaEventType::ok:
                if ((ev.type == MetaEventType::value) != r.req->value) return Result::protocol_error;
                r.fn(r.ctx, ev);
                return Result::ok;
            case MetaEventType::miss: return Result::not_found;
            default: return error_result(ev);
        }
    }

    static Result on_event(const MetaEvent& ev, const MetaSetCall& r) {
        switch (ev.type) {
            case MetaEventType::ok: r.fn(r.ctx, ev); return Result::ok;
            case MetaEventType::not_stored: return Result::not_stored;
            case MetaEventType::exists: return Result::exists;
            case MetaEventType::not_found: return Result::not_found;
            default: return error_result(ev);
        }
    }

    static Result on_event(const MetaEvent& ev, const MetaDeleteCall&) {
        switch (ev.type) {
            case MetaEventType::ok: return Result::ok;
            case MetaEventType::not_found: return Result::not_found;
            case MetaEventType::exists: return Result::exists;
            default: return error_result(ev);
        }
    }
};

// The multi-get is the text codec's (see the top of this file).
constexpr ProtocolAdapter kMeta = make_adapter<MetaCodec, detail::TextCodec>();

}  // namespace

const ProtocolAdapter& meta_adapter() noexcept { return kMeta; }

}  // namespace mmc::engine
