// Mailbox quotas: how much a Maildir holds, known without touching the disk at RCPT time.
//
// Finding out is file system work: reading a Maildir++ "maildirsize" file is one small read,
// scanning a Maildir is a directory listing of every folder and can take a while for a large
// one. Neither may happen on an event loop, and neither should happen once per RCPT. So the
// usage lives in a cache: check_rcpt reads only the cache (a map lookup under a mutex, no
// system call); a miss or a stale entry only asks for a reading, which a thread off the event
// loops makes (Policy's own background thread calls refresh_due() every second; a delivery
// thread can call add() after each delivery and refresh() when it wants a fresh figure). Until
// the first reading, a mailbox is taken to have room: the quota is a fence against a mailbox
// that keeps growing, not an exact bound (a delivery-time check can be the exact one).
//
// The reading follows Maildir++ (https://www.courier-mta.org/imap/README.maildirquota.html):
// the sum of maildirsize's lines after the first, when the file is there and well-formed; but
// when that sum is over the limit and the file is older than 15 minutes, a scan instead, as
// the specification asks before a mailbox is called full. Otherwise a scan of new/ and cur/ of
// the inbox and of every ".folder", each message's size taken from ",S=" in its name (the
// Maildir++ convention) or else from stat(2).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "config/config.hpp"

namespace ehlo::policy {

// A scanned or maildirsize figure is used this long before it is read again (deliveries
// counted by add() keep it current meanwhile).
inline constexpr std::chrono::seconds kQuotaCacheLifetime{60};
// Mailboxes whose usage is kept; a site with more quota'd mailboxes receiving mail in one
// minute gets the oldest figures dropped and read again.
inline constexpr std::size_t kMaxQuotaEntries = 100000;
// Maildir++: a maildirsize older than this that says "over quota" is checked by a scan.
inline constexpr std::chrono::minutes kMaildirsizeTrustAge{15};

struct MaildirUsage {
    std::uint64_t bytes = 0;
    std::uint64_t messages = 0;
    bool operator==(const MaildirUsage&) const = default;
};

// Reads a Maildir's usage now (file system work: never on an event loop). A Maildir that does
// not exist yet holds nothing. `limit` is the quota it is measured against, for Maildir++'s
// rule on old maildirsize files; `now` is the time to judge their age by.
MaildirUsage read_maildir_usage(const std::filesystem::path& maildir, const config::Quota& limit,
                                std::filesystem::file_time_type now = std::filesystem::file_time_type::clock::now());

// Whether one more message of `size` octets (0 = unknown) would not fit.
bool over_quota(const MaildirUsage& usage, const config::Quota& limit, std::uint64_t size);

class QuotaCache {
public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;
    explicit QuotaCache(std::chrono::seconds lifetime = kQuotaCacheLifetime, Clock clock = {});

    // Any thread, event loops included: the usage last read (nothing before the first
    // reading). A miss or a figure older than the lifetime asks refresh_due() to read it.
    std::optional<MaildirUsage> cached(const std::filesystem::path& maildir, const config::Quota& limit) const;

    // Off the event loops: reads every Maildir asked for. Returns how many were read.
    std::size_t refresh_due();
    // Off the event loops: reads one Maildir now.
    MaildirUsage refresh(const std::filesystem::path& maildir, const config::Quota& limit);
    // After a delivery of `bytes` into the Maildir: counted at once, corrected by the next read.
    void add(const std::filesystem::path& maildir, std::uint64_t bytes);

    bool pending() const;  // readings have been asked for

private:
    struct Entry {
        std::optional<MaildirUsage> usage;
        config::Quota limit;
        std::chrono::steady_clock::time_point read_at{};
        bool wanted = false;
    };
    std::chrono::steady_clock::time_point now() const;
    void make_room_locked() const;

    std::chrono::seconds lifetime_;
    Clock clock_;
    mutable std::mutex mutex_;
    mutable std::unordered_map<std::string, Entry> entries_;  // by Maildir path
    mutable std::size_t wanted_ = 0;
};

}  // namespace ehlo::policy
