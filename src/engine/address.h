// Where a server is, as socket addresses: a host name is resolved once (per process, and
// again only after the server has failed), so DNS is not on every connect's path.
#ifndef MMC_ENGINE_ADDRESS_H
#define MMC_ENGINE_ADDRESS_H

#include <sys/socket.h>

#include <vector>

#include "engine/options.h"
#include "engine/outcome.h"

namespace mmc::engine {

struct SocketAddress {
    sockaddr_storage storage{};
    socklen_t size = 0;

    int family() const noexcept { return storage.ss_family; }
    const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
};

// The addresses of `ep`, in the resolver's order: a unix socket path or a numeric
// address without any lookup, a host name through getaddrinfo (whose wait is the
// system resolver's, configured in resolv.conf, not ours). connect_failed with
// EHOSTUNREACH when a name has no address, invalid_argument for a socket path too long
// for sockaddr_un.
Outcome resolve(const Endpoint& ep, std::vector<SocketAddress>& out);

// As resolve, but the caller waits only until `deadline` (then connect_timeout) while
// a helper thread does the lookup. For a process forked while one of our lookups was
// under way (fork_guard.h): the C library's resolver lock may have been copied taken,
// and a lookup on the caller's thread would then wait for ever. One helper at a time:
// while one is still running (perhaps for ever), further calls fail at once.
Outcome resolve_until(const Endpoint& ep, std::vector<SocketAddress>& out, Clock::time_point deadline);

// How many getaddrinfo lookups this process has made (for tests and diagnostics).
unsigned long resolver_lookups() noexcept;

}  // namespace mmc::engine

#endif
