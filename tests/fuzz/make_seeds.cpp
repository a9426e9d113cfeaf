// Writes the seed corpus of the four fuzz targets: well-formed replies of every kind
// (and a few of the usual errors), so the fuzzers start from inputs that reach deep
// into the parsers and the engine instead of rediscovering the protocol byte by byte.
// Binary responses are built with the codec's own header encoder; text replies are
// written out as memcached sends them.
//
//   fuzz_make_seeds tests/fuzz/corpus
//
// writes corpus/<target>/seed-<name> files, overwriting earlier seeds of the same name
// and leaving every other file (fuzzer finds, crash reproducers) alone.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "engine_input.h"
#include "proto/binary_codec.h"
#include "proto/text_codec.h"

namespace fs = std::filesystem;

namespace {

using mmc::proto::BinaryHeader;
using mmc::proto::BinaryOpcode;
using mmc::proto::ReplyKind;
using mmc_fuzz::MetaCall;
using mmc_fuzz::OpKind;
using mmc_fuzz::OpSpec;
using mmc_fuzz::Protocol;

int g_written = 0;

void write_file(const fs::path& dir, const std::string& name, const std::string& bytes) {
    fs::create_directories(dir);
    std::ofstream f(dir / ("seed-" + name), std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) {
        std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
        std::exit(1);
    }
    ++g_written;
}

// ---- text replies ---------------------------------------------------------------------

struct TextSeed {
    const char* name;
    ReplyKind kind;
    std::string_view reply;
};

const TextSeed kTextSeeds[] = {
    {"retrieval-miss", ReplyKind::retrieval, "END\r\n"},
    {"retrieval-hit", ReplyKind::retrieval, "VALUE k0 0 5\r\nhello\r\nEND\r\n"},
    {"retrieval-hits-cas", ReplyKind::retrieval,
     "VALUE k0 7 5 12345\r\nhello\r\nVALUE k1 4294967295 0 18446744073709551615\r\n\r\nEND\r\n"},
    {"retrieval-crlf-in-data", ReplyKind::retrieval, "VALUE k0 0 4\r\na\r\nb\r\nEND\r\n"},
    {"retrieval-pipelined", ReplyKind::retrieval, "END\r\nVALUE k1 1 3\r\nabc\r\nEND\r\nEND\r\n"},
    {"retrieval-error", ReplyKind::retrieval, "ERROR\r\n"},
    {"retrieval-client-error", ReplyKind::retrieval, "CLIENT_ERROR bad command line format\r\n"},
    {"retrieval-server-error", ReplyKind::retrieval, "SERVER_ERROR out of memory storing object\r\n"},
    {"storage-stored", ReplyKind::storage, "STORED\r\nNOT_STORED\r\nEXISTS\r\nNOT_FOUND\r\n"},
    {"storage-error", ReplyKind::storage, "SERVER_ERROR object too large for cache\r\n"},
    {"deletion", ReplyKind::deletion, "DELETED\r\nNOT_FOUND\r\n"},
    {"arithmetic", ReplyKind::arithmetic, "42\r\n18446744073709551615\r\n7   \r\nNOT_FOUND\r\n"},
    {"arithmetic-non-numeric", ReplyKind::arithmetic,
     "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
    {"version", ReplyKind::version, "VERSION 1.6.18\r\nVERSION 1.4.5 (Ubuntu)\r\n"},
    {"stats", ReplyKind::stats,
     "STAT pid 1234\r\nSTAT uptime 10\r\nSTAT version 1.6.18\r\nSTAT rusage_user 0.123456\r\n"
     "STAT libevent 2.1.12-stable\r\nEND\r\n"},
    {"touch", ReplyKind::touch, "TOUCHED\r\nNOT_FOUND\r\n"},
    {"ok", ReplyKind::ok, "OK\r\nOK\r\n"},
};

void text_seeds(const fs::path& root) {
    const fs::path dir = root / "fuzz_text_reply";
    for (const TextSeed& s : kTextSeeds) {
        const auto kind = static_cast<char>(s.kind);
        // Whole-ish chunks and one byte at a time: the two splits most likely to differ.
        write_file(dir, std::string(s.name), std::string{kind, '\x07', '\x2a'} + std::string(s.reply));
        write_file(dir, std::string(s.name) + "-bytewise", std::string{kind, '\x00', '\x00'} + std::string(s.reply));
    }
    // A tiny max_value_size (bit 7; 4 in bits 3-6): one value fits, the next does not.
    const char small = static_cast<char>(0x80 | 4 << 3 | static_cast<int>(ReplyKind::retrieval));
    write_file(dir, "retrieval-max-value-size",
               std::string{small, '\x03', '\x01'} + "VALUE k0 0 4\r\nabcd\r\nEND\r\nVALUE k0 0 5\r\nhello\r\nEND\r\n");
}

// ---- binary responses -----------------------------------------------------------------

std::string be32(std::uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
}

std::string be64(std::uint64_t v) { return be32(static_cast<std::uint32_t>(v >> 32)) + be32(static_cast<std::uint32_t>(v)); }

std::string response(BinaryOpcode op, std::uint16_t status, std::uint32_t opaque, std::string_view extras,
                     std::string_view key, std::string_view value, std::uint64_t cas = 0) {
    BinaryHeader h;
    h.magic = mmc::proto::kBinaryResponseMagic;
    h.opcode = static_cast<std::uint8_t>(op);
    h.key_length = static_cast<std::uint16_t>(key.size());
    h.extras_length = static_cast<std::uint8_t>(extras.size());
    h.vbucket_or_status = status;
    h.body_length = static_cast<std::uint32_t>(extras.size() + key.size() + value.size());
    h.opaque = opaque;
    h.cas = cas;
    std::string out;
    mmc::proto::encode_binary_header(out, h);
    out.append(extras);
    out.append(key);
    out.append(value);
    return out;
}

std::string ok(BinaryOpcode op, std::uint32_t opaque = 0, std::string_view value = {}, std::uint64_t cas = 0) {
    return response(op, 0, opaque, {}, {}, value, cas);
}

std::string status(BinaryOpcode op, std::uint16_t st, std::string_view message, std::uint32_t opaque = 0) {
    return response(op, st, opaque, {}, {}, message);
}

std::string get_hit(BinaryOpcode op, std::uint32_t opaque, std::uint32_t flags, std::string_view key,
                    std::string_view value) {
    return response(op, 0, opaque, be32(flags), key, value, 0x1234);
}

std::string stat_stream(std::uint32_t opaque) {
    std::string s;
    const char* stats[][2] = {{"pid", "1234"},         {"uptime", "10"},     {"time", "1700000000"},
                              {"version", "1.6.18"},   {"rusage_user", "0.5"}, {"curr_items", "3"},
                              {"bytes", "300"},        {"threads", "4"}};
    for (const auto& st : stats) s += response(BinaryOpcode::stat, 0, opaque, {}, st[0], st[1]);
    s += response(BinaryOpcode::stat, 0, opaque, {}, {}, {});
    return s;
}

void binary_seeds(const fs::path& root) {
    const fs::path dir = root / "fuzz_binary_reply";
    const std::string prefix{'\x00', '\x09', '\x33'};  // default max_value_size, chunks of 1..9
    const std::string bytewise{'\x00', '\x00', '\x00'};
    struct Seed {
        const char* name;
        std::string stream;
    };
    const Seed seeds[] = {
        {"get-hit", get_hit(BinaryOpcode::get, 1, 7, {}, "hello")},
        {"get-miss", status(BinaryOpcode::get, 0x0001, "Not found", 2)},
        {"getk-hit", get_hit(BinaryOpcode::getk, 3, 0, "k0", "value")},
        {"multi-get", get_hit(BinaryOpcode::getkq, 10, 1, "k0", "a") + get_hit(BinaryOpcode::getkq, 12, 2, "k2", "") +
                          ok(BinaryOpcode::noop, 13)},
        {"gat-touch", get_hit(BinaryOpcode::gat, 4, 9, {}, "v") + response(BinaryOpcode::touch, 0, 5, be32(9), {}, {})},
        {"store", ok(BinaryOpcode::set, 6, {}, 99) + status(BinaryOpcode::add, 0x0002, "Data exists for key.", 7) +
                      status(BinaryOpcode::replace, 0x0001, "Not found", 8) +
                      status(BinaryOpcode::set, 0x0003, "Too large.", 9) + ok(BinaryOpcode::append, 10)},
        {"delete", ok(BinaryOpcode::del, 11) + status(BinaryOpcode::del, 0x0001, "Not found", 12)},
        {"incr", ok(BinaryOpcode::increment, 13, be64(42)) + ok(BinaryOpcode::decrement, 14, be64(0)) +
                     status(BinaryOpcode::increment, 0x0006, "Non-numeric server-side value for incr or decr", 15)},
        {"version", ok(BinaryOpcode::version, 16, "1.6.18")},
        {"stat", stat_stream(17)},
        {"misc", ok(BinaryOpcode::flush, 18) + ok(BinaryOpcode::verbosity, 19) + ok(BinaryOpcode::noop, 20) +
                     status(BinaryOpcode::get, 0x0081, "Unknown command", 21) +
                     status(BinaryOpcode::set, 0x0082, "Out of memory", 22) + ok(BinaryOpcode::quit, 23)},
    };
    for (const Seed& s : seeds) {
        write_file(dir, s.name, prefix + s.stream);
        write_file(dir, std::string(s.name) + "-bytewise", bytewise + s.stream);
    }
    // A tiny max_value_size (bit 7; 8 in bits 0-6): one value fits, the next does not.
    write_file(dir, "get-max-value-size",
               std::string{static_cast<char>(0x80 | 8), '\x05', '\x01'} + get_hit(BinaryOpcode::get, 1, 0, {}, "12345678") +
                   get_hit(BinaryOpcode::get, 2, 0, {}, "123456789"));
}

// ---- meta replies ---------------------------------------------------------------------

// Written out as memcached 1.6.18 sends them to the requests the codec's encoders make,
// and one with flags only a newer server could add.
struct MetaSeed {
    const char* name;
    std::string_view reply;
};

const MetaSeed kMetaSeeds[] = {
    {"get-hit", "VA 5 f7 c12345 t-1 s5\r\nhello\r\n"},
    {"get-miss", "EN\r\nEN O7 kk0\r\n"},
    {"get-metadata", "HD f0 s5 t60 l3 h1 c18446744073709551615\r\nHD t4294967295 l0 h0\r\n"},
    {"multi-get", "VA 1 kk0 f1 O10\r\na\r\nVA 0 kk2 f0 O12\r\n\r\nVA 4 kk3 f4294967295 O13\r\na\r\nb\r\nMN\r\n"},
    {"lease", "VA 0 c3 W\r\n\r\nVA 0 c3 Z\r\n\r\nHD c4\r\nVA 3 c5 X W\r\nold\r\nVA 3 c5 X Z\r\nold\r\n"},
    {"store", "HD\r\nHD c99 O1 kk0\r\nNS\r\nEX O2\r\nNF kk1\r\n"},
    {"delete", "HD\r\nNF\r\nEX O3\r\nHD kk0 O4\r\n"},
    {"arithmetic", "HD\r\nVA 2 c9 t-1\r\n42\r\nVA 20\r\n18446744073709551615\r\nNF\r\nNS\r\n"},
    {"base64-key", "VA 1 kYSBiAGM= b f0\r\nx\r\nEN kCg== b O1\r\nHD kZm9v b c2\r\n"},
    {"debug", "ME k0 exp=-1 la=3 cas=2 fetch=no cls=1 size=63\r\nEN\r\n"},
    {"errors", "CLIENT_ERROR bad command line format\r\nERROR\r\nSERVER_ERROR out of memory storing object\r\nMN\r\n"},
    {"newer-flags", "HD O5 Qx E7 x\r\nVA 1 Y\r\nv\r\n"},
};

void meta_seeds(const fs::path& root) {
    const fs::path dir = root / "fuzz_meta_reply";
    const std::string prefix{'\x00', '\x07', '\x2a'};  // default max_value_size, chunks of 1..7
    const std::string bytewise{'\x00', '\x00', '\x00'};
    for (const MetaSeed& s : kMetaSeeds) {
        write_file(dir, s.name, prefix + std::string(s.reply));
        write_file(dir, std::string(s.name) + "-bytewise", bytewise + std::string(s.reply));
    }
    // A tiny max_value_size (bit 7; 4 in bits 0-6): one value fits, the next does not.
    write_file(dir, "get-max-value-size",
               std::string{static_cast<char>(0x80 | 4), '\x03', '\x01'} + "VA 4\r\nabcd\r\nVA 5\r\nhello\r\n");
}

// ---- engine inputs --------------------------------------------------------------------

OpSpec op(OpKind kind, unsigned key = 0, bool variant = false, unsigned nkeys = 1) {
    OpSpec o;
    o.kind = kind;
    o.key = key;
    o.variant = variant;
    o.nkeys = nkeys;
    o.patch_opaque = true;  // binary replies below use relative opaques; text ignores it
    return o;
}

struct Step {
    OpSpec spec;
    std::string reply;
    std::vector<std::uint8_t> cuts;
};

OpSpec call(MetaCall c, unsigned key = 0, bool variant = false) {
    OpSpec o = op(mmc_fuzz::as_op_kind(c), key, variant);
    o.meta_call = true;
    return o;
}

std::string engine_input(Protocol protocol, const std::vector<Step>& steps) {
    std::string in = mmc_fuzz::begin_input(protocol);
    for (const Step& s : steps) mmc_fuzz::append_op(in, s.spec, s.reply, s.cuts);
    return in;
}

std::string text_stats() {
    return "STAT pid 1234\r\nSTAT uptime 10\r\nSTAT time 1700000000\r\nSTAT version 1.6.18\r\n"
           "STAT pointer_size 64\r\nSTAT rusage_user 0.123456\r\nSTAT rusage_system 1.5\r\n"
           "STAT curr_items 3\r\nSTAT total_items 9\r\nSTAT bytes 300\r\nSTAT curr_connections 2\r\n"
           "STAT total_connections 5\r\nSTAT connection_structures 3\r\nSTAT cmd_get 7\r\n"
           "STAT cmd_set 9\r\nSTAT get_hits 4\r\nSTAT get_misses 3\r\nSTAT evictions 0\r\n"
           "STAT bytes_read 1000\r\nSTAT bytes_written 2000\r\nSTAT limit_maxbytes 67108864\r\n"
           "STAT threads 4\r\nEND\r\n";
}

void engine_seeds(const fs::path& root) {
    const fs::path dir = root / "fuzz_engine_replies";
    using B = BinaryOpcode;

    // Text: one input per reply kind, then one with every operation in a row on one
    // connection, its replies split into segments.
    const std::vector<std::pair<const char*, std::vector<Step>>> text = {
        {"text-get-hit", {{op(OpKind::get, 0), "VALUE k0 3 5\r\nhello\r\nEND\r\n", {}}}},
        {"text-get-miss", {{op(OpKind::get, 1), "END\r\n", {}}}},
        {"text-get-cas-split", {{op(OpKind::get, 2), "VALUE k2 0 10 77\r\n0123456789\r\nEND\r\n", {40, 200}}}},
        {"text-get-invalid-key", {{op(OpKind::get, 0, true), "", {}}}},
        {"text-get-server-error", {{op(OpKind::get, 0), "SERVER_ERROR busy\r\n", {}}}},
        {"text-store", {{op(OpKind::set, 0), "STORED\r\n", {}},
                        {op(OpKind::set, 1, true), "NOT_STORED\r\n", {}},
                        {op(OpKind::add, 2), "NOT_STORED\r\n", {}},
                        {op(OpKind::add, 3, true), "STORED\r\n", {}}}},
        {"text-delete", {{op(OpKind::del, 0), "DELETED\r\n", {}}, {op(OpKind::del, 1), "NOT_FOUND\r\n", {}}}},
        {"text-incr", {{op(OpKind::incr, 0), "6\r\n", {}},
                       {op(OpKind::incr, 1, true), "0\r\n", {}},
                       {op(OpKind::incr, 2), "NOT_FOUND\r\n", {}},
                       {op(OpKind::incr, 3), "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n", {}}}},
        {"text-multi-get", {{op(OpKind::multi_get, 1, false, 3), "VALUE k1 0 1\r\na\r\nVALUE k3 2 2\r\nbb\r\nEND\r\n", {}}}},
        {"text-multi-get-invalid-key", {{op(OpKind::multi_get, 0, true, 2), "VALUE k0 0 0\r\n\r\nEND\r\n", {}}}},
        {"text-version", {{op(OpKind::version), "VERSION 1.6.18\r\n", {}}}},
        {"text-stats", {{op(OpKind::stats), text_stats(), {60, 130, 220}}}},
        {"text-sequence", {{op(OpKind::set, 0), "STORED\r\n", {}},
                           {op(OpKind::get, 0), "VALUE k0 7 10\r\nfuzz-value\r\nEND\r\n", {128}},
                           {op(OpKind::incr, 1), "11\r\n", {}},
                           {op(OpKind::multi_get, 0, false, 4), "VALUE k0 0 1\r\nx\r\nEND\r\n", {100}},
                           {op(OpKind::del, 0), "DELETED\r\n", {}},
                           {op(OpKind::version), "VERSION 1.6.18\r\n", {}},
                           {op(OpKind::stats), "STAT pid 1\r\nEND\r\n", {}},
                           {op(OpKind::get, 0), "END\r\n", {}}}},
    };
    for (const auto& [name, steps] : text) write_file(dir, name, engine_input(Protocol::text, steps));

    OpSpec closing = op(OpKind::get, 0);
    closing.close_after = true;
    write_file(dir, "text-close-after-reply",
               engine_input(Protocol::text, {{closing, "VALUE k0 0 1\r\nz\r\nEND\r\n", {}}, {op(OpKind::get, 0), "END\r\n", {}}}));

    // Binary: opaques are relative to the request's (patch_opaque, see engine_input.h).
    const std::vector<std::pair<const char*, std::vector<Step>>> binary = {
        {"binary-get-hit", {{op(OpKind::get, 0), get_hit(B::get, 0, 3, {}, "hello"), {}}}},
        {"binary-get-miss", {{op(OpKind::get, 1), status(B::get, 0x0001, "Not found"), {}}}},
        {"binary-get-split", {{op(OpKind::get, 2), get_hit(B::get, 0, 0, {}, "0123456789"), {10, 100, 200}}}},
        {"binary-get-invalid-key", {{op(OpKind::get, 0, true), "", {}}}},
        {"binary-store", {{op(OpKind::set, 0), ok(B::set, 0, {}, 5), {}},
                          {op(OpKind::set, 1, true), status(B::replace, 0x0001, "Not found"), {}},
                          {op(OpKind::add, 2), status(B::add, 0x0002, "Data exists for key."), {}},
                          {op(OpKind::add, 3, true), ok(B::add), {}}}},
        {"binary-delete", {{op(OpKind::del, 0), ok(B::del), {}},
                           {op(OpKind::del, 1), status(B::del, 0x0001, "Not found"), {}}}},
        {"binary-incr", {{op(OpKind::incr, 0), ok(B::increment, 0, be64(6)), {}},
                         {op(OpKind::incr, 1, true), ok(B::decrement, 0, be64(0)), {}},
                         {op(OpKind::incr, 2), status(B::increment, 0x0001, "Not found"), {}},
                         {op(OpKind::incr, 3), status(B::increment, 0x0006, "Non-numeric server-side value"), {}}}},
        {"binary-multi-get", {{op(OpKind::multi_get, 1, false, 3),
                              get_hit(B::getkq, 0, 0, "k1", "a") + get_hit(B::getkq, 1, 2, "k3", "bb") + ok(B::noop, 3),
                              {}}}},
        {"binary-multi-get-invalid-key", {{op(OpKind::multi_get, 0, true, 2), ok(B::noop, 2), {}}}},
        {"binary-version", {{op(OpKind::version), ok(B::version, 0, "1.6.18"), {}}}},
        {"binary-stats", {{op(OpKind::stats), stat_stream(0), {50, 150}}}},
        {"binary-sequence", {{op(OpKind::set, 0), ok(B::set, 0, {}, 1), {}},
                             {op(OpKind::get, 0), get_hit(B::get, 0, 7, {}, "fuzz-value"), {128}},
                             {op(OpKind::incr, 1), ok(B::increment, 0, be64(11)), {}},
                             {op(OpKind::multi_get, 0, false, 4), get_hit(B::getkq, 0, 0, "k0", "x") + ok(B::noop, 4), {100}},
                             {op(OpKind::del, 0), ok(B::del), {}},
                             {op(OpKind::version), ok(B::version, 0, "1.6.18"), {}},
                             {op(OpKind::stats), stat_stream(0), {}},
                             {op(OpKind::get, 0), status(B::get, 0x0001, "Not found"), {}}}},
    };
    for (const auto& [name, steps] : binary) write_file(dir, name, engine_input(Protocol::binary, steps));

    // Meta: every reply code and the flags the engine reads. A meta server's multi-get
    // is a text get (docs/design.md, "Multi-get"), answered as text.
    const std::vector<std::pair<const char*, std::vector<Step>>> meta = {
        {"meta-get-hit", {{op(OpKind::get, 0), "VA 5 f3\r\nhello\r\n", {}}}},
        {"meta-get-hit-flags", {{op(OpKind::get, 1), "VA 4 f7 c99 t-1 s4 kk1 O123 b W X Z\r\nabcd\r\n", {}}}},
        {"meta-get-miss", {{op(OpKind::get, 1), "EN\r\n", {}}}},
        {"meta-get-split", {{op(OpKind::get, 2), "VA 10 f0\r\n0123456789\r\n", {3, 40, 200}}}},
        {"meta-get-invalid-key", {{op(OpKind::get, 0, true), "", {}}}},
        {"meta-get-hostile-length", {{op(OpKind::get, 0), "VA 18446744073709551615 f0\r\nabc\r\n", {}}}},
        {"meta-get-wrong-code", {{op(OpKind::get, 0), "HD\r\n", {}}, {op(OpKind::get, 0), "NS\r\n", {}}}},
        {"meta-get-errors", {{op(OpKind::get, 0), "ERROR\r\n", {}},
                             {op(OpKind::get, 1), "CLIENT_ERROR bad command line format\r\n", {}},
                             {op(OpKind::get, 2), "SERVER_ERROR out of memory\r\n", {}}}},
        {"meta-store", {{op(OpKind::set, 0), "HD\r\n", {}},
                        {op(OpKind::set, 1, true), "NS\r\n", {}},
                        {op(OpKind::add, 2), "NS\r\n", {}},
                        {op(OpKind::add, 3, true), "HD c5\r\n", {}},
                        {op(OpKind::set, 0), "EX\r\n", {}},
                        {op(OpKind::set, 1), "NF\r\n", {}}}},
        {"meta-delete", {{op(OpKind::del, 0), "HD\r\n", {}}, {op(OpKind::del, 1), "NF\r\n", {}},
                         {op(OpKind::del, 2), "EX\r\n", {}}}},
        {"meta-incr", {{op(OpKind::incr, 0), "VA 1\r\n6\r\n", {}},
                       {op(OpKind::incr, 1, true), "VA 1 t-1\r\n0\r\n", {}},
                       {op(OpKind::incr, 2), "NF\r\n", {}},
                       {op(OpKind::incr, 3), "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n", {}},
                       {op(OpKind::incr, 0), "VA 20\r\n18446744073709551615\r\n", {}},
                       {op(OpKind::incr, 0), "NS\r\n", {}}}},
        {"meta-multi-get", {{op(OpKind::multi_get, 1, false, 3),
                             "VALUE k1 0 1\r\na\r\nVALUE k3 2 2\r\nbb\r\nEND\r\n", {}}}},
        {"meta-multi-get-out-of-order", {{op(OpKind::multi_get, 0, false, 4),
                                          "VALUE k3 0 1\r\nd\r\nVALUE k0 0 1\r\na\r\n"
                                          "VALUE k2 0 1\r\nc\r\nEND\r\n", {50}}}},
        {"meta-multi-get-misses", {{op(OpKind::multi_get, 0, false, 4), "END\r\n", {}},
                                   {op(OpKind::multi_get, 1, false, 2), "VALUE k1 0 1\r\nz\r\nEND\r\n", {}}}},
        {"meta-multi-get-invalid-key", {{op(OpKind::multi_get, 0, true, 2), "VALUE k0 0 0\r\n\r\nEND\r\n", {}}}},
        {"meta-multi-get-error-mid", {{op(OpKind::multi_get, 0, false, 3),
                                       "VALUE k0 0 1\r\na\r\nSERVER_ERROR out of memory\r\n", {}},
                                      {op(OpKind::get, 0), "EN\r\n", {}}}},
        {"meta-multi-get-not-asked", {{op(OpKind::multi_get, 0, false, 2),
                                       "VALUE k3 0 1\r\nx\r\nVALUE k0 0 1\r\ny\r\nEND\r\n", {}},
                                      {op(OpKind::get, 1), "EN\r\n", {}}}},
        {"meta-multi-get-hostile-length", {{op(OpKind::multi_get, 0, false, 2),
                                            "VALUE k0 0 99999999999\r\nab\r\nEND\r\n", {}}}},
        {"meta-multi-get-meta-reply", {{op(OpKind::multi_get, 0, false, 2),
                                        "VA 1 f0 kk0 O0\r\na\r\nMN\r\n", {}},
                                       {op(OpKind::get, 0), "EN\r\n", {}}}},
        {"meta-version", {{op(OpKind::version), "VERSION 1.6.21\r\n", {}}}},
        {"meta-stats", {{op(OpKind::stats), text_stats(), {60, 130, 220}}}},
        {"meta-lease", {{call(MetaCall::lease_get, 0), "VA 0 f0 c1 t30 W\r\n\r\n", {}},
                        {call(MetaCall::lease_get, 0), "VA 0 f0 c1 t29 Z\r\n\r\n", {}},
                        {call(MetaCall::lease_get, 1), "VA 5 f0 c7 t100 W\r\nhello\r\n", {}},
                        {call(MetaCall::lease_get, 2, true), "EN\r\n", {}},
                        {call(MetaCall::lease_get, 3), "VA 3 f1 c8 t-1\r\nabc\r\n", {20}}}},
        {"meta-invalidate", {{call(MetaCall::invalidate, 0), "HD\r\n", {}},
                             {call(MetaCall::lease_get, 0), "VA 5 f0 c9 t30 X W\r\nstale\r\n", {}},
                             {call(MetaCall::lease_get, 0), "VA 5 f0 c9 t29 X Z\r\nstale\r\n", {}},
                             {call(MetaCall::invalidate, 1, true), "NF\r\n", {}},
                             {call(MetaCall::invalidate, 2), "EX\r\n", {}}}},
        {"meta-metadata", {{call(MetaCall::meta_get, 0), "HD t-1 l3 h1 s5 c9 f4\r\n", {}},
                           {call(MetaCall::meta_get, 1, true), "HD t100 l0 h0 s0 c1 f0\r\n", {}},
                           {call(MetaCall::meta_get, 2), "EN\r\n", {}},
                           {call(MetaCall::meta_get, 3), "HD t99999999999999999999 l-1 h2 s4294967296\r\n", {}}}},
        {"meta-bkey", {{call(MetaCall::bkey_store, 0), "HD\r\n", {}},
                       {call(MetaCall::bkey_get, 0), "VA 10 f7 c3 b kYgAgMA==\r\nfuzz-value\r\n", {}},
                       {call(MetaCall::bkey_get, 1), "EN\r\n", {}},
                       {call(MetaCall::bkey_store, 2, true), "NS\r\n", {}},
                       {call(MetaCall::bkey_delete, 3), "NF\r\n", {}},
                       {call(MetaCall::bkey_delete, 0), "HD\r\n", {}}}},
        {"meta-invalid-keys", {{call(MetaCall::invalid_key, 0), "", {}},
                               {call(MetaCall::invalid_key, 0, true), "", {}},
                               {call(MetaCall::invalid_bkey, 0), "", {}},
                               {call(MetaCall::invalid_bkey, 0, true), "", {}}}},
        {"meta-debug-reply", {{op(OpKind::get, 0), "ME k0 exp=-1 la=3 cas=2 fetch=no cls=1 size=63\r\n", {}}}},
        {"meta-noop-for-get", {{op(OpKind::get, 0), "MN\r\n", {}}, {op(OpKind::get, 0), "VA 1\r\nq\r\n", {}}}},
        {"meta-sequence", {{op(OpKind::set, 0), "HD\r\n", {}},
                           {op(OpKind::get, 0), "VA 10 f7\r\nfuzz-value\r\n", {128}},
                           {op(OpKind::incr, 1), "VA 2\r\n11\r\n", {}},
                           {op(OpKind::multi_get, 0, false, 4), "VALUE k0 0 1\r\nx\r\nEND\r\n", {100}},
                           {op(OpKind::multi_get, 2, false, 2), "VALUE k3 0 1\r\ny\r\nEND\r\n", {}},
                           {op(OpKind::del, 0), "HD\r\n", {}},
                           {call(MetaCall::lease_get, 1), "VA 0 f0 c1 t30 W\r\n\r\n", {}},
                           {op(OpKind::version), "VERSION 1.6.21\r\n", {}},
                           {op(OpKind::stats), "STAT pid 1\r\nEND\r\n", {}},
                           {op(OpKind::get, 0), "EN\r\n", {}}}},
    };
    for (const auto& [name, steps] : meta) write_file(dir, name, engine_input(Protocol::meta, steps));

    OpSpec meta_closing = op(OpKind::get, 0);
    meta_closing.close_after = true;
    write_file(dir, "meta-close-after-reply",
               engine_input(Protocol::meta, {{meta_closing, "VA 1 f0\r\nz\r\n", {}},
                                             {op(OpKind::multi_get, 0, false, 2), "VALUE k1 0 1\r\nw\r\nEND\r\n", {}}}));
    OpSpec meta_cut_short = op(OpKind::multi_get, 0, false, 3);
    meta_cut_short.close_after = true;
    write_file(dir, "meta-multi-get-closed-mid",
               engine_input(Protocol::meta, {{meta_cut_short, "VALUE k0 0 1\r\na\r\nVALUE k1", {}},
                                             {op(OpKind::get, 0), "EN\r\n", {}}}));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_ROOT (tests/fuzz/corpus)\n", argv[0]);
        return 2;
    }
    const fs::path root = argv[1];
    text_seeds(root);
    binary_seeds(root);
    meta_seeds(root);
    engine_seeds(root);
    std::printf("wrote %d seed files under %s\n", g_written, root.c_str());
    return 0;
}
