// Every configuration example a user can copy (README.md, docs/*.md, conf/, docker/)
// passes `apache2 -t` with the module, after its addresses and files are replaced by
// loopback ones and files made here; a block fenced ```apache expect-error must fail.
#include "doc_examples.h"
#include "httpd_test_options.h"
#include "memcached_process.h"
#include "tls_certs.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

namespace mmc::test {
namespace {

// Enough of Debian's apache2 modules for any example that configures mod_memcache or one
// of its socache consumers; loaded before mod_memcache.
const std::vector<std::string> kSystemModules = {
    "ssl",          "socache_shmcb", "socache_memcache", "cache",       "cache_socache",
    "authn_core",   "authn_file",    "authn_socache",    "auth_basic",  "authz_user",
    "authz_host",   "session",       "session_cookie",   "status",      "headers",
    "setenvif",     "mime",          "alias",            "dir",         "expires",
    "rewrite",      "auth_form",     "request",          "proxy",       "proxy_http",
    "deflate",      "filter"};

HttpdProcess& checker() {
    static HttpdProcess httpd([] {
        HttpdOptions o = module_options();
        o.system_modules = kSystemModules;
        return o;
    }());
    return httpd;
}

unsigned short unused_port() {
    static std::set<unsigned short> given;
    for (;;) {
        const unsigned short p = free_loopback_port();
        if (p == 0 || given.insert(p).second) return p;
    }
}

std::string write_private_file(const std::string& name, const std::string& content, unsigned mode) {
    const std::string path = checker().dir() + "/" + name;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    ::chmod(path.c_str(), mode);
    return path;
}

std::string where(const DocExample& ex) {
    return ex.file + ":" + std::to_string(ex.first_line) +
           (ex.variant.empty() ? "" : " (" + ex.variant + ")");
}

// "Syntax error on line N of <path>" in httpd's output, as a line of the example's file.
std::string failing_line(const DocExample& ex, const std::string& output, const std::string& path) {
    std::smatch m;
    const std::regex re("line ([0-9]+) of " + std::regex_replace(path, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)"));
    if (!std::regex_search(output, m, re)) return "";
    return ex.file + ":" + std::to_string(ex.first_line + std::stoi(m[1].str()) - 1);
}

const std::vector<DocExample>& examples() {
    static const std::vector<DocExample> all = find_doc_examples(MMC_SOURCE_DIR);
    return all;
}

}  // namespace

// Names the example instead of printing its bytes.
void PrintTo(const DocExample& ex, std::ostream* os) { *os << where(ex); }

namespace {

class DocExamples : public ::testing::TestWithParam<DocExample> {};

TEST_P(DocExamples, PassesTheConfigTestUnlessMarkedExpectError) {
    const DocExample& ex = GetParam();
    const TestPki& pki = test_pki();
    ASSERT_EQ(pki.error, "") << "certificates for the examples' TLS files";
    RewriteEnv env;
    env.modules_dir = MMC_HTTPD_MODULES_DIR;
    env.write_file = write_private_file;
    env.free_port = unused_port;
    env.ca_cert = pki.ca;
    env.cert = pki.client_cert;
    env.key = pki.client_key;
    env.dir = checker().dir();
    ExampleRewriter rewriter(env);
    const std::string text = rewriter.rewrite(ex.text);
    static int n = 0;
    const std::string path = write_private_file("example-" + std::to_string(++n) + ".conf", text, 0644);
    const CommandResult r = checker().config_test("Include \"" + path + "\"\n");
    if (ex.expect_error) {
        EXPECT_NE(r.exit_code, 0) << where(ex) << ": marked expect-error but passes apache2 -t\n"
                                  << text;
    } else {
        EXPECT_EQ(r.exit_code, 0) << where(ex) << ": the example fails apache2 -t"
                                  << " (at " << failing_line(ex, r.output, path) << ")\n"
                                  << r.output << "\nas checked:\n" << text;
    }
}

std::string name_of(const ::testing::TestParamInfo<DocExample>& info) {
    std::string name = info.param.file + "_" + std::to_string(info.param.first_line) +
                       (info.param.variant.empty() ? "" : "_" + info.param.variant);
    for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    return name;
}

INSTANTIATE_TEST_SUITE_P(Docs, DocExamples, ::testing::ValuesIn(examples()), name_of);

// A block the finder misses would go unchecked: every line of README.md and docs/*.md
// that starts a ```apache fence (any info string after it) must be one of the examples.
TEST(DocExampleFinder, FindsEveryApacheFence) {
    namespace fs = std::filesystem;
    std::vector<std::string> files = {"README.md"};
    for (const auto& e : fs::directory_iterator(std::string(MMC_SOURCE_DIR) + "/docs"))
        if (e.path().extension() == ".md") files.push_back("docs/" + e.path().filename().string());
    for (const auto& rel : files) {
        int fences = 0;
        std::ifstream in(std::string(MMC_SOURCE_DIR) + "/" + rel);
        for (std::string l; std::getline(in, l);)
            if (l.compare(std::min(l.find_first_not_of(" \t"), l.size()), 9, "```apache") == 0) ++fences;
        int found = 0;
        for (const auto& ex : examples()) found += ex.file == rel;
        EXPECT_EQ(found, fences) << rel << ": a ```apache fence that is not ```apache or "
                                 << "```apache expect-error (docs/testing.md)";
    }
}

TEST(DocExampleFinder, FindsTheReadmeAndConfExamples) {
    int readme = 0, conf = 0;
    for (const auto& ex : examples()) {
        readme += ex.file == "README.md";
        conf += ex.file == "conf/memcache.conf";
    }
    EXPECT_GE(readme, 2);
    EXPECT_EQ(conf, 2);  // the file as shipped, and with its commented directives on
}

}  // namespace
}  // namespace mmc::test
