#include "engine/address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "engine/fast_mutex.h"

namespace mmc::engine {

namespace {

std::atomic<unsigned long> g_lookups{0};

// A lookup handed to a helper thread; shared, since the caller may give up first.
struct Lookup {
    Endpoint ep;
    std::vector<SocketAddress> out;
    Outcome result;
    std::atomic<std::uint32_t> done{0};
};
std::atomic<bool> g_helper_busy{false};

bool numeric(const Endpoint& ep, SocketAddress& a) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
    if (::inet_pton(AF_INET, ep.host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(ep.port);
        a.size = sizeof(sockaddr_in);
        return true;
    }
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    if (::inet_pton(AF_INET6, ep.host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(ep.port);
        a.size = sizeof(sockaddr_in6);
        return true;
    }
    return false;
}

}  // namespace

unsigned long resolver_lookups() noexcept { return g_lookups.load(std::memory_order_relaxed); }

Outcome resolve(const Endpoint& ep, std::vector<SocketAddress>& out) {
    out.clear();
    SocketAddress a;
    if (ep.is_unix()) {
        auto* un = reinterpret_cast<sockaddr_un*>(&a.storage);
        if (ep.socket_path.size() >= sizeof un->sun_path) return {Result::invalid_argument};
        un->sun_family = AF_UNIX;
        std::memcpy(un->sun_path, ep.socket_path.data(), ep.socket_path.size());
        a.size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + ep.socket_path.size() + 1);
        out.push_back(a);
        return {};
    }
    if (numeric(ep, a)) {
        out.push_back(a);
        return {};
    }
    g_lookups.fetch_add(1, std::memory_order_relaxed);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* res = nullptr;
    const std::string service = std::to_string(ep.port);
    if (::getaddrinfo(ep.host.c_str(), service.c_str(), &hints, &res) != 0 || !res) {
        return {Result::connect_failed, EHOSTUNREACH};
    }
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof a.storage) continue;
        SocketAddress r;
        std::memcpy(&r.storage, ai->ai_addr, ai->ai_addrlen);
        r.size = ai->ai_addrlen;
        out.push_back(r);
    }
    ::freeaddrinfo(res);
    if (out.empty()) return {Result::connect_failed, EHOSTUNREACH};
    return {};
}

Outcome resolve_until(const Endpoint& ep, std::vector<SocketAddress>& out, Clock::time_point deadline) {
    bool idle = false;
    if (!g_helper_busy.compare_exchange_strong(idle, true, std::memory_order_acq_rel)) {
        return {Result::connect_timeout};
    }
    std::shared_ptr<Lookup> lookup;
    try {
        lookup = std::make_shared<Lookup>();
        lookup->ep = ep;
        std::thread([lookup] {
            lookup->result = resolve(lookup->ep, lookup->out);
            lookup->done.store(1, std::memory_order_release);
            word_wake(lookup->done, 1);
            g_helper_busy.store(false, std::memory_order_release);
        }).detach();
    } catch (...) {  // no memory, or no thread to be had
        g_helper_busy.store(false, std::memory_order_release);
        return {Result::no_memory};
    }
    // word_wait_until may wake early; the deadline alone ends the wait.
    while (lookup->done.load(std::memory_order_acquire) == 0) {
        if (!word_wait_until(lookup->done, 0, deadline)) {
            if (lookup->done.load(std::memory_order_acquire) != 0) break;
            return {Result::connect_timeout};  // the helper goes on alone; it owns its half
        }
    }
    out = std::move(lookup->out);
    return lookup->result;
}

}  // namespace mmc::engine
