#include "cli/privileges.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "observe/log.hpp"

namespace ehlo::cli {
namespace {

std::runtime_error failure(const std::string& what) {
    return std::runtime_error(what + ": " + std::strerror(errno));
}

// The buffer getpwnam_r and getgrnam_r fill; the system's hint, or a size that always does.
std::vector<char> entry_buffer(int which) {
    const long hint = ::sysconf(which);
    return std::vector<char>(hint > 0 ? static_cast<std::size_t>(hint) : 16384);
}


}  // namespace

std::optional<RunAs> account_to_run_as(const config::Config& config) {
    if (::geteuid() != 0) return std::nullopt;
    RunAs who;
    who.user = config.server.user;
    passwd pw{};
    passwd* found = nullptr;
    auto buffer = entry_buffer(_SC_GETPW_R_SIZE_MAX);
    const int e = ::getpwnam_r(who.user.c_str(), &pw, buffer.data(), buffer.size(), &found);
    if (e != 0 || !found) {
        throw std::runtime_error("started as root, ehlo runs as [server] user \"" + who.user +
                                 "\" once its ports are bound, and there is no such user (create it: "
                                 "useradd --system --user-group --no-create-home --shell /usr/sbin/nologin " +
                                 who.user + "; `make run` does)");
    }
    if (found->pw_uid == 0) {
        throw std::runtime_error("[server] user \"" + who.user + "\" is root's account (uid 0): ehlo does not run as root");
    }
    who.uid = found->pw_uid;
    who.gid = found->pw_gid;
    if (!config.server.group.empty()) {
        who.group = config.server.group;
        who.gid = group_id(who.group);
    } else {
        group gr{};
        group* g = nullptr;
        auto gbuffer = entry_buffer(_SC_GETGR_R_SIZE_MAX);
        who.group = ::getgrgid_r(who.gid, &gr, gbuffer.data(), gbuffer.size(), &g) == 0 && g ? g->gr_name
                                                                                              : std::to_string(who.gid);
    }
    if (!config.control.group.empty()) who.control_group = group_id(config.control.group);
    if (who.control_group == gid_t{0})
        throw std::runtime_error("[control] group \"" + config.control.group + "\" is root's group (gid 0): the daemon does not keep it");
    if (who.gid == 0) throw std::runtime_error("[server] group \"" + who.group + "\" is root's group (gid 0): ehlo does not run with it");
    return who;
}

gid_t group_id(const std::string& name) {
    group gr{};
    group* found = nullptr;
    auto buffer = entry_buffer(_SC_GETGR_R_SIZE_MAX);
    const int e = ::getgrnam_r(name.c_str(), &gr, buffer.data(), buffer.size(), &found);
    if (e != 0 || !found) throw std::runtime_error("there is no group \"" + name + "\"");
    return found->gr_gid;
}

namespace {

constexpr int kMaxDepth = 16;  // the spool is two levels deep, a Maildir three

// Gives the inode `fd` (opened O_PATH, so never through a symbolic link) to `who`: a tree
// the account can write to must not trick root into giving away something else.
void give_inode(int fd, const struct stat& st, const std::string& shown, const RunAs& who) {
    if (st.st_uid == who.uid && st.st_gid == who.gid) return;
    if (::fchownat(fd, "", who.uid, who.gid, AT_EMPTY_PATH) != 0) throw failure("cannot give " + shown + " to " + who.user);
}

// Everything under the directory `dirfd`, walked by file descriptor (no path is resolved
// again, so a directory swapped for a link mid-walk leads nowhere). Links are left as they
// are, and so is a file with more than one name: it may be a hard link to a file of root's.
void give_tree(int dirfd, const std::string& shown, const RunAs& who, int depth) {
    if (depth > kMaxDepth) return;
    const int listing = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (listing < 0) throw failure("cannot read " + shown);
    DIR* d = ::fdopendir(listing);
    if (!d) {
        ::close(listing);
        throw failure("cannot read " + shown);
    }
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(d)) {
        const std::string_view name = e->d_name;
        if (name != "." && name != "..") names.emplace_back(name);
    }
    ::closedir(d);
    for (const auto& name : names) {
        const std::string path = shown + "/" + name;
        const int fd = ::openat(dirfd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) continue;  // gone meanwhile
        struct stat st {};
        if (::fstat(fd, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                give_inode(fd, st, path, who);
                const int sub = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                struct stat again {};
                if (sub >= 0 && ::fstat(sub, &again) == 0 && again.st_ino == st.st_ino && again.st_dev == st.st_dev) {
                    try {
                        give_tree(sub, path, who, depth + 1);
                    } catch (...) {
                        ::close(sub);
                        ::close(fd);
                        throw;
                    }
                }
                if (sub >= 0) ::close(sub);
            } else if (!S_ISLNK(st.st_mode) && st.st_nlink == 1) {
                give_inode(fd, st, path, who);
            }
        }
        ::close(fd);
    }
}

}  // namespace

