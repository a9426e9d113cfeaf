#include "engine/tls.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include "engine/openssl_api.h"

#include <cerrno>
#include <mutex>

namespace mmc::engine {

// Every OpenSSL call goes through the tables of openssl_api.h, loaded by
// TlsContext::create() before anything else here runs. Macros of OpenSSL's headers are
// written out as the call they stand for.
using openssl::libcrypto;
using openssl::libssl;

namespace {

int stack_size(const void* stack) {
    return libcrypto.OPENSSL_sk_num(static_cast<const OPENSSL_STACK*>(stack));
}

void* stack_item(const void* stack, int i) {
    return libcrypto.OPENSSL_sk_value(static_cast<const OPENSSL_STACK*>(stack), i);
}

// SSL_get_error needs the thread's error queue empty before each call (other code on
// the thread, mod_ssl for one, may have left errors in it). Emptying a queue that is
// already empty costs several hundred instructions per call, so it is looked at first.
inline void empty_error_queue() noexcept {
    if (libcrypto.ERR_peek_error() != 0) libcrypto.ERR_clear_error();
}

// OpenSSL works out a certificate's extensions (key identifiers, purposes) the first
// time a verification looks at them, and writes them into the shared X509 object; two
// threads handshaking at once would both do it. Done here, once, for every certificate
// the context holds, before any connection uses it.
void cache_certificate_extensions(SSL_CTX* ctx) {
    STACK_OF(X509_OBJECT)* objects = libcrypto.X509_STORE_get0_objects(libssl.SSL_CTX_get_cert_store(ctx));
    for (int i = 0; i < stack_size(objects); ++i) {
        auto* object = static_cast<X509_OBJECT*>(stack_item(objects, i));
        if (X509* x = libcrypto.X509_OBJECT_get0_X509(object)) libcrypto.X509_check_purpose(x, -1, 0);
    }
    if (X509* own = libssl.SSL_CTX_get0_certificate(ctx)) libcrypto.X509_check_purpose(own, -1, 0);
    STACK_OF(X509)* chain = nullptr;
    // SSL_CTX_get0_chain_certs()
    if (libssl.SSL_CTX_ctrl(ctx, SSL_CTRL_GET_CHAIN_CERTS, 0, &chain) == 1) {
        for (int i = 0; i < stack_size(chain); ++i) {
            libcrypto.X509_check_purpose(static_cast<X509*>(stack_item(chain, i)), -1, 0);
        }
    }
}

// ---- the BIO over the Connection's socket -------------------------------------------

// BIO_clear_retry_flags(), BIO_set_retry_write(), BIO_set_retry_read()
void clear_retry_flags(BIO* bio) { libcrypto.BIO_clear_flags(bio, BIO_FLAGS_RWS | BIO_FLAGS_SHOULD_RETRY); }
void set_retry_write(BIO* bio) { libcrypto.BIO_set_flags(bio, BIO_FLAGS_WRITE | BIO_FLAGS_SHOULD_RETRY); }
void set_retry_read(BIO* bio) { libcrypto.BIO_set_flags(bio, BIO_FLAGS_READ | BIO_FLAGS_SHOULD_RETRY); }

int bio_write(BIO* bio, const char* data, int len) {
    auto* io = static_cast<TlsStream::Io*>(libcrypto.BIO_get_data(bio));
    clear_retry_flags(bio);
    for (;;) {
        // Never blocks (a full socket buffer is waited for by the Connection with its
        // deadline), never raises SIGPIPE.
        ssize_t n = ::send(io->fd, data, static_cast<std::size_t>(len), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) return static_cast<int>(n);
        if (errno == EINTR) continue;
        io->last_errno = errno;
        if (errno == EAGAIN || errno == EWOULDBLOCK) set_retry_write(bio);
        return -1;
    }
}

int bio_read(BIO* bio, char* buf, int len) {
    auto* io = static_cast<TlsStream::Io*>(libcrypto.BIO_get_data(bio));
    clear_retry_flags(bio);
    // Only the first recv() of a read may block: a record whose rest is late comes
    // back as "want read" and the Connection looks at its deadline before waiting again.
    const int flags = io->wait ? 0 : MSG_DONTWAIT;
    io->wait = false;
    ssize_t n = ::recv(io->fd, buf, static_cast<std::size_t>(len), flags);
    if (n > 0) io->progressed = true;
    if (n >= 0) return static_cast<int>(n);
    io->last_errno = errno;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) set_retry_read(bio);
    return -1;
}

long bio_ctrl(BIO*, int cmd, long, void*) {
    // FLUSH: every write went straight to the socket. Everything else is not ours.
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int bio_create(BIO* bio) {
    libcrypto.BIO_set_init(bio, 1);
    return 1;
}

// Made once with std::call_once rather than as function-local statics: glibc restarts
// a call_once that a fork() interrupted, while a static's guard would stay taken in the
// child for ever.
BIO_METHOD* socket_method() {
    static std::once_flag once;
    static BIO_METHOD* method = nullptr;
    std::call_once(once, [] {
        BIO_METHOD* m = libcrypto.BIO_meth_new(libcrypto.BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mmc-socket");
        if (m) {
            libcrypto.BIO_meth_set_write(m, bio_write);
            libcrypto.BIO_meth_set_read(m, bio_read);
            libcrypto.BIO_meth_set_ctrl(m, bio_ctrl);
            libcrypto.BIO_meth_set_create(m, bio_create);
        }
        method = m;
    });
    return method;
}

// OpenSSL's reason for the newest error on this thread's queue, "" when none.
std::string openssl_reason() {
    unsigned long e = libcrypto.ERR_peek_last_error();
    if (e == 0) return {};
    char buf[256];
    libcrypto.ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

bool is_address(const std::string& host) {
    unsigned char buf[sizeof(in6_addr)];
    return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

int refuse_passphrase(char*, int, int, void* asked) {
    if (asked) *static_cast<bool*>(asked) = true;
    return 0;
}

bool is_key_mismatch(unsigned long e) {
    return ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH;
}

int context_index() {
    static std::once_flag once;  // as socket_method's
    static int index = -1;
    std::call_once(once, [] {
        // SSL_CTX_get_ex_new_index()
        index = libcrypto.CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL_CTX, 0, nullptr, nullptr, nullptr, nullptr);
    });
    return index;
}

}  // namespace

// ---- TlsContext ---------------------------------------------------------------------

std::string tls_peer_name(const TlsConfig& config, const std::string& host) {
    if (!config.server_name.empty()) return config.server_name;
    return host.empty() || host.front() == '/' ? std::string() : host;
}

bool check_tls_config(const TlsConfig& config, const std::string& host, TlsError& error) {
    if (!config.key_file.empty() && config.cert_file.empty()) {
        error = {TlsSetting::key_file, TlsSetting::cert_file,
                 "a client key (" + config.key_file + ") without a client certificate"};
        return false;
    }
    if (config.verify && tls_peer_name(config, host).empty()) {
        const std::string socket = host.empty() ? "a unix socket" : "a unix socket (" + host + ")";
        error = {TlsSetting::server_name, TlsSetting::server_name,
                 "verification is on, and " + socket +
                     " has no host name to check the server's certificate against"};
        return false;
    }
    return true;
}

std::shared_ptr<TlsContext> TlsContext::create(const TlsConfig& config, const std::string& host,
                                               TlsError& error) {
    if (!check_tls_config(config, host, error)) return nullptr;
    // OpenSSL is loaded here, the first time a TLS server is configured (in httpd, in
    // the parent while it reads the configuration). Without it there is no context.
    std::string why;
    if (!openssl::load_ssl(why)) {
        error = {TlsSetting::none, TlsSetting::none, "TLS needs OpenSSL: " + why};
        return nullptr;
    }
    libcrypto.ERR_clear_error();
    std::shared_ptr<TlsContext> c(new TlsContext());
    c->config_ = config;
    c->peer_name_ = tls_peer_name(config, host);
    c->peer_is_address_ = is_address(c->peer_name_);
    c->ctx_ = libssl.SSL_CTX_new(libssl.TLS_client_method());
    auto fail = [&](TlsSetting setting, const std::string& what) {
        error = {setting, TlsSetting::none, what};
        std::string reason = openssl_reason();
        if (!reason.empty()) error.reason += ": " + reason;
        libcrypto.ERR_clear_error();
        return nullptr;
    };
    if (!c->ctx_ || socket_method() == nullptr || context_index() < 0) {
        return fail(TlsSetting::none, "cannot create a TLS context");
    }
    SSL_CTX* ctx = c->ctx_;
    libssl.SSL_CTX_set_ex_data(ctx, context_index(), c.get());
    // SSL_CTX_set_min_proto_version()
    const bool tls1_3 = config.min_version == TlsVersion::tls1_3;
    if (libssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION,
                            nullptr) != 1) {
        return fail(TlsSetting::min_version,
                    std::string("OpenSSL cannot take TLS ") + (tls1_3 ? "1.3" : "1.2") + " as the lowest version");
    }
    // A reply's records are read in one recv() (not header, then body), and a send
    // that the socket took only in part goes on from where it stopped.
    // SSL_CTX_set_read_ahead(), SSL_CTX_set_mode()
    libssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_READ_AHEAD, 1, nullptr);
    libssl.SSL_CTX_ctrl(ctx, SSL_CTRL_MODE, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER,
                        nullptr);
    // Sessions are kept here (one per server: the newest), not in OpenSSL's cache.
    // SSL_CTX_set_session_cache_mode()
    libssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_SESS_CACHE_MODE,
                        SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE, nullptr);
    libssl.SSL_CTX_sess_set_new_cb(ctx, &TlsContext::on_new_session);
    if (config.verify) {
        libssl.SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        if (!config.ca_file.empty()) {
            if (libssl.SSL_CTX_load_verify_locations(ctx, config.ca_file.c_str(), nullptr) != 1) {
                return fail(TlsSetting::ca_file, "cannot load CA certificates from " + config.ca_file);
            }
        } else if (libssl.SSL_CTX_set_default_verify_paths(ctx) != 1) {
            return fail(TlsSetting::ca_file, "cannot load the system's CA certificates");
        }
    } else {
        libssl.SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    }
    if (!config.cert_file.empty()) {
        if (libssl.SSL_CTX_use_certificate_chain_file(ctx, config.cert_file.c_str()) != 1) {
            return fail(TlsSetting::cert_file, "cannot load the client certificate from " + config.cert_file);
        }
        // Without a key file the key is looked for in the certificate's file: a
        // failure there is the certificate file's, and a key file would settle it.
        const bool own_file = !config.key_file.empty();
        const std::string& key = own_file ? config.key_file : config.cert_file;
        const TlsSetting key_setting = own_file ? TlsSetting::key_file : TlsSetting::cert_file;
        // An encrypted key would have OpenSSL ask for its passphrase on the terminal
        // (apachectl -t would wait for it): it is refused instead.
        bool passphrase_asked = false;
        libssl.SSL_CTX_set_default_passwd_cb(ctx, refuse_passphrase);
        libssl.SSL_CTX_set_default_passwd_cb_userdata(ctx, &passphrase_asked);
        const bool loaded = libssl.SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) == 1;
        libssl.SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);
        if (passphrase_asked) {
            return fail(key_setting, "the client key in " + key + " is encrypted: a key without a passphrase is needed");
        }
        if (!loaded || libssl.SSL_CTX_check_private_key(ctx) != 1) {
            // OpenSSL refuses a key for another certificate while loading it.
            if (is_key_mismatch(libcrypto.ERR_peek_last_error())) {
                return fail(key_setting, "the client key in " + key + " does not match the certificate in " +
                                             config.cert_file);
            }
            if (own_file) return fail(key_setting, "cannot load the client key from " + key);
            fail(key_setting, "no private key for the client certificate in " + key);
            error.missing = TlsSetting::key_file;
            return nullptr;
        }
    }
    cache_certificate_extensions(ctx);
    return c;
}

