// How a recipient's outcome is written into RecipientState::text: the reply that decided it,
// on one line ("550 5.1.1 No such user"), or a local error, with a prefix where the reply alone
// does not say what happened. A DSN built after a restart reads the reply back from there.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "smtp/reply.hpp"

namespace ehlo::queue {

// Failed because the lifetime ended while it was deferred (RFC 3463 4.4.7); the last
// temporary reply or error follows.
inline constexpr std::string_view kExpiredPrefix = "expired: ";
// Delivered to another MTA, not into a mailbox here: a DSN says "relayed" (RFC 3464 2.3.3).
inline constexpr std::string_view kRelayedPrefix = "relayed: ";
// Delivered to a peer that took the DSN request itself (RFC 3461 5.2.2): the report, if any,
// is the peer's to send, so none is owed from here.
inline constexpr std::string_view kPassedOnPrefix = "dsn-passed-on: ";

// Failed because an operator returned it to its sender (`ehlo queue bounce`, the console).
inline constexpr std::string_view kBouncedByOperator = "returned to the sender by the postmaster (queue control)";

// The reply at the start of `text`, as smtp::Reply::one_line() wrote it: three digits 2xx-5xx, then an
// optional enhanced code of the same class, then the text. Empty for a local error.
std::optional<smtp::Reply> parse_reply_text(std::string_view text);

}  // namespace ehlo::queue
