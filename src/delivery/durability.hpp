// How written files become durable. Both the spool and the Maildir writer make a whole batch
// of files durable at once rather than one file at a time: a sync costs about as much for a
// thousand files as for one, so batching is what makes "250 only when it is on disk" cheap.
#pragma once

#include <functional>
#include <string_view>
#include <system_error>

namespace ehlo::delivery {

enum class SyncMode {
    // One syncfs(2) for the file system: data, inodes and directory entries of every file
    // written so far, in one call.
    Syncfs,
    // fdatasync(2) of each file, then fsync(2) of each directory whose entries changed.
    Fsync,
};

// Called once for every sync system call made (metrics; tests count them).
using SyncObserver = std::function<void()>;

std::error_code sync_filesystem(int fd);  // syncfs(2) of the file system holding `fd`
std::error_code sync_data(int fd);        // fdatasync(2)
std::error_code sync_all(int fd);         // fsync(2), for directories

// Whether syncfs(2) reports write-back errors on a kernel of this release (uname -r, such as
// "6.1.0-18-amd64" or "5.7.0-rc1"): Linux 5.8 and newer do; older ones return 0 even when the
// data was lost, so Syncfs is not safe there. A release that cannot be read counts as old.
bool syncfs_reports_errors(std::string_view kernel_release);

}  // namespace ehlo::delivery