TlsContext::~TlsContext() {
    if (session_) libssl.SSL_SESSION_free(session_);
    if (ctx_) libssl.SSL_CTX_free(ctx_);
}

int TlsContext::on_new_session(SSL* ssl, SSL_SESSION* session) {
    SSL_CTX* ctx = libssl.SSL_get_SSL_CTX(ssl);
    auto* self = static_cast<TlsContext*>(libssl.SSL_CTX_get_ex_data(ctx, context_index()));
    if (!self) return 0;
    // A copy: the session OpenSSL hands over stays attached to this connection, which
    // may still change it (a later ticket), while other threads read the kept one.
    SSL_SESSION* copy = libssl.SSL_SESSION_dup(session);
    if (!copy) return 0;
    std::unique_lock<std::mutex> lock(self->mu_, std::try_to_lock);
    if (!lock.owns_lock()) {  // the next ticket will do
        libssl.SSL_SESSION_free(copy);
        return 0;
    }
    if (self->session_) libssl.SSL_SESSION_free(self->session_);
    self->session_ = copy;
    return 0;  // OpenSSL keeps (and frees) its own reference
}

void TlsContext::handshake_done(SSL* ssl) {
    (libssl.SSL_session_reused(ssl) ? resumed_ : full_).fetch_add(1, std::memory_order_relaxed);
}

