#include "tls_tools.h"

#include "httpd_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#ifdef MMC_HAVE_OPENSSL
#include <openssl/ssl.h>
#endif

namespace mmc::test {

std::string openssl_binary() {
    for (const char* path : {"/usr/bin/openssl", "/usr/local/bin/openssl"}) {
        if (::access(path, X_OK) == 0) return path;
    }
    return "";
}

std::string make_certificate(const std::string& dir) {
    const std::string openssl = openssl_binary();
    if (openssl.empty()) return "openssl not found: install the Debian package openssl";
    CommandResult r = run_command({openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                   "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                                   dir + "/key.pem", "-out", dir + "/cert.pem", "-days", "2",
                                   "-subj", "/CN=localhost"});
    if (r.exit_code != 0) return "openssl req failed: " + r.output;
    return "";
}

Handshake tls_handshake(unsigned short port, const std::string& sess_in,
                        const std::string& sess_out, int timeout_s) {
    Handshake h;
    const std::string openssl = openssl_binary();
    if (openssl.empty()) {
        h.output = "openssl not found: install the Debian package openssl";
        return h;
    }
    // HTTP/1.0: the server closes after its answer, which ends s_client (-ign_eof).
    std::string cmd = "printf 'GET / HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' | " + openssl +
                      " s_client -connect 127.0.0.1:" + std::to_string(port) +
                      " -servername localhost -tls1_2 -no_ticket -ign_eof";
    if (!sess_in.empty()) cmd += " -sess_in '" + sess_in + "'";
    if (!sess_out.empty()) cmd += " -sess_out '" + sess_out + "'";
    cmd += " 2>&1";
    const auto t0 = std::chrono::steady_clock::now();
    CommandResult r = run_command({"/bin/sh", "-c", cmd}, timeout_s);
    h.ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
               .count();
    h.output = r.output;
    h.timed_out = r.timed_out;
    h.reused = r.output.find("Reused, TLSv1.2") != std::string::npos;
    h.completed = h.reused || r.output.find("New, TLSv1.2") != std::string::npos;
    auto at = r.output.find("Session-ID: ");
    if (at != std::string::npos) {
        at += 12;
        h.session_id = r.output.substr(at, r.output.find_first_of("\r\n", at) - at);
    }
    return h;
}

#ifdef MMC_HAVE_OPENSSL
Handshake tls_handshake_in_process(unsigned short port, int timeout_ms) {
    Handshake h;
    // One context for every handshake: its set-up is not part of what is measured.
    static SSL_CTX* const ctx = [] {
        SSL_CTX* c = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
        SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION);
        SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
        return c;
    }();
    const auto t0 = std::chrono::steady_clock::now();
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        h.output = "connect failed";
        if (fd >= 0) ::close(fd);
        return h;
    }
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    const std::string request = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
    if (SSL_connect(ssl) == 1 &&
        SSL_write(ssl, request.data(), static_cast<int>(request.size())) > 0) {
        char buf[4096];
        int n;
        while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) h.output.append(buf, static_cast<std::size_t>(n));
        h.completed = h.output.rfind("HTTP/", 0) == 0;
        h.timed_out = !h.completed && (errno == EAGAIN || errno == EWOULDBLOCK);
    } else {
        h.output = "TLS handshake failed";
    }
    SSL_free(ssl);
    ::close(fd);
    h.ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
               .count();
    return h;
}
#else
Handshake tls_handshake_in_process(unsigned short, int) {
    Handshake h;
    h.output = "built without OpenSSL's libssl: install the Debian package libssl-dev and reconfigure";
    return h;
}
#endif

}  // namespace mmc::test
