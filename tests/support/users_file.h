// memcached's -Y users file ("alice:s3cret") in a temporary directory of its own, for
// the tests that authenticate. Both are readable by all: memcached drops to an
// unprivileged user when the tests run as root.
#ifndef MMC_TEST_USERS_FILE_H
#define MMC_TEST_USERS_FILE_H

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace mmc::test {

// Returns the users file's path, or "" when the directory could not be made; `dir`
// gets the directory, where a test may put files of its own (removed before it).
inline std::string make_users_file(std::string& dir) {
    char name[] = "/tmp/mmc-auth-XXXXXX";
    if (::mkdtemp(name) == nullptr) return {};
    dir = name;
    const std::string path = dir + "/users";
    std::ofstream(path) << "alice:s3cret\n";
    ::chmod(name, 0755);
    ::chmod(path.c_str(), 0644);
    return path;
}

// Removes what make_users_file() made.
inline void remove_users_file(const std::string& dir, const std::string& path) {
    if (!path.empty()) ::unlink(path.c_str());
    if (!dir.empty()) ::rmdir(dir.c_str());
}

}  // namespace mmc::test

#endif
