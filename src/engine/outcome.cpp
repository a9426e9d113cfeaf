#include "engine/outcome.h"

#include <system_error>

namespace mmc::engine {

const char* to_string(Result r) noexcept {
    switch (r) {
        case Result::ok: return "ok";
        case Result::not_found: return "not found";
        case Result::not_stored: return "not stored";
        case Result::exists: return "exists";
        case Result::client_error: return "client error reply";
        case Result::server_error: return "server error reply";
        case Result::protocol_error: return "malformed or unexpected reply";
        case Result::timeout: return "timed out";
        case Result::connect_timeout: return "connect timed out";
        case Result::connect_failed: return "connect failed";
        case Result::closed: return "connection closed by server";
        case Result::io_error: return "I/O error";
        case Result::pool_timeout: return "no free connection before the deadline";
        case Result::no_server: return "no live server";
        case Result::invalid_argument: return "invalid argument";
        case Result::no_memory: return "out of memory";
        case Result::value_too_large: return "value too large to store";
        case Result::not_supported: return "not supported by the server's protocol";
        case Result::tls_failed: return "TLS handshake failed";
        case Result::auth_failed: return "authentication failed";
        case Result::auth_not_asked: return "the server does not ask for authentication";
    }
    return "unknown";
}

}  // namespace mmc::engine

namespace mmc::engine {

std::string system_error_text(int err) { return std::generic_category().message(err); }

}  // namespace mmc::engine
