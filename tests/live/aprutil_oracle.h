// apr-util's own apr_memcache, used by tests only as an oracle of where it places keys.
// Kept in its own translation unit: apr_memcache.h and mod_memcache.h exclude each other.
#ifndef MMC_TEST_APRUTIL_ORACLE_H
#define MMC_TEST_APRUTIL_ORACLE_H

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace mmc::test {

class AprUtilOracle {
public:
    // A client of apr-util with servers 127.0.0.1:<port> in this order; nothing connects.
    explicit AprUtilOracle(const std::vector<unsigned short>& ports);
    ~AprUtilOracle();
    // Index (into ports) of the server apr-util picks for key.
    std::size_t owner(const std::string& key) const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace mmc::test

#endif
