// Sealed values in the facade: the C API that loads keys and attaches them to a client,
// and the two steps every sealed operation takes (seal before a store, open after a
// read). The envelope itself is in seal.cpp.
#include <string>

#include "compat/facade.h"

namespace mmc::compat {

apr_status_t SealedValue::seal(const seal::Keyring& ring, std::string_view key, std::uint32_t flags,
                               std::string_view plain) {
    size_ = ring.sealed_size(plain.size());
    if (size_ > sizeof inline_) {
        heap_.reset(new unsigned char[size_]);
        data_ = heap_.get();
    }
    return ring.seal(key, flags, plain, data_) ? APR_SUCCESS : APR_EGENERAL;
}

namespace {

std::string refusal_message(const engine::Server& from, seal::Failure why, std::string_view env,
                            std::uint64_t count) {
    // The memcached key is left out on purpose: under socache it is a session id.
    std::string msg = "memcached server " + from.name() + ": sealed value refused (" + seal::to_string(why);
    if (why == seal::Failure::unknown_key && env.size() > 3) {
        msg += " '";
        for (char c : env.substr(3, static_cast<unsigned char>(env[2]))) {
            msg += (c >= 0x21 && c <= 0x7e) ? c : '?';
        }
        msg += "'";
    }
    msg += "), read as a miss";
    if (count > 1) msg += "; " + std::to_string(count) + " such refusals since the last report";
    return msg;
}

}  // namespace

char* unseal_value(apr_memcache_t* mc, engine::Server& from, apr_pool_t* p, std::string_view key,
                   const engine::ValueView& v, std::size_t& len) {
    const seal::Keyring& ring = *mc->seal->ring;
    const std::size_t plain = seal::Keyring::plain_size(v.data);
    auto* out = static_cast<unsigned char*>(apr_palloc(p, plain + 1));
    seal::Failure why = ring.unseal(key, v.flags, v.data, out);
    if (why == seal::Failure::none) {
        out[plain] = '\0';
        len = plain;
        return reinterpret_cast<char*>(out);
    }
    std::uint64_t count = 0;
    if (mc->seal->failures.should_log(why, &count)) {
        from.log(engine::LogLevel::warning, engine::Outcome{engine::Result::not_found},
                 refusal_message(from, why, v.data, count));
    }
    return nullptr;
}

}  // namespace mmc::compat

namespace {

apr_status_t destroy_seal(void* data) {
    static_cast<ap_memcache_seal_t*>(data)->~ap_memcache_seal_t();
    return APR_SUCCESS;
}

}  // namespace

extern "C" {

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_seal_load(apr_pool_t* p, const char* path,
                                                        ap_memcache_seal_t** seal,
                                                        const char** errmsg) {
    if (!p || !path || !seal) return APR_EINVAL;
    return mmc::compat::guarded([&]() -> apr_status_t {
        std::string err;
        int sys_error = 0;
        auto ring = mmc::compat::seal::Keyring::load(path, err, &sys_error);
        if (!ring) {
            if (errmsg) *errmsg = apr_pstrdup(p, err.c_str());
            return sys_error ? APR_FROM_OS_ERROR(sys_error) : APR_EINVAL;
        }
        void* mem = apr_palloc(p, sizeof(ap_memcache_seal_t));
        auto* s = new (mem) ap_memcache_seal_t{};
        s->ring = std::move(ring);
        apr_pool_cleanup_register(p, s, destroy_seal, apr_pool_cleanup_null);
        *seal = s;
        return APR_SUCCESS;
    });
}

AP_MEMCACHE_DECLARE(const char*) ap_memcache_seal_key_id(const ap_memcache_seal_t* seal) {
    return seal && seal->ring ? seal->ring->sealing_key_id().c_str() : nullptr;
}

AP_MEMCACHE_DECLARE(apr_status_t) ap_memcache_set_seal(apr_memcache_t* mc, ap_memcache_seal_t* seal) {
    if (!mc) return APR_EINVAL;
    mc->seal = seal;
    return APR_SUCCESS;
}

}  // extern "C"
