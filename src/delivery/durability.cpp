#include "delivery/durability.hpp"

#include <cerrno>
#include <unistd.h>

namespace ehlo::delivery {
namespace {

std::error_code result(int rc) { return rc == 0 ? std::error_code{} : std::error_code{errno, std::system_category()}; }

}  // namespace

// syncfs(2) reports write-back errors of the file system since Linux 5.8; before that it
// always succeeded, which is why the Fsync mode exists for those who cannot trust it.
std::error_code sync_filesystem(int fd) { return result(::syncfs(fd)); }
std::error_code sync_data(int fd) { return result(::fdatasync(fd)); }
std::error_code sync_all(int fd) { return result(::fsync(fd)); }

}  // namespace ehlo::delivery
