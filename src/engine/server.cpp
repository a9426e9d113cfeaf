#include "engine/server.h"

#include <cstring>

#include "engine/tls.h"

namespace mmc::engine {

namespace {

// The probe this thread claimed (usable()), so that its own outcome, whatever it is,
// releases the claim, and nobody else's does.
thread_local const Server* t_prober = nullptr;
thread_local Clock::rep t_claim = 0;

}  // namespace

Server::Server(ServerOptions options)
    : options_(std::move(options)), name_(options_.endpoint.describe()), pool_(options_, metrics_) {}

void Server::unusable_reply(const char* why) {
    unusable_replies_.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t count = 0;
    if (!unusable_log_.should_log(&count)) return;
    std::string msg = "memcached server " + name_ + ": unusable reply: " + why;
    if (count > 1) msg += " (" + std::to_string(count - 1) + " more since the last such line)";
    log(LogLevel::err, Outcome{Result::protocol_error}, msg);
}

void Server::replica_failed(const Outcome& why) {
    metrics_.common().add(Counter::replica_failures);
    std::uint64_t count = 0;
    if (!replica_log_.should_log(&count)) return;
    std::string msg = "memcached server " + name_ + ": a write to it as a replica failed; the call's status is the primary's";
    if (count > 1) msg += " (" + std::to_string(count - 1) + " more since the last such line)";
    log(LogLevel::warning, why, msg);
}

Clock::time_point Server::dead_since() const noexcept {
    return Clock::time_point(Clock::duration(dead_since_.load(std::memory_order_relaxed)));
}

bool Server::usable() noexcept {
    if (live()) return true;
    const auto now = Clock::now();
    if (now - dead_since() < options_.timeouts.retry) return false;
    Clock::rep claimed = probe_claimed_.load(std::memory_order_acquire);
    if (claimed != 0 && now - Clock::time_point(Clock::duration(claimed)) < options_.timeouts.retry) {
        return false;
    }
    const Clock::rep mine = now.time_since_epoch().count();
    if (!probe_claimed_.compare_exchange_strong(claimed, mine, std::memory_order_acq_rel)) return false;
    t_prober = this;
    t_claim = mine;
    return true;
}

void Server::report(const Outcome& outcome, std::uint32_t conn_epoch) {
    // The common case, kept to a few loads: an answer (not an error line) from a live
    // server with no failures counted and no probe under way changes nothing.
    if (outcome.result < Result::server_error && failures_.load(std::memory_order_relaxed) == 0 &&
        !dead_.load(std::memory_order_relaxed) && probe_claimed_.load(std::memory_order_relaxed) == 0) {
        return;
    }
    // A connect whose authentication ended on a reply left it in the pool's notes,
    // taken with the failure it belongs to (any outcome that is not a plain answer to a
    // request). Rare, and kept off the path every operation takes.
    if (outcome.result >= Result::server_error && pool_.auth_notes().pending()) {
        report_with_auth_note(outcome, conn_epoch);
        return;
    }
    update_health(outcome, conn_epoch, nullptr);
}

void Server::report_with_auth_note(const Outcome& outcome, std::uint32_t conn_epoch) {
    std::string auth_reply = pool_.auth_notes().take();
    update_health(outcome, conn_epoch, &auth_reply);
    if (!auth_reply.empty()) {
        // Not a refusal (those mark the server dead, quoted there): an error line or a
        // malformed reply while connecting, e.g. memcached's "ERROR Too many open
        // connections".
        log(LogLevel::warning, outcome,
            "memcached server " + name_ + ": authentication did not complete (" +
                to_string(outcome.result) + "): the server replied \"" + auth_reply + "\"");
    }
}

void Server::update_health(const Outcome& outcome, std::uint32_t conn_epoch, std::string* auth_reply) {
    // Checked only off the common path (a reply from a live server with no failures).
    auto from_before_death = [&] { return conn_epoch != kNoConnection && conn_epoch != pool_.epoch(); };
    if (is_transport_failure(outcome.result)) {
        if (!from_before_death()) {
            std::uint32_t n = failures_.fetch_add(1, std::memory_order_acq_rel) + 1;
            // A host that never answers a handshake (powered off, partitioned) costs
            // every caller the whole connect timeout, where a refusal costs nothing: it
            // is taken out at once instead of after failure_limit such waits.
            // A certificate or a password that failed once fails again: the same.
            const bool at_once = outcome.result == Result::connect_timeout ||
                                 outcome.result == Result::tls_failed || outcome.result == Result::auth_failed ||
                                 outcome.result == Result::auth_not_asked;
            const bool was_live = live();
            if (!was_live || n >= options_.health.failure_limit || at_once) {
                static const std::string kNoReply;
                mark_dead(outcome, auth_reply ? *auth_reply : kNoReply);
                // Quoted by the line that says the server is dead; a server already
                // dead (a failed probe) is not reported again.
                if (auth_reply && (was_live || at_once)) auth_reply->clear();
            } else {
                // Not dead yet, but its idle connections are as suspect as the one that
                // just failed.
                pool_.drop_idle();
            }
        }
    } else if (is_server_reply(outcome.result)) {
        if ((failures_.load(std::memory_order_relaxed) != 0 || !live()) && !from_before_death()) {
            failures_.store(0, std::memory_order_relaxed);
            if (!live()) mark_live();
        }
    }
    // Any other outcome (nothing was sent: no connection free, the caller's own error)
    // says nothing about the server. It ends the probe only when it is the prober's
    // own: another caller's outcome clearing the claim would let a second caller probe
    // while the first still is. mark_dead and mark_live end a probe; an abandoned claim
    // lapses after the retry period. Checked only while a claim exists: every
    // operation passes here, and the common case must not touch shared lines.
    if (probe_claimed_.load(std::memory_order_relaxed) != 0 && t_prober == this) {
        Clock::rep mine = t_claim;
        t_prober = nullptr;
        probe_claimed_.compare_exchange_strong(mine, 0, std::memory_order_acq_rel);
    }
}

Outcome Server::warm() {
    Outcome r = pool_.warm();
    if (!r.ok()) report(r);
    return r;
}

void Server::mark_dead(const Outcome& why, const std::string& auth_reply) {
    dead_since_.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    bool was_dead = dead_.exchange(true, std::memory_order_acq_rel);
    probe_claimed_.store(0, std::memory_order_release);
    if (!was_dead) metrics_.common().add(Counter::marked_dead);
    // Connections opened before the failure are suspect too (those in use are closed
    // when they come back), and the name may point elsewhere by the time it is tried
    // again.
    pool_.retire_all();
    pool_.forget_addresses();
    if (!was_dead) {
        std::string msg = "memcached server " + name_ + " marked dead: " +
                          (why.ok() ? "disabled by the application" : to_string(why.result));
        if (why.result == Result::tls_failed && options_.tls) {
            // Logged once per failing spell (only the change to dead is logged), with
            // OpenSSL's reason: an untrusted or expired certificate, a name mismatch.
            msg += ": " + options_.tls->last_failure();
        } else if (why.result == Result::auth_failed) {
            msg += ": user " + options_.auth.user + " refused";
        } else if (why.result == Result::auth_not_asked) {
            // Logged once per failing spell, as every reason here: each new connection
            // asks again, and each is refused before the password goes out.
            msg += ", although user " + options_.auth.user +
                   " is configured: the password was not sent (is the server run without -Y or SASL, "
                   "or behind a proxy?)";
        } else if (why.sys_error) {
            msg += " (" + system_error_text(why.sys_error) + ")";
        }
        if (!auth_reply.empty()) msg += "; the server replied \"" + auth_reply + "\"";
        log(LogLevel::err, why, msg);
    }
}

void Server::mark_live() {
    failures_.store(0, std::memory_order_relaxed);
    bool was_dead = dead_.exchange(false, std::memory_order_acq_rel);
    probe_claimed_.store(0, std::memory_order_release);
    if (was_dead) metrics_.common().add(Counter::marked_live);
    if (was_dead) log(LogLevel::info, Outcome{}, "memcached server " + name_ + " is back");
}

}  // namespace mmc::engine
