#include "proc_memory.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace mmc::bench {

namespace {

// Calls fn(name, kB) for each "Name:  123 kB" line of a /proc file; false when it
// cannot be opened.
template <class Fn>
bool for_each_kb_field(const std::string& path, Fn&& fn) {
    std::ifstream in(path);
    if (!in) return false;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string name;
        long kb = -1;
        ls >> name >> kb;
        fn(name, kb);
    }
    return true;
}

}  // namespace

bool read_process_memory(pid_t pid, ProcessMemory& memory) {
    memory = ProcessMemory{};
    const std::string dir = "/proc/" + std::to_string(pid);
    for_each_kb_field(dir + "/status", [&](const std::string& name, long kb) {
        if (name == "VmRSS:") memory.rss_kb = kb;
        else if (name == "RssAnon:") memory.anon_kb = kb;
        else if (name == "RssFile:") memory.file_kb = kb;
        else if (name == "RssShmem:") memory.shmem_kb = kb;
    });
    if (memory.rss_kb < 0) return false;
    long private_clean = -1, private_dirty = -1;
    for_each_kb_field(dir + "/smaps_rollup", [&](const std::string& name, long kb) {
        if (name == "Pss:") memory.pss_kb = kb;
        else if (name == "Private_Clean:") private_clean = kb;
        else if (name == "Private_Dirty:") private_dirty = kb;
    });
    if (private_clean >= 0 && private_dirty >= 0) memory.private_kb = private_clean + private_dirty;
    return true;
}

std::map<std::string, long> rss_by_mapping(pid_t pid) {
    std::map<std::string, long> by_file;
    std::ifstream in("/proc/" + std::to_string(pid) + "/smaps");
    std::string line, current;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string first;
        ls >> first;
        if (first.empty()) continue;
        if (first.back() != ':') {
            // A mapping's header: "start-end perms offset dev inode [path or name]".
            std::string perms, offset, dev, inode, path;
            ls >> perms >> offset >> dev >> inode;
            std::getline(ls, path);
            const auto start = path.find_first_not_of(' ');
            current = start == std::string::npos ? "[anonymous]" : path.substr(start);
            continue;
        }
        if (first == "Rss:" && !current.empty()) {
            long kb = 0;
            ls >> kb;
            by_file[current] += kb;
        }
    }
    return by_file;
}

std::vector<pid_t> group_members_except_leader(pid_t pgrp) {
    std::vector<pid_t> members;
    DIR* d = ::opendir("/proc");
    if (!d) return members;
    while (dirent* e = ::readdir(d)) {
        char* end = nullptr;
        const long pid = std::strtol(e->d_name, &end, 10);
        if (pid <= 0 || *end != '\0' || pid == pgrp) continue;
        // getpgid reads the same field as /proc/<pid>/stat, without parsing the name.
        if (::getpgid(static_cast<pid_t>(pid)) == pgrp) members.push_back(static_cast<pid_t>(pid));
    }
    ::closedir(d);
    std::sort(members.begin(), members.end());
    return members;
}

namespace {

// The inodes of the sockets among pid's open files ("socket:[12345]").
std::set<unsigned long> socket_inodes(pid_t pid) {
    std::set<unsigned long> inodes;
    const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = ::opendir(dir.c_str());
    if (!d) return inodes;
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        char target[128];
        const ssize_t n = ::readlink((dir + "/" + e->d_name).c_str(), target, sizeof target - 1);
        if (n <= 0) continue;
        target[n] = '\0';
        unsigned long inode = 0;
        if (std::sscanf(target, "socket:[%lu]", &inode) == 1) inodes.insert(inode);
    }
    ::closedir(d);
    return inodes;
}

// Adds the connections of one /proc/net/tcp{,6} table: its lines are
// "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...",
// addresses as hex "ADDRESS:PORT".
void count_table(const std::string& path, const std::set<unsigned long>& inodes,
                 std::map<unsigned short, int>& counts) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string f[10];
        for (auto& x : f) ls >> x;
        const auto colon = f[2].rfind(':');
        if (colon == std::string::npos) continue;
        const auto port = static_cast<unsigned short>(std::strtoul(f[2].c_str() + colon + 1, nullptr, 16));
        const unsigned long inode = std::strtoul(f[9].c_str(), nullptr, 10);
        auto it = counts.find(port);
        if (it != counts.end() && inode != 0 && inodes.count(inode)) ++it->second;
    }
}

}  // namespace

std::map<unsigned short, int> tcp_connections_by_remote_port(pid_t pid,
                                                             const std::vector<unsigned short>& ports) {
    std::map<unsigned short, int> counts;
    for (unsigned short p : ports) counts[p] = 0;
    const auto inodes = socket_inodes(pid);
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) count_table(table, inodes, counts);
    return counts;
}

}  // namespace mmc::bench