void TlsContext::record_failure(const std::string& reason) {
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    if (!lock.owns_lock()) return;
    failure_ = reason;
    if (session_) {
        libssl.SSL_SESSION_free(session_);
        session_ = nullptr;
    }
}

std::string TlsContext::last_failure() {
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    return lock.owns_lock() ? failure_ : std::string("(reason not available)");
}

// ---- TlsStream ----------------------------------------------------------------------

std::unique_ptr<TlsStream> TlsStream::create(TlsContext& context, int fd) {
    libcrypto.ERR_clear_error();
    SSL* ssl = libssl.SSL_new(context.ctx_);
    if (!ssl) return nullptr;
    std::unique_ptr<TlsStream> s(new TlsStream(context, ssl, fd));
    BIO* bio = libcrypto.BIO_new(socket_method());
    if (!bio) return nullptr;
    libcrypto.BIO_set_data(bio, &s->io_);
    libssl.SSL_set_bio(ssl, bio, bio);
    libssl.SSL_set_connect_state(ssl);
    const std::string& name = context.peer_name_;
    if (!name.empty() && !context.peer_is_address_) {
        // SSL_set_tlsext_host_name()
        if (libssl.SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                            const_cast<char*>(name.c_str())) != 1) {
            return nullptr;
        }
    }
    if (context.config_.verify && !name.empty()) {
        int ok = context.peer_is_address_
                     ? libcrypto.X509_VERIFY_PARAM_set1_ip_asc(libssl.SSL_get0_param(ssl), name.c_str())
                     : libssl.SSL_set1_host(ssl, name.c_str());
        if (ok != 1) return nullptr;
        libssl.SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    }
    // Each connection resumes from a copy of the kept session of its own: OpenSSL
    // writes into the session of a connection during its handshake and when tickets
    // arrive, so one SSL_SESSION shared by connections of several threads is a race.
    SSL_SESSION* copy = nullptr;
    {
        std::unique_lock<std::mutex> lock(context.mu_, std::try_to_lock);
        if (lock.owns_lock() && context.session_) copy = libssl.SSL_SESSION_dup(context.session_);
    }
    if (copy) {
        libssl.SSL_set_session(ssl, copy);  // takes a reference of its own
        libssl.SSL_SESSION_free(copy);
    }
    return s;
}

