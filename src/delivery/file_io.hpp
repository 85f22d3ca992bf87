// Small POSIX file helpers for code that must know exactly which system calls it makes:
// the spool and the Maildir writer decide themselves when data reaches the disk, so they
// work on raw descriptors rather than streams that buffer behind their back.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <utility>

namespace ehlo::delivery {

// An owned file descriptor, closed on destruction.
class FileDescriptor {
public:
    FileDescriptor() = default;
    explicit FileDescriptor(int fd) : fd_(fd) {}
    ~FileDescriptor();
    FileDescriptor(FileDescriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    FileDescriptor& operator=(FileDescriptor&& other) noexcept;
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    // Closes now and reports the error: some file systems report write errors only here.
    std::error_code close();

private:
    int fd_ = -1;
};

// open(2) with O_CLOEXEC added; on failure the result is empty and `ec` says why.
FileDescriptor open_file(const std::filesystem::path& path, int flags, unsigned mode, std::error_code& ec);
// A directory opened for fsync(2) and syncfs(2).
FileDescriptor open_directory(const std::filesystem::path& path, std::error_code& ec);

// Writes all of `data`, continuing after short writes and EINTR.
std::error_code write_all(int fd, std::string_view data);
// The same with pwrite(2) from `offset` on.
std::error_code write_all_at(int fd, std::string_view data, std::uint64_t offset);
// ftruncate(2) to `length` when the file is longer (a no-op when it is not).
std::error_code truncate_to(int fd, std::uint64_t length);
// Reads up to `size` bytes; returns the count (0 at end of file) or -1 with `ec` set.
long read_some(int fd, char* buffer, std::size_t size, std::error_code& ec);

// mkdir(2) with `mode`; a directory that already exists is not an error.
std::error_code make_directory(const std::filesystem::path& path, unsigned mode);
// make_directory for `path` and each missing parent.
std::error_code make_directories(const std::filesystem::path& path, unsigned mode);

// unlink(2); a file that is already gone is not an error.
std::error_code remove_file(const std::filesystem::path& path);

// "what: path: strerror", for logs and state records.
std::string describe(std::string_view what, const std::filesystem::path& path, std::error_code ec);

}  // namespace ehlo::delivery
