// Fuzz target: the engine's reply handling end to end, through the public C API
// (include/ap_memcache.h) against an in-process fake server (fake_server.h) that
// answers each request with bytes from the input. The input format is in
// engine_input.h: a protocol (text, binary or meta), then operations (get, set, add,
// delete, incr, multi-get, version, stats, and on meta the calls only meta can make:
// lease get, invalidate, metadata get, keys of any bytes) each with its reply.
//
// Invariants: no crash and no sanitizer report; every call returns, and within a bound
// (the deadlines are 20 ms, so a call that takes seconds is a hang in the making); a
// call with an invalid key sends nothing; a value returned with APR_SUCCESS (getp,
// multgetp, version) is NUL-terminated at its length and is exactly a value the server
// sent, with the length the reply declared for it. On meta: a lease's won, stale and
// lease_taken only when the server sent W, X and Z; APR_ENOTIMPL never.
//
// Determinism: every input starts with no pooled connection and the server live (see
// start_input), and the client never marks the server dead (failure_limit is huge), so
// an input replays the same way except where a deadline races the scheduler.
#include <apr_general.h>
#include <apr_hash.h>
#include <apr_pools.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "engine_input.h"
#include "fake_server.h"
#include "fuzz_support.h"
#include "ap_memcache.h"

namespace {

using mmc_fuzz::FakeServer;
using mmc_fuzz::InputReader;
using mmc_fuzz::kInvalidKey;
using mmc_fuzz::kBinaryKeys;
using mmc_fuzz::kKeys;
using mmc_fuzz::MetaCall;
using mmc_fuzz::OpKind;
using mmc_fuzz::OpSpec;
using mmc_fuzz::Protocol;
using mmc_fuzz::Reply;

// Short, so that a reply the input cut short costs little: every such operation waits
// out the I/O deadline, and mutated inputs are full of them. The fake server answers
// in well under a millisecond, so 20 ms is still rarely missed on a loaded machine
// (and a miss costs only coverage stability, never a false report).
constexpr apr_interval_time_t kDeadline = 20 * 1000;  // microseconds
// Far above what any operation may take with the deadline above (connect + I/O, and
// one retry on a fresh connection), yet below libFuzzer's -timeout, so that a call
// that stops honouring its deadlines is reported here, by name.
constexpr auto kCallBound = std::chrono::seconds(10);

constexpr std::string_view kStoreValue = "fuzz-value";

constexpr std::uint8_t kOpcodeGet = 0x00;
constexpr std::uint8_t kOpcodeGetkq = 0x0d;

struct Client {
    apr_memcache_t* mc = nullptr;
    apr_memcache_server_t* ms = nullptr;
    // A copy of ms->impl, kept for LeakSanitizer only: APR's allocator takes its memory
    // with mmap, which LeakSanitizer does not scan, so the engine objects would look
    // leaked with their only pointer held in pool memory.
    const void* impl = nullptr;
};

struct Engine {
    apr_pool_t* root = nullptr;
    FakeServer* server = nullptr;
    Client text;
    Client binary;
    Client meta;
};

// The engine logs every unusable reply; formatting and passing the message is part of
// the path under test, so a logger is installed and reads the whole message.
bool trace();

void read_log(void*, int, apr_status_t, const char* msg) {
    volatile std::size_t n = std::strlen(msg);
    (void)n;
    if (trace()) std::fprintf(stderr, "    log: %s\n", msg);
}

Client make_client(apr_pool_t* p, const std::string& path, int protocol) {
    Client c;
    FUZZ_CHECK(ap_memcache_create(p, 1, 0, &c.mc) == APR_SUCCESS, "apr_memcache_create failed");
    // One connection at most: the fake server answers one request at a time.
    FUZZ_CHECK(ap_memcache_server_create(p, path.c_str(), 0, 0, 1, 1, 60u * 1000 * 1000, &c.ms) ==
                   APR_SUCCESS,
               "apr_memcache_server_create failed");
    ap_memcache_server_options_t o;
    ap_memcache_server_options_init(&o);
    o.connect_timeout = kDeadline;
    o.io_timeout = kDeadline;
    o.acquire_timeout = kDeadline;
    // Never marked dead by failures: a dead server answers every later operation with
    // AP_MEMCACHE_ENOSERVER without sending anything, which would hide the replies of
    // the rest of the input from the engine.
    o.failure_limit = 1u << 30;
    o.protocol = protocol;
    FUZZ_CHECK(ap_memcache_server_set_options(c.ms, &o) == APR_SUCCESS, "set_options failed");
    ap_memcache_server_set_logger(c.ms, read_log, nullptr);
    FUZZ_CHECK(ap_memcache_add_server(c.mc, c.ms) == APR_SUCCESS, "apr_memcache_add_server failed");
    c.impl = c.ms->impl;
    return c;
}

Engine& engine() {
    // Built once per process and reused by every input (connecting and building a
    // client per input would dominate the run time). Never torn down: see fake_server.h.
    static Engine* e = [] {
        FUZZ_CHECK(apr_initialize() == APR_SUCCESS, "apr_initialize failed");
        auto* en = new Engine;
        FUZZ_CHECK(apr_pool_create(&en->root, nullptr) == APR_SUCCESS, "apr_pool_create failed");
        en->server = &FakeServer::instance();
        en->text = make_client(en->root, en->server->path(), AP_MEMCACHE_PROTOCOL_TEXT);
        en->binary = make_client(en->root, en->server->path(), AP_MEMCACHE_PROTOCOL_BINARY);
        en->meta = make_client(en->root, en->server->path(), AP_MEMCACHE_PROTOCOL_META);
        return en;
    }();
    return *e;
}

void start_input(Engine& e, Client& c) {
    // Disabling drops the pooled connections, enabling clears the failure count: the
    // only public way to put a client back into its initial state.
    ap_memcache_disable_server(c.mc, c.ms);
    ap_memcache_enable_server(c.mc, c.ms);
    e.server->reset();
}

void check_value(const FakeServer& server, Protocol protocol, std::uint8_t opcode, bool check_key,
                 std::string_view key, const char* data, apr_size_t len) {
    FUZZ_CHECK(data != nullptr, "APR_SUCCESS without data");
    FUZZ_CHECK(data[len] == '\0', "value not NUL-terminated at its length");
    const std::string_view value(data, len);
    bool sent = false;
    switch (protocol) {
        case Protocol::text: sent = server.sent_text_value(key, value); break;
        case Protocol::binary: sent = server.sent_binary_value(opcode, !check_key, key, value); break;
        case Protocol::meta: sent = server.sent_meta_value(value); break;
    }
    FUZZ_CHECK(sent, "a value (or value length) the server never sent");
}

// MMC_FUZZ_TRACE=1 prints every operation's outcome: what an input does, when reading
// a reproducer or checking that seeds reach the paths they were written for.
bool trace() {
    static const bool on = [] {
        const char* v = std::getenv("MMC_FUZZ_TRACE");
        return v && *v && *v != '0';
    }();
    return on;
}

constexpr const char* kOpNames[] = {"get", "set", "add", "delete", "incr", "multi_get", "version", "stats"};
constexpr const char* kMetaCallNames[] = {"lease_get", "invalidate",  "meta_get",    "bkey_get",
                                          "bkey_store", "bkey_delete", "invalid_key", "invalid_bkey"};

class Op {
public:
    Op(Engine& e, Client& c, apr_pool_t* pool, Protocol protocol, const OpSpec& spec)
        : e_(e), c_(c), pool_(pool), protocol_(protocol), spec_(spec) {}