TlsStream::TlsStream(TlsContext& context, SSL* ssl, int fd)
    : context_(context), ssl_(ssl), io_{fd, false, false, 0} {}

TlsStream::~TlsStream() {
    // No SSL_shutdown(): nothing is written on the way out (see tls.h). Marked as shut
    // down all the same, or SSL_free() would make the session unresumable (OpenSSL
    // takes a session that was not shut down for a failed one).
    libssl.SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    libssl.SSL_free(ssl_);
}

TlsStream::Status TlsStream::status_of(int rc) {
    switch (libssl.SSL_get_error(ssl_, rc)) {
        case SSL_ERROR_WANT_READ: return Status::want_read;
        case SSL_ERROR_WANT_WRITE: return Status::want_write;
        case SSL_ERROR_ZERO_RETURN: return Status::closed;
        case SSL_ERROR_SYSCALL:
            // rc 0 with nothing queued: the peer closed the socket without close_notify.
            if (io_.last_errno == 0 || io_.last_errno == ECONNRESET || io_.last_errno == EPIPE) {
                sys_error_ = io_.last_errno;
                return Status::closed;
            }
            sys_error_ = io_.last_errno;
            return Status::failed;
        default: sys_error_ = EPROTO; return Status::failed;
    }
}

TlsStream::Status TlsStream::handshake() {
    libcrypto.ERR_clear_error();
    io_.wait = false;
    io_.last_errno = 0;
    int rc = libssl.SSL_do_handshake(ssl_);
    if (rc == 1) {
        resumed_ = libssl.SSL_session_reused(ssl_) != 0;
        context_.handshake_done(ssl_);
        return Status::ok;
    }
    Status s = status_of(rc);
    if (s == Status::want_read || s == Status::want_write) return s;
    long verify = libssl.SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK) {
        failure_ = libcrypto.X509_verify_cert_error_string(verify);
    } else {
        failure_ = openssl_reason();
        if (failure_.empty()) {
            failure_ = s == Status::closed ? "the server closed the connection during the handshake"
                                           : "handshake failed";
        }
    }
    libcrypto.ERR_clear_error();
    context_.record_failure(failure_);
    return s == Status::closed ? Status::failed : s;
}

