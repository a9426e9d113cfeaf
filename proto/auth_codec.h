// Sans-I/O codec for authenticating a new connection: memcached's -Y for the text and
// meta protocols, SASL PLAIN for the binary protocol. Each exchange has two steps, and
// the credentials go out only in the second, after the server has said that it wants
// them:
//
//   -Y    "version" (the probe)        -> "CLIENT_ERROR unauthenticated": send the set
//         "set mmc-auth 0 0 <n>" with   -> STORED: accepted
//         data "<user> <password>"         "CLIENT_ERROR authentication failure": refused
//   SASL  list mechanisms (0x20)        -> a list naming PLAIN: send PLAIN
//         PLAIN (0x21), "\0user\0pw"    -> status 0: accepted; status 0x20: refused
//
// A server that answers the probe as a server without authentication would ("VERSION
// ...", an unknown-command status, a list without PLAIN) does not ask for credentials,
// and would store the set as an ordinary item. The caller must not send them.
//
// The encoders write into a buffer the caller owns (so the caller decides how the bytes
// holding a password are kept and wiped) and allocate nothing. Replies are read with
// the protocols' own parsers (TextReplyParser with the ReplyKind named below,
// BinaryReplyParser); the functions here only say what a parsed event means.
#ifndef MMC_PROTO_AUTH_CODEC_H
#define MMC_PROTO_AUTH_CODEC_H

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proto/binary_codec.h"
#include "proto/text_codec.h"

namespace mmc::proto {

// ---- requests -----------------------------------------------------------------------

// "version\r\n": harmless on any memcached, and answered "CLIENT_ERROR unauthenticated"
// by one run with -Y before a connection has authenticated. Read its reply with
// TextReplyParser::expect(kTextAuthProbeReply).
inline constexpr std::size_t kTextAuthProbeSize = 9;
inline constexpr ReplyKind kTextAuthProbeReply = ReplyKind::version;
// Writes the probe to `out` and returns its size; 0, with nothing written, when
// `capacity` is less than kTextAuthProbeSize.
std::size_t encode_text_auth_probe(char* out, std::size_t capacity) noexcept;

// The bytes encode_text_auth_set() writes for these credentials.
std::size_t text_auth_set_size(std::string_view user, std::string_view password) noexcept;
// Writes "set mmc-auth 0 0 <n>\r\n<user> <password>\r\n" (memcached -Y reads the data
// of the first set as the credentials and ignores the key) and returns its size. 0,
// with nothing written, when `capacity` is less than text_auth_set_size(). The user and
// password must hold no blank or control byte (the caller checks them when they are
// configured). Reply: TextReplyParser::expect(kTextAuthSetReply).
inline constexpr ReplyKind kTextAuthSetReply = ReplyKind::storage;
std::size_t encode_text_auth_set(char* out, std::size_t capacity, std::string_view user,
                                 std::string_view password) noexcept;

// A SASL list-mechanisms request (opcode 0x20, no key, no body): kBinaryHeaderSize
// bytes. Returns its size; 0, with nothing written, when `capacity` is too small.
inline constexpr std::size_t kBinarySaslListMechsSize = kBinaryHeaderSize;
std::size_t encode_binary_sasl_list_mechs(char* out, std::size_t capacity,
                                          std::uint32_t opaque) noexcept;

// The bytes encode_binary_sasl_plain() writes for these credentials.
std::size_t binary_sasl_plain_size(std::string_view user, std::string_view password) noexcept;
// Writes a SASL authentication request (opcode 0x21) with key "PLAIN" and value
// "\0<user>\0<password>" (RFC 4616: no authorization identity, so the user acts as
// itself) and returns its size; 0, with nothing written, when `capacity` is less than
// binary_sasl_plain_size() or the request does not fit the binary body length.
std::size_t encode_binary_sasl_plain(char* out, std::size_t capacity, std::string_view user,
                                     std::string_view password, std::uint32_t opaque) noexcept;

// ---- replies ------------------------------------------------------------------------

// What a reply to one of the requests above means.
enum class AuthReply : std::uint8_t {
    asked,        // the probe met a server that wants credentials: send them
    not_asked,    // the probe was answered as by a server without authentication
    accepted,     // the credentials were accepted
    refused,      // the server refused the credentials explicitly
    error_reply,  // another error the server sent (ERROR, SERVER_ERROR, another
                  // CLIENT_ERROR, a binary status other than the ones above)
    unexpected,   // an event that cannot answer the request (another opcode, a
                  // reply kind the request does not have)
};

// The final event of the probe's reply (parsed with kTextAuthProbeReply): asked for
// "CLIENT_ERROR unauthenticated", not_asked for "VERSION ...", error_reply for any
// other error line.
AuthReply text_auth_probe_reply(const TextEvent& ev) noexcept;
// The final event of the credential set's reply (kTextAuthSetReply): accepted for
// STORED, refused for "CLIENT_ERROR authentication failure", error_reply for any other
// error line, unexpected for any other event (NOT_STORED and the like: no -Y server
// says that to its first set).
AuthReply text_auth_set_reply(const TextEvent& ev) noexcept;

// The response to encode_binary_sasl_list_mechs(): asked when it succeeds and its value
// (the server's space-separated mechanism list) names PLAIN; not_asked when the server
// does not know the command (a server without SASL) or lists no PLAIN; error_reply for
// another failure status; unexpected for a response to another opcode.
AuthReply binary_sasl_list_reply(const BinaryEvent& ev) noexcept;
// The response to encode_binary_sasl_plain(): accepted for status 0, refused for
// memcached's authentication error (0x20), error_reply for another status (0x21, "go
// on", included: PLAIN has one step), unexpected for a response to another opcode.
AuthReply binary_sasl_auth_reply(const BinaryEvent& ev) noexcept;

// True when the space-separated mechanism list (a list-mechanisms response's value)
// holds `mechanism` as a whole word, compared exactly.
bool sasl_mechanism_listed(std::string_view list, std::string_view mechanism) noexcept;

}  // namespace mmc::proto

#endif  // MMC_PROTO_AUTH_CODEC_H