    // False when the operation ran into a deadline.
    bool run() {
        e_.server->arm(Reply{std::string(spec_.reply), spec_.cuts, spec_.close_after, spec_.patch_opaque});
        const auto start = std::chrono::steady_clock::now();
        call();
        const auto took = std::chrono::steady_clock::now() - start;
        requested_ = e_.server->disarm();
        FUZZ_CHECK(took < kCallBound, "a call did not return within its deadlines");
        if (trace()) {
            char buf[128];
            const int k = static_cast<int>(spec_.kind);
            std::fprintf(stderr, "  op %s key %u%s: %s (%d)%s, %lld us\n", spec_.meta_call ? kMetaCallNames[k] : kOpNames[k],
                         spec_.key, spec_.variant ? " variant" : "", ap_memcache_strerror(rv_, buf, sizeof buf),
                         rv_, requested_ ? "" : ", nothing sent",
                         static_cast<long long>(std::chrono::duration_cast<std::chrono::microseconds>(took).count()));
        }
        check();
        return !timed_out();
    }

private:
    const char* key() const { return kKeys[spec_.key].data(); }

    void call() {
        if (spec_.meta_call) {
            meta_call();
            return;
        }
        switch (spec_.kind) {
            case OpKind::get:
                rv_ = ap_memcache_getp(c_.mc, pool_, spec_.variant ? kInvalidKey.data() : key(), &data_,
                                       &len_, &flags_);
                break;
            case OpKind::set:
                rv_ = spec_.variant ? ap_memcache_replace(c_.mc, key(), const_cast<char*>(kStoreValue.data()),
                                                          kStoreValue.size(), 0, 7)
                                    : ap_memcache_set(c_.mc, key(), const_cast<char*>(kStoreValue.data()),
                                                      kStoreValue.size(), 0, 7);
                break;
            case OpKind::add:
                rv_ = ap_memcache_add(c_.mc, key(), const_cast<char*>(kStoreValue.data()),
                                      spec_.variant ? 0 : kStoreValue.size(), 0, 0);
                break;
            case OpKind::del: rv_ = ap_memcache_delete(c_.mc, key(), 0); break;
            case OpKind::incr: {
                apr_uint32_t nv = 0;
                const auto n = static_cast<apr_int32_t>(1 + spec_.key);
                rv_ = spec_.variant ? ap_memcache_decr(c_.mc, key(), n, &nv)
                                    : ap_memcache_incr(c_.mc, key(), n, &nv);
                break;
            }
            case OpKind::multi_get: multi_get(); break;
            case OpKind::version: rv_ = ap_memcache_version(c_.ms, pool_, &data_); break;
            case OpKind::stats: rv_ = ap_memcache_stats(c_.ms, pool_, &stats_); break;
        }
    }

