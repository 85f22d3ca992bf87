#include "delivery/retry.hpp"

#include <algorithm>

namespace ehlo::delivery {

std::chrono::seconds backoff(const RetryPolicy& policy, unsigned attempts) {
    if (attempts == 0) return std::chrono::seconds{0};
    // Doubling step by step stops at the maximum, so a large attempt count cannot overflow.
    std::chrono::seconds wait = std::min(policy.first_backoff, policy.max_backoff);
    for (unsigned i = 1; i < attempts && wait < policy.max_backoff; ++i) wait = std::min(wait * 2, policy.max_backoff);
    return wait;
}

TimePoint expires_at(const RetryPolicy& policy, TimePoint first_attempt) { return first_attempt + policy.lifetime; }

RetryDecision after_failure(const RetryPolicy& policy, TimePoint first_attempt, unsigned attempts, TimePoint now) {
    const TimePoint end = expires_at(policy, first_attempt);
    if (now >= end) return {RetryDecision::Kind::GiveUp, now};
    return {RetryDecision::Kind::RetryAt, std::min(now + backoff(policy, attempts), end)};
}

bool delay_warning_due(const RetryPolicy& policy, TimePoint first_attempt, TimePoint now, bool already_warned) {
    if (!policy.delay_warning || already_warned) return false;
    return now >= first_attempt + *policy.delay_warning && now < expires_at(policy, first_attempt);
}

}  // namespace ehlo::delivery
