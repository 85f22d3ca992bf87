#include "policy/credentials.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include "policy/password_hash.hpp"

namespace ehlo::policy {
namespace {

constexpr std::size_t kMaxUserName = 255;
constexpr std::uintmax_t kMaxFileSize = 64u << 20;  // a million users fit
// A changed file is noticed within this time, and stat(2) is called no more often.
constexpr auto kCheckInterval = std::chrono::seconds(1);

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (true) {
        const std::size_t end = s.find(sep, start);
        out.emplace_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
        if (end == std::string_view::npos) return out;
        start = end + 1;
    }
}

bool is_sender(std::string_view s) {
    const std::size_t at = s.find('@');
    return !s.empty() && at != std::string_view::npos && at + 1 < s.size() && s.find('@', at + 1) == std::string_view::npos &&
           std::none_of(s.begin(), s.end(), [](char c) { return c == ',' || c == ':' || static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

}  // namespace

bool is_user_name(std::string_view name) {
    return !name.empty() && name.size() <= kMaxUserName && std::all_of(name.begin(), name.end(), [](char c) {
               const auto u = static_cast<unsigned char>(c);
               return u > 0x20 && u < 0x7f && c != ':';
           });
}

ParsedCredentials parse_credentials(std::string_view text) {
    ParsedCredentials out;
    std::size_t number = 0;
    for (const std::string& raw : split(text, '\n')) {
        ++number;
        std::string_view line(raw);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || line.front() == '#') continue;
        auto fail = [&](const std::string& why) {
            out.error = "line " + std::to_string(number) + ": " + why;
            out.users.clear();
            return out;
        };
        const auto fields = split(line, ':');
        if (fields.size() < 2 || fields.size() > 3) return fail("expected NAME:HASH[:SENDERS]");
        UserEntry e{fields[0], fields[1], {}};
        if (!is_user_name(e.name)) return fail("bad user name");
        if (!known_hash_scheme(e.hash)) return fail("unknown hash scheme (want $argon2id$, $y$, $6$ or $2b$)");
        if (fields.size() == 3 && !fields[2].empty()) {
            for (const std::string& s : split(fields[2], ',')) {
                if (!is_sender(s)) return fail("bad sender '" + s + "' (an address or @domain)");
                e.senders.push_back(lower(s));
            }
        }
        const bool repeated = std::any_of(out.users.begin(), out.users.end(),
                                          [&](const UserEntry& u) { return lower(u.name) == lower(e.name); });
        if (repeated) return fail("user '" + e.name + "' twice");
        out.users.push_back(std::move(e));
    }
    return out;
}

std::string format_credentials(const std::vector<UserEntry>& users) {
    std::string out;
    for (const UserEntry& u : users) {
        out += u.name + ":" + u.hash;
        if (!u.senders.empty()) {
            out += ":";
            for (std::size_t i = 0; i < u.senders.size(); ++i) out += (i ? "," : "") + u.senders[i];
        }
        out += "\n";
    }
    return out;
}

std::vector<UserEntry> read_credentials_file(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return {};
    if (std::filesystem::file_size(path, ec) > kMaxFileSize) throw std::runtime_error(path.string() + ": too large");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path.string() + ": cannot read: " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    auto parsed = parse_credentials(text.str());
    if (parsed.error) throw std::runtime_error(path.string() + ": " + *parsed.error);
    return std::move(parsed.users);
}

void write_credentials_file(const std::filesystem::path& path, const std::vector<UserEntry>& users) {
    const std::string text = format_credentials(users);
    const std::filesystem::path tmp = path.string() + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) throw std::runtime_error(tmp.string() + ": cannot create: " + std::strerror(errno));
    std::size_t done = 0;
    // A file replaced keeps its owner, its group and their read rights (the daemon reads it
    // as its own user, e.g. root:ehlo 0640), never anything for others; a new one is 0600.
    struct stat old {};
    mode_t mode = 0600;
    if (::stat(path.c_str(), &old) == 0) {
        mode = (old.st_mode & 0640) | 0600;
        if (::fchown(fd, old.st_uid, old.st_gid) != 0 && ::fchown(fd, static_cast<uid_t>(-1), old.st_gid) != 0)
            mode = 0600;  // the group could not be kept: its read right is not given to ours
    }
    bool ok = ::fchmod(fd, mode) == 0;
    while (ok && done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        ok = n > 0;
        if (ok) done += static_cast<std::size_t>(n);
    }
    ok = ok && ::fsync(fd) == 0;
    const int saved = errno;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = ok ? errno : saved;
        ::unlink(tmp.c_str());
        throw std::runtime_error(path.string() + ": cannot write: " + std::strerror(e));
    }
    // The rename is durable once the directory is.
    const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

struct Credentials::Impl {
    std::filesystem::path path;
    bool bind_sender;
    std::mutex mutex;
    std::vector<UserEntry> users;
    std::chrono::steady_clock::time_point next_check{};
    std::int64_t mtime_ns = -1;
    std::int64_t size = -1;
    std::optional<std::string> last_error;

    // Under the mutex.
    std::optional<std::string> refresh(bool force) {
        const auto now = std::chrono::steady_clock::now();
        if (!force && now < next_check) return last_error;
        next_check = now + kCheckInterval;
        struct stat st {};
        std::int64_t m = 0, s = 0;
        if (::stat(path.c_str(), &st) == 0) {
            m = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
            s = static_cast<std::int64_t>(st.st_size);
        }
        if (!force && m == mtime_ns && s == size) return last_error;
        try {
            users = read_credentials_file(path);
            last_error.reset();
        } catch (const std::exception& e) {
            last_error = e.what();  // the users read before stay
        }
        mtime_ns = m;
        size = s;
        return last_error;
    }

    const UserEntry* find(std::string_view name) const {
        const std::string key = lower(name);
        for (const UserEntry& u : users)
            if (lower(u.name) == key) return &u;
        return nullptr;
    }
};

Credentials::Credentials(std::filesystem::path path, bool bind_sender) : impl_(std::make_unique<Impl>()) {
    impl_->path = std::move(path);
    impl_->bind_sender = bind_sender;
    std::lock_guard lock(impl_->mutex);
    if (auto error = impl_->refresh(true)) throw std::runtime_error(*error);
}

Credentials::~Credentials() = default;

std::optional<UserEntry> Credentials::find(std::string_view name) {
    std::lock_guard lock(impl_->mutex);
    impl_->refresh(false);
    const UserEntry* u = impl_->find(name);
    if (!u) return std::nullopt;
    return *u;
}

bool Credentials::may_send_as(std::string_view user, std::string_view sender) {
    std::lock_guard lock(impl_->mutex);
    impl_->refresh(false);
    const UserEntry* u = impl_->find(user);
    if (!u) return false;
    const std::string s = lower(sender);
    if (u->senders.empty()) return !impl_->bind_sender || lower(u->name) == s;
    const std::size_t at = s.rfind('@');
    for (const std::string& allowed : u->senders) {
        if (allowed == s) return true;
        if (allowed.front() == '@' && at != std::string::npos && s.compare(at, std::string::npos, allowed) == 0) return true;
    }
    return false;
}

std::optional<std::string> Credentials::refresh(bool force) {
    std::lock_guard lock(impl_->mutex);
    return impl_->refresh(force);
}

}  // namespace ehlo::policy
