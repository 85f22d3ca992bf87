#include "delivery/file_io.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ehlo::delivery {
namespace {

std::error_code last_error() { return {errno, std::system_category()}; }

}  // namespace

FileDescriptor::~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
}

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

std::error_code FileDescriptor::close() {
    if (fd_ < 0) return {};
    // Linux releases the descriptor even when close fails, so it must not be retried.
    int rc = ::close(std::exchange(fd_, -1));
    return rc == 0 ? std::error_code{} : last_error();
}

FileDescriptor open_file(const std::filesystem::path& path, int flags, unsigned mode, std::error_code& ec) {
    int fd;
    do {
        fd = ::open(path.c_str(), flags | O_CLOEXEC, static_cast<mode_t>(mode));
    } while (fd < 0 && errno == EINTR);
    ec = fd < 0 ? last_error() : std::error_code{};
    return FileDescriptor(fd);
}

FileDescriptor open_directory(const std::filesystem::path& path, std::error_code& ec) {
    return open_file(path, O_RDONLY | O_DIRECTORY, 0, ec);
}

std::error_code write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return last_error();
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

std::error_code write_all_at(int fd, std::string_view data, std::uint64_t offset) {
    while (!data.empty()) {
        ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            return last_error();
        }
        data.remove_prefix(static_cast<std::size_t>(n));
        offset += static_cast<std::uint64_t>(n);
    }
    return {};
}

std::error_code truncate_to(int fd, std::uint64_t length) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return last_error();
    if (static_cast<std::uint64_t>(st.st_size) <= length) return {};
    if (::ftruncate(fd, static_cast<off_t>(length)) != 0) return last_error();
    return {};
}

long read_some(int fd, char* buffer, std::size_t size, std::error_code& ec) {
    for (;;) {
        ssize_t n = ::read(fd, buffer, size);
        if (n >= 0) {
            ec.clear();
            return static_cast<long>(n);
        }
        if (errno != EINTR) {
            ec = last_error();
            return -1;
        }
    }
}

std::error_code make_directory(const std::filesystem::path& path, unsigned mode) {
    if (::mkdir(path.c_str(), static_cast<mode_t>(mode)) == 0) return {};
    if (errno == EEXIST) {
        struct stat st{};
        if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return {};
        return std::make_error_code(std::errc::not_a_directory);
    }
    return last_error();
}

std::error_code make_directories(const std::filesystem::path& path, unsigned mode) {
    std::error_code ec = make_directory(path, mode);
    if (ec != std::errc::no_such_file_or_directory) return ec;
    auto parent = path.parent_path();
    if (parent.empty() || parent == path) return ec;
    if (auto pec = make_directories(parent, mode)) return pec;
    return make_directory(path, mode);
}

std::error_code remove_file(const std::filesystem::path& path) {
    if (::unlink(path.c_str()) == 0 || errno == ENOENT) return {};
    return last_error();
}

std::string describe(std::string_view what, const std::filesystem::path& path, std::error_code ec) {
    std::string s(what);
    s += ' ';
    s += path.string();
    s += ": ";
    s += ec.message();
    return s;
}

}  // namespace ehlo::delivery
