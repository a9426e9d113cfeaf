// OpenSSL, loaded when something first needs it. Neither the module nor the library is
// linked against libssl or libcrypto: a configuration without TLS servers and without
// sealed values never maps them (docs/design.md, "OpenSSL on demand"). OpenSSL's headers
// are used at compile time for its types and constants; every OpenSSL function we call
// goes through one of the two tables below, which the loader fills with dlopen() and
// dlsym().
//
// Many OpenSSL "functions" are macros or header inline functions over an exported one
// (SSL_CTX_set_mode is SSL_CTX_ctrl, sk_X509_num is OPENSSL_sk_num, BIO_set_retry_read
// is BIO_set_flags): the tables hold the exported ones only, and callers spell out the
// call the macro would have made. A test (no_openssl_link) checks the built objects for
// OpenSSL symbols left undefined, so a macro used by mistake fails the build's tests.
//
// Each library is loaded at most once per process, by whichever thread gets there first,
// and never unloaded: httpd loads it in the parent while reading its configuration, and
// the children inherit it. Only this file and its users (tls.cpp, seal.cpp) include
// OpenSSL's headers.
#ifndef MMC_ENGINE_OPENSSL_API_H
#define MMC_ENGINE_OPENSSL_API_H

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <string>

namespace mmc::engine::openssl {

// libcrypto: errors, stacks, certificates, BIOs, ciphers, randomness.
#define MMC_OPENSSL_CRYPTO_FUNCTIONS(X) \
    X(ERR_peek_error)                   \
    X(ERR_peek_last_error)              \
    X(ERR_clear_error)                  \
    X(ERR_error_string_n)               \
    X(OPENSSL_sk_num)                   \
    X(OPENSSL_sk_value)                 \
    X(CRYPTO_get_ex_new_index)          \
    X(X509_STORE_get0_objects)          \
    X(X509_OBJECT_get0_X509)            \
    X(X509_check_purpose)               \
    X(X509_VERIFY_PARAM_set1_ip_asc)    \
    X(X509_verify_cert_error_string)    \
    X(BIO_get_data)                     \
    X(BIO_set_data)                     \
    X(BIO_set_init)                     \
    X(BIO_set_flags)                    \
    X(BIO_clear_flags)                  \
    X(BIO_get_new_index)                \
    X(BIO_meth_new)                     \
    X(BIO_meth_set_write)               \
    X(BIO_meth_set_read)                \
    X(BIO_meth_set_ctrl)                \
    X(BIO_meth_set_create)              \
    X(BIO_new)                          \
    X(EVP_CIPHER_fetch)                 \
    X(EVP_CIPHER_free)                  \
    X(EVP_CIPHER_CTX_new)               \
    X(EVP_CIPHER_CTX_free)              \
    X(EVP_CIPHER_CTX_ctrl)              \
    X(EVP_CipherInit_ex2)               \
    X(EVP_CipherUpdate)                 \
    X(EVP_EncryptFinal_ex)              \
    X(EVP_DecryptFinal_ex)              \
    X(RAND_bytes)

// libssl: contexts and sessions.
#define MMC_OPENSSL_SSL_FUNCTIONS(X)       \
    X(TLS_client_method)                   \
    X(SSL_CTX_new)                         \
    X(SSL_CTX_free)                        \
    X(SSL_CTX_ctrl)                        \
    X(SSL_CTX_set_ex_data)                 \
    X(SSL_CTX_get_ex_data)                 \
    X(SSL_CTX_sess_set_new_cb)             \
    X(SSL_CTX_set_verify)                  \
    X(SSL_CTX_load_verify_locations)       \
    X(SSL_CTX_set_default_verify_paths)    \
    X(SSL_CTX_use_certificate_chain_file)  \
    X(SSL_CTX_set_default_passwd_cb)       \
    X(SSL_CTX_set_default_passwd_cb_userdata) \
    X(SSL_CTX_use_PrivateKey_file)         \
    X(SSL_CTX_check_private_key)           \
    X(SSL_CTX_get_cert_store)              \
    X(SSL_CTX_get0_certificate)            \
    X(SSL_SESSION_dup)                     \
    X(SSL_SESSION_free)                    \
    X(SSL_new)                             \
    X(SSL_free)                            \
    X(SSL_ctrl)                            \
    X(SSL_get_SSL_CTX)                     \
    X(SSL_set_bio)                         \
    X(SSL_set_connect_state)               \
    X(SSL_get0_param)                      \
    X(SSL_set1_host)                       \
    X(SSL_set_hostflags)                   \
    X(SSL_set_session)                     \
    X(SSL_session_reused)                  \
    X(SSL_set_shutdown)                    \
    X(SSL_get_error)                       \
    X(SSL_get_verify_result)               \
    X(SSL_do_handshake)                    \
    X(SSL_read_ex)                         \
    X(SSL_peek_ex)                         \
    X(SSL_write_ex)                        \
    X(SSL_has_pending)

#define MMC_OPENSSL_FIELD(name) decltype(&::name) name = nullptr;

struct Crypto {
    MMC_OPENSSL_CRYPTO_FUNCTIONS(MMC_OPENSSL_FIELD)
};

struct Ssl {
    MMC_OPENSSL_SSL_FUNCTIONS(MMC_OPENSSL_FIELD)
};

#undef MMC_OPENSSL_FIELD

// The sonames loaded, from the OpenSSL headers the engine is compiled with (3.0 or
// later): the runtime must be the major version the headers describe ("libcrypto.so.3"
// for OpenSSL 3.x).
const char* crypto_soname() noexcept;
const char* ssl_soname() noexcept;
// What a load needs, as its error messages say it: "OpenSSL 3.0 or later".
const char* wanted() noexcept;

// Loads libcrypto once per process (the first call does; later ones return the first
// one's answer). True when every function of `libcrypto` is there; otherwise false with
// `error` naming the library, the version wanted (wanted()) and the dynamic loader's
// reason, e.g. "cannot load libcrypto.so.3 (OpenSSL 3.0 or later): cannot open shared
// object file: No such file or directory", and the table left empty.
bool load_crypto(std::string& error);
// Loads libcrypto, then libssl, as above; true when both tables are filled.
bool load_ssl(std::string& error);

// The tables. Read only after load_crypto() / load_ssl() returned true: the objects that
// use them (a TLS context, a seal key ring) exist only then.
extern Crypto libcrypto;
extern Ssl libssl;

// For tests: opens `soname` and fills `table` from it, without touching the process's
// tables. On failure `table` is unchanged, the library (if it opened) is closed again,
// and `error` is as load_crypto()'s.
bool load_crypto_from(const char* soname, Crypto& table, std::string& error);
bool load_ssl_from(const char* soname, Ssl& table, std::string& error);

}  // namespace mmc::engine::openssl

#endif