    std::string_view bkey() const { return kBinaryKeys[spec_.key]; }

    void meta_call() {
        switch (mmc_fuzz::as_meta_call(spec_.kind)) {
            case MetaCall::lease_get:
                rv_ = ap_memcache_lease_get(c_.mc, pool_, key(), spec_.variant ? 0 : 30, spec_.variant ? 0 : 5,
                                            &lease_);
                break;
            case MetaCall::invalidate: rv_ = ap_memcache_invalidate(c_.mc, key(), spec_.variant ? 0 : 30); break;
            case MetaCall::meta_get: rv_ = ap_memcache_meta_get(c_.mc, key(), spec_.variant, &meta_); break;
            case MetaCall::bkey_get:
                rv_ = ap_memcache_bkey_get(c_.mc, pool_, bkey().data(), bkey().size(), &item_);
                break;
            case MetaCall::bkey_store:
                rv_ = ap_memcache_bkey_store(c_.mc, spec_.variant ? AP_MEMCACHE_APPEND : AP_MEMCACHE_SET,
                                             bkey().data(), bkey().size(), kStoreValue.data(), kStoreValue.size(),
                                             0, 7);
                break;
            case MetaCall::bkey_delete: rv_ = ap_memcache_bkey_delete(c_.mc, bkey().data(), bkey().size()); break;
            case MetaCall::invalid_key:
                rv_ = spec_.variant ? ap_memcache_meta_get(c_.mc, kInvalidKey.data(), 0, &meta_)
                                    : ap_memcache_lease_get(c_.mc, pool_, kInvalidKey.data(), 30, 0, &lease_);
                break;
            case MetaCall::invalid_bkey:
                if (spec_.variant) {
                    const std::string too_long(AP_MEMCACHE_MAX_BINARY_KEY + 1, '\x01');
                    rv_ = ap_memcache_bkey_store(c_.mc, AP_MEMCACHE_SET, too_long.data(), too_long.size(),
                                                 kStoreValue.data(), kStoreValue.size(), 0, 0);
                } else {
                    rv_ = ap_memcache_bkey_get(c_.mc, pool_, bkey().data(), 0, &item_);
                }
                break;
        }
    }

