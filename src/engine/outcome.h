// The result of an engine operation: what the server said, or why it said nothing.
#ifndef MMC_ENGINE_OUTCOME_H
#define MMC_ENGINE_OUTCOME_H

#include <cstdint>
#include <string>

namespace mmc::engine {

enum class Result : std::uint8_t {
    // The server answered.
    ok,
    not_found,
    not_stored,    // add of an existing key, replace of a missing one
    exists,        // cas conflict
    client_error,  // CLIENT_ERROR: the request was refused (e.g. incr of a non-number)
    server_error,  // SERVER_ERROR or ERROR
    // The exchange failed; the connection is discarded.
    protocol_error,  // the reply could not be parsed or did not fit the request
    timeout,          // a network deadline passed
    connect_timeout,  // the server did not complete a TCP handshake in time
    connect_failed,   // sys_error says why
    closed,          // the server closed the connection
    io_error,        // sys_error says why
    // Nothing was sent.
    pool_timeout,      // all `max` connections stayed busy until the acquire deadline
    no_server,         // no live server for the key
    invalid_argument,  // bad key or arguments
    no_memory,
    // A value over the store limit, or longer than the protocol can carry. The caller's
    // mistake, not the server's: nothing was sent and the server's health is untouched.
    value_too_large,
    // A request the server's protocol cannot express (the meta protocol's leases,
    // invalidation and metadata on a text or binary server): nothing was sent.
    not_supported,
    // The connection could not be set up for requests.
    tls_failed,   // the TLS handshake failed (certificate, name, version): no fallback
    auth_failed,  // memcached refused the configured user and password
    // A user is configured, but the server answered the probe that comes before the
    // credentials as a server without authentication would: the password was not sent.
    auth_not_asked,
};

// True when the server itself is suspect (as opposed to the request or a miss): these
// outcomes count against the server's health.
constexpr bool is_transport_failure(Result r) noexcept {
    return r == Result::timeout || r == Result::connect_timeout || r == Result::connect_failed ||
           r == Result::closed || r == Result::io_error || r == Result::tls_failed ||
           r == Result::auth_failed || r == Result::auth_not_asked;
}

// True when the server produced a well-formed answer, whatever it was.
constexpr bool is_server_reply(Result r) noexcept {
    return r <= Result::server_error;
}

struct Outcome {
    Result result = Result::ok;
    int sys_error = 0;  // errno for connect_failed / io_error

    constexpr Outcome() noexcept = default;
    constexpr Outcome(Result r, int err = 0) noexcept : result(r), sys_error(err) {}
    constexpr bool ok() const noexcept { return result == Result::ok; }
};

const char* to_string(Result r) noexcept;

// strerror, thread-safe.
std::string system_error_text(int err);

}  // namespace mmc::engine

#endif
