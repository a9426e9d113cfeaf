// The configuration examples a user copies: every ```apache block of README.md and
// docs/*.md, and the conf/*.conf, conf/*.load and docker/*.conf files, found in the source
// tree and rewritten so that `apache2 -t` can check them on this machine.
#ifndef MMC_TEST_DOC_EXAMPLES_H
#define MMC_TEST_DOC_EXAMPLES_H

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace mmc::test {

struct DocExample {
    std::string file;           // relative to the source tree, e.g. "docs/socache.md"
    int first_line = 0;         // line of the file that holds the example's first line
    std::string text;           // the example's lines, each ending in '\n'
    bool expect_error = false;  // fenced ```apache expect-error: must fail apache2 -t
    std::string variant;        // "" or what was changed, e.g. "commented directives on"
};

// Every example under source_dir, in file order: ```apache blocks of README.md and
// docs/*.md (fences may be indented, as in list items; a block ends at the next fence),
// ```apache blocks inside the comments of conf/ and docker/ files, and those files
// themselves. conf/memcache.conf is also returned a second time with its commented-out
// directives (`#Memcache...` with no blank after '#') switched on, so that those
// examples are checked too.
std::vector<DocExample> find_doc_examples(const std::string& source_dir);

// Where the rewritten examples' files come from.
struct RewriteEnv {
    std::string modules_dir;  // httpd's modules, for LoadModule lines of other modules
    // Writes a file of the test's own (name, content, mode) and returns its path.
    std::function<std::string(const std::string&, const std::string&, unsigned)> write_file;
    // A loopback port that no other address of this run maps to.
    std::function<unsigned short()> free_port;
    // Paths of a CA certificate, a certificate and its key (PEM).
    std::string ca_cert, cert, key;
    // For the unix socket paths the rewrite invents.
    std::string dir;
};

// The rewrite keeps one line for one line, so an error on line N of the result is on
// line first_line + N - 1 of the file. It changes:
//  - LoadModule of mod_memcache or the example module: commented out (the test loads the
//    build's); of another module: that module from modules_dir.
//  - every memcached address (MemcacheServer's first argument, each server of
//    mcpool:LIST, any other IPv4 address): a distinct address on loopback with a free
//    port, the same original always to the same replacement; a unix socket path to a
//    path in dir.
//  - files the configuration reads: password-file= to a password file, *SealKeyFile to
//    a key file (mode 0600), *CACertificate* to the CA, *CertificateKeyFile to the key,
//    other *Certificate*File to the certificate.
class ExampleRewriter {
public:
    explicit ExampleRewriter(RewriteEnv env) : env_(std::move(env)) {}
    std::string rewrite(const std::string& text);

private:
    std::string rewrite_line(const std::string& line);
    std::string address(const std::string& original, bool port_optional);
    std::string ipv4_anywhere(const std::string& token);

    RewriteEnv env_;
    std::map<std::string, std::string> addresses_;
    int files_ = 0;
};

}  // namespace mmc::test

#endif
