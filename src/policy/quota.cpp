#include "policy/quota.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <memory>
#include <vector>

namespace ehlo::policy {

namespace {

// Maildir++: a maildirsize larger than this is due for recalculation by its owner; its sum is
// then not trusted here either.
constexpr std::uintmax_t kMaildirsizeMaxTrusted = 5120;

// ",S=1234" in a Maildir++ file name: the message's size, so no stat(2) is needed.
std::optional<std::uint64_t> size_from_name(std::string_view name) {
    const std::size_t at = name.find(",S=");
    if (at == std::string_view::npos) return std::nullopt;
    const char* first = name.data() + at + 3;
    const char* last = name.data() + name.size();
    std::uint64_t size = 0;
    const auto [end, ec] = std::from_chars(first, last, size);
    if (ec != std::errc() || end == first) return std::nullopt;
    return size;
}

// Messages in one of new/ or cur/.
void scan_messages(const std::filesystem::path& dir, MaildirUsage& usage) {
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) return;
    while (const dirent* e = ::readdir(d.get())) {
        const std::string_view name = e->d_name;
        if (name.empty() || name.front() == '.') continue;
        std::uint64_t size = 0;
        if (auto from_name = size_from_name(name)) {
            size = *from_name;
        } else {
            struct stat st{};
            if (::fstatat(::dirfd(d.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
            size = static_cast<std::uint64_t>(st.st_size);
        }
        usage.bytes += size;
        usage.messages += 1;
    }
}

MaildirUsage scan_maildir(const std::filesystem::path& maildir) {
    MaildirUsage usage;
    scan_messages(maildir / "new", usage);
    scan_messages(maildir / "cur", usage);
    // Maildir++ folders: ".Name" directories beside new/ and cur/, each a Maildir.
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(maildir.c_str()), ::closedir);
    if (!d) return usage;
    while (const dirent* e = ::readdir(d.get())) {
        const std::string_view name = e->d_name;
        if (name.size() < 2 || name.front() != '.' || name == "..") continue;
        struct stat st{};
        if (::fstatat(::dirfd(d.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) continue;
        scan_messages(maildir / name / "new", usage);
        scan_messages(maildir / name / "cur", usage);
    }
    return usage;
}

// The sum of maildirsize's lines after the first (the quota definition), or nothing when the
// file is missing, too large or not made of "BYTES COUNT" lines.
std::optional<MaildirUsage> read_maildirsize(const std::filesystem::path& file) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(file, ec);
    if (ec || size > kMaildirsizeMaxTrusted) return std::nullopt;
    std::ifstream in(file, std::ios::binary);
    if (!in) return std::nullopt;
    std::string line;
    if (!std::getline(in, line)) return std::nullopt;  // the quota definition: the configuration decides here
    std::int64_t bytes = 0, messages = 0;
    while (std::getline(in, line)) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        const char* p = line.data();
        const char* end = line.data() + line.size();
        std::int64_t b = 0, m = 0;
        while (p < end && (*p == ' ' || *p == '\t')) ++p;  // numbers may be padded
        auto r1 = std::from_chars(p, end, b);
        if (r1.ec != std::errc()) return std::nullopt;
        p = r1.ptr;
        while (p < end && (*p == ' ' || *p == '\t')) ++p;
        auto r2 = std::from_chars(p, end, m);
        if (r2.ec != std::errc()) return std::nullopt;
        p = r2.ptr;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) ++p;
        if (p != end) return std::nullopt;
        bytes += b;
        messages += m;
    }
    // Lines may be negative (deletions); a sum below zero is a damaged file, read as empty.
    return MaildirUsage{static_cast<std::uint64_t>(std::max<std::int64_t>(bytes, 0)),
                        static_cast<std::uint64_t>(std::max<std::int64_t>(messages, 0))};
}

}  // namespace

bool over_quota(const MaildirUsage& usage, const config::Quota& limit, std::uint64_t size) {
    if (limit.bytes != 0 && (usage.bytes >= limit.bytes || size > limit.bytes - usage.bytes)) return true;
    return limit.messages != 0 && usage.messages >= limit.messages;
}

MaildirUsage read_maildir_usage(const std::filesystem::path& maildir, const config::Quota& limit,
                                std::filesystem::file_time_type now) {
    const auto file = maildir / "maildirsize";
    if (auto summed = read_maildirsize(file)) {
        std::error_code ec;
        const auto written = std::filesystem::last_write_time(file, ec);
        const bool old = ec || now - written > kMaildirsizeTrustAge;
        if (!(over_quota(*summed, limit, 0) && old)) return *summed;
    }
    return scan_maildir(maildir);
}

QuotaCache::QuotaCache(std::chrono::seconds lifetime, Clock clock) : lifetime_(lifetime), clock_(std::move(clock)) {}

std::chrono::steady_clock::time_point QuotaCache::now() const {
    return clock_ ? clock_() : std::chrono::steady_clock::now();
}

void QuotaCache::make_room_locked() const {
    if (entries_.size() < kMaxQuotaEntries) return;
    // Drop the figures read longest ago (a tenth of them), not the ones asked for.
    std::vector<std::pair<std::chrono::steady_clock::time_point, std::string>> by_age;
    by_age.reserve(entries_.size());
    for (const auto& [path, entry] : entries_) {
        if (!entry.wanted) by_age.emplace_back(entry.read_at, path);
    }
    const std::size_t drop = std::min(by_age.size(), std::max<std::size_t>(1, kMaxQuotaEntries / 10));
    std::partial_sort(by_age.begin(), by_age.begin() + static_cast<std::ptrdiff_t>(drop), by_age.end());
    for (std::size_t i = 0; i < drop; ++i) entries_.erase(by_age[i].second);
}

std::optional<MaildirUsage> QuotaCache::cached(const std::filesystem::path& maildir, const config::Quota& limit) const {
    const auto t = now();
    std::lock_guard lock(mutex_);
    auto it = entries_.find(maildir.native());
    if (it == entries_.end()) {
        make_room_locked();
        if (entries_.size() >= kMaxQuotaEntries) return std::nullopt;  // all asked for: try again later
        it = entries_.emplace(maildir.native(), Entry{}).first;
    }
    Entry& e = it->second;
    e.limit = limit;
    const bool stale = !e.usage || t - e.read_at >= lifetime_;
    if (stale && !e.wanted) {
        e.wanted = true;
        ++wanted_;
    }
    return e.usage;
}

bool QuotaCache::pending() const {
    std::lock_guard lock(mutex_);
    return wanted_ > 0;
}

std::size_t QuotaCache::refresh_due() {
    std::vector<std::pair<std::string, config::Quota>> due;
    {
        std::lock_guard lock(mutex_);
        if (wanted_ == 0) return 0;
        for (const auto& [path, entry] : entries_) {
            if (entry.wanted) due.emplace_back(path, entry.limit);
        }
    }
    for (const auto& [path, limit] : due) refresh(path, limit);
    return due.size();
}

MaildirUsage QuotaCache::refresh(const std::filesystem::path& maildir, const config::Quota& limit) {
    const MaildirUsage usage = read_maildir_usage(maildir, limit);  // outside the lock: the slow part
    const auto t = now();
    std::lock_guard lock(mutex_);
    auto it = entries_.find(maildir.native());
    if (it == entries_.end()) {
        make_room_locked();
        it = entries_.emplace(maildir.native(), Entry{}).first;
    }
    Entry& e = it->second;
    e.usage = usage;
    e.limit = limit;
    e.read_at = t;
    if (e.wanted) {
        e.wanted = false;
        --wanted_;
    }
    return usage;
}

void QuotaCache::add(const std::filesystem::path& maildir, std::uint64_t bytes) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(maildir.native());
    if (it == entries_.end() || !it->second.usage) return;  // not read yet: the reading will count it
    it->second.usage->bytes += bytes;
    it->second.usage->messages += 1;
}

}  // namespace ehlo::policy
