// The apr_memcache-API clients (ours and apr-util) behind the common interface; they
// are C function tables (apr_api_client.h), this file only adapts them.
#include "bench_client.h"

#include "apr_api_client.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

namespace mmc::bench {

std::string ClientKind::label() const {
    switch (library) {
    case Library::ours:
        if (array) return "ours-array";
        if (meta) return "ours-meta";
        if (sealed) return "ours-sealed";
        if (tls) return "ours-tls";
        if (replica) return "ours-replica";
        return binary ? "ours-bin" : (ketama ? "ours" : "ours-modula");
    case Library::aprutil:
        return "apr-util";
    case Library::libmemcached:
        return binary ? "libmc-bin" : "libmc";
    case Library::none:
        return "none";
    }
    return "?";
}

bool ClientKind::parse(const std::string& label, ClientKind& out) {
    // Every variant of ours, named field by field (the struct grows).
    enum Variant { plain, bin, meta, modula, sealed, array, tls, replica };
    auto ours = [](Variant v) {
        ClientKind k;
        k.binary = v == bin;
        k.ketama = v != modula;
        k.meta = v == meta;
        k.sealed = v == sealed;
        k.array = v == array;
        k.tls = v == tls;
        k.replica = v == replica;
        return k;
    };
    for (ClientKind k : {ours(plain), ours(bin), ours(meta), ours(modula), ours(sealed), ours(array), ours(tls),
                         ours(replica),
                         ClientKind{Library::aprutil, false, false},
                         ClientKind{Library::libmemcached, false, true},
                         ClientKind{Library::libmemcached, true, true},
                         ClientKind{Library::none, false, false}}) {
        if (k.label() == label) {
            out = k;
            return true;
        }
    }
    return false;
}

namespace {

class AprSession final : public Session {
public:
    AprSession(const bench_apr_ops& ops, bench_apr_session* s, bool array)
        : ops_(ops), s_(s), array_(array) {}
    ~AprSession() override { ops_.session_destroy(s_); }

    GetResult get(const std::string& key, std::size_t& len) override {
        int r = ops_.get(s_, key.c_str(), &len);
        return r > 0 ? GetResult::hit : r == 0 ? GetResult::miss : GetResult::error;
    }
    bool set(const std::string& key, const std::string& value) override {
        return ops_.set(s_, key.c_str(), value.data(), value.size()) == 0;
    }
    long multi_get(const std::vector<const char*>& keys,
                   const std::vector<std::size_t>& lens) override {
        if (array_) return ops_.multi_get_array(s_, keys.data(), lens.data(), keys.size());
        return ops_.multi_get(s_, keys.data(), keys.size());
    }
    std::string last_error() override { return ops_.last_error(s_); }

private:
    const bench_apr_ops& ops_;
    bench_apr_session* s_;
    bool array_;
};

class AprClient final : public Client {
public:
    AprClient(const bench_apr_ops& ops, bench_apr_client* c, bool array)
        : ops_(ops), c_(c), array_(array) {}
    ~AprClient() override { ops_.destroy(c_); }

    std::unique_ptr<Session> session() override {
        bench_apr_session* s = ops_.session_create(c_);
        if (!s) return nullptr;
        return std::make_unique<AprSession>(ops_, s, array_);
    }

private:
    const bench_apr_ops& ops_;
    bench_apr_client* c_;
    bool array_;
};

std::unique_ptr<Client> make_apr_client(const bench_apr_ops& ops, const ClientKind& kind,
                                        const ClientConfig& config, std::string& error) {
    std::vector<bench_server> servers;
    for (const auto& e : config.servers)
        servers.push_back({e.host.c_str(), e.port, e.tls_ca.empty() ? nullptr : e.tls_ca.c_str()});
    bench_apr_config c{};
    c.servers = servers.data();
    c.nservers = servers.size();
    c.max_per_server = config.max_per_server;
    c.ttl_us = config.ttl_us;
    c.binary = kind.binary;
    c.meta = kind.meta;
    c.ketama = kind.library == ClientKind::Library::ours && kind.ketama;
    c.replicas = kind.replica ? 1 : 0;
    // A key file for the sealed client, read when the client is built and removed after.
    std::string key_file;
    if (kind.sealed) {
        char path[] = "/tmp/mmc-bench-seal-XXXXXX";
        const int fd = ::mkstemp(path);
        const std::string line = "bench 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
        if (fd < 0) {
            error = "cannot create a key file in /tmp";
            return nullptr;
        }
        const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
        ::close(fd);
        if (!written) {
            ::unlink(path);
            error = "cannot write the key file " + std::string(path);
            return nullptr;
        }
        key_file = path;
        c.seal_key_file = key_file.c_str();
    }
    char err[200] = "";
    bench_apr_client* client = ops.create(&c, err, sizeof err);
    if (!key_file.empty()) ::unlink(key_file.c_str());
    if (!client) {
        error = err;
        return nullptr;
    }
    if (kind.array && !ops.multi_get_array) {
        ops.destroy(client);
        error = "this library has no array multi-get";
        return nullptr;
    }
    return std::make_unique<AprClient>(ops, client, kind.array);
}

// Answers every call at once without a server: the harness's own cost per operation.
class NoneSession final : public Session {
public:
    explicit NoneSession(std::size_t value_size) : value_size_(value_size) {}
    GetResult get(const std::string&, std::size_t& len) override {
        len = value_size_;
        return GetResult::hit;
    }
    bool set(const std::string&, const std::string&) override { return true; }
    long multi_get(const std::vector<const char*>& keys, const std::vector<std::size_t>&) override {
        return static_cast<long>(keys.size());
    }
    std::string last_error() override { return ""; }

private:
    std::size_t value_size_;
};

class NoneClient final : public Client {
public:
    explicit NoneClient(std::size_t value_size) : value_size_(value_size) {}
    std::unique_ptr<Session> session() override { return std::make_unique<NoneSession>(value_size_); }

private:
    std::size_t value_size_;
};

}  // namespace

std::unique_ptr<Client> make_client(const ClientKind& kind, const ClientConfig& config,
                                    std::string& error) {
    switch (kind.library) {
    case ClientKind::Library::ours:
        return make_apr_client(bench_ours_ops, kind, config, error);
    case ClientKind::Library::aprutil:
        return make_apr_client(bench_aprutil_ops, kind, config, error);
    case ClientKind::Library::libmemcached:
        return make_libmemcached_client(kind, config, error);
    case ClientKind::Library::none:
        return std::make_unique<NoneClient>(config.none_value_size);
    }
    error = "unknown library";
    return nullptr;
}

void initialize_clients() { bench_apr_initialize(); }

}  // namespace mmc::bench
