#include "delivery/maildir.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <memory>

#include "delivery/file_io.hpp"

namespace ehlo::delivery {
namespace {

bool entry_exists(const std::filesystem::path& p) {
    struct stat st{};
    return ::lstat(p.c_str(), &st) == 0;
}

// "<arrival_unix>.<queue_id>_<index>." : everything up to the host part. Neither the time
// nor the queue id contains a dot, so it ends at the second dot.
std::string_view unique_part(std::string_view name) {
    std::size_t first = name.find('.');
    std::size_t second = first == std::string_view::npos ? first : name.find('.', first + 1);
    return second == std::string_view::npos ? name : name.substr(0, second + 1);
}

}  // namespace

std::string maildir_safe_host(std::string_view hostname) {
    std::string out;
    out.reserve(hostname.size());
    for (char c : hostname) {
        if (c == '/')
            out += "\\057";
        else if (c == ':')
            out += "\\072";
        else
            out += c;
    }
    if (out.empty()) out = "localhost";
    return out;
}

std::string maildir_file_name(std::int64_t arrival_unix, std::string_view queue_id, std::size_t recipient_index,
                              std::string_view hostname) {
    std::string name = std::to_string(arrival_unix);
    name += '.';
    name += queue_id;
    name += '_';
    name += std::to_string(recipient_index);
    name += '.';
    name += maildir_safe_host(hostname);
    return name;
}

std::error_code ensure_maildir(const std::filesystem::path& maildir) {
    if (auto ec = make_directories(maildir, kMaildirDirectoryMode)) return ec;
    for (const auto& sub : {maildir_tmp(maildir), maildir_new(maildir), maildir_cur(maildir)})
        if (auto ec = make_directory(sub, kMaildirDirectoryMode)) return ec;
    return {};
}

MaildirListing::MaildirListing(const std::filesystem::path& maildir) {
    for (const auto& dir_path : {maildir_new(maildir), maildir_cur(maildir)}) {
        std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(dir_path.c_str()), ::closedir);
        if (!dir) continue;
        while (const dirent* entry = ::readdir(dir.get())) {
            std::string_view name(entry->d_name);
            if (name == "." || name == "..") continue;
            by_unique_part_.emplace(std::string(unique_part(name)), dir_path / std::string(name));
        }
    }
}

std::optional<std::filesystem::path> MaildirListing::find(std::string_view name) const {
    auto it = by_unique_part_.find(std::string(unique_part(name)));
    if (it == by_unique_part_.end()) return std::nullopt;
    return it->second;
}

std::optional<std::filesystem::path> find_delivered(const std::filesystem::path& maildir, std::string_view name,
                                                    bool scan) {
    auto in_new = maildir_new(maildir) / std::string(name);
    if (entry_exists(in_new)) return in_new;
    if (!scan) return std::nullopt;
    return MaildirListing(maildir).find(name);
}

}  // namespace ehlo::delivery
