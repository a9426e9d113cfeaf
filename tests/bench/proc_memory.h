// What /proc says about one process's memory and its TCP connections: the end-to-end
// memory measurement reads an httpd child through these.
#ifndef MMC_BENCH_PROC_MEMORY_H
#define MMC_BENCH_PROC_MEMORY_H

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace mmc::bench {

// Resident set of a process in KiB, from /proc/<pid>/status: VmRSS and its parts
// (anonymous memory, file-backed pages, shared memory); and from
// /proc/<pid>/smaps_rollup its proportional share (each page divided by the number of
// processes mapping it) and its private pages (mapped by it alone). -1 where it could
// not be read.
struct ProcessMemory {
    long rss_kb = -1;
    long anon_kb = -1;
    long file_kb = -1;
    long shmem_kb = -1;
    long pss_kb = -1;
    long private_kb = -1;
};

// Reads pid's memory; false (memory left at -1) when the process is gone.
bool read_process_memory(pid_t pid, ProcessMemory& memory);

// The resident KiB of pid's mappings from /proc/<pid>/smaps, summed by what is mapped:
// a file by its path, memory the kernel names by that name ("[heap]", "[stack]"), and
// unnamed anonymous memory (thread stacks, malloc's other arenas, large allocations)
// as "[anonymous]". Empty when unreadable.
std::map<std::string, long> rss_by_mapping(pid_t pid);

// The processes of process group pgrp other than pid pgrp itself (its children, for an
// httpd started as a group leader), in ascending order.
std::vector<pid_t> group_members_except_leader(pid_t pgrp);

// TCP connections (IPv4 and IPv6) held by pid's file descriptors whose remote port is
// one of `ports`, counted by remote port: the socket inodes of /proc/<pid>/fd matched
// against /proc/net/tcp and /proc/net/tcp6. Every port asked for is in the map.
std::map<unsigned short, int> tcp_connections_by_remote_port(pid_t pid,
                                                             const std::vector<unsigned short>& ports);

}  // namespace mmc::bench

#endif
