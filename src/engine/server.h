// One memcached server as this process sees it: where it is, its connection pool, and
// whether it is live. Health changes are lock-free; no lock is held during I/O.
#ifndef MMC_ENGINE_SERVER_H
#define MMC_ENGINE_SERVER_H

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "engine/log_limiter.h"
#include "engine/metrics.h"
#include "engine/options.h"
#include "engine/outcome.h"
#include "engine/protocol_adapter.h"
#include "engine/server_pool.h"

namespace mmc::engine {

// The levels the engine logs at: syslog's numbers, the same as httpd's APLOG_ERR ...
// APLOG_DEBUG, so a logger can hand them to ap_log_error() unchanged.
enum class LogLevel : int { err = 3, warning = 4, notice = 5, info = 6, debug = 7 };

// Diagnostics go out through this; the engine never logs by itself. level is a
// LogLevel's number.
using LogFn = std::function<void(int level, const Outcome& outcome, const std::string& msg)>;

class Server {
public:
    explicit Server(ServerOptions options);
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    const ServerOptions& options() const noexcept { return options_; }
    // Changes settings before first use; not thread-safe (the pool reads them). The
    // protocol is changed with set_protocol(), which also changes the adapter.
    ServerOptions& mutable_options() noexcept { return options_; }
    // The protocol the server speaks, as the table every operation calls through. Chosen
    // when the server is created (from options().protocol) and by set_protocol().
    const ProtocolAdapter& adapter() const noexcept { return *adapter_; }
    // Before first use, as mutable_options(). memcached fixes a connection's protocol
    // at its first request, so connections opened in another protocol are closed rather
    // than used again.
    void set_protocol(Protocol p) {
        if (p != options_.protocol) pool_.retire_all();
        options_.protocol = p;
        adapter_ = &adapter_for(p);
    }
    ServerPool& pool() noexcept { return pool_; }
    // What this server has done for this process (metrics.h).
    ServerMetrics& metrics() noexcept { return metrics_; }
    const ServerMetrics& metrics() const noexcept { return metrics_; }
    const std::string& name() const noexcept { return name_; }

    bool live() const noexcept { return !dead_.load(std::memory_order_acquire); }
    std::uint32_t consecutive_failures() const noexcept {
        return failures_.load(std::memory_order_relaxed);
    }
    // Steady-clock time when the server was last marked dead.
    Clock::time_point dead_since() const noexcept;

    // For picking a server: true when it is live, or when it is dead, its retry period
    // has passed and this caller won the right to probe it (only one caller at a time).
    bool usable() noexcept;

    // Records how an operation ended: failure_limit transport failures in a row mark
    // the server dead (one is enough while it is dead and being probed, and one connect
    // timeout is enough always), any well-formed reply marks it live again. Outcomes
    // that involve no exchange with the server change nothing, and neither does one on
    // a connection opened before the server was last marked dead (`conn_epoch`, the
    // connection's Connection::epoch): a reply it had buffered, or a failure it had
    // waited out, tells of the server as it was.
    static constexpr std::uint32_t kNoConnection = ~std::uint32_t{0};
    void report(const Outcome& outcome, std::uint32_t conn_epoch = kNoConnection);

    // Opens the pool's min connections (ServerPool::warm), reporting a failure.
    Outcome warm();

    // `auth_reply`: what the failed authentication that led here was told (printable),
    // quoted in the log line.
    void mark_dead(const Outcome& why, const std::string& auth_reply = {});
    void mark_live();

    // A reply from this server that could not be used (a parse error, a reply that does
    // not fit the request): counted, and logged at error level with `why` (a static
    // string) at most once a minute (LogLimiter), the line saying how many were held back
    // since the last one. A server that sends a value over the client's limit on every
    // get would otherwise write a line per request.
    [[gnu::cold, gnu::noinline]] void unusable_reply(const char* why);
    // How many replies from this server could not be used since it was created: every
    // one, logged or not.
    std::uint64_t unusable_replies() const noexcept { return unusable_replies_.load(std::memory_order_relaxed); }

    // Replicas (docs/design.md): what this server did as a replica of other servers'
    // keys and as the primary of repaired ones. Counters of its metrics (metrics.h), in
    // block 0: only the replicated calls count them.
    // A write sent to it as a replica, whatever came of it:
    void count_replica_write() noexcept { metrics_.common().add(Counter::replica_writes); }
    // A read that its primary could not answer and this server, a replica, did:
    void count_replica_hit() noexcept { metrics_.common().add(Counter::replica_hits); }
    // A value written back to this server, the key's primary, after a replica had it:
    void count_repair() noexcept { metrics_.common().add(Counter::replica_repairs); }
    // A write to it as a replica that failed (the call's status is the primary's): counted,
    // and logged at warning level at most once a minute, as unusable_reply().
    [[gnu::cold, gnu::noinline]] void replica_failed(const Outcome& why);

    void set_logger(LogFn fn) { log_ = std::move(fn); }
    void log(LogLevel level, const Outcome& outcome, const std::string& msg) const {
        if (log_) log_(static_cast<int>(level), outcome, msg);
    }

private:
    // report(): the health bookkeeping, and the rare report that carries what a failed
    // authentication was told (auth_reply, cleared once a log line quoted it).
    [[gnu::noinline]] void update_health(const Outcome& outcome, std::uint32_t conn_epoch, std::string* auth_reply);
    [[gnu::cold, gnu::noinline]] void report_with_auth_note(const Outcome& outcome, std::uint32_t conn_epoch);
    ServerOptions options_;
    const ProtocolAdapter* adapter_ = &adapter_for(options_.protocol);
    std::string name_;
    ServerMetrics metrics_;  // before pool_, which counts into it
    ServerPool pool_;
    std::atomic<bool> dead_{false};
    // When a caller claimed the probe of a dead server (0: nobody). A claim older than
    // the retry period is void, so a caller that picked the server and then never used
    // it cannot keep the server out forever.
    std::atomic<Clock::rep> probe_claimed_{0};
    std::atomic<Clock::rep> dead_since_{0};
    std::atomic<std::uint32_t> failures_{0};  // consecutive transport failures
    std::atomic<std::uint64_t> unusable_replies_{0};
    LogLimiter unusable_log_;
    LogLimiter replica_log_;
    LogFn log_;
};

}  // namespace mmc::engine

#endif
