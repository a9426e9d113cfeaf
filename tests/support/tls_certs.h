// Certificates for the TLS tests, made with the openssl program at test time in a
// temporary directory: a CA, a server certificate it signed for localhost and
// 127.0.0.1, the same with a validity that has already ended, a client certificate
// (with its key also encrypted), and a second CA that signed none of them.
#ifndef MMC_TEST_TLS_CERTS_H
#define MMC_TEST_TLS_CERTS_H

#include <string>
#include <vector>

namespace mmc::test {

struct TestPki {
    std::string dir;
    std::string ca;            // the CA that signed the certificates below
    std::string other_ca;      // a CA that signed nothing here
    std::string server_cert;   // CN localhost, SAN DNS:localhost, IP:127.0.0.1
    std::string server_key;
    std::string expired_cert;  // as server_cert (same key), validity ended a day ago
    std::string client_cert;   // CN mmc-client, for client certificate checks
    std::string client_key;
    std::string encrypted_client_key;  // client_key under the passphrase "mmc-test"
    std::string error;         // why the set could not be made ("" when it was)

    // memcached arguments for TLS with server_cert (or expired_cert), optionally
    // requiring a client certificate signed by ca.
    std::vector<std::string> memcached_args(bool expired = false, bool require_client = false) const;
};

// Makes the set once per process (under a fresh directory in TMPDIR) and returns it;
// error says what failed, e.g. openssl missing.
const TestPki& test_pki();

}  // namespace mmc::test

#endif
