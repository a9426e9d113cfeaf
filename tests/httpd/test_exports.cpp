// What mod_memcache.so exports. httpd loads modules RTLD_GLOBAL next to apr-util (and
// its apr_memcache_*), other modules and their C++ runtimes: anything beyond the module
// struct and the documented API could bind to, or be bound by, somebody else's code.
#include "httpd_process.h"

#include <gtest/gtest.h>

#include <set>
#include <sstream>

namespace mmc::test {
namespace {

// Defined dynamic symbols of a shared object, without the linker's own markers.
std::set<std::string> exported_symbols(const std::string& so, std::string& diagnostics) {
    CommandResult r = run_command({MMC_NM_BIN, "-D", "--defined-only", so});
    diagnostics = r.output;
    std::set<std::string> names;
    if (r.exit_code != 0) return names;
    static const std::set<std::string> linker_symbols = {"_init", "_fini", "_edata", "_end",
                                                         "__bss_start"};
    std::istringstream lines(r.output);
    std::string address, type, name;
    while (lines >> address >> type >> name) {
        if (!linker_symbols.count(name)) names.insert(name);
    }
    return names;
}

bool is_api_name(const std::string& name) {
    return name == "memcache_module" || name == "ap_memcace_serverhash" ||
           name.rfind("ap_memcache_", 0) == 0;
}

TEST(ModuleExports, OnlyTheModuleStructAndTheApi) {
    std::string nm_output;
    auto names = exported_symbols(MMC_MOD_MEMCACHE_PATH, nm_output);
    ASSERT_FALSE(names.empty()) << nm_output;
    for (const auto& name : names) {
        EXPECT_TRUE(is_api_name(name)) << "unexpected export: " << name;
        EXPECT_NE(name.rfind("apr_memcache_", 0), 0u) << name;
        EXPECT_NE(name.rfind("_Z", 0), 0u) << "C++ symbol exported: " << name;
    }
}

TEST(ModuleExports, IncludeEveryFunctionOfTheModuleApi) {
    std::string nm_output;
    auto names = exported_symbols(MMC_MOD_MEMCACHE_PATH, nm_output);
    for (const char* name : {"memcache_module", "ap_memcache_client", "ap_memcache_serverhash",
                             "ap_memcace_serverhash", "ap_memcache_create", "ap_memcache_set",
                             "ap_memcache_getp", "ap_memcache_multgetp", "ap_memcache_strerror",
                             "ap_memcache_set_replicas", "ap_memcache_set_replica_repair",
                             "ap_memcache_server_replica_stats"}) {
        EXPECT_TRUE(names.count(name)) << name << " is not exported:\n" << nm_output;
    }
}

TEST(ModuleExports, TheExampleExportsOnlyItsModuleStruct) {
    std::string nm_output;
    auto names = exported_symbols(MMC_MOD_EXAMPLE_PATH, nm_output);
    EXPECT_EQ(names, std::set<std::string>{"memcache_example_module"}) << nm_output;
}

}  // namespace
}  // namespace mmc::test
