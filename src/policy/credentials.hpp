// The users who may authenticate (RFC 4954), in a file of their own (mode 0600), one a line:
//
//     NAME:HASH[:SENDER,SENDER...]
//
// HASH is tagged by its scheme (password_hash.hpp). The SENDERs, when given, are the envelope
// senders the user may use after AUTH: an address, or "@domain" for any address of it;
// without them [auth] bind_sender decides (see Credentials::may_send_as). '#' starts a comment
// line. The file is rewritten whole and atomically by `ehlo user` and read again by the running
// server when it changes.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ehlo::policy {

struct UserEntry {
    std::string name;
    std::string hash;
    std::vector<std::string> senders;  // lower-case; empty = the [auth] default

    bool operator==(const UserEntry&) const = default;
};

// A user name: 1 to 255 printable ASCII octets, none of them ':', space or a control.
bool is_user_name(std::string_view name);

// The lines of a credentials file. An error names the line: "line 3: ...".
struct ParsedCredentials {
    std::vector<UserEntry> users;
    std::optional<std::string> error;
};
ParsedCredentials parse_credentials(std::string_view text);
std::string format_credentials(const std::vector<UserEntry>& users);

// Reads a file (throws std::runtime_error naming it and the line); a missing file is empty.
std::vector<UserEntry> read_credentials_file(const std::filesystem::path& path);
// Writes the whole file atomically: a temporary file of mode 0600 beside it, fsync, rename over
// it, fsync of the directory. Throws std::runtime_error.
void write_credentials_file(const std::filesystem::path& path, const std::vector<UserEntry>& users);

// The file as the running server sees it: looked up by name (ASCII case-insensitive), read
// again when its modification time or size changed, checked at most once a second. A file that
// became unreadable or bad keeps the users read before (and says why in last_error()).
// Thread-safe.
class Credentials {
public:
    explicit Credentials(std::filesystem::path path, bool bind_sender = true);
    ~Credentials();

    std::optional<UserEntry> find(std::string_view name);
    // May `user` (as authenticated) use `sender` (lower-cased address) as envelope sender? Its
    // SENDERs when given; otherwise, with bind_sender, only its own name when that is an
    // address; without bind_sender, any sender.
    bool may_send_as(std::string_view user, std::string_view sender);
    // Reads the file now if it changed; the error of the last attempt, if it failed.
    std::optional<std::string> refresh(bool force = false);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ehlo::policy
