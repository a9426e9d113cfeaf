// The keys of one multi-get laid out server by server, shared by the hash-based
// multi-gets (hash_multi_get.cpp) and the array one (array_multi_get.cpp), so that both group
// keys the same way and hand the engine the same batches.
#ifndef MMC_COMPAT_KEY_BATCHES_H
#define MMC_COMPAT_KEY_BATCHES_H

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <string_view>
#include <vector>

#include "ap_memcache.h"
#include "compat/facade.h"
#include "engine/multi_get.h"

namespace mmc::compat {

// Batch i's keys are keys[first[i] .. first[i + 1]), sent to servers[i]; owner[] gives,
// at the same place, the key's index in the caller's list, so a reply is matched to
// its caller's slot by position (no lookup by key).
// Its lists, and group_by_server's and run_batches' working lists, come from one memory
// resource: a call passes one that serves them from a buffer on its stack (CallArena),
// so that a multi-get of a hundred keys allocates none of them from the heap.
struct KeyBatches {
    explicit KeyBatches(std::pmr::memory_resource* mr = std::pmr::get_default_resource())
        : servers(mr), first(mr), keys(mr), owner(mr) {}
    std::pmr::vector<apr_memcache_server_t*> servers;
    std::pmr::vector<std::size_t> first;
    std::pmr::vector<std::string_view> keys;
    std::pmr::vector<std::uint32_t> owner;

    std::pmr::memory_resource* resource() const noexcept { return keys.get_allocator().resource(); }
};

// Memory for one multi-get's lists: a buffer on the caller's stack, large enough for the
// lists of about a hundred keys, then blocks from the heap; everything is freed at once
// when the call ends. Before it, each call made a dozen heap allocations of these
// lists (about 35 instructions per key of a 100-key call, most of them in free()).
class CallArena {
public:
    CallArena() : arena_(room_, sizeof room_) {}
    CallArena(const CallArena&) = delete;
    CallArena& operator=(const CallArena&) = delete;
    std::pmr::memory_resource* resource() noexcept { return &arena_; }

private:
    alignas(std::max_align_t) unsigned char room_[8192];
    std::pmr::monotonic_buffer_resource arena_;
};

// Groups n placed keys (where[i] is the server of keys[i], from place_keys) per server,
// each server's keys in the order given; servers in the order first met. A key with no
// usable server is left out and reported to no_server(i).
template <class NoServer>
void group_by_server(const std::string_view* keys, apr_memcache_server_t* const* where,
                     std::size_t n, KeyBatches& out, NoServer&& no_server) {
    constexpr std::uint32_t kNone = UINT32_MAX;
    std::pmr::vector<std::uint32_t> batch_of(n, out.resource());
    std::uint32_t* const batch = batch_of.data();
    // One pass finds each key's batch and counts the keys of each (first[b + 1], until the
    // sums below). The lists are read through plain pointers, refreshed when a new
    // server makes them grow, so the loop does not reload them at every key.
    out.servers.clear();
    out.servers.reserve(16);
    out.first.reserve(17);
    out.first.assign(1, 0);
    std::size_t* count = out.first.data();
    apr_memcache_server_t* last_ms = nullptr;
    std::uint32_t last = 0;
    for (std::size_t i = 0; i < n; ++i) {
        apr_memcache_server_t* const ms = where[i];
        if (ms != last_ms || !ms) {
            if (!ms || !ms->impl) {
                no_server(i);
                batch[i] = kNone;
                continue;
            }
            apr_memcache_server_t* const* const s = out.servers.data();
            const std::size_t m = out.servers.size();
            std::size_t b = 0;
            while (b < m && s[b] != ms) ++b;
            if (b == m) {
                out.servers.push_back(ms);
                out.first.push_back(0);
                count = out.first.data();
            }
            last = static_cast<std::uint32_t>(b);
            last_ms = ms;
        }
        batch[i] = last;
        ++count[last + 1];
    }
    // A counting sort by batch, stable within each.
    for (std::size_t b = 1; b < out.first.size(); ++b) count[b] += count[b - 1];
    std::pmr::vector<std::size_t> next_of(out.first.begin(), out.first.end() - 1, out.resource());
    std::size_t* const next = next_of.data();
    out.keys.resize(out.first.back());
    out.owner.resize(out.first.back());
    std::string_view* const to_key = out.keys.data();
    std::uint32_t* const to_owner = out.owner.data();
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t b = batch[i];
        if (b == kNone) continue;
        const std::size_t at = next[b]++;
        to_key[at] = keys[i];
        to_owner[at] = static_cast<std::uint32_t>(i);
    }
}

// The per-key error rule (src/engine/multi_get.h states it), as both multi-gets apply
// it to their callers' statuses. Ctx is the call's callback context, which provides
//   const KeyBatches& key_batches() const        the call's batches
//   apr_status_t& status_of(std::uint32_t owner)  the status of the caller's key `owner`
// Every key sent starts as APR_NOTFOUND; a value makes it APR_SUCCESS. A key still
// APR_NOTFOUND has no answer yet: an error (its own, or its server's) becomes its
// answer. A key with a value, or with an error of its own, keeps it.
template <class Ctx>
void fail_unanswered(Ctx& c, std::uint32_t owner, apr_status_t err) {
    apr_status_t& s = c.status_of(owner);
    if (s == APR_NOTFOUND) s = err;
}

// The engine's handler of an error the server gave one key (BatchKeyErrorFn).
template <class Ctx>
void key_failed(void* vctx, std::size_t batch, std::size_t key, engine::Result r) {
    auto& c = *static_cast<Ctx*>(vctx);
    const KeyBatches& kb = c.key_batches();
    fail_unanswered(c, kb.owner[kb.first[batch] + key], to_apr_status(engine::Outcome{r}));
}

// Runs the batches through the engine's one fan-out, under one deadline (the largest I/O
// timeout of the servers asked), hands every value to fn(&ctx, batch, key, value),
// publishes each server's state, and gives every key the error rule above makes its
// answer: its own error, or the error of a batch that did not complete.
// `limit`, when given, shortens that deadline (what is left of a call that runs several
// fan-outs, replicas.h).
template <class Ctx>
void run_batches(bool with_cas, engine::BatchValueFn fn, Ctx& ctx,
                 engine::Duration limit = engine::Duration::max()) {
    const KeyBatches& kb = ctx.key_batches();
    if (kb.servers.empty()) return;
    std::pmr::vector<engine::GetBatch> batches(kb.servers.size(), kb.resource());
    engine::Duration total = engine::Duration::zero();
    for (std::size_t i = 0; i < batches.size(); ++i) {
        batches[i].server = kb.servers[i]->impl->server.get();
        batches[i].keys = kb.keys.data() + kb.first[i];
        batches[i].nkeys = kb.first[i + 1] - kb.first[i];
        batches[i].with_cas = with_cas;
        total = std::max(total, batches[i].server->options().timeouts.io);
    }
    engine::multi_get(batches.data(), batches.size(), std::min(total, limit), fn, key_failed<Ctx>, &ctx);
    for (std::size_t i = 0; i < batches.size(); ++i) {
        publish_status(kb.servers[i]);
        if (batches[i].outcome.ok()) continue;
        const apr_status_t err = to_apr_status(batches[i].outcome);
        for (std::size_t k = kb.first[i]; k < kb.first[i + 1]; ++k) fail_unanswered(ctx, kb.owner[k], err);
    }
}

}  // namespace mmc::compat

#endif
