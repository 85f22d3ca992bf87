#include "delivery/durability.hpp"

#include <unistd.h>

#include <cerrno>
#include <optional>

namespace ehlo::delivery {
namespace {

std::error_code result(int rc) { return rc == 0 ? std::error_code{} : std::error_code{errno, std::system_category()}; }

}  // namespace

// syncfs(2) reports write-back errors of the file system since Linux 5.8; before that it
// always succeeded, which is why the Fsync mode exists for those who cannot trust it.
std::error_code sync_filesystem(int fd) { return result(::syncfs(fd)); }
std::error_code sync_data(int fd) { return result(::fdatasync(fd)); }
std::error_code sync_all(int fd) { return result(::fsync(fd)); }

namespace {

// The decimal number at the front of `s`, consumed; nullopt without a digit (or absurdly long).
std::optional<unsigned> take_number(std::string_view& s) {
    unsigned value = 0;
    std::size_t i = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
        if (i == 6) return std::nullopt;
        value = value * 10 + static_cast<unsigned>(s[i] - '0');
    }
    if (i == 0) return std::nullopt;
    s.remove_prefix(i);
    return value;
}

}  // namespace

// Linux commit 735e4ae5ba28 ("vfs: track per-sb writeback errors and report them to syncfs"),
// first in 5.8.
bool syncfs_reports_errors(std::string_view release) {
    auto major = take_number(release);
    if (!major || release.empty() || release.front() != '.') return false;
    release.remove_prefix(1);
    auto minor = take_number(release);
    if (!minor) return false;
    return *major > 5 || (*major == 5 && *minor >= 8);
}

}  // namespace ehlo::delivery
