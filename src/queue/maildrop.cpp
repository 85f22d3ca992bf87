#include "queue/maildrop.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

using namespace std::string_view_literals;

#include "delivery/file_io.hpp"

namespace ehlo::queue {
namespace {

constexpr std::string_view kMagic = "ehlo-maildrop 1\n";
constexpr std::string_view kTempPrefix = "tmp.";
// An address line holds at most a path's worth (RFC 5321 4.5.3.1.3) and its tag.
constexpr std::size_t kMaxLine = 512;

std::string hex(const unsigned char* bytes, std::size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out += digits[bytes[i] >> 4];
        out += digits[bytes[i] & 15];
    }
    return out;
}

}  // namespace

std::string serialize_maildrop(const MaildropEntry& entry) {
    std::string out(kMagic);
    out += "S " + entry.sender + "\n";
    for (const std::string& r : entry.recipients) out += "R " + r + "\n";
    out += "\n";
    out += entry.content;
    return out;
}

std::variant<MaildropEntry, std::string> parse_maildrop(std::string_view bytes, const MaildropLimits& limits) {
    if (bytes.substr(0, kMagic.size()) != kMagic) return std::string("not a maildrop file (no \"ehlo-maildrop 1\" line)");
    bytes.remove_prefix(kMagic.size());
    MaildropEntry entry;
    bool have_sender = false;
    while (true) {
        const std::size_t end = bytes.find('\n');
        if (end == std::string_view::npos || end > kMaxLine) return std::string("an envelope line is unfinished or too long");
        const std::string_view line = bytes.substr(0, end);
        bytes.remove_prefix(end + 1);
        if (line.empty()) break;
        if (line.find_first_of("\r\t\0"sv) != std::string_view::npos || line.size() < 2 || line[1] != ' ')
            return std::string("an envelope line is not of the format");
        const std::string_view value = line.substr(2);
        if (line[0] == 'S' && !have_sender) {
            entry.sender = std::string(value);
            have_sender = true;
        } else if (line[0] == 'R' && have_sender && !value.empty()) {
            if (entry.recipients.size() >= limits.max_recipients) return std::string("too many recipients");
            entry.recipients.emplace_back(value);
        } else {
            return std::string("an envelope line is not of the format");
        }
    }
    if (entry.recipients.empty()) return std::string("no recipient");
    if (bytes.size() > limits.max_content) return std::string("the message is larger than limits.message_size");
    // The content is what SMTP would have carried: CRLF lines only (RFC 5321 2.3.8).
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (bytes[i] == '\r' && (i + 1 == bytes.size() || bytes[i + 1] != '\n')) return std::string("a bare CR in the content");
        if (bytes[i] == '\n' && (i == 0 || bytes[i - 1] != '\r')) return std::string("a bare LF in the content");
    }
    if (!bytes.empty() && !bytes.ends_with("\r\n")) return std::string("the content does not end with CRLF");
    entry.content = std::string(bytes);
    return entry;
}

bool is_maildrop_name(std::string_view name) {
    // 16 hex digits of time, '.', the pid in decimal, '.', 32 hex digits.
    const std::size_t a = name.find('.');
    const std::size_t b = name.rfind('.');
    if (a != 16 || b == a || name.size() - b - 1 != 32 || b - a - 1 < 1 || b - a - 1 > 10) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        if (i == a || i == b) continue;
        const bool digit = c >= '0' && c <= '9';
        if (i > a && i < b ? !digit : !(digit || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

std::string write_maildrop(const std::filesystem::path& maildrop_dir, const MaildropEntry& entry, std::error_code& ec) {
    unsigned char random[16];
    if (::getrandom(random, sizeof random, 0) != static_cast<ssize_t>(sizeof random)) {
        ec = std::error_code(errno ? errno : EIO, std::system_category());
        return {};
    }
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    const auto usec = static_cast<std::uint64_t>(now.tv_sec) * 1000000u + static_cast<std::uint64_t>(now.tv_nsec / 1000);
    unsigned char time_bytes[8];
    for (int i = 0; i < 8; ++i) time_bytes[i] = static_cast<unsigned char>(usec >> (56 - 8 * i));
    const std::string name = hex(time_bytes, 8) + "." + std::to_string(::getpid()) + "." + hex(random, sizeof random);
    const std::filesystem::path temp = maildrop_dir / (std::string(kTempPrefix) + name);
    const std::filesystem::path final_path = maildrop_dir / name;

    delivery::FileDescriptor fd = delivery::open_file(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644, ec);
    if (!fd) return {};
    // The umask must not take the daemon's read permission away.
    if (::fchmod(fd.get(), 0644) != 0) ec = std::error_code(errno, std::system_category());
    if (!ec) ec = delivery::write_all(fd.get(), serialize_maildrop(entry));
    if (!ec && ::fsync(fd.get()) != 0) ec = std::error_code(errno, std::system_category());
    if (!ec && ::rename(temp.c_str(), final_path.c_str()) != 0) ec = std::error_code(errno, std::system_category());
    if (ec) {
        ::unlink(temp.c_str());
        return {};
    }
    // The name in the folder is part of what must survive a crash. Only its owner may read
    // (and so fsync) the folder: another user's sendmail syncs the file system it is on.
    std::error_code dir_ec;
    delivery::FileDescriptor dir = delivery::open_directory(maildrop_dir, dir_ec);
    const bool synced = dir ? ::fsync(dir.get()) == 0 : dir_ec == std::errc::permission_denied && ::syncfs(fd.get()) == 0;
    if (!synced) ec = dir_ec ? dir_ec : std::error_code(errno, std::system_category());
    if (!ec) ec = fd.close();
    if (ec) {
        // Whether the name would survive cannot be told: the caller says it failed, so the
        // file goes (else a second try would make two).
        ::unlink(final_path.c_str());
        return {};
    }
    return name;
}

}  // namespace ehlo::queue
