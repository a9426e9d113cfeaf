// TLS for the socache tests: a certificate made with openssl at test time, and TLS 1.2
// handshakes with `openssl s_client` that save or offer a session.
#ifndef MMC_TEST_TLS_TOOLS_H
#define MMC_TEST_TLS_TOOLS_H

#include <string>

namespace mmc::test {

// The openssl program, or "" when it is not installed.
std::string openssl_binary();

// Writes dir/cert.pem and dir/key.pem (EC P-256, self-signed, CN localhost). Returns ""
// or what went wrong.
std::string make_certificate(const std::string& dir);

struct Handshake {
    bool completed = false;   // a TLS 1.2 session was established
    bool reused = false;      // ... by resuming the offered session
    bool timed_out = false;   // s_client was killed at the time limit
    long long ms = 0;         // wall time of the whole s_client run
    std::string session_id;   // "Session-ID:" as printed (uppercase hex)
    std::string output;
};

// One connection to 127.0.0.1:port with TLS 1.2 and session tickets off, sending
// "GET / HTTP/1.0" and reading until the server closes. sess_in: a session file to offer
// ("" for none); sess_out: where to save the session ("" for nowhere). Killed after
// timeout_s seconds.
Handshake tls_handshake(unsigned short port, const std::string& sess_in,
                        const std::string& sess_out, int timeout_s = 10);

// A new TLS 1.2 handshake (no session offered, tickets off) made in this process with
// OpenSSL, then "GET / HTTP/1.0" read until the server closes: what a client waits for,
// without the start-up of an s_client process in the figure. completed: a response
// arrived. Gives up after timeout_ms. Without libssl at build time it fails with a
// message saying so.
Handshake tls_handshake_in_process(unsigned short port, int timeout_ms = 10000);

}  // namespace mmc::test

#endif
