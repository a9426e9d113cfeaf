// The input format of fuzz_engine_replies: a protocol choice, then a sequence of client
// operations, each with the bytes the fake server answers it with. Shared by the target
// (which reads it) and make_seeds (which writes the seed corpus), so the two cannot
// drift apart.
//
//   input := protocol op*                      at most kMaxOps ops; the rest is ignored
//   protocol := 1 byte                         bits 0-1: 0 text, 1 binary, 2 meta,
//                                              3 binary (bit 0 alone chose binary
//                                              before meta existed); others unused
//   op := a b len_lo len_hi cut* reply
//     a: bits 0-2 operation (OpKind, or MetaCall when b bit 4 is set on meta), bits 3-4
//        key index (k0..k3), bit 5 variant, bit 6 close the connection after the
//        reply, bit 7 patch opaques (binary and meta)
//     b: bits 0-1 multi-get key count - 1, bits 2-3 reply segment count - 1, bit 4 (meta
//        only; ignored on text and binary, so older inputs keep their meaning) the
//        operation is a MetaCall, one of the calls only meta can make
//     len: reply length, little endian; a length past the end of the input takes what
//          is left, so a truncated input is still a usable one
//     cut: one byte per segment boundary: the reply is cut at cut * len / 256
//     reply: the bytes the server writes after it reads the request
//
// Variants: get of an invalid key (nothing may be sent), replace for set, a zero-length
// value for add, decr for incr, an invalid key among the multi-get keys. On meta every
// OpKind goes over the meta wire (version and stats stay text commands).
//
// MetaCalls and their variants: lease_get (lease and recache times; variant: both 0,
// a plain get), invalidate (a stale time; variant: 0), meta_get (variant: no LRU bump),
// bkey_get and bkey_store (a key of any bytes, kBinaryKeys; store variant: append),
// bkey_delete, invalid_key (variant false: lease_get, true: meta_get, both with
// kInvalidKey) and invalid_bkey (variant false: bkey_get of an empty key, true:
// bkey_store of a key one byte too long): the last two must send nothing.
//
// Patching opaques: the fuzzer cannot know the opaque the engine puts in a binary
// request, so with bit 7 the fake server adds the opaque of the first request header
// it received to the opaque field of every response header in the reply (walking them
// by their body lengths). A seed therefore writes 0 for "the request's opaque", and
// 0..n for a multi-get's n getkq and its noop. With bit 7 clear, the opaques go out as
// written, which covers responses to requests never sent.
//
// Meta requests carry no opaque (a single call's reply answers the one request on the
// connection, and a meta server's multi-get is a text get), so bit 7 leaves meta
// replies as written.
#ifndef MMC_TESTS_FUZZ_ENGINE_INPUT_H
#define MMC_TESTS_FUZZ_ENGINE_INPUT_H

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mmc_fuzz {

enum class OpKind : std::uint8_t { get, set, add, del, incr, multi_get, version, stats };
enum class MetaCall : std::uint8_t {
    lease_get,
    invalidate,
    meta_get,
    bkey_get,
    bkey_store,
    bkey_delete,
    invalid_key,
    invalid_bkey
};
enum class Protocol : std::uint8_t { text, binary, meta };

inline constexpr std::size_t kMaxOps = 16;
inline constexpr std::size_t kMaxSegments = 4;
inline constexpr std::size_t kKeyCount = 4;

// Valid keys the operations use; replies name them, so they are short and fixed.
inline constexpr std::string_view kKeys[kKeyCount] = {"k0", "k1", "k2", "k3"};
inline constexpr std::string_view kInvalidKey = "bad key";
// Keys of any bytes for the bkey calls: a space and a NUL in each.
inline constexpr std::string_view kBinaryKeys[kKeyCount] = {
    std::string_view("b\0 0", 4), std::string_view("b\0 1", 4), std::string_view("b\0 2", 4),
    std::string_view("b\0 3", 4)};

struct OpSpec {
    OpKind kind = OpKind::get;
    bool meta_call = false;  // meta only: the operation is MetaCall(kind's value)
    unsigned key = 0;      // index into kKeys
    bool variant = false;  // see the list above
    bool close_after = false;
    bool patch_opaque = false;
    unsigned nkeys = 1;     // multi-get only, 1..4
    std::vector<std::size_t> cuts;  // sorted, unique, each in (0, reply.size())
    std::string_view reply;
};

class InputReader {
public:
    explicit InputReader(std::string_view in) noexcept : in_(in) {}

    // Empty input reads as text with no operations.
    Protocol protocol() const noexcept {
        if (in_.empty()) return Protocol::text;
        const unsigned p = static_cast<std::uint8_t>(in_[0]) & 3;
        return p == 2 ? Protocol::meta : (p & 1) ? Protocol::binary : Protocol::text;
    }

    bool next(OpSpec& op) {
        if (ops_ == kMaxOps) return false;
        if (pos_ == 0) pos_ = 1;  // skip the protocol byte
        if (in_.size() - std::min(pos_, in_.size()) < 4) return false;
        const auto a = static_cast<std::uint8_t>(in_[pos_]);
        const auto b = static_cast<std::uint8_t>(in_[pos_ + 1]);
        std::size_t len = static_cast<std::uint8_t>(in_[pos_ + 2]) |
                          static_cast<std::size_t>(static_cast<std::uint8_t>(in_[pos_ + 3])) << 8;
        pos_ += 4;
        op.kind = static_cast<OpKind>(a & 0x07);
        op.key = (a >> 3) & 0x03;
        op.variant = (a & 0x20) != 0;
        op.close_after = (a & 0x40) != 0;
        op.patch_opaque = (a & 0x80) != 0;
        op.nkeys = 1 + (b & 0x03);
        op.meta_call = protocol() == Protocol::meta && (b & 0x10) != 0;
        const std::size_t ncuts = (b >> 2) & 0x03;
        const std::size_t cut_end = std::min(in_.size(), pos_ + ncuts);
        std::string_view cut_bytes = in_.substr(pos_, cut_end - pos_);
        pos_ = cut_end;
        len = std::min(len, in_.size() - pos_);
        op.reply = in_.substr(pos_, len);
        pos_ += len;
        op.cuts.clear();
        for (unsigned char c : cut_bytes) {
            const std::size_t at = static_cast<std::size_t>(c) * len / 256;
            if (at > 0 && at < len) op.cuts.push_back(at);
        }
        std::sort(op.cuts.begin(), op.cuts.end());
        op.cuts.erase(std::unique(op.cuts.begin(), op.cuts.end()), op.cuts.end());
        ++ops_;
        return true;
    }

private:
    std::string_view in_;
    std::size_t pos_ = 0;
    std::size_t ops_ = 0;
};

// ---- writing (make_seeds) -------------------------------------------------------------

inline std::string begin_input(Protocol p) { return std::string(1, static_cast<char>(p)); }

inline OpKind as_op_kind(MetaCall c) { return static_cast<OpKind>(c); }
inline MetaCall as_meta_call(OpKind k) { return static_cast<MetaCall>(k); }

// Appends one op. `cut_bytes` are raw cut bytes (see the format); at most 3.
inline void append_op(std::string& out, const OpSpec& op, std::string_view reply,
                      const std::vector<std::uint8_t>& cut_bytes = {}) {
    const auto a = static_cast<std::uint8_t>(static_cast<unsigned>(op.kind) | (op.key & 3) << 3 |
                                             (op.variant ? 0x20 : 0) | (op.close_after ? 0x40 : 0) |
                                             (op.patch_opaque ? 0x80 : 0));
    const std::size_t ncuts = std::min<std::size_t>(cut_bytes.size(), kMaxSegments - 1);
    const auto b = static_cast<std::uint8_t>(((op.nkeys - 1) & 3) | ncuts << 2 | (op.meta_call ? 0x10 : 0));
    out.push_back(static_cast<char>(a));
    out.push_back(static_cast<char>(b));
    out.push_back(static_cast<char>(reply.size() & 0xff));
    out.push_back(static_cast<char>((reply.size() >> 8) & 0xff));
    for (std::size_t i = 0; i < ncuts; ++i) out.push_back(static_cast<char>(cut_bytes[i]));
    out.append(reply);
}

}  // namespace mmc_fuzz

#endif  // MMC_TESTS_FUZZ_ENGINE_INPUT_H
