// Benchmarking servers the user already runs (mmc_bench --servers): the list they give,
// a random namespace for the bench's keys, and removing those keys again afterwards.
// Nothing here starts, stops or flushes a server.
#ifndef MMC_BENCH_FLEET_H
#define MMC_BENCH_FLEET_H

#include <cstddef>
#include <string>
#include <vector>

#include "bench_client.h"
#include "workloads.h"

namespace mmc::bench {

// Parses "host:port,[v6]:port,/path/to/socket,..." into endpoints (a socket path has
// port 0). "" on success, else what is wrong with which entry.
std::string parse_fleet(const std::string& list, std::vector<Endpoint>& out);

// "mmcbench:<16 hex digits>:": a prefix no other run (and no application) uses, so the
// bench only ever reads, writes and deletes keys of its own.
std::string random_key_prefix();

// Deletes every key workload w may have stored from every server (each client places a
// key by its own distribution, so a key may be on any of them). Counts the deletes that
// found a key in `deleted`; "" on success, else the first failure.
std::string delete_workload_keys(const std::vector<Endpoint>& servers, const Workload& w,
                                 std::size_t& deleted);

// SIGINT, SIGTERM and SIGHUP set a flag instead of ending the process, so that a run
// against the user's servers can stop between steps and still delete its keys.
void catch_interrupts();
bool interrupted();

}  // namespace mmc::bench

#endif
