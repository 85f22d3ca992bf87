#include "policy/srs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "policy/local_domains.hpp"

namespace ehlo::policy {

namespace {

constexpr std::string_view kSrs0 = "srs0";
constexpr std::string_view kSrs1 = "srs1";
constexpr char kSeparator = '=';                   // between the parts, always
constexpr std::string_view kTagSeparators = "=+-";  // after the tag, as libsrs2 accepts
constexpr std::string_view kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::int64_t kSecondsPerDay = 24 * 60 * 60;
// A new secret: 24 random octets, 32 characters of base64.
constexpr int kSecretOctets = 24;
constexpr unsigned kSecretFileMode = 0600;

bool tag_is(std::string_view local, std::string_view tag) {
    return local.size() > tag.size() && lower(local.substr(0, tag.size())) == tag &&
           kTagSeparators.find(local[tag.size()]) != std::string_view::npos;
}

// Splits off the text up to the next '=': {part, rest}; nothing when there is no '=' or the
// part is empty.
std::optional<std::pair<std::string_view, std::string_view>> next_part(std::string_view s) {
    const std::size_t at = s.find(kSeparator);
    if (at == std::string_view::npos || at == 0) return std::nullopt;
    return std::pair{s.substr(0, at), s.substr(at + 1)};
}

bool equal_ci(std::string_view a, std::string_view b) { return a.size() == b.size() && lower(a) == lower(b); }

std::int64_t day_slot(std::int64_t now) { return (now / kSecondsPerDay) % kSrsTimeSlots; }

std::string base64(const unsigned char* data, std::size_t size) {
    std::string out(4 * ((size + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

}  // namespace

Srs::Srs(SrsOptions options) : options_(std::move(options)) {
    options_.domain = lower(options_.domain);
    if (options_.domain.empty()) throw std::invalid_argument("srs: no domain");
    if (options_.secrets.empty() || options_.secrets.front().empty()) throw std::invalid_argument("srs: no secret");
    if (options_.hash_length < kSrsMinHashLength) options_.hash_length = kSrsMinHashLength;
}

bool Srs::is_srs(std::string_view local_part) { return tag_is(local_part, kSrs0) || tag_is(local_part, kSrs1); }

std::string Srs::hash(std::string_view secret, std::initializer_list<std::string_view> parts, std::size_t length) {
    std::string data;
    for (const auto part : parts) data += lower(part);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_size = 0;
    HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), digest, &digest_size);
    std::string encoded = base64(digest, digest_size);
    encoded.resize(std::min(length, encoded.size()));
    return encoded;
}

std::string Srs::timestamp(std::int64_t now) {
    const auto slot = static_cast<std::size_t>(day_slot(now));
    return {kBase32[(slot >> 5) & 31], kBase32[slot & 31]};
}

bool Srs::hash_ok(std::string_view given, std::initializer_list<std::string_view> parts) const {
    // Shorter than hash_length is accepted down to the minimum (an address made before
    // hash_length was raised); the characters given are the ones compared.
    if (given.size() < kSrsMinHashLength || given.size() > options_.hash_length) return false;
    for (const auto& secret : options_.secrets) {
        if (equal_ci(given, hash(secret, parts, options_.hash_length).substr(0, given.size()))) return true;
    }
    return false;
}

bool Srs::timestamp_ok(std::string_view stamp, std::int64_t now) const {
    if (stamp.size() != 2) return false;
    std::int64_t then = 0;
    for (char c : stamp) {
        const std::size_t at = kBase32.find(static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c));
        if (at == std::string_view::npos) return false;
        then = (then << 5) | static_cast<std::int64_t>(at);
    }
    // Days since `then`, modulo the 1024 slots: a stamp "from the future" is ~1024 days old.
    const std::int64_t age = (day_slot(now) - then + kSrsTimeSlots) % kSrsTimeSlots;
    return age <= static_cast<std::int64_t>(options_.max_age_days);
}

std::optional<smtp::Mailbox> Srs::forward(const smtp::Mailbox& sender, std::int64_t now) const {
    const std::string& local = sender.local_part;
    if (sender.domain.empty() || local.empty() || local.front() == '"') return std::nullopt;
    const std::string& secret = options_.secrets.front();
    std::string rewritten;
    if (tag_is(local, kSrs1)) {
        // SRS1=HHHH=first==HHHH=TT=domain=user@previous: keep the first forwarder and the rest,
        // with a hash of ours over both (libsrs2's guarded scheme).
        const auto hash_rest = next_part(std::string_view(local).substr(kSrs1.size() + 1));
        if (!hash_rest) return std::nullopt;
        const auto host_user = next_part(hash_rest->second);
        if (!host_user) return std::nullopt;
        const auto [host, user] = *host_user;
        rewritten = "SRS1=" + hash(secret, {host, user}, options_.hash_length) + "=" + std::string(host) + "=" + std::string(user);
    } else if (tag_is(local, kSrs0)) {
        // Another forwarder's SRS0: bounces must go back to it, so it is kept whole after our
        // hash. The part after "SRS0" keeps its separator: "=HHHH=TT=domain=user".
        const std::string_view user = std::string_view(local).substr(kSrs0.size());
        const std::string host = lower(sender.domain);
        rewritten = "SRS1=" + hash(secret, {host, user}, options_.hash_length) + "=" + host + "=" + std::string(user);
    } else {
        const std::string stamp = timestamp(now);
        const std::string host = lower(sender.domain);
        rewritten = "SRS0=" + hash(secret, {stamp, host, local}, options_.hash_length) + "=" + stamp + "=" + host + "=" + local;
    }
    if (!smtp::is_valid_local_part(rewritten, true)) return std::nullopt;  // 64 octets at most (RFC 5321 4.5.3.1.1)
    return smtp::Mailbox{std::move(rewritten), options_.domain};
}

Srs::Reversed Srs::reverse(const smtp::Mailbox& address, std::int64_t now) const {
    const std::string_view local = address.local_part;
    Reversed out;
    if (tag_is(local, kSrs0)) {
        // SRS0=HHHH=TT=domain=user
        const auto hash_rest = next_part(local.substr(kSrs0.size() + 1));
        const auto stamp_rest = hash_rest ? next_part(hash_rest->second) : std::nullopt;
        const auto host_user = stamp_rest ? next_part(stamp_rest->second) : std::nullopt;
        if (!host_user || host_user->second.empty()) return {std::nullopt, Error::Malformed};
        const auto [host, user] = *host_user;
        if (!hash_ok(hash_rest->first, {stamp_rest->first, host, user})) return {std::nullopt, Error::BadHash};
        if (!timestamp_ok(stamp_rest->first, now)) return {std::nullopt, Error::Expired};
        out.address = smtp::Mailbox{std::string(user), std::string(host)};
    } else if (tag_is(local, kSrs1)) {
        // SRS1=HHHH=first=REST -> SRS0REST@first
        const auto hash_rest = next_part(local.substr(kSrs1.size() + 1));
        const auto host_user = hash_rest ? next_part(hash_rest->second) : std::nullopt;
        if (!host_user || host_user->second.empty()) return {std::nullopt, Error::Malformed};
        const auto [host, user] = *host_user;
        if (!hash_ok(hash_rest->first, {host, user})) return {std::nullopt, Error::BadHash};
        out.address = smtp::Mailbox{"SRS0" + std::string(user), std::string(host)};
    } else {
        return {std::nullopt, Error::NotSrs};
    }
    // What comes back must be an address: a genuine hash over garbage is still no destination.
    if (!smtp::is_valid_local_part(out.address->local_part, true) || !smtp::is_valid_domain(out.address->domain, true)) {
        return {std::nullopt, Error::Malformed};
    }
    return out;
}

std::vector<std::string> load_srs_secrets(const std::filesystem::path& file, bool create) {
    const std::string name = file.string();
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT && !create) return {};
    if (fd < 0 && errno == ENOENT) {
        unsigned char random[kSecretOctets];
        if (RAND_bytes(random, sizeof random) != 1) throw std::runtime_error(name + ": no random octets for a new secret");
        const std::string secret = base64(random, sizeof random) + "\n";
        // O_EXCL: of two processes creating it at once, one writes and the other reads.
        const int out = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, kSecretFileMode);
        if (out >= 0) {
            const bool written = ::write(out, secret.data(), secret.size()) == static_cast<ssize_t>(secret.size()) &&
                                 ::fsync(out) == 0;
            ::close(out);
            if (!written) {
                ::unlink(file.c_str());
                throw std::runtime_error(name + ": cannot write a new secret: " + std::strerror(errno));
            }
        } else if (errno != EEXIST) {
            throw std::runtime_error(name + ": cannot create: " + std::strerror(errno));
        }
        fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (fd < 0) throw std::runtime_error(name + ": cannot read: " + std::strerror(errno));
    struct stat st{};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw std::runtime_error(name + ": not a regular file");
    }
    if (st.st_mode & S_IROTH) {
        ::close(fd);
        throw std::runtime_error(name + ": readable by every user; make it private (chmod 600)");
    }
    std::string text;
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0 && text.size() < (1u << 16)) text.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    if (n < 0) throw std::runtime_error(name + ": cannot read: " + std::strerror(errno));
    std::vector<std::string> secrets;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(start, end - start);
        start = end + 1;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
        if (line.empty() || line.front() == '#') continue;
        secrets.push_back(std::move(line));
    }
    if (secrets.empty()) throw std::runtime_error(name + ": holds no secret");
    return secrets;
}

}  // namespace ehlo::policy