    // A value lease_get or bkey_get returned with APR_SUCCESS: one of the VA blocks the
    // server sent. (An HD reply to their mg, which asks for the value, is a protocol
    // error: corpus input crash-lease-get-hd-reply keeps checking that.)
    void check_meta_item(const ap_memcache_item_t& item) const {
        check_value(*e_.server, protocol_, 0, false, {}, item.data, item.len);
    }

    void check_meta_call() {
        const FakeServer& server = *e_.server;
        switch (mmc_fuzz::as_meta_call(spec_.kind)) {
            case MetaCall::lease_get:
                if (rv_ == APR_SUCCESS) check_meta_item(lease_.item);
                FUZZ_CHECK(lease_.item.status == rv_, "lease_get: item.status is not what it returned");
                FUZZ_CHECK(!lease_.won || server.sent_meta_flag('W'), "lease_get: won without W");
                FUZZ_CHECK(!lease_.stale || server.sent_meta_flag('X'), "lease_get: stale without X");
                FUZZ_CHECK(!lease_.lease_taken || server.sent_meta_flag('Z'), "lease_get: lease_taken without Z");
                break;
            case MetaCall::bkey_get:
                FUZZ_CHECK(item_.status == rv_, "bkey_get: item.status is not what it returned");
                if (rv_ == APR_SUCCESS) {
                    check_meta_item(item_);
                    FUZZ_CHECK(item_.key != nullptr && std::memcmp(item_.key, bkey().data(), bkey().size()) == 0 &&
                                   item_.key[bkey().size()] == '\0',
                               "bkey_get: item.key is not a copy of the key bytes");
                }
                break;
            case MetaCall::invalid_key:
            case MetaCall::invalid_bkey:
                FUZZ_CHECK(rv_ == APR_EINVAL, "a meta call with an invalid key is not APR_EINVAL");
                FUZZ_CHECK(!requested_, "a meta call with an invalid key sent a request");
                break;
            default: break;
        }
    }

    bool timed_out() const {
        if (rv_ == APR_TIMEUP) return true;
        if (spec_.meta_call || spec_.kind != OpKind::multi_get) return false;
        for (apr_hash_index_t* hi = apr_hash_first(pool_, values_); hi; hi = apr_hash_next(hi)) {
            void* vp = nullptr;
            apr_hash_this(hi, nullptr, nullptr, &vp);
            if (static_cast<const apr_memcache_value_t*>(vp)->status == APR_TIMEUP) return true;
        }
        return false;
    }

    void multi_get() {
        values_ = nullptr;
        for (unsigned i = 0; i < spec_.nkeys; ++i) {
            ap_memcache_add_multget_key(pool_, kKeys[(spec_.key + i) % mmc_fuzz::kKeyCount].data(), &values_);
        }
        if (spec_.variant) ap_memcache_add_multget_key(pool_, kInvalidKey.data(), &values_);
        apr_pool_t* temp = nullptr;
        FUZZ_CHECK(apr_pool_create(&temp, pool_) == APR_SUCCESS, "apr_pool_create failed");
        rv_ = ap_memcache_multgetp(c_.mc, temp, pool_, values_);
        apr_pool_destroy(temp);
    }

