#include "tls_certs.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "httpd_process.h"

namespace mmc::test {

namespace {

std::string openssl_program() {
    for (const char* path : {"/usr/bin/openssl", "/usr/local/bin/openssl"}) {
        if (::access(path, X_OK) == 0) return path;
    }
    return "";
}

// Runs openssl with args; "" or what went wrong.
std::string openssl(const std::string& program, std::vector<std::string> args) {
    args.insert(args.begin(), program);
    CommandResult r = run_command(args, 60);
    if (r.exit_code != 0) return "openssl " + args[1] + " failed: " + r.output;
    return "";
}

std::string new_key_and_request(const std::string& program, const std::string& key, const std::string& csr,
                                 const std::string& cn) {
    return openssl(program, {"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                             "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + cn});
}

std::string self_signed_ca(const std::string& program, const std::string& key, const std::string& cert,
                           const std::string& cn) {
    return openssl(program, {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                             "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + cn});
}

std::string sign(const std::string& program, const TestPki& pki, const std::string& csr,
                 const std::string& out, const std::string& days, const std::string& ext) {
    return openssl(program, {"x509", "-req", "-in", csr, "-CA", pki.ca, "-CAkey", pki.dir + "/ca.key",
                             "-CAcreateserial", "-days", days, "-extfile", ext, "-out", out});
}

TestPki make_pki() {
    TestPki pki;
    const std::string program = openssl_program();
    if (program.empty()) {
        pki.error = "openssl not found: install the Debian package openssl (scripts/install-deps.sh)";
        return pki;
    }
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/mmc-pki-XXXXXX";
    if (!::mkdtemp(templ.data())) {
        pki.error = "cannot create a temporary directory";
        return pki;
    }
    pki.dir = templ;
    const std::string& d = pki.dir;
    pki.ca = d + "/ca.pem";
    pki.other_ca = d + "/other-ca.pem";
    pki.server_cert = d + "/server.pem";
    pki.server_key = d + "/server.key";
    pki.expired_cert = d + "/expired.pem";
    pki.client_cert = d + "/client.pem";
    pki.client_key = d + "/client.key";
    pki.encrypted_client_key = d + "/client-encrypted.key";
    {
        std::ofstream(d + "/server.ext") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
        std::ofstream(d + "/client.ext") << "extendedKeyUsage=clientAuth\n";
    }
    for (std::string step : {
             self_signed_ca(program, d + "/ca.key", pki.ca, "mmc test CA"),
             self_signed_ca(program, d + "/other-ca.key", pki.other_ca, "mmc other CA"),
             new_key_and_request(program, pki.server_key, d + "/server.csr", "localhost"),
             sign(program, pki, d + "/server.csr", pki.server_cert, "2", d + "/server.ext"),
             // Negative days: notAfter a day before notBefore (now), so already ended.
             sign(program, pki, d + "/server.csr", pki.expired_cert, "-1", d + "/server.ext"),
             new_key_and_request(program, pki.client_key, d + "/client.csr", "mmc-client"),
             sign(program, pki, d + "/client.csr", pki.client_cert, "2", d + "/client.ext"),
             openssl(program, {"pkey", "-in", pki.client_key, "-aes256", "-passout", "pass:mmc-test",
                               "-out", pki.encrypted_client_key}),
         }) {
        if (!step.empty()) {
            pki.error = step;
            return pki;
        }
    }
    return pki;
}

}  // namespace

std::vector<std::string> TestPki::memcached_args(bool expired, bool require_client) const {
    std::string o = "ssl_chain_cert=" + (expired ? expired_cert : server_cert) + ",ssl_key=" + server_key;
    if (require_client) o += ",ssl_ca_cert=" + ca + ",ssl_verify_mode=2";
    return {"-Z", "-o", o};
}

const TestPki& test_pki() {
    // The directory goes when the process ends normally.
    static const struct Holder {
        TestPki pki = make_pki();
        ~Holder() {
            std::error_code ec;
            if (!pki.dir.empty()) std::filesystem::remove_all(pki.dir, ec);
        }
    } holder;
    return holder.pki;
}

}  // namespace mmc::test
