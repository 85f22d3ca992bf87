// The maildrop: the spool's in-tray for local submission (`ehlo sendmail`), as Postfix's.
//
// sendmail runs as whoever calls it, with no set-uid or set-gid bit, so it cannot write the
// spool. It writes one file per message into the maildrop folder (mode 1733: everyone may
// create a file there, nobody but its owner and ehlo may list, read by name or remove), syncs
// it, and then tells the running daemon over its pickup socket; the daemon checks the file,
// queues the message and removes the file. When the daemon is down the file waits for its
// next start. Only the file's owner (st_uid, which its writer cannot forge) is trusted; every
// byte in it is checked as if it came from the network.
//
// File: "ehlo-maildrop 1\n", "S sender\n" (empty for the null sender), one "R recipient\n" per
// recipient, "\n", then the content in CRLF lines as SMTP would carry it (no dot-stuffing).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

namespace ehlo::queue {

struct MaildropEntry {
    std::string sender;                   // "local@domain"; empty: the null sender
    std::vector<std::string> recipients;  // "local@domain" each
    std::string content;                  // CRLF lines
};

struct MaildropLimits {
    std::uint64_t max_content = 25u << 20;
    std::size_t max_recipients = 1000;
};

std::string serialize_maildrop(const MaildropEntry& entry);
// The entry, or why the file is not one (a line not of the format, a bare CR or LF in the
// content, more than the limits allow). The addresses are checked by the caller.
std::variant<MaildropEntry, std::string> parse_maildrop(std::string_view bytes, const MaildropLimits& limits);

// A maildrop file's name: time, pid and 128 random bits, so that other users cannot guess it.
bool is_maildrop_name(std::string_view name);

// Writes `entry` durably into `maildrop_dir` (a temporary name, fsync, rename to the final
// name, fsync of the folder, or syncfs(2) for a caller who may not read the folder) and returns the final name; mode 0644 so that the daemon's
// account may read what another user wrote (nobody can list the folder to find it).
std::string write_maildrop(const std::filesystem::path& maildrop_dir, const MaildropEntry& entry, std::error_code& ec);

}  // namespace ehlo::queue
