// The configured alias files as one table that follows them: reloaded when a file changes
// (checked by a stat(2) of each, made off the event loops) or when asked (SIGHUP), without a
// restart. A file with a problem keeps the table in use and logs each problem with its line
// (observe::error, event=aliases-invalid).
//
// Threads: readers on any number of event loops take a copy of a shared_ptr to an immutable
// AliasTable; a reload builds a whole new table first and then swaps the pointer, so a reader
// sees the old table or the new one, never a mix, and a table in use by an expansion stays
// alive until that expansion lets go of it. The pointer is guarded by a mutex held only for
// that copy or that swap (a reference count's increment: no reader ever waits for a file to
// be read). std::atomic<std::shared_ptr> would say the same, but GCC 12's is a spin lock that
// ThreadSanitizer cannot follow, and a race detector that stays quiet is worth more here than
// the few nanoseconds. Reloads are serialised by a second mutex that no reader takes.
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "config/config.hpp"
#include "policy/alias_table.hpp"
#include "policy/local_domains.hpp"

namespace ehlo::policy {

// The files a configuration names, in the order they are read: [aliases] files, then each
// [[domain]]'s alias_file, then [aliases] virtual_files.
std::vector<AliasFileSpec> alias_files(const config::Config& config);

struct AliasLoad {
    std::shared_ptr<const AliasTable> table;  // null when there are problems
    std::vector<AliasProblem> problems;       // in file order
};

// Reads and checks the files now (file system work): syntax, keys of local domains, and
// targets of local domains that reach nothing (check_alias_targets).
AliasLoad load_alias_table(const std::vector<AliasFileSpec>& files, const LocalDomains& domains);

class AliasSource {
public:
    // Reads the files. Throws std::runtime_error listing the problems ("FILE:LINE: ...", one a
    // line) when they have any: a server must not start without the table it was given.
    AliasSource(std::vector<AliasFileSpec> files, const LocalDomains& domains);

    // Any thread, no system call: the table in use.
    std::shared_ptr<const AliasTable> table() const {
        std::lock_guard lock(table_mutex_);
        return table_;
    }
    const std::vector<AliasFileSpec>& files() const { return files_; }

    struct Reload {
        bool attempted = false;  // the files were read
        bool ok = true;          // the table in use is theirs (false: the old one was kept)
        std::vector<AliasProblem> problems;
    };
    // Reads the files now and swaps the new table in when they have no problem.
    Reload reload();
    // Stats each file; reloads when one has changed (modification time, size, inode) and has
    // stayed the same since the previous call, so that a file still being written is read
    // once it is complete. Called every second by Policy's background thread.
    Reload reload_if_changed();

private:
    struct FileState {
        bool exists = false;
        dev_t dev = 0;
        ino_t ino = 0;
        off_t size = 0;
        std::int64_t mtime_ns = 0;
        bool operator==(const FileState&) const = default;
    };
    std::vector<FileState> stat_files() const;
    Reload reload_locked(std::vector<FileState> before);

    std::vector<AliasFileSpec> files_;
    const LocalDomains& domains_;
    std::mutex reload_mutex_;
    std::vector<FileState> loaded_;                      // as read into the table in use
    std::optional<std::vector<FileState>> changed_;      // a change seen by the last check
    mutable std::mutex table_mutex_;
    std::shared_ptr<const AliasTable> table_;
};

}  // namespace ehlo::policy
