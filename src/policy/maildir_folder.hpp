// Maildir++ folders (https://www.courier-mta.org/imap/README.maildirquota.html): a folder
// "Lists" of a Maildir is the Maildir ".Lists" inside it ("Lists.2024" for a sub-folder). With
// a domain's `folders` on, alice+lists@ is delivered there when the folder exists, and to the
// inbox when it does not: a sender cannot make folders appear by inventing addresses.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

namespace ehlo::policy {

// A folder name as an address extension may ask for one: [A-Za-z0-9._-], not starting with
// '.', no "..", at most 64 characters. It becomes part of a path, so this grammar is what keeps
// delivery inside the Maildir, as config::is_mailbox_name does for mailboxes.
bool is_folder_name(std::string_view name);

// The folder's directory in `maildir` when it exists: ".<folder>", compared case-insensitively
// (local parts are, here) with an exact match preferred. File system work: not for an event
// loop. Nothing when the name is not a folder name or no such directory exists.
std::optional<std::filesystem::path> find_maildir_folder(const std::filesystem::path& maildir, std::string_view folder);

}  // namespace ehlo::policy