    void check() {
        const FakeServer& server = *e_.server;
        if (protocol_ == Protocol::meta) {
            FUZZ_CHECK(rv_ != APR_ENOTIMPL, "APR_ENOTIMPL from a meta server");
        }
        if (spec_.meta_call) {
            check_meta_call();
            return;
        }
        switch (spec_.kind) {
            case OpKind::get:
                if (spec_.variant) {
                    FUZZ_CHECK(rv_ == APR_EINVAL, "getp of an invalid key is not APR_EINVAL");
                    FUZZ_CHECK(!requested_, "getp of an invalid key sent a request");
                } else if (rv_ == APR_SUCCESS) {
                    check_value(server, protocol_, kOpcodeGet, false, key(), data_, len_);
                }
                break;
            case OpKind::multi_get: {
                FUZZ_CHECK(rv_ == APR_SUCCESS, "multgetp failed with usable arguments");
                for (apr_hash_index_t* hi = apr_hash_first(pool_, values_); hi; hi = apr_hash_next(hi)) {
                    void* vp = nullptr;
                    apr_hash_this(hi, nullptr, nullptr, &vp);
                    const auto* v = static_cast<const apr_memcache_value_t*>(vp);
                    if (trace()) {
                        std::fprintf(stderr, "    %s: %d, %zu bytes\n", v->key, v->status,
                                     v->status == APR_SUCCESS ? static_cast<std::size_t>(v->len) : 0);
                    }
                    if (kInvalidKey == v->key) {
                        FUZZ_CHECK(v->status == APR_EINVAL, "an invalid multi-get key is not APR_EINVAL");
                    } else if (v->status == APR_SUCCESS) {
                        // A meta server's multi-get is a text get, answered as text.
                        const Protocol sent_as = protocol_ == Protocol::meta ? Protocol::text : protocol_;
                        check_value(server, sent_as, kOpcodeGetkq, true, v->key, v->data, v->len);
                    }
                }
                break;
            }
            case OpKind::version:
                if (rv_ == APR_SUCCESS) {
                    FUZZ_CHECK(data_ != nullptr, "version: APR_SUCCESS without a string");
                    const std::string_view v(data_);
                    // The engine takes the value of any successful response carrying the
                    // request's opaque, whatever its opcode.
                    FUZZ_CHECK(protocol_ == Protocol::binary ? server.sent_binary_value(-1, true, {}, v, true)
                                       : server.sent_text_version(v),
                               "version: a string the server never sent");
                }
                break;
            case OpKind::stats:
                if (rv_ == APR_SUCCESS) {
                    FUZZ_CHECK(stats_ != nullptr, "stats: APR_SUCCESS without a struct");
                    if (stats_->version) {
                        volatile std::size_t n = std::strlen(stats_->version);
                        (void)n;
                    }
                }
                break;
            default: break;
        }
    }

    Engine& e_;
    Client& c_;
    apr_pool_t* pool_;
    Protocol protocol_;
    const OpSpec& spec_;
    bool requested_ = false;
    apr_status_t rv_ = APR_EGENERAL;
    char* data_ = nullptr;
    apr_size_t len_ = 0;
    apr_uint16_t flags_ = 0;
    apr_hash_t* values_ = nullptr;
    apr_memcache_stats_t* stats_ = nullptr;
    ap_memcache_lease_t lease_{};
    ap_memcache_meta_t meta_{};
    ap_memcache_item_t item_{};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    InputReader in(std::string_view(reinterpret_cast<const char*>(data), size));
    Engine& e = engine();
    const Protocol protocol = in.protocol();
    Client& c = protocol == Protocol::meta ? e.meta : protocol == Protocol::binary ? e.binary : e.text;
    start_input(e, c);

    apr_pool_t* pool = nullptr;
    FUZZ_CHECK(apr_pool_create(&pool, e.root) == APR_SUCCESS, "apr_pool_create failed");
    OpSpec spec;
    // The rest of an input is skipped once an operation has waited out its deadline:
    // the operations behind it would mostly pay the same price again (mutations leave
    // many replies short), which dominated the run time, and what follows a timeout (a
    // discarded connection, then a fresh one) is reached as well through close_after
    // and unusable replies.
    while (in.next(spec)) {
        if (!Op(e, c, pool, protocol, spec).run()) break;
    }
    apr_pool_destroy(pool);
    return 0;
}
