// ap_memcache_library_version(): the version the headers carried when this was built.
#include "ap_memcache.h"

namespace {

constexpr bool same(const char* a, const char* b) {
    return *a == *b && (*a == '\0' || same(a + 1, b + 1));
}

#define MMC_STRINGIFY2(x) #x
#define MMC_STRINGIFY(x) MMC_STRINGIFY2(x)
static_assert(same(AP_MEMCACHE_VERSION_STRING,
                   MMC_STRINGIFY(AP_MEMCACHE_VERSION_MAJOR) "." MMC_STRINGIFY(
                       AP_MEMCACHE_VERSION_MINOR) "." MMC_STRINGIFY(AP_MEMCACHE_VERSION_PATCH)),
              "AP_MEMCACHE_VERSION_STRING disagrees with the MAJOR/MINOR/PATCH numbers");

}  // namespace

extern "C" AP_MEMCACHE_DECLARE(const char*) ap_memcache_library_version(void) {
    return AP_MEMCACHE_VERSION_STRING;
}
