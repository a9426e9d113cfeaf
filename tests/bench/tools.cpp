#include "tools.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace mmc::bench {

std::string find_program(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    dirs += ":/usr/sbin:/sbin";
    std::stringstream ss(dirs);
    std::string dir;
    while (std::getline(ss, dir, ':')) {
        if (dir.empty()) continue;
        std::string candidate = dir + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return "";
}

std::string self_exe() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "";
    buf[n] = '\0';
    return buf;
}

std::string read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string make_directories(const std::string& path) {
    if (path.empty()) return "empty directory name";
    // Each prefix ending before a '/', then the whole path: mkdir -p.
    for (std::size_t at = path.find('/', 1);; at = path.find('/', at + 1)) {
        const std::string part = path.substr(0, at);
        if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST)
            return "cannot create " + part + ": " + std::strerror(errno);
        if (at == std::string::npos) break;
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return path + " is not a directory";
    return "";
}

bool write_text_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    return static_cast<bool>(out);
}

SyscallCounts read_strace_summary(const std::string& path) {
    // "    calls syscall" / "--------- ---" / "       12 read" ... / "      144 total"
    SyscallCounts counts;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string first, name;
        if (!(ls >> first >> name)) continue;
        char* end = nullptr;
        long n = std::strtol(first.c_str(), &end, 10);
        if (end == first.c_str() || *end != '\0') continue;
        if (name == "total")
            counts.total = n;
        else
            counts.by_name[name] = n;
    }
    return counts;
}

long long read_callgrind_total(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    long long summary = -1;
    while (std::getline(in, line)) {
        if (line.rfind("totals:", 0) == 0) return std::atoll(line.c_str() + 7);
        if (line.rfind("summary:", 0) == 0) summary = std::atoll(line.c_str() + 8);
    }
    return summary;
}

namespace {

// Whether a callgrind_annotate line ("Ir (pct)  file:function [object]") is the root of a
// thread or of the process (clone, start_thread, main, ...) rather than work.
bool is_root_frame(const std::string& line) {
    const std::size_t cost_end = line.find(")  ");
    if (cost_end == std::string::npos) return false;
    const std::size_t colon = line.find(':', cost_end);
    if (colon == std::string::npos) return false;
    std::string fn = line.substr(colon + 1);
    fn = fn.substr(0, fn.find(" ["));
    fn = fn.substr(0, fn.find("@@"));
    for (const char* root : {"", "clone", "start_thread", "__libc_start_main", "main", "(below main)"}) {
        if (fn == root) return true;
    }
    // The dynamic loader's entry has no symbol; other unnamed addresses are static
    // functions of a library (APR's hash lookup, say), which are real work.
    return fn.rfind("0x", 0) == 0 && line.find("/ld-linux") != std::string::npos;
}

}  // namespace

std::vector<std::string> callgrind_top_functions(const std::string& annotate, const std::string& path,
                                                 std::size_t top, bool inclusive, double ops,
                                                 std::size_t width) {
    std::vector<std::string> lines;
    ProcessResult r = run_process({annotate, inclusive ? "--inclusive=yes" : "--inclusive=no",
                                   "--threshold=100", path},
                                  120);
    if (r.exit_code != 0) {
        lines.push_back("(callgrind_annotate failed: " + r.output.substr(0, 200) + ")");
        return lines;
    }
    // The function table follows the line that ends with "file:function", after the
    // dashed line under it.
    std::istringstream in(r.output);
    std::string line;
    bool in_table = false;
    while (std::getline(in, line) && lines.size() < top) {
        if (!in_table) {
            if (line.find("file:function") != std::string::npos) {
                in_table = true;
                std::getline(in, line);  // the dashes
            }
            continue;
        }
        if (line.empty() || line[0] == '-') break;
        // The frames still active at a mid-run dump (main, a thread's start) come out at
        // (nearly) 100%: they say nothing. Nor do the roots of threads and of the process
        // in a threaded run, whatever their share.
        auto pct = line.find(" (");
        if (pct != std::string::npos && std::atof(line.c_str() + pct + 2) >= 99.0) continue;
        if (is_root_frame(line)) continue;
        // "Ir (pct)  file:function [object]": keep cost and function, drop the object
        // and the source directory.
        auto object = line.rfind(" [/");
        if (object != std::string::npos) line.erase(object);
#ifdef MMC_SOURCE_DIR
        for (std::size_t at; (at = line.find(MMC_SOURCE_DIR "/")) != std::string::npos;)
            line.erase(at, sizeof(MMC_SOURCE_DIR));
#endif
        // ...and the parameter list, which for C++ says more than the name.
        if (!line.empty() && line.back() == ')') {
            int depth = 0;
            for (std::size_t i = line.size(); i-- > 0;) {
                if (line[i] == ')') ++depth;
                if (line[i] == '(' && --depth == 0) {
                    line.erase(i);
                    break;
                }
            }
        }
        // "1,003,500 (36.69%)  fn" -> "2,007.0 (36.69%)  fn": per operation.
        if (ops > 1) {
            std::size_t end = line.find_first_not_of(" 0123456789,");
            std::string digits;
            for (std::size_t i = 0; i < end && i < line.size(); ++i)
                if (std::isdigit(static_cast<unsigned char>(line[i]))) digits += line[i];
            if (!digits.empty() && end != std::string::npos) {
                char buf[32];
                std::snprintf(buf, sizeof buf, "%9.1f", std::atof(digits.c_str()) / ops);
                line = buf + line.substr(end - 1);
            }
        }
        if (line.size() > width) line = line.substr(0, width - 3) + "...";
        lines.push_back(line);
    }
    return lines;
}

}  // namespace mmc::bench
