// What a mailbox name may be. A mailbox name becomes a directory name under maildir_root, so
// this grammar is the one thing that keeps mail from being written outside it: no '/', no
// leading '.', no "..", nothing but [a-z0-9._-]. Configured names and the local parts a
// catch-all domain accepts pass the same check.
#pragma once

#include <cstddef>
#include <string_view>

namespace ehlo::config {

// RFC 5321 4.5.3.1.1: a local part is at most 64 octets; so is a mailbox name made of one.
inline constexpr std::size_t kMaxMailboxName = 64;

bool is_mailbox_name(std::string_view name);

}  // namespace ehlo::config
