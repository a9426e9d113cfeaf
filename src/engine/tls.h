// TLS to memcached over the engine's own non-blocking socket. A TlsContext is one
// server's settings (trust, client certificate, name to check, minimum version) and its
// OpenSSL context, built once when the server is configured and shared by all its
// connections; a TlsStream is one connection's session. OpenSSL's headers stay in
// tls.cpp (and openssl_api.h, the table its calls go through): the rest of the engine
// sees only these two classes. OpenSSL is loaded by the first TlsContext::create().
//
// OpenSSL never touches the socket itself: a BIO of ours reads and writes it with
// recv()/send() (MSG_NOSIGNAL, MSG_DONTWAIT while connecting), so every wait stays the
// Connection's, with its deadline, and a read costs one system call.
#ifndef MMC_ENGINE_TLS_H
#define MMC_ENGINE_TLS_H

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

struct ssl_ctx_st;
struct ssl_st;
struct ssl_session_st;

namespace mmc::engine {

enum class TlsVersion : std::uint8_t { tls1_2, tls1_3 };

struct TlsConfig {
    std::string ca_file;    // trusted CAs (PEM); empty: the system's default store
    std::string cert_file;  // client certificate chain (PEM); empty: none
    std::string key_file;   // its private key (PEM); empty: in cert_file
    bool verify = true;     // check the chain and the server's name
    // Sent as SNI and checked against the certificate; empty: the server's host when
    // it is a name (an address is checked as an address and sends no SNI).
    std::string server_name;
    TlsVersion min_version = TlsVersion::tls1_2;
};

// The setting of a TlsConfig that a refusal is about.
enum class TlsSetting : std::uint8_t { none, ca_file, cert_file, key_file, verify, server_name, min_version };

// Why a TlsConfig was refused: the setting at fault (none: no setting in particular, e.g.
// OpenSSL that cannot be loaded), the one that would settle it if it were set (none
// when there is no such), and the reason, naming the file where there is one, in words
// that do not depend on how the caller spells its settings.
struct TlsError {
    TlsSetting setting = TlsSetting::none;
    TlsSetting missing = TlsSetting::none;
    std::string reason;
};

// The name SNI sends and verification checks for a server at `host`: server_name when
// set, else `host` when it is a name or an address. A unix socket (a `host` that is
// empty or a path, starting with '/') has none of its own: "".
std::string tls_peer_name(const TlsConfig& config, const std::string& host);

// The rules a TlsConfig must meet whatever its files hold, checked without OpenSSL:
// a key needs its certificate, and verification needs a name to check (tls_peer_name()
// not empty), or any certificate a trusted CA signed for anybody would be accepted.
// False with `error` filled at the first rule broken.
bool check_tls_config(const TlsConfig& config, const std::string& host, TlsError& error);

class TlsContext {
public:
    // Checks the settings (check_tls_config), loads the files and builds the context for
    // a server at `host` (as tls_peer_name() takes it). The first call in the process
    // loads libssl and libcrypto (openssl_api.h). nullptr with `error` saying why and
    // which setting it is about: a rule broken, OpenSSL that cannot be loaded, a file
    // that cannot be loaded, a key that does not match its certificate.
    static std::shared_ptr<TlsContext> create(const TlsConfig& config, const std::string& host,
                                              TlsError& error);
    ~TlsContext();
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;

    const TlsConfig& config() const noexcept { return config_; }
    // The name SNI sends and verification checks ("" when none: an address).
    const std::string& peer_name() const noexcept { return peer_name_; }

    // Handshakes completed in full, and by resuming an earlier session.
    std::uint64_t full_handshakes() const noexcept { return full_.load(std::memory_order_relaxed); }
    std::uint64_t resumed_handshakes() const noexcept { return resumed_.load(std::memory_order_relaxed); }

    // A handshake failed (`reason`: OpenSSL's, e.g. "certificate has expired"). The
    // session kept for resumption is dropped.
    void record_failure(const std::string& reason);
    // OpenSSL's reason for the last failed handshake ("" when none failed).
    std::string last_failure();

private:
    friend class TlsStream;
    TlsContext() = default;
    void handshake_done(ssl_st* ssl);
    static int on_new_session(ssl_st* ssl, ssl_session_st* session);

    TlsConfig config_;
    std::string peer_name_;
    bool peer_is_address_ = false;
    ssl_ctx_st* ctx_ = nullptr;
    // Only ever try-locked: a contended moment costs a resumption (or a log detail),
    // never a wait, and a child forked while another thread held it cannot deadlock.
    std::mutex mu_;
    // A copy of the newest session, never attached to a connection: each new one
    // resumes from a copy of this copy.
    ssl_session_st* session_ = nullptr;
    std::string failure_;
    std::atomic<std::uint64_t> full_{0};
    std::atomic<std::uint64_t> resumed_{0};
};

// One connection's TLS session over `fd`. Used by one thread at a time, as its
// Connection. Freed without a close_notify: a connection dropped after fork() in a child
// must not write into the parent's session, and memcached needs none.
class TlsStream {
public:
    // nullptr when OpenSSL cannot allocate the session.
    static std::unique_ptr<TlsStream> create(TlsContext& context, int fd);
    ~TlsStream();
    TlsStream(const TlsStream&) = delete;
    TlsStream& operator=(const TlsStream&) = delete;

    // What a step of the stream needs before it can go on.
    enum class Status : std::uint8_t {
        ok,
        want_read,   // wait for the socket to be readable (or, blocking, it timed out)
        want_write,  // wait for room to send
        closed,      // the server closed the connection
        failed,      // a TLS or socket error: sys_error() / failure() say which
    };

    // One step of the handshake; ok when it is complete. On failure, failure() holds
    // OpenSSL's reason and the context has recorded it.
    Status handshake();
    // Encrypts and sends from `data`; `written` is what went out (partial writes allowed).
    Status write(const void* data, std::size_t len, std::size_t& written);
    // Reads decrypted bytes into buf. With `wait`, the first recv() of the call blocks
    // (bounded by the socket's SO_RCVTIMEO) and any further one does not, so one call
    // never waits twice; without, no recv() waits.
    Status read(void* buf, std::size_t cap, std::size_t& got, bool wait);
    // Whether decrypted or received bytes are buffered inside OpenSSL (poll() cannot
    // see them).
    bool pending() const noexcept;
    // Reads without waiting to tell whether the server closed the session while it was
    // idle (session tickets that arrived meanwhile are taken in, not counted as data).
    // True when closed, failed, or when application data came unasked.
    bool peer_closed();

    // Whether the last read() received any bytes from the socket, even if they made no
    // whole record or only a session ticket.
    bool progressed() const noexcept { return io_.progressed; }
    int sys_error() const noexcept { return sys_error_; }
    // After a complete handshake: whether it resumed an earlier session.
    bool resumed() const noexcept { return resumed_; }
    const std::string& failure() const noexcept { return failure_; }

    // The BIO's view of the socket (tls.cpp).
    struct Io {
        int fd;
        bool wait;        // the next recv() may block
        bool progressed;  // a recv() returned bytes
        int last_errno;
    };

private:
    TlsStream(TlsContext& context, ssl_st* ssl, int fd);
    Status status_of(int rc);

    TlsContext& context_;
    ssl_st* ssl_;
    Io io_;
    int sys_error_ = 0;
    bool resumed_ = false;
    std::string failure_;
};

}  // namespace mmc::engine

#endif
