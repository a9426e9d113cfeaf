// Meta requests and a base64 decoder that only the tests need: whole sets, noops, me
// lines, a pipelined multi-get, and decoding a returned base64 key token to compare it
// with the bytes sent. The engine sends what it needs through proto/meta_codec.h's
// encoders; these are built on those encoders, so a test sends what the engine would.
#ifndef MMC_TESTS_SUPPORT_META_REQUESTS_H
#define MMC_TESTS_SUPPORT_META_REQUESTS_H

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "proto/meta_codec.h"

namespace mmc::test_meta {

// The whole ms request: line, data and "\r\n". False, with nothing appended, when
// encode_meta_set_header() refuses the request.
inline bool encode_meta_set(std::string& out, const proto::MetaSetRequest& req, std::string_view data) {
    if (!proto::encode_meta_set_header(out, req, data.size())) return false;
    out.append(data);
    out.append("\r\n");
    return true;
}

// "mn\r\n": answered by MN once every request before it has been answered.
inline void encode_meta_noop(std::string& out) { out.append("mn\r\n"); }

// "me <key>[ b]\r\n": the item's metadata as one human-readable line. Reply: ME, or EN
// for a miss. With base64_key the key goes base64-encoded.
inline void encode_meta_debug(std::string& out, std::string_view key, bool base64_key = false) {
    out.append("me ");
    if (base64_key) {
        const std::size_t at = out.size();
        out.resize(at + proto::base64_encoded_size(key.size()));
        proto::base64_encode(key, out.data() + at);
        out.append(" b");
    } else {
        out.append(key);
    }
    out.append("\r\n");
}

// A multi-get in one buffer: one mg per key, each `shape` with its key replaced by
// keys[i], quiet set and opaque first_opaque + i (modulo 2^32), then one mn. Appends
// nothing when n == 0, or (returning false) when a time in `shape` exceeds kMaxMetaTtl.
inline bool encode_meta_get_multi(std::string& out, const proto::MetaGetRequest& shape,
                                  const std::string_view* keys, std::size_t n, std::uint32_t first_opaque) {
    const auto fits = [](const std::optional<std::uint32_t>& t) { return !t || *t <= proto::kMaxMetaTtl; };
    if (!fits(shape.vivify_ttl) || !fits(shape.recache_ttl) || !fits(shape.touch_ttl)) return false;
    if (n == 0) return true;
    proto::MetaGetRequest line = shape;
    line.quiet = true;
    for (std::size_t i = 0; i < n; ++i) {
        line.key = keys[i];
        line.opaque = static_cast<std::uint32_t>(first_opaque + i);
        proto::encode_meta_get(out, line);
    }
    encode_meta_noop(out);
    return true;
}

// Decodes base64 (with padding, memcached's alphabet) into `out`, which has room for
// `capacity` bytes; `size` gets the decoded length. False, with `size` unspecified, for
// input that is not whole 4-character groups of the alphabet with at most two "=" at
// the end (an empty input included), or that decodes to more than `capacity` bytes.
inline bool base64_decode(std::string_view in, char* out, std::size_t capacity, std::size_t& size) noexcept {
    if (in.empty() || in.size() % 4 != 0) return false;
    auto sextet = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    const std::size_t pad = in.back() != '=' ? 0 : in[in.size() - 2] == '=' ? 2 : 1;
    const std::size_t decoded = in.size() / 4 * 3 - pad;
    if (decoded > capacity) return false;
    std::size_t o = 0;
    for (std::size_t i = 0; i < in.size(); i += 4) {
        const bool last = i + 4 == in.size();
        int v[4];
        for (std::size_t j = 0; j < 4; ++j) {
            // Padding only in the last group's last one or two places.
            v[j] = last && j >= 4 - pad ? 0 : sextet(in[i + j]);
            if (v[j] < 0) return false;
        }
        const std::uint32_t w = static_cast<std::uint32_t>(v[0]) << 18 | static_cast<std::uint32_t>(v[1]) << 12 |
                                static_cast<std::uint32_t>(v[2]) << 6 | static_cast<std::uint32_t>(v[3]);
        const std::size_t bytes = last ? 3 - pad : 3;
        const char three[3] = {static_cast<char>(w >> 16), static_cast<char>(w >> 8 & 0xff),
                               static_cast<char>(w & 0xff)};
        std::memcpy(out + o, three, bytes);
        o += bytes;
    }
    size = o;
    return true;
}

}  // namespace mmc::test_meta

#endif  // MMC_TESTS_SUPPORT_META_REQUESTS_H
