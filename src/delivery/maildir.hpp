// The Maildir layout (https://cr.yp.to/proto/maildir.html): a message is written to tmp/,
// made durable, and renamed into new/; a reader moves it to cur/ with ":2,FLAGS" appended.
// The rename is what publishes a message, so a reader never sees half of one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>

namespace ehlo::delivery {

// Mail is private to its owner: the Maildir directories and files are not readable by others.
inline constexpr unsigned kMaildirDirectoryMode = 0700;
inline constexpr unsigned kMaildirFileMode = 0600;

// The name of the file that holds one recipient's copy of one message:
// "<arrival_unix>.<queue_id>_<recipient_index>.<host>". It is the same on every attempt, so a
// delivery that was made but not recorded (a crash between the rename and the queue's state
// record) is found again instead of being made twice.
std::string maildir_file_name(std::int64_t arrival_unix, std::string_view queue_id,
                              std::size_t recipient_index, std::string_view hostname);

// The host part of a Maildir name: "/" and ":" would break the name, so they are written as
// "\057" and "\072" as the Maildir convention says.
std::string maildir_safe_host(std::string_view hostname);

inline std::filesystem::path maildir_tmp(const std::filesystem::path& maildir) { return maildir / "tmp"; }
inline std::filesystem::path maildir_new(const std::filesystem::path& maildir) { return maildir / "new"; }
inline std::filesystem::path maildir_cur(const std::filesystem::path& maildir) { return maildir / "cur"; }

// Creates the Maildir and its tmp/, new/ and cur/ (mode 0700) where missing, with parents.
std::error_code ensure_maildir(const std::filesystem::path& maildir);

// Where a message named `name` already is: new/NAME; with `scan` also any entry of new/ or
// cur/ that starts with the name's unique part "<arrival_unix>.<queue_id>_<index>." (a reader
// may have moved it to cur/NAME:2,FLAGS, and a change of host name between runs must not
// cause a second delivery). Scanning reads whole directories, so it is only done for messages
// that may have been delivered before a crash.
std::optional<std::filesystem::path> find_delivered(const std::filesystem::path& maildir, std::string_view name,
                                                    bool scan);

// The entries of a Maildir's new/ and cur/, read once, for looking up many names as
// find_delivered() with `scan` does (recovery may look for thousands in one Maildir).
class MaildirListing {
public:
    explicit MaildirListing(const std::filesystem::path& maildir);
    std::optional<std::filesystem::path> find(std::string_view name) const;

private:
    std::unordered_map<std::string, std::filesystem::path> by_unique_part_;
};

}  // namespace ehlo::delivery
