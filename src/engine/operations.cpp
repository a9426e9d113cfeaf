#include "engine/operations.h"

#include "engine/protocol_operations.h"

namespace mmc::engine {

namespace {

bool speaks_binary(const Server& s) noexcept { return s.options().protocol == Protocol::binary; }

}  // namespace

Outcome get(Server& s, std::string_view key, ValueFn fn, void* ctx, bool with_cas) {
    return speaks_binary(s) ? binary::get(s, key, fn, ctx, with_cas) : text::get(s, key, fn, ctx, with_cas);
}

Outcome store(Server& s, proto::StoreCommand cmd, std::string_view key, std::string_view data,
              std::uint32_t flags, std::uint32_t exptime, std::uint64_t cas) {
    // First, before a connection is taken: memcached would read the data of a value it
    // refuses anyway and answer with an error, and apr-util sends it all the same.
    if (data.size() > s.options().max_store_size) return detail::refuse_value(s);
    return speaks_binary(s) ? binary::store(s, cmd, key, data, flags, exptime, cas)
                            : text::store(s, cmd, key, data, flags, exptime, cas);
}

Outcome touch(Server& s, std::string_view key, std::uint32_t exptime) {
    return speaks_binary(s) ? binary::touch(s, key, exptime) : text::touch(s, key, exptime);
}

Outcome get_and_touch(Server& s, std::string_view key, std::uint32_t exptime, ValueFn fn, void* ctx) {
    return speaks_binary(s) ? binary::get_and_touch(s, key, exptime, fn, ctx)
                            : text::get_and_touch(s, key, exptime, fn, ctx);
}

Outcome flush(Server& s, std::uint32_t delay) {
    return speaks_binary(s) ? binary::flush(s, delay) : text::flush(s, delay);
}

Outcome arith_create(Server& s, proto::ArithCommand cmd, std::string_view key, std::uint64_t delta,
                     std::uint64_t initial, std::uint32_t exptime, std::uint64_t& value) {
    return speaks_binary(s) ? binary::arith_create(s, cmd, key, delta, initial, exptime, value)
                            : text::arith_create(s, cmd, key, delta, initial, exptime, value);
}

Outcome remove(Server& s, std::string_view key) {
    return speaks_binary(s) ? binary::remove(s, key) : text::remove(s, key);
}

Outcome arith(Server& s, proto::ArithCommand cmd, std::string_view key, std::uint64_t delta,
              std::uint64_t& value) {
    return speaks_binary(s) ? binary::arith(s, cmd, key, delta, value) : text::arith(s, cmd, key, delta, value);
}

Outcome version(Server& s, std::string& out) {
    return speaks_binary(s) ? binary::version(s, out) : text::version(s, out);
}

Outcome stats(Server& s, StatFn fn, void* ctx) {
    return speaks_binary(s) ? binary::stats(s, fn, ctx) : text::stats(s, fn, ctx);
}

}  // namespace mmc::engine
