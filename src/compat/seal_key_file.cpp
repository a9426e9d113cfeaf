// The key file of sealed values: reading it safely (a regular file that others may not
// read or write, at most 64 KiB, held in a Secret so that it is wiped once parsed) and
// parsing its lines into keys.
// The ring itself is built and used in seal.cpp.
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compat/seal.h"

namespace mmc::compat::seal {

namespace {

int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool id_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

bool blank(char c) noexcept { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (blank(s.front()) || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (blank(s.back()) || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

}  // namespace

std::unique_ptr<Keyring> Keyring::parse(std::string_view text, std::string& err) {
    std::vector<Key> keys;
    std::size_t lineno = 0;
    auto fail = [&](const std::string& why) {
        err = "line " + std::to_string(lineno) + ": " + why;
        return nullptr;
    };
    while (!text.empty()) {
        ++lineno;
        const std::size_t nl = text.find('\n');
        std::string_view line = trim(text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (line.empty() || line.front() == '#') continue;

        std::size_t sp = 0;
        while (sp < line.size() && !blank(line[sp])) ++sp;
        const std::string_view id = line.substr(0, sp);
        const std::string_view hex = trim(line.substr(sp));
        if (id.size() > kMaxKeyIdSize) {
            return fail("key id longer than " + std::to_string(kMaxKeyIdSize) + " characters");
        }
        for (char c : id) {
            if (!id_char(c)) return fail("key id may hold only letters, digits, '-', '_' and '.'");
        }
        if (hex.empty()) return fail("expected '<key-id> <64 hex digits>'");
        if (hex.size() != 2 * kKeySize) {
            return fail("key '" + std::string(id) + "' has " + std::to_string(hex.size()) +
                        " characters, expected 64 hex digits (openssl rand -hex 32)");
        }
        for (const Key& k : keys) {
            if (k.id == id) return fail("key id '" + std::string(id) + "' appears twice");
        }
        if (keys.size() == kMaxKeys) return fail("more than " + std::to_string(kMaxKeys) + " keys");
        Key key;
        key.id = std::string(id);
        for (std::size_t i = 0; i < kKeySize; ++i) {
            const int hi = hex_digit(hex[2 * i]);
            const int lo = hex_digit(hex[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                return fail("key '" + key.id + "' is not hexadecimal");
            }
            key.bytes.udata()[i] = static_cast<unsigned char>(hi << 4 | lo);
        }
        keys.push_back(std::move(key));
    }
    if (keys.empty()) {
        err = "no key: expected lines '<key-id> <64 hex digits>'";
        return nullptr;
    }
    return make(std::move(keys), err);
}

std::unique_ptr<Keyring> Keyring::load(const char* path, std::string& err, int* sys_error) {
    int ignored = 0;
    int& sys = sys_error ? *sys_error : ignored;
    sys = 0;
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        sys = errno;
        err = std::string("cannot open: ") + std::strerror(sys);
        return nullptr;
    }
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        sys = errno;
        err = std::string("cannot stat: ") + std::strerror(sys);
        return nullptr;
    }
    if (!S_ISREG(st.st_mode)) {
        err = "not a regular file";
        return nullptr;
    }
    if (st.st_mode & (S_IROTH | S_IWOTH)) {
        err = "others may read or write it: make it readable by its owner (and group) only, "
              "e.g. chmod 600";
        return nullptr;
    }
    // A key file is a few lines; anything larger is not one.
    constexpr off_t kMaxFile = 64 * 1024;
    if (st.st_size > kMaxFile) {
        err = "larger than 64 KiB: not a key file";
        return nullptr;
    }
    // In a Secret: wiped whichever way this function returns.
    engine::Secret text(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < text.size()) {
        const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            sys = errno;
            err = std::string("cannot read: ") + std::strerror(sys);
            return nullptr;
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    return parse(text.view().substr(0, got), err);
}

}  // namespace mmc::compat::seal
