// Ketama consistent hashing exactly as libmemcached 1.1 does it with weighted ketama
// (MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, MD5): a key lands on the same server in both, so
// a cache shared with libmemcached-based clients (php-memcached, pylibmc, ...) is not
// split. The ring is built once and only read afterwards, so lookups take no lock.
//
// libmemcached's algorithm, confirmed against libmemcached 1.1.4 as an oracle
// (tests/live/test_ketama_oracle.cpp):
//  - a server's name is "host" when its port is 11211, else "host:port"; a unix socket
//    is "path:0". Weight 0 counts as 1.
//  - with n servers and total weight W, a server of weight w gets
//    h = floor(w / W * 160 / 4 * n) MD5 digests (computed in float, in that order),
//    of "<name>-0" .. "<name>-(h-1)"; each digest gives 4 points, its bytes 0-3, 4-7,
//    8-11 and 12-15 read as little-endian 32-bit numbers.
//  - points are sorted by (value, server index); a key's hash is its MD5's bytes 0-3
//    read little-endian; the key belongs to the first point >= hash, wrapping to the
//    first point of the ring.
#ifndef MMC_ENGINE_KETAMA_H
#define MMC_ENGINE_KETAMA_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/options.h"

namespace mmc::engine {

// libmemcached's MEMCACHED_DEFAULT_PORT: servers on it are named without the port.
inline constexpr std::uint16_t kKetamaDefaultPort = 11211;

// The name libmemcached hashes for a TCP server added as (host, port): "host" when port
// is 11211 (or 0, which libmemcached turns into 11211), else "host:port". host is used
// exactly as configured (a name is not resolved, an IPv6 address has no brackets), as
// libmemcached uses it as given.
std::string ketama_tcp_name(std::string_view host, std::uint16_t port);

// The name libmemcached hashes for a unix-socket server: "path:0" (its port is 0).
std::string ketama_unix_name(std::string_view socket_path);

// ketama_unix_name or ketama_tcp_name, whichever the endpoint is.
std::string ketama_name(const Endpoint& endpoint);

// A key's position on the ring: the first 4 bytes of MD5(key), little-endian
// (libmemcached's MEMCACHED_HASH_MD5 key hash).
std::uint32_t ketama_key_hash(std::string_view key) noexcept;

// out[i] = ketama_key_hash(keys[i]) for every i < n, several keys at a time (SIMD
// lanes): what a multi-get uses. No allocation.
void ketama_key_hashes(const std::string_view* keys, std::size_t n, std::uint32_t* out) noexcept;

struct KetamaServer {
    std::string name;          // as ketama_tcp_name / ketama_unix_name give it
    std::uint32_t weight = 1;  // relative share of keys; 0 counts as 1
};

class KetamaRing {
public:
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

    struct Point {
        std::uint32_t value;
        std::uint32_t server;  // index into the list the ring was built from
    };

    // An empty ring: every lookup returns npos.
    KetamaRing() = default;

    // Builds the ring for servers in this order; the order matters exactly as the order
    // of memcached_server_add calls matters to libmemcached (ties go to the lower index,
    // and indexes are what lookups return). With extreme weights a server may get no
    // point at all and so no key, as in libmemcached.
    explicit KetamaRing(const std::vector<KetamaServer>& servers);

    // Index of the server that owns key, or npos for an empty ring. Never allocates.
    std::size_t server_for(std::string_view key) const noexcept;

    // Failover: the owner among usable servers only. Walks clockwise from the key's
    // point to the first point whose server satisfies usable(std::size_t index) -> bool,
    // so a dead server's keys go to the next server on the ring, everyone else's stay
    // put, and they all come back once it is usable again. usable is asked at most
    // once per run of consecutive points of the same server, and the walk stops after
    // one turn: npos when no server is usable (or the ring is empty). Never allocates.
    template <typename Usable>
    std::size_t server_for(std::string_view key, Usable&& usable) const {
        return server_for_hash(ketama_key_hash(key), std::forward<Usable>(usable));
    }

    // The same for a key whose ketama_key_hash is already known (apr_memcache's
    // server_func receives the hash, not the key).
    template <typename Usable>
    std::size_t server_for_hash(std::uint32_t hash, Usable&& usable) const;

    std::size_t server_count() const noexcept { return points_per_server_.size(); }
    // Points of server `index` on the ring (a multiple of 4; 0 for an unknown index).
    std::uint32_t points_of(std::size_t index) const noexcept {
        return index < points_per_server_.size() ? points_per_server_[index] : 0;
    }
    // The whole ring in lookup order, for tests and status pages.
    const std::vector<Point>& points() const noexcept { return points_; }

private:
    // Position in points_ of the first point >= hash, wrapping to 0. points_ non-empty.
    // Inline: a multi-get places every key through it.
    std::size_t first_at_or_after(std::uint32_t hash) const noexcept {
        // Every point of the hash's bucket has the same top bits, and every point of a
        // later bucket is greater than the hash: the answer is in this bucket or is the
        // next bucket's first point.
        const std::size_t b = index_bits_ == 0 ? 0 : hash >> (32 - index_bits_);
        std::size_t at = bucket_[b];
        const std::size_t end = bucket_[b + 1];
        while (at < end && points_[at].value < hash) ++at;
        return at == points_.size() ? 0 : at;
    }

    std::vector<Point> points_;  // sorted by (value, server)
    std::vector<std::uint32_t> points_per_server_;
    // Where each slice of the hash space starts on the ring: bucket_[b] is the position
    // of the first point whose top index_bits_ bits are >= b (points_.size() past the
    // last). About one bucket per point, so a lookup reads a bucket and a point or two
    // instead of searching the whole ring.
    std::vector<std::uint32_t> bucket_;
    unsigned index_bits_ = 0;
};

template <typename Usable>
std::size_t KetamaRing::server_for_hash(std::uint32_t hash, Usable&& usable) const {
    const std::size_t count = points_.size();
    if (count == 0) return npos;
    const std::size_t start = first_at_or_after(hash);
    // Points of one server often sit next to each other; asking again about the server
    // just refused would only cost the caller another health check.
    std::uint32_t refused = UINT32_MAX;
    for (std::size_t step = 0; step < count; ++step) {
        std::size_t at = start + step;
        if (at >= count) at -= count;
        const std::uint32_t server = points_[at].server;
        if (server == refused) continue;
        if (usable(static_cast<std::size_t>(server))) return server;
        refused = server;
    }
    return npos;
}

}  // namespace mmc::engine

#endif
