// Least privilege for `ehlo serve`: started as root only to bind ports below 1024 and to read
// keys, the daemon hands its directories to [server] user, binds, and then becomes that user
// for good. See docs/security.md for what runs with which rights and why.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace ehlo::cli {

// The account the daemon runs as after the drop.
struct RunAs {
    std::string user;
    std::string group;
    uid_t uid = 0;
    gid_t gid = 0;
    // The only supplementary group kept: [control] group, to which the daemon gives its
    // control socket (only a member may).
    std::optional<gid_t> control_group;
};

// The account to become, when the process runs as root; nothing when it does not (it then runs
// as whoever started it, with nothing to drop). Throws std::runtime_error, saying what to do,
// when the user or group does not exist or is root's.
std::optional<RunAs> account_to_run_as(const config::Config& config);

// The id of a group by name. Throws std::runtime_error when there is none.
gid_t group_id(const std::string& name);

// As root, before the drop: makes `dir` exist (missing parents too, 0700) and gives it, with
// everything under it not already the account's, to `who` (symbolic links are not followed).
void hand_over_directory(const std::filesystem::path& dir, const RunAs& who);
// Gives an existing file (an open log file, a key made here) to `who`; no-op when it is absent.
void hand_over_file(const std::filesystem::path& file, const RunAs& who);

// Local submission's folders (config [sendmail]): the maildrop, mode 1733, and the pickup
// socket's folder, 0755, both the daemon's (`who`, when started as root), missing parents made
// 0755 and left root's. Only the folders themselves change hands: the files in the maildrop stay their
// writers' (their owner is the user the Received header names). Before hand_over_state, so
// that a parent shared with the spool is made reachable. Logs a parent others cannot pass.
void make_submission_folders(const config::Config& config, const std::optional<RunAs>& who);

// Everything the daemon writes to: the spool, the Maildir roots of local domains, the log file.
void hand_over_state(const config::Config& config, const RunAs& who);
// The files the daemon reads again after the drop: on SIGHUP (certificates, keys) or when they
// change (the users file, alias files).
std::vector<std::filesystem::path> files_read_again(const config::Config& config);

// Drops supplementary groups (but the control group), then the group, then the user, and checks that root cannot be
// regained. Throws std::runtime_error when any step fails: the caller must not go on.
void drop_privileges(const RunAs& who);

// After the drop: whether the daemon can still read `file`, which it reads again on SIGHUP
// or when it changes (a key, the users file, an alias file).
bool readable_now(const std::filesystem::path& file);

}  // namespace ehlo::cli
