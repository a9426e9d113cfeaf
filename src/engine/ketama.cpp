#include "engine/ketama.h"

#include <algorithm>
#include <cmath>

#include "engine/md5.h"
#include "engine/md5_lanes.h"

namespace mmc::engine {

namespace {

// libmemcached's MEMCACHED_POINTS_PER_SERVER_KETAMA: an average server's points.
constexpr float kPointsPerServer = 160.0f;
constexpr float kPointsPerDigest = 4.0f;

// Point `slot` (0-3) of a digest: bytes 4*slot .. 4*slot+3, little-endian.
std::uint32_t digest_word(const Md5Digest& d, std::size_t slot) {
    const std::size_t o = 4 * slot;
    return std::uint32_t{d[o]} | (std::uint32_t{d[o + 1]} << 8) | (std::uint32_t{d[o + 2]} << 16) |
           (std::uint32_t{d[o + 3]} << 24);
}

// Digests for one server. libmemcached computes this in float, operation by operation,
// and the floor of the float result is not always the floor of the exact value (with 25
// equal servers, 1/25 * 160 / 4 * 25 is 39.9999962 in float: 39 digests, not 40), so
// the same float steps are taken here in the same order. libmemcached also adds
// 0.0000000001F before the floor; in float that cannot change the floor of a
// non-negative value (it is far below half an ulp of anything near an integer >= 1), so
// it is left out, which also leaves no add the compiler could fuse into an FMA.
std::uint32_t digests_for(std::uint32_t weight, std::uint64_t total_weight, std::size_t servers) {
    const float share = static_cast<float>(weight) / static_cast<float>(total_weight);
    const float scaled = share * kPointsPerServer / kPointsPerDigest * static_cast<float>(servers);
    return static_cast<std::uint32_t>(std::floor(scaled));
}

}  // namespace

std::string ketama_tcp_name(std::string_view host, std::uint16_t port) {
    std::string name(host);
    // libmemcached leaves the default port out of the name, and takes port 0 to mean it.
    if (port != 0 && port != kKetamaDefaultPort) {
        name += ':';
        name += std::to_string(port);
    }
    return name;
}

std::string ketama_unix_name(std::string_view socket_path) {
    std::string name(socket_path);
    name += ":0";
    return name;
}

std::string ketama_name(const Endpoint& endpoint) {
    return endpoint.is_unix() ? ketama_unix_name(endpoint.socket_path)
                              : ketama_tcp_name(endpoint.host, endpoint.port);
}

std::uint32_t ketama_key_hash(std::string_view key) noexcept {
    return md5_first_word(key.data(), key.size());
}

void ketama_key_hashes(const std::string_view* keys, std::size_t n, std::uint32_t* out) noexcept {
    md5_first_words(keys, n, out);
}

KetamaRing::KetamaRing(const std::vector<KetamaServer>& servers) {
    std::uint64_t total_weight = 0;
    for (const auto& s : servers) total_weight += s.weight == 0 ? 1u : s.weight;

    points_per_server_.reserve(servers.size());
    points_.reserve(servers.size() * static_cast<std::size_t>(kPointsPerServer));
    std::string label;
    for (std::size_t index = 0; index < servers.size(); ++index) {
        const KetamaServer& s = servers[index];
        const std::uint32_t digests =
            digests_for(s.weight == 0 ? 1u : s.weight, total_weight, servers.size());
        points_per_server_.push_back(digests * 4u);
        for (std::uint32_t n = 0; n < digests; ++n) {
            label.assign(s.name);
            label += '-';
            label += std::to_string(n);
            const Md5Digest d = md5(label.data(), label.size());
            for (std::size_t slot = 0; slot < 4; ++slot) {
                points_.push_back(Point{digest_word(d, slot), static_cast<std::uint32_t>(index)});
            }
        }
    }
    // Equal values are ordered by server index, as libmemcached's comparator does, so
    // a key on a shared point goes to the same (lower-index) server in both.
    std::sort(points_.begin(), points_.end(), [](const Point& a, const Point& b) {
        return a.value != b.value ? a.value < b.value : a.server < b.server;
    });

    // The bucket index: a power of two near the number of points, at most 2^16.
    while (index_bits_ < 16 && (std::size_t{1} << index_bits_) < points_.size()) ++index_bits_;
    const std::size_t buckets = std::size_t{1} << index_bits_;
    bucket_.resize(buckets + 1);
    std::size_t at = 0;
    for (std::size_t b = 0; b < buckets; ++b) {
        const std::uint64_t start = static_cast<std::uint64_t>(b) << (32 - index_bits_);
        while (at < points_.size() && points_[at].value < start) ++at;
        bucket_[b] = static_cast<std::uint32_t>(at);
    }
    bucket_[buckets] = static_cast<std::uint32_t>(points_.size());
}

std::size_t KetamaRing::server_for(std::string_view key) const noexcept {
    if (points_.empty()) return npos;
    // libmemcached skips hashing with a single server; the answer is the same either way.
    if (points_per_server_.size() == 1) return 0;
    return points_[first_at_or_after(ketama_key_hash(key))].server;
}

}  // namespace mmc::engine