TlsStream::Status TlsStream::write(const void* data, std::size_t len, std::size_t& written) {
    written = 0;
    empty_error_queue();
    io_.wait = false;
    io_.last_errno = 0;
    int rc = libssl.SSL_write_ex(ssl_, data, len, &written);
    if (rc == 1) return Status::ok;
    Status s = status_of(0);
    libcrypto.ERR_clear_error();
    return s;
}

TlsStream::Status TlsStream::read(void* buf, std::size_t cap, std::size_t& got, bool wait) {
    got = 0;
    empty_error_queue();
    io_.wait = wait;
    io_.progressed = false;
    io_.last_errno = 0;
    int rc = libssl.SSL_read_ex(ssl_, buf, cap, &got);
    if (rc == 1) return Status::ok;
    Status s = status_of(0);
    libcrypto.ERR_clear_error();
    return s;
}

bool TlsStream::pending() const noexcept { return libssl.SSL_has_pending(ssl_) == 1; }

bool TlsStream::peer_closed() {
    char c;
    std::size_t got = 0;
    empty_error_queue();
    io_.wait = false;
    io_.last_errno = 0;
    int rc = libssl.SSL_peek_ex(ssl_, &c, 1, &got);
    if (rc == 1) return true;  // unsolicited data: the stream cannot be trusted
    Status s = status_of(0);
    libcrypto.ERR_clear_error();
    return s != Status::want_read && s != Status::want_write;
}

}  // namespace mmc::engine
