#include "doc_examples.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace mmc::test {
namespace {

namespace fs = std::filesystem;

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::string> read_lines(const std::string& path) {
    std::vector<std::string> lines;
    std::ifstream in(path);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
}

std::string join_lines(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}

// A fence that opens an apache block: optional indentation (and, in a configuration
// file, a leading '#'), ```apache, then optionally "expect-error".
const std::regex& open_fence() {
    static const std::regex re(R"(^(\s*(?:#\s*)?)```apache(?:\s+(\S+))?\s*$)");
    return re;
}

bool is_close_fence(const std::string& line) {
    static const std::regex re(R"(^\s*(?:#\s*)?```\s*$)");
    return std::regex_match(line, re);
}

// The ```apache blocks of one file. In a configuration file the blocks live in
// comments, so each line loses the fence's prefix ("# " and indentation).
void find_blocks(const std::string& source_dir, const std::string& rel,
                 std::vector<DocExample>& out) {
    const std::vector<std::string> lines = read_lines(source_dir + "/" + rel);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        std::smatch m;
        if (!std::regex_match(lines[i], m, open_fence())) continue;
        const std::string prefix = m[1].str();
        DocExample ex;
        ex.file = rel;
        ex.first_line = static_cast<int>(i) + 2;
        ex.expect_error = m[2].matched && m[2].str() == "expect-error";
        std::size_t j = i + 1;
        for (; j < lines.size() && !is_close_fence(lines[j]); ++j) {
            const std::string& l = lines[j];
            ex.text += (starts_with(l, prefix) ? l.substr(prefix.size()) : l) + "\n";
        }
        out.push_back(ex);
        i = j;
    }
}

std::vector<std::string> files_in(const std::string& dir, const std::vector<std::string>& suffixes) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        for (const auto& s : suffixes)
            if (e.is_regular_file() && ends_with(name, s)) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

std::vector<DocExample> find_doc_examples(const std::string& source_dir) {
    std::vector<DocExample> out;
    find_blocks(source_dir, "README.md", out);
    for (const auto& name : files_in(source_dir + "/docs", {".md"}))
        find_blocks(source_dir, "docs/" + name, out);
    for (const std::string dir : {"conf", "docker"}) {
        for (const auto& name : files_in(source_dir + "/" + dir, {".conf", ".load"})) {
            const std::string rel = dir + "/" + name;
            find_blocks(source_dir, rel, out);
            std::vector<std::string> lines = read_lines(source_dir + "/" + rel);
            out.push_back(DocExample{rel, 1, join_lines(lines), false, ""});
            if (rel != "conf/memcache.conf") continue;
            static const std::regex disabled(R"(^(\s*)#(Memcache[A-Za-z]+\s.*)$)");
            for (auto& l : lines) l = std::regex_replace(l, disabled, "$1$2");
            out.push_back(DocExample{rel, 1, join_lines(lines), false, "commented directives on"});
        }
    }
    return out;
}

std::string ExampleRewriter::rewrite(const std::string& text) {
    std::istringstream in(text);
    std::string out;
    for (std::string line; std::getline(in, line);) out += rewrite_line(line) + "\n";
    return out;
}

std::string ExampleRewriter::address(const std::string& original, bool port_optional) {
    std::string key = original;
    std::string host = original;
    std::string port;
    if (starts_with(original, "/")) {
        auto it = addresses_.find(key);
        if (it != addresses_.end()) return it->second;
        return addresses_[key] = env_.dir + "/memcached-" + std::to_string(addresses_.size()) + ".sock";
    }
    const std::size_t colon = original.rfind(':');
    const std::size_t bracket = original.rfind(']');
    if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
        host = original.substr(0, colon);
        port = original.substr(colon + 1);
    } else if (port_optional) {
        key += ":11211";
    } else {
        return original;  // no port: an error the example shows, left as it is
    }
    if (!port.empty()) {
        const bool digits = port.size() <= 5 &&
                            std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); });
        if (!digits || std::stoi(port) < 1 || std::stoi(port) > 65535) return original;
    }
    if (host.empty()) return original;
    auto it = addresses_.find(key);
    if (it != addresses_.end()) return it->second;
    const std::string loopback = starts_with(host, "[") ? "[::1]" : "127.0.0.1";
    return addresses_[key] = loopback + ":" + std::to_string(env_.free_port());
}

std::string ExampleRewriter::ipv4_anywhere(const std::string& token) {
    static const std::regex re(R"((^|[^0-9.])(\d{1,3}(?:\.\d{1,3}){3})(:\d+)?)");
    std::string out;
    auto begin = std::sregex_iterator(token.begin(), token.end(), re);
    std::size_t last = 0;
    for (auto it = begin; it != std::sregex_iterator(); ++it) {
        const std::smatch& m = *it;
        out += token.substr(last, m.position(0) - last) + m[1].str();
        out += m[3].matched ? address(m[2].str() + m[3].str(), false) : "127.0.0.1";
        last = m.position(0) + m.length(0);
    }
    return out + token.substr(last);
}

std::string ExampleRewriter::rewrite_line(const std::string& line) {
    const std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') return line;
    std::vector<std::string> tokens;
    std::istringstream words(line.substr(start));
    for (std::string w; words >> w;) tokens.push_back(w);
    const std::string directive = lower(tokens[0]);
    if (directive == "loadmodule" && tokens.size() >= 3) {
        if (tokens[1] == "memcache_module" || tokens[1] == "memcache_example_module")
            return "# loaded by the test: " + line;
        tokens[2] = env_.modules_dir + "/" + fs::path(tokens[2]).filename().string();
    } else {
        const auto file = [this](const std::string& stem, const std::string& content, unsigned mode) {
            return env_.write_file(stem + "-" + std::to_string(++files_), content, mode);
        };
        for (std::size_t i = 1; i < tokens.size(); ++i) {
            std::string t = tokens[i];
            const bool quoted = t.size() >= 2 && t.front() == '"' && t.back() == '"';
            if (quoted) t = t.substr(1, t.size() - 2);
            const std::string lt = lower(t);
            if (directive == "memcacheserver" && i == 1) {
                t = address(t, false);
            } else if (starts_with(lt, "mcpool:")) {
                std::string list;
                std::istringstream items(t.substr(7));
                for (std::string item; std::getline(items, item, ',');)
                    list += (list.empty() ? "" : ",") + address(item, true);
                t = "mcpool:" + list;
            } else if (starts_with(lt, "password-file=")) {
                t = "password-file=" + file("password", "secret\n", 0600);
            } else if (ends_with(directive, "sealkeyfile")) {
                t = file("seal.keys", "k1 " + std::string(64, 'a') + "\n", 0600);
            } else if (directive.find("cacertificate") != std::string::npos) {
                t = env_.ca_cert;
            } else if (ends_with(directive, "certificatekeyfile")) {
                t = env_.key;
            } else if (directive.find("certificate") != std::string::npos && ends_with(directive, "file")) {
                t = env_.cert;
            } else {
                t = ipv4_anywhere(t);
            }
            tokens[i] = quoted ? "\"" + t + "\"" : t;
        }
    }
    std::string out = line.substr(0, start);
    for (std::size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
    return out;
}

}  // namespace mmc::test
