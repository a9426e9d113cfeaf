// The installed header compiled as C++ with -pedantic -Werror: an httpd module or a
// program written in C++ includes it as is.
#include "ap_memcache.h"

#include <cstdio>
#include <cstring>

int main() {
    const char* v = ap_memcache_library_version();
    if (std::strcmp(v, AP_MEMCACHE_VERSION_STRING) != 0) {
        std::printf("library %s, header %s\n", v, AP_MEMCACHE_VERSION_STRING);
        return 1;
    }
    std::printf("%s %d\n", v, static_cast<int>(APR_MC_SERVER_LIVE));
    return 0;
}
