// The retry schedule: back-off, lifetime, delay warning.
#include <gtest/gtest.h>

#include <climits>

#include "delivery/retry.hpp"

namespace ehlo::delivery {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

const TimePoint kFirst{seconds{1'700'000'000}};

TEST(Retry, BackoffDoublesFromOneMinuteToOneHour) {
    const RetryPolicy p;
    EXPECT_EQ(backoff(p, 0), seconds{0});
    EXPECT_EQ(backoff(p, 1), seconds{60});
    EXPECT_EQ(backoff(p, 2), seconds{120});
    EXPECT_EQ(backoff(p, 3), seconds{240});
    EXPECT_EQ(backoff(p, 6), seconds{1920});
    EXPECT_EQ(backoff(p, 7), seconds{3600});
    EXPECT_EQ(backoff(p, 1000), seconds{3600});
    EXPECT_EQ(backoff(p, UINT_MAX), seconds{3600});  // no overflow, and quickly
}

TEST(Retry, MaximumIsConfigurable) {
    RetryPolicy p;
    p.max_backoff = seconds{300};
    EXPECT_EQ(backoff(p, 3), seconds{240});
    EXPECT_EQ(backoff(p, 4), seconds{300});
    p.first_backoff = seconds{900};  // a first wait above the maximum is capped too
    EXPECT_EQ(backoff(p, 1), seconds{300});
}

TEST(Retry, NextAttemptIsNowPlusBackoff) {
    const RetryPolicy p;
    const auto d = after_failure(p, kFirst, 1, kFirst);
    EXPECT_EQ(d.kind, RetryDecision::Kind::RetryAt);
    EXPECT_EQ(d.when, kFirst + seconds{60});
    const auto later = after_failure(p, kFirst, 4, kFirst + hours{1});
    EXPECT_EQ(later.when, kFirst + hours{1} + seconds{480});
}

// RFC 5321 4.5.4.1: give up after some days (here 5); the last attempt is made at the end of
// the lifetime rather than an hour after it.
TEST(Retry, LifetimeEndsInGivingUp_Rfc5321_4_5_4_1) {
    const RetryPolicy p;
    EXPECT_EQ(p.lifetime, hours{5 * 24});
    const TimePoint end = expires_at(p, kFirst);
    EXPECT_EQ(end, kFirst + hours{120});
    const auto last = after_failure(p, kFirst, 80, end - seconds{10});
    EXPECT_EQ(last.kind, RetryDecision::Kind::RetryAt);
    EXPECT_EQ(last.when, end);
    EXPECT_EQ(after_failure(p, kFirst, 81, end).kind, RetryDecision::Kind::GiveUp);
    EXPECT_EQ(after_failure(p, kFirst, 82, end + hours{3}).kind, RetryDecision::Kind::GiveUp);
    EXPECT_STREQ(kExpiredStatus, "4.4.7");  // RFC 3463 X.4.7 delivery time expired
}

TEST(Retry, DelayWarningIsOffByDefault) {
    const RetryPolicy p;
    EXPECT_FALSE(delay_warning_due(p, kFirst, kFirst + hours{100}, false));
}

// RFC 3464 2.3.3 "delayed": sent once, after the configured wait, never after giving up.
TEST(Retry, DelayWarningOnceAfterConfiguredWait_Rfc3464_2_3_3) {
    RetryPolicy p;
    p.delay_warning = hours{4};
    EXPECT_FALSE(delay_warning_due(p, kFirst, kFirst + hours{3}, false));
    EXPECT_TRUE(delay_warning_due(p, kFirst, kFirst + hours{4}, false));
    EXPECT_FALSE(delay_warning_due(p, kFirst, kFirst + hours{5}, true));
    EXPECT_FALSE(delay_warning_due(p, kFirst, expires_at(p, kFirst), false));
}

}  // namespace
}  // namespace ehlo::delivery
