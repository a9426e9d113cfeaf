// External tools the benchmark runs: child processes with a time limit, strace's
// syscall summary, callgrind's instruction totals and annotation.
#ifndef MMC_BENCH_TOOLS_H
#define MMC_BENCH_TOOLS_H

#include <map>
#include <string>
#include <vector>

#include "httpd_process.h"

namespace mmc::bench {

// Child processes (strace, callgrind, wrk) run through the test harness's runner.
using ProcessResult = mmc::test::CommandResult;
inline ProcessResult run_process(const std::vector<std::string>& argv, int timeout_s) {
    return mmc::test::run_command(argv, timeout_s);
}

// The full path of a program found on PATH, or "" when there is none.
std::string find_program(const std::string& name);

// The path of the running executable.
std::string self_exe();

struct SyscallCounts {
    long total = -1;  // -1: the summary could not be read
    std::map<std::string, long> by_name;
};

// Reads the table that `strace -c -U calls,name -o file` writes.
SyscallCounts read_strace_summary(const std::string& path);

// The instruction total ("totals:" line) of a callgrind output file; -1 if unreadable.
long long read_callgrind_total(const std::string& path);

// The first `top` function lines of callgrind_annotate for a callgrind output file, costs
// divided by `ops` (the operations the file covers), each cut to `width` characters.
std::vector<std::string> callgrind_top_functions(const std::string& annotate, const std::string& path,
                                                 std::size_t top, bool inclusive, double ops,
                                                 std::size_t width = 150);

// Creates path and its missing parents (mkdir -p). "" on success, else why not.
std::string make_directories(const std::string& path);

std::string read_text_file(const std::string& path);
bool write_text_file(const std::string& path, const std::string& content);

}  // namespace mmc::bench

#endif
