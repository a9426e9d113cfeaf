// Sans-I/O codec for memcached's binary protocol: request encoders and an incremental
// response parser. No sockets, no threads, no APR; the parser never allocates.
//
// Every binary request carries a 32-bit opaque that the server copies into its
// response. The parser hands it back in each event; matching responses to requests
// (and noticing that a quiet request earned no response) is the caller's job.
#ifndef MMC_PROTO_BINARY_CODEC_H
#define MMC_PROTO_BINARY_CODEC_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proto/key.h"
#include "proto/text_codec.h"  // ParseResult, kDefaultMaxValueSize: shared by both codecs

namespace mmc::proto {

// ---- wire constants -----------------------------------------------------------------

inline constexpr std::uint8_t kBinaryRequestMagic = 0x80;
inline constexpr std::uint8_t kBinaryResponseMagic = 0x81;
inline constexpr std::size_t kBinaryHeaderSize = 24;

// The body length field is 32 bits: extras, key and value together can be at most this
// many bytes. A request that would need more cannot be expressed, and one whose length
// were cut to 32 bits would leave its tail to be read as further requests.
inline constexpr std::uint64_t kMaxBinaryBodyLength = 0xffffffffu;

// Extras of set/add/replace requests: flags and expiration, 4 bytes each.
// append/prepend carry none.
inline constexpr std::size_t kBinaryStoreExtrasLength = 8;

// True when a request with these many bytes of extras, key and value can be expressed
// (its body length fits 32 bits and its key length 16). The encoders below refuse, and
// append nothing, where this is false.
constexpr bool binary_request_fits(std::size_t extras, std::size_t key_size,
                                   std::size_t value_size) noexcept {
    return key_size <= 0xffffu && extras <= 0xffu &&
           value_size <= kMaxBinaryBodyLength - extras - key_size;
}

// How far a response body may exceed max_value_size: the extras (their length field is
// one byte, so at most 255) plus a key of at most kMaxKeyLength. A declared body length
// beyond max_value_size + this is rejected from the header alone.
inline constexpr std::size_t kBinaryMaxBodyOverhead = 255 + kMaxKeyLength;

// Every opcode of the memcached binary protocol that this codec knows. A response
// carrying any other opcode is a parse error: we never send one, so it can only mean the
// stream is out of step.
enum class BinaryOpcode : std::uint8_t {
    get = 0x00,
    set = 0x01,
    add = 0x02,
    replace = 0x03,
    del = 0x04,  // "delete" is a C++ keyword
    increment = 0x05,
    decrement = 0x06,
    quit = 0x07,
    flush = 0x08,
    getq = 0x09,
    noop = 0x0a,
    version = 0x0b,
    getk = 0x0c,
    getkq = 0x0d,
    append = 0x0e,
    prepend = 0x0f,
    stat = 0x10,
    setq = 0x11,
    addq = 0x12,
    replaceq = 0x13,
    deleteq = 0x14,
    incrementq = 0x15,
    decrementq = 0x16,
    quitq = 0x17,
    flushq = 0x18,
    appendq = 0x19,
    prependq = 0x1a,
    verbosity = 0x1b,
    touch = 0x1c,
    gat = 0x1d,
    gatq = 0x1e,
    sasl_list_mechs = 0x20,
    sasl_auth = 0x21,
    sasl_step = 0x22,
    gatk = 0x23,
    gatkq = 0x24,
};

// True for the opcodes listed in BinaryOpcode.
bool known_binary_opcode(std::uint8_t opcode) noexcept;

// The 24-byte header shared by requests and responses. Fields are host order here and
// network (big-endian) order on the wire.
struct BinaryHeader {
    std::uint8_t magic = kBinaryRequestMagic;
    std::uint8_t opcode = 0;
    std::uint16_t key_length = 0;
    std::uint8_t extras_length = 0;
    std::uint8_t data_type = 0;  // 0 (raw bytes) is the only type memcached defines
    std::uint16_t vbucket_or_status = 0;  // vbucket id in a request, status in a response
    std::uint32_t body_length = 0;        // extras + key + value
    std::uint32_t opaque = 0;
    std::uint64_t cas = 0;
};

// Appends exactly kBinaryHeaderSize bytes; no field is checked, so this can write any
// header, including malformed ones (tests use it to build hostile input).
void encode_binary_header(std::string& out, const BinaryHeader& header);

// Reads the first kBinaryHeaderSize bytes of `in` into `header` without checking any
// field. Returns false, leaving `header` untouched, when `in` is shorter than that.
bool decode_binary_header(std::string_view in, BinaryHeader& header) noexcept;

// ---- requests -----------------------------------------------------------------------
// Encoders append one request to `out` (so a connection can reuse one buffer and
// pipeline several requests) and allocate nothing beyond the growth of `out`. Keys must
// already have passed valid_key(); encoders do not check them again. `opaque` is copied
// into the response; `cas`, where taken, makes the operation conditional (0 = none).
//
// Quiet variants ("...q") are answered only when they fail, with one exception: a quiet
// get answers a hit but not a miss. A quiet request therefore needs a later non-quiet
// one (usually noop) whose response proves that nothing more is coming.
//
// The enumerator values of the command enums below are the wire opcodes.

enum class BinaryGetCommand : std::uint8_t {
    get = 0x00,    // value, flags and cas; no key in the response
    getq = 0x09,   // as get, but a miss earns no response
    getk = 0x0c,   // as get, and the response carries the key
    getkq = 0x0d,  // as getk, but a miss earns no response
};
void encode_binary_get(std::string& out, BinaryGetCommand cmd, std::string_view key,
                       std::uint32_t opaque);

// A multi-get in one buffer: getkq for keys[i] with opaque first_opaque + i (modulo
// 2^32), then one noop with opaque first_opaque + n. Hits come back in request order as
// getkq responses, misses produce nothing, and the noop response means every hit has
// arrived. Appends nothing when n == 0, as the text codec's encode_get_multi does.
void encode_binary_get_multi(std::string& out, const std::string_view* keys, std::size_t n,
                             std::uint32_t first_opaque);

enum class BinaryStoreCommand : std::uint8_t {
    set = 0x01,
    add = 0x02,
    replace = 0x03,
    setq = 0x11,
    addq = 0x12,
    replaceq = 0x13,
};
// Header, extras (flags, expiration) and key only: the caller sends the `bytes` value
// bytes after it, so large values are never copied. Returns false and appends nothing
// when extras + key + bytes do not fit the 32-bit body length (binary_request_fits).
bool encode_binary_store_header(std::string& out, BinaryStoreCommand cmd,
                                std::string_view key, std::uint32_t flags,
                                std::uint32_t exptime, std::size_t bytes,
                                std::uint32_t opaque, std::uint64_t cas = 0);
// The whole request, value included; false, with nothing appended, as above.
bool encode_binary_store(std::string& out, BinaryStoreCommand cmd, std::string_view key,
                         std::uint32_t flags, std::uint32_t exptime, std::string_view value,
                         std::uint32_t opaque, std::uint64_t cas = 0);

// append/prepend: no extras, the stored flags and expiration are kept.
enum class BinaryConcatCommand : std::uint8_t {
    append = 0x0e,
    prepend = 0x0f,
    appendq = 0x19,
    prependq = 0x1a,
};
// Header and key only; the caller sends the `bytes` value bytes after it. Returns false
// and appends nothing when key + bytes do not fit the 32-bit body length.
bool encode_binary_concat_header(std::string& out, BinaryConcatCommand cmd,
                                 std::string_view key, std::size_t bytes,
                                 std::uint32_t opaque, std::uint64_t cas = 0);
bool encode_binary_concat(std::string& out, BinaryConcatCommand cmd, std::string_view key,
                          std::string_view value, std::uint32_t opaque,
                          std::uint64_t cas = 0);

void encode_binary_delete(std::string& out, std::string_view key, std::uint32_t opaque,
                          std::uint64_t cas = 0);
void encode_binary_deleteq(std::string& out, std::string_view key, std::uint32_t opaque,
                           std::uint64_t cas = 0);

enum class BinaryArithCommand : std::uint8_t {
    increment = 0x05,
    decrement = 0x06,
    incrementq = 0x15,
    decrementq = 0x16,
};
// A missing counter is created with `initial` unless exptime is kBinaryArithNoCreate, in
// which case the server answers key_not_found, as the text protocol's incr does.
inline constexpr std::uint32_t kBinaryArithNoCreate = 0xffffffffu;
void encode_binary_arith(std::string& out, BinaryArithCommand cmd, std::string_view key,
                         std::uint64_t delta, std::uint64_t initial, std::uint32_t exptime,
                         std::uint32_t opaque, std::uint64_t cas = 0);

// Sets a new expiration without fetching the value. The response carries the flags.
void encode_binary_touch(std::string& out, std::string_view key, std::uint32_t exptime,
                         std::uint32_t opaque);

// get-and-touch: a get that also sets a new expiration; answered like the get of the
// same letters (gatk like getk, gatq like getq, ...).
enum class BinaryGatCommand : std::uint8_t {
    gat = 0x1d,
    gatq = 0x1e,
    gatk = 0x23,
    gatkq = 0x24,
};
void encode_binary_gat(std::string& out, BinaryGatCommand cmd, std::string_view key,
                       std::uint32_t exptime, std::uint32_t opaque);

// Invalidates every item, after `delay` seconds when it is not 0. A delay of 0 is sent
// without extras: the server reads missing extras as "now", so both mean the same.
void encode_binary_flush(std::string& out, std::uint32_t opaque, std::uint32_t delay = 0);
void encode_binary_flushq(std::string& out, std::uint32_t opaque, std::uint32_t delay = 0);

void encode_binary_noop(std::string& out, std::uint32_t opaque);
void encode_binary_version(std::string& out, std::uint32_t opaque);

// All statistics, or the group named (e.g. "slabs") as the key when group is not empty.
// group must be at most kMaxKeyLength bytes.
void encode_binary_stat(std::string& out, std::uint32_t opaque, std::string_view group = {});

// quit is answered, then the server closes the connection; quitq closes without a word.
void encode_binary_quit(std::string& out, std::uint32_t opaque);
void encode_binary_quitq(std::string& out, std::uint32_t opaque);

// ---- responses ----------------------------------------------------------------------

// The status codes a cache client tells apart. The raw code stays in
// BinaryEvent::raw_status for anything finer.
enum class BinaryStatus : std::uint8_t {
    ok,                 // 0x0000
    key_not_found,      // 0x0001
    key_exists,         // 0x0002: add of an existing key, or cas mismatch
    value_too_large,    // 0x0003
    invalid_arguments,  // 0x0004
    item_not_stored,    // 0x0005
    non_numeric,        // 0x0006: incr/decr of a value that is not a number
    auth_error,         // 0x0008 in the protocol document, 0x0020 in memcached
    auth_continue,      // 0x0009 in the protocol document, 0x0021 in memcached
    unknown_command,    // 0x0081
    out_of_memory,      // 0x0082
    not_supported,      // 0x0083
    internal_error,     // 0x0084
    busy,               // 0x0085
    temporary_failure,  // 0x0086
    other,              // anything else, e.g. 0x0007 (vbucket elsewhere)
};

BinaryStatus binary_status_from_raw(std::uint16_t raw) noexcept;

// One parsed response. Views point into the buffer passed to parse(); they stay valid
// while the caller keeps those bytes.
struct BinaryEvent {
    BinaryOpcode opcode = BinaryOpcode::noop;  // echoed from the request
    BinaryStatus status = BinaryStatus::ok;
    std::uint16_t raw_status = 0;
    // This response completes the answer to the request with this opaque. False only
    // for a successful stat response with a non-empty key: a stat request is answered
    // by one response per statistic and ends with a stat response whose key is empty
    // (or with any failure).
    bool final = true;
    std::uint32_t opaque = 0;
    std::uint64_t cas = 0;
    // Get, gat and touch responses carry the item's flags as 4 bytes of extras; 0 when
    // the response has no extras (e.g. a miss).
    std::uint32_t flags = 0;
    // A successful incr/decr response: the new counter value, decoded from the 8-byte
    // big-endian value (which `value` also shows).
    std::uint64_t number = 0;
    // getk/getkq/gatk/gatkq: the item's key; stat: the statistic's name.
    std::string_view key;
    // The item's data, the version string, the statistic's value, or with a status
    // other than ok the server's message (e.g. "Not found"), which may be empty.
    std::string_view value;
};

class BinaryReplyParser {
public:
    // Values longer than max_value_size are a parse error, found from the header alone,
    // so a hostile length is never buffered by the caller.
    explicit BinaryReplyParser(std::size_t max_value_size = kDefaultMaxValueSize) noexcept;

