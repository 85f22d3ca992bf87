// When to try a deferred recipient again, and when to give up on it. Pure functions of the
// time of the first attempt, the number of attempts made and the time now: the queue keeps
// those two facts per recipient and asks again after every attempt, so a restart changes nothing.
#pragma once

#include <chrono>
#include <optional>

namespace ehlo::delivery {

using TimePoint = std::chrono::sys_seconds;

struct RetryPolicy {
    // Exponential back-off: the wait after the first failed attempt, doubled after each further
    // one up to `max_backoff`. RFC 5321 4.5.4.1: at least 30 minutes between retries "in
    // general", but a short first wait rescues the common transient failures (greylisting).
    std::chrono::seconds first_backoff{60};
    std::chrono::seconds max_backoff{3600};
    // RFC 5321 4.5.4.1: give up after at least 4-5 days.
    std::chrono::seconds lifetime{5 * 24 * 3600};
    // Tell the sender that the message is delayed (a "delayed" DSN, RFC 3464 2.3.3) once it has
    // waited this long; unset: never.
    std::optional<std::chrono::seconds> delay_warning;
};

// RFC 3463 4.4.7 "Delivery time expired": the status of recipients given up at the end of
// their lifetime (their DSN action is "failed").
inline constexpr const char* kExpiredStatus = "4.4.7";

// The wait after `attempts` failed attempts (1 = after the first): first_backoff * 2^(attempts-1),
// at most max_backoff. 0 attempts: no wait.
std::chrono::seconds backoff(const RetryPolicy& policy, unsigned attempts);

// When the lifetime of a message first attempted at `first_attempt` ends.
TimePoint expires_at(const RetryPolicy& policy, TimePoint first_attempt);

struct RetryDecision {
    enum class Kind { RetryAt, GiveUp } kind = Kind::RetryAt;
    TimePoint when{};  // for RetryAt: the time of the next attempt
};

// After the `attempts`-th attempt failed temporarily at `now`: give up when the lifetime is
// over, else retry after backoff(attempts), but no later than the end of the lifetime (the last
// attempt is made then rather than giving up early).
RetryDecision after_failure(const RetryPolicy& policy, TimePoint first_attempt, unsigned attempts, TimePoint now);

// A delay warning is to be sent now: it is configured, the message has waited that long, it has
// not been sent already and the message is not about to be given up instead.
bool delay_warning_due(const RetryPolicy& policy, TimePoint first_attempt, TimePoint now, bool already_warned);

}  // namespace ehlo::delivery
