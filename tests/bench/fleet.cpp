#include "fleet.h"

#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>

#include "ap_memcache.h"

namespace mmc::bench {

namespace {

volatile sig_atomic_t g_interrupted = 0;

void on_interrupt(int) { g_interrupted = 1; }

}  // namespace

std::string parse_fleet(const std::string& list, std::vector<Endpoint>& out) {
    std::stringstream ss(list);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (item.empty()) continue;
        Endpoint e;
        if (item[0] == '/') {
            e.host = item;
            e.port = 0;
            out.push_back(e);
            continue;
        }
        std::string host;
        std::string port;
        if (item[0] == '[') {
            const auto close = item.find(']');
            if (close == std::string::npos || close + 1 >= item.size() || item[close + 1] != ':')
                return "bad server '" + item + "': expected [v6-address]:port";
            host = item.substr(1, close - 1);
            port = item.substr(close + 2);
        } else {
            const auto colon = item.rfind(':');
            if (colon == std::string::npos || colon == 0)
                return "bad server '" + item + "': expected host:port or /path/to/socket";
            host = item.substr(0, colon);
            port = item.substr(colon + 1);
        }
        char* end = nullptr;
        errno = 0;
        const unsigned long p = std::strtoul(port.c_str(), &end, 10);
        if (port.empty() || *end != '\0' || errno != 0 || p == 0 || p > 65535)
            return "bad server '" + item + "': the port must be 1-65535";
        e.host = host;
        e.port = static_cast<unsigned short>(p);
        out.push_back(e);
    }
    if (out.empty()) return "no server given";
    return "";
}

std::string random_key_prefix() {
    std::random_device rd;
    const unsigned long long r =
        (static_cast<unsigned long long>(rd()) << 32) ^ static_cast<unsigned long long>(rd());
    char buf[40];
    std::snprintf(buf, sizeof buf, "mmcbench:%016llx:", r);
    return buf;
}

std::string delete_workload_keys(const std::vector<Endpoint>& servers, const Workload& w,
                                 std::size_t& deleted) {
    apr_pool_t* pool = nullptr;
    if (apr_pool_create(&pool, nullptr) != APR_SUCCESS) return "apr_pool_create failed";
    std::string error;
    // The sealed client's keys too (workloads.cpp keeps them apart).
    std::vector<std::string> keys = workload_keys(w);
    for (auto& k : workload_keys(w, true)) keys.push_back(std::move(k));
    for (const auto& e : servers) {
        // One client per server, so that each delete goes to that server.
        apr_memcache_t* mc = nullptr;
        apr_memcache_server_t* ms = nullptr;
        apr_status_t rv = apr_memcache_create(pool, 1, 0, &mc);
        if (rv == APR_SUCCESS)
            rv = apr_memcache_server_create(pool, e.host.c_str(), e.port, 0, 1, 1, 60000000, &ms);
        if (rv == APR_SUCCESS) rv = apr_memcache_add_server(mc, ms);
        if (rv != APR_SUCCESS) {
            if (error.empty()) error = "cannot reach " + e.host + " to delete the bench's keys";
            continue;
        }
        for (const auto& k : keys) {
            rv = apr_memcache_delete(mc, k.c_str(), 0);
            if (rv == APR_SUCCESS) {
                ++deleted;
            } else if (rv != APR_NOTFOUND && error.empty()) {
                char buf[120];
                error = "delete of " + k + " on " + e.host + ":" + std::to_string(e.port) +
                        " failed: " + ap_memcache_strerror(rv, buf, sizeof buf);
            }
        }
    }
    apr_pool_destroy(pool);
    return error;
}

void catch_interrupts() {
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

bool interrupted() { return g_interrupted != 0; }

}  // namespace mmc::bench
