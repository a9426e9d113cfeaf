// Per-server settings: where it is, how its pool is sized, and every deadline.
#ifndef MMC_ENGINE_OPTIONS_H
#define MMC_ENGINE_OPTIONS_H

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/secret.h"
#include "proto/text_codec.h"

namespace mmc::engine {

using Clock = std::chrono::steady_clock;
using Duration = Clock::duration;

struct Endpoint {
    std::string host;  // name or address (IPv6 without brackets); empty for a unix socket
    std::uint16_t port = 0;
    std::string socket_path;  // set for a unix socket

    bool is_unix() const { return !socket_path.empty(); }
    // "host:port", "[v6]:port" or the socket path, for messages.
    std::string describe() const {
        if (is_unix()) return socket_path;
        if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
        return host + ":" + std::to_string(port);
    }
};

struct PoolLimits {
    std::uint32_t min = 0;   // kept open once opened
    std::uint32_t smax = 1;  // idle connections above this are closed after ttl
    std::uint32_t max = 1;   // never more open than this
    Duration ttl = std::chrono::seconds(15);
};

struct Timeouts {
    Duration connect = std::chrono::seconds(1);
    Duration io = std::chrono::seconds(1);       // whole exchange of one operation
    Duration acquire = std::chrono::seconds(1);  // waiting for a pooled connection
    Duration retry = std::chrono::seconds(5);    // a dead server stays out this long
};

struct Health {
    // Consecutive transport failures (refused, reset, timed out) that mark the server
    // dead. 1 is apr-util's behaviour; 2 lets one lost connection pass without moving
    // the server's keys elsewhere.
    std::uint32_t failure_limit = 2;
};

enum class Protocol : std::uint8_t { text, binary, meta };

class TlsContext;  // tls.h

// memcached authentication, run once on every new connection: -Y (a set of "user
// password") for text and meta, which memcached serves as one ASCII protocol, SASL
// PLAIN for binary, each after a probe that shows the server wants it (auth.cpp). An
// empty user: none. Move-only, as its password.
struct Credentials {
    std::string user;
    Secret password;
};

struct ServerOptions {
    Endpoint endpoint;
    PoolLimits limits;
    Timeouts timeouts;
    Health health;
    std::uint32_t weight = 1;  // share of keys under ketama
    Protocol protocol = Protocol::text;
    // The longest value a reply may carry (what the parsers accept). Set together with
    // max_store_size by set_max_store_size() (value_limits.h).
    std::size_t max_value_size = proto::kDefaultMaxValueSize;
    // The longest value a store may send; longer ones are refused before anything is
    // sent. memcached's default item size (-I 1m).
    std::size_t max_store_size = proto::kDefaultMaxStoreSize;
    // Set: the server is reached over TLS only, with these settings (shared by its
    // connections; built once when the server is configured).
    std::shared_ptr<TlsContext> tls;
    Credentials auth;
};

}  // namespace mmc::engine

#endif