    // Parses at most one response from the front of `in`. Binary responses describe
    // themselves, so unlike the text parser there is no expect(): any sequence of
    // responses is accepted in any order, and empty input is need_more. Returns
    // need_more until a whole response (header and body) is present; feeding the stream
    // one byte at a time (always passing all unconsumed bytes) gives the same events as
    // feeding it whole. `consumed` is 0 unless the result is event; `ev` is written
    // only for event.
    //
    // Errors, each decided as soon as the bytes that show it are present (a wrong
    // magic from the first byte, the rest from the 24-byte header, never waiting for
    // the body): magic other than 0x81, an opcode not in BinaryOpcode, data type other
    // than 0, a body longer than max_value_size + kBinaryMaxBodyOverhead, a key longer
    // than kMaxKeyLength, a body shorter than its extras plus key, a value longer than
    // max_value_size, extras of a length the opcode does not have (get, gat and touch
    // responses: 0 or 4; all others: 0), and a successful incr/decr response whose
    // value is not exactly 8 bytes. An error is sticky: every later parse() returns
    // error until reset().
    ParseResult parse(std::string_view in, BinaryEvent& ev, std::size_t& consumed) noexcept;

    // Why the last parse() returned error (a static string).
    const char* error_message() const noexcept { return error_; }

    // Clears an earlier error, so the parser can serve a new connection. The stream that
    // caused the error is out of step for good: discard its connection.
    void reset() noexcept;

private:
    // No partial-input state is kept: each parse() starts again at the front of `in`,
    // which is what makes every way of splitting the input give the same events.
    ParseResult fail(const char* why) noexcept;

    std::size_t max_value_size_;
    bool failed_ = false;
    const char* error_ = "";
};

}  // namespace mmc::proto

#endif  // MMC_PROTO_BINARY_CODEC_H
