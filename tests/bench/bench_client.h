// The one interface the benchmark drives every memcached client through: our engine,
// apr-util's apr_memcache and libmemcached, each implemented in its own translation unit.
#ifndef MMC_BENCH_CLIENT_H
#define MMC_BENCH_CLIENT_H

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace mmc::bench {

struct Endpoint {
    std::string host = "127.0.0.1";
    unsigned short port = 0;
    std::string tls_ca;  // non-empty: the server speaks TLS, its certificate signed by this CA
};

// Which library, and how it is set up.
struct ClientKind {
    // none: a client that does nothing and answers at once, to measure the harness.
    enum class Library { ours, aprutil, libmemcached, none };
    Library library = Library::ours;
    bool binary = false;  // binary protocol (ours, libmemcached)
    bool ketama = true;   // ketama placement (ours, libmemcached); apr-util is always modula
    bool meta = false;    // meta protocol (ours only)
    bool sealed = false;  // values sealed with AES-256-GCM (ours)
    bool array = false;   // ours: multi-gets through ap_memcache_multiget_array
    bool tls = false;     // ours: TLS to the servers (the suite's TLS servers)
    bool replica = false; // ours: one replica per key (ap_memcache_set_replicas)
    // The label in the tables: "ours", "ours-bin", "ours-meta", "ours-modula",
    // "ours-sealed", "ours-array", "ours-tls", "ours-replica", "apr-util", "libmc", "libmc-bin" ("none" for the
    // empty client).
    std::string label() const;
    static bool parse(const std::string& label, ClientKind& out);
};

struct ClientConfig {
    std::vector<Endpoint> servers;
    unsigned max_per_server = 1;  // connections; libmemcached: the pool size when threads > 1
    unsigned ttl_us = 60u * 1000u * 1000u;
    unsigned threads = 1;         // how many sessions will be used at once
    std::size_t none_value_size = 0;  // the length the "none" client's gets report
};

enum class GetResult { hit, miss, error };

// The per-thread handle an operation goes through. Not thread-safe; one per thread.
class Session {
public:
    virtual ~Session() = default;
    virtual GetResult get(const std::string& key, std::size_t& len) = 0;
    virtual bool set(const std::string& key, const std::string& value) = 0;
    // keys: NUL-terminated C strings, lens their lengths (precomputed, so that no client
    // pays for strlen). Returns the number of hits, -1 on failure.
    virtual long multi_get(const std::vector<const char*>& keys,
                           const std::vector<std::size_t>& lens) = 0;
    virtual std::string last_error() = 0;
};

// One client, shared by all sessions (threads) made from it.
class Client {
public:
    virtual ~Client() = default;
    virtual std::unique_ptr<Session> session() = 0;
};

// Builds a client; nullptr with error set when it cannot.
std::unique_ptr<Client> make_client(const ClientKind& kind, const ClientConfig& config,
                                    std::string& error);

// The libmemcached implementation (client_libmemcached.cpp).
std::unique_ptr<Client> make_libmemcached_client(const ClientKind& kind,
                                                 const ClientConfig& config, std::string& error);

// Process-wide set-up of APR (once, before any client).
void initialize_clients();

}  // namespace mmc::bench

#endif
