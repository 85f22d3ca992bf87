#include "policy/maildir_folder.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <string>

#include "config/mailbox_name.hpp"
#include "policy/local_domains.hpp"

namespace ehlo::policy {

namespace {

bool is_real_directory(const std::filesystem::path& p) {
    struct stat st{};
    return ::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);  // a symbolic link is not followed out
}

}  // namespace

bool is_folder_name(std::string_view name) {
    if (name.empty() || name.size() > config::kMaxMailboxName || name.front() == '.') return false;
    if (name.find("..") != std::string_view::npos) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
               c == '-';
    });
}

std::optional<std::filesystem::path> find_maildir_folder(const std::filesystem::path& maildir, std::string_view folder) {
    if (!is_folder_name(folder)) return std::nullopt;
    const std::string wanted = "." + std::string(folder);
    if (is_real_directory(maildir / wanted)) return maildir / wanted;
    // Another case: the one directory whose name matches case-insensitively.
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(maildir.c_str()), ::closedir);
    if (!d) return std::nullopt;
    const std::string key = lower(wanted);
    std::optional<std::filesystem::path> found;
    while (const dirent* e = ::readdir(d.get())) {
        const std::string_view name = e->d_name;
        if (name.size() != key.size() || lower(name) != key) continue;
        if (found) return std::nullopt;  // ".Lists" and ".LISTS": which one is meant cannot be told
        if (is_real_directory(maildir / name)) found = maildir / name;
    }
    return found;
}

}  // namespace ehlo::policy
