// A mailbox name for a UTF-8 local part (RFC 6531). Mailbox names are directory names and
// keep to [a-z0-9._-]; a UTF-8 local part is written as "xn--" + its Punycode (RFC 3492),
// as IDNA does for domain labels: "josé" is the mailbox "xn--jos-dma". The encoding is
// reversible, so an administrator can list such a mailbox, and it can never produce '/'.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ehlo::policy {

// The "xn--" name of a local part holding non-ASCII characters, or nothing when the text is
// not well-formed UTF-8 (overlong forms, surrogates, beyond U+10FFFF, C0/C1 controls) or holds
// an ASCII character outside [a-z0-9._-]. The caller lower-cases ASCII first and still checks
// the result with config::is_mailbox_name (length, "..").
std::optional<std::string> utf8_mailbox_name(std::string_view local_part);

}  // namespace ehlo::policy
