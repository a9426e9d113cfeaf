// Where the httpd tests find apache2, its modules and ours (set by CMake).
#ifndef MMC_TEST_HTTPD_TEST_OPTIONS_H
#define MMC_TEST_HTTPD_TEST_OPTIONS_H

#include "httpd_process.h"

#include <string>

namespace mmc::test {

inline HttpdOptions module_options(const std::string& mpm = "event") {
    HttpdOptions o;
    o.httpd_bin = MMC_HTTPD_BIN;
    o.modules_dir = MMC_HTTPD_MODULES_DIR;
    o.mpm = mpm;
    o.mod_memcache = MMC_MOD_MEMCACHE_PATH;
    o.mod_memcache_example = MMC_MOD_EXAMPLE_PATH;
    return o;
}

}  // namespace mmc::test

#endif
