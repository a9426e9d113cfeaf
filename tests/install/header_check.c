/* Compiled as C89 and as C99 with -pedantic -Werror (tests/install/CMakeLists.txt):
 * the installed headers must build in any C a module or program is written in. Run, it
 * prints the library's version, which CTest compares with the project's. */
#ifdef MMC_CHECK_MODULE_HEADER
#include "httpd.h"
#include "mod_memcache.h"
#else
#include "ap_memcache.h"
#endif
#include <stdio.h>
#include <string.h>

int main(void)
{
    const char *v = ap_memcache_library_version();
    apr_memcache_server_status_t status = APR_MC_SERVER_LIVE;
    if (strcmp(v, AP_MEMCACHE_VERSION_STRING) != 0) {
        printf("library %s, header %s\n", v, AP_MEMCACHE_VERSION_STRING);
        return 1;
    }
    printf("%s %d\n", v, (int)status);
    return 0;
}