void hand_over_directory(const std::filesystem::path& dir, const RunAs& who) {
    // The missing parents are made here, so they are ours to give too; existing ones are the
    // administrator's and stay as they are.
    std::vector<std::filesystem::path> missing;
    for (auto p = std::filesystem::absolute(dir); !p.empty(); p = p.parent_path()) {
        struct stat st {};
        if (::lstat(p.c_str(), &st) == 0) break;
        missing.push_back(p);
        if (p == p.parent_path()) break;
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
        if (::mkdir(it->c_str(), 0700) != 0 && errno != EEXIST) throw failure("cannot create " + it->string());
        if (::lchown(it->c_str(), who.uid, who.gid) != 0) throw failure("cannot give " + it->string() + " to " + who.user);
    }
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) throw failure("cannot open the directory " + dir.string());
    struct stat st {};
    try {
        if (::fstat(fd, &st) != 0) throw failure("cannot read " + dir.string());
        give_inode(fd, st, dir.string(), who);
        give_tree(fd, dir.string(), who, 0);
    } catch (...) {
        ::close(fd);
        throw;
    }
    ::close(fd);
}

void make_submission_folders(const config::Config& config, const std::optional<RunAs>& who) {
    auto make = [&](const std::filesystem::path& dir, mode_t mode) {
        std::vector<std::filesystem::path> missing;
        for (auto p = std::filesystem::absolute(dir).lexically_normal(); !p.empty(); p = p.parent_path()) {
            struct stat st {};
            if (::lstat(p.c_str(), &st) == 0) {
                if ((st.st_mode & S_IXOTH) == 0 && p != std::filesystem::absolute(dir).lexically_normal())
                    observe::warn("sendmail-unreachable", {{"folder", p.string()},
                                                           {"note", "other users cannot pass it, so only its owner may use sendmail: chmod o+x"}});
                break;
            }
            missing.push_back(p);
            if (p == p.parent_path()) break;
        }
        // Missing parents stay root's (0755): only the folder itself becomes the daemon's. Each
        // is changed through a descriptor opened without following a link, its mode before its
        // owner, so that nothing the daemon's account could swap in is ever chmod'ed by root.
        for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
            if (::mkdir(it->c_str(), 0755) != 0 && errno != EEXIST) throw failure("cannot create " + it->string());
            const int fd = ::open(it->c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            // mkdir's mode passes the umask; the folders' modes are what is promised.
            const bool ok = fd >= 0 && ::fchmod(fd, 0755) == 0;
            if (fd >= 0) ::close(fd);
            if (!ok) throw failure("cannot set the mode of " + it->string());
        }
        const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) throw failure("cannot open the directory " + dir.string());
        struct stat st {};
        const bool ok = ::fstat(fd, &st) == 0 && ((st.st_mode & 07777) == mode || ::fchmod(fd, mode) == 0) &&
                        (!who || st.st_uid == who->uid || ::fchown(fd, who->uid, who->gid) == 0);
        ::close(fd);
        if (!ok) throw failure("cannot give " + dir.string() + " its owner and mode");
    };
    make(config::maildrop_path(config), 01733);
    make(config::pickup_socket_path(config).parent_path(), 0755);
}

void hand_over_file(const std::filesystem::path& file, const RunAs& who) {
    const int fd = ::open(file.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1) {
        try {
            give_inode(fd, st, file.string(), who);
        } catch (...) {
            ::close(fd);
            throw;
        }
    }
    ::close(fd);
}

void hand_over_state(const config::Config& config, const RunAs& who) {
    hand_over_directory(config.spool.path, who);
    for (const auto& domain : config.domains)
        if (!domain.maildir_root.empty()) hand_over_directory(domain.maildir_root, who);
    if (!config.log.file.empty()) hand_over_file(config.log.file, who);
}

std::vector<std::filesystem::path> files_read_again(const config::Config& config) {
    std::vector<std::filesystem::path> files;
    for (const auto& c : config.tls.certificates) {
        files.emplace_back(c.chain);
        files.emplace_back(c.key);
    }
    if (!config.auth.users_file.empty()) files.emplace_back(config.auth.users_file);
    for (const auto& f : config.aliases.files) files.emplace_back(f);
    for (const auto& f : config.aliases.virtual_files) files.emplace_back(f);
    for (const auto& d : config.domains)
        if (!d.alias_file.empty()) files.emplace_back(d.alias_file);
    return files;
}

void drop_privileges(const RunAs& who) {
    // setgroups, setgid and setuid act on every thread of the process (glibc signals each
    // one), so threads started earlier (DNS, password hashing) are dropped with it.
    const gid_t kept = who.control_group.value_or(0);
    if (::setgroups(who.control_group ? 1 : 0, who.control_group ? &kept : nullptr) != 0)
        throw failure("cannot drop the supplementary groups");
    if (::setgid(who.gid) != 0) throw failure("cannot become group " + who.group);
    if (::setuid(who.uid) != 0) throw failure("cannot become user " + who.user);
    if (::getuid() != who.uid || ::geteuid() != who.uid || ::getgid() != who.gid || ::getegid() != who.gid)
        throw std::runtime_error("the ids after the drop are not " + who.user + "'s");
    // setuid as root changes the saved id too; should it not have, root would be one call away.
    if (::setuid(0) == 0 || ::seteuid(0) == 0) throw std::runtime_error("root could be regained after the drop");
}

bool readable_now(const std::filesystem::path& file) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ::close(fd);
    return true;
}

}  // namespace ehlo::cli
