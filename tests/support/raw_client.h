// A deliberately simple blocking text-protocol client used by tests to look at a
// memcached server directly, bypassing the client under test.
#ifndef MMC_TEST_RAW_CLIENT_H
#define MMC_TEST_RAW_CLIENT_H

#include <optional>
#include <string>

namespace mmc::test {

class RawClient {
public:
    explicit RawClient(unsigned short port);
    ~RawClient();
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

    bool connected() const { return fd_ >= 0; }
    // Sends bytes as they are and returns the reply up to and including the first line
    // that ends a reply (END, STORED, DELETED, ...), or what arrived within 2 s.
    std::string command(const std::string& bytes);
    // The value of key, or nullopt on a miss.
    std::optional<std::string> get(const std::string& key);
    bool set(const std::string& key, const std::string& value, unsigned flags = 0);
    // "STAT <name> <value>" of the general stats.
    std::optional<std::string> stat(const std::string& name);
    // A numeric statistic, -1 when absent.
    long long number(const std::string& name);
    // The same once it has stopped changing (e.g. curr_connections while the server
    // still tears down connections that just closed), or after about a second.
    long long settled_number(const std::string& name);

private:
    int fd_ = -1;
};

}  // namespace mmc::test

#endif
