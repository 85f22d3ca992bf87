#include "policy/rate_limiter.hpp"

#include <gtest/gtest.h>

using ehlo::policy::rate_limit_key;
using ehlo::policy::RateLimiter;
using namespace std::chrono_literals;

TEST(RateLimiter, AllowsUpToTheLimitInOneWindowThenRefuses) {
    RateLimiter r(3);
    const auto t0 = RateLimiter::Clock::time_point{} + 1h;
    EXPECT_TRUE(r.hit("192.0.2.1", t0));
    EXPECT_TRUE(r.hit("192.0.2.1", t0 + 1s));
    EXPECT_TRUE(r.hit("192.0.2.1", t0 + 2s));
    EXPECT_FALSE(r.hit("192.0.2.1", t0 + 3s));
    EXPECT_FALSE(r.hit("192.0.2.1", t0 + 59s));
    // Another client has its own count.
    EXPECT_TRUE(r.hit("192.0.2.2", t0 + 3s));
}

TEST(RateLimiter, ANewWindowStartsAMinuteAfterTheFirstEvent) {
    RateLimiter r(1);
    const auto t0 = RateLimiter::Clock::time_point{} + 1h;
    EXPECT_TRUE(r.hit("192.0.2.1", t0));
    EXPECT_FALSE(r.hit("192.0.2.1", t0 + 59s));
    EXPECT_TRUE(r.hit("192.0.2.1", t0 + 60s));
    EXPECT_FALSE(r.hit("192.0.2.1", t0 + 61s));
}

TEST(RateLimiter, ZeroMeansNoLimitAndTracksNothing) {
    RateLimiter r(0);
    const auto t0 = RateLimiter::Clock::time_point{} + 1h;
    for (int i = 0; i < 1000; ++i) EXPECT_TRUE(r.hit("192.0.2.1", t0));
    EXPECT_EQ(r.tracked(), 0u);
}

TEST(RateLimiter, MemoryIsBoundedTheEarliestWindowIsForgotten) {
    RateLimiter r(1, 1min, 2);
    const auto t0 = RateLimiter::Clock::time_point{} + 1h;
    EXPECT_TRUE(r.hit("a", t0));
    EXPECT_TRUE(r.hit("b", t0 + 1s));
    EXPECT_TRUE(r.hit("c", t0 + 2s));  // pushes out "a"
    EXPECT_EQ(r.tracked(), 2u);
    EXPECT_FALSE(r.hit("b", t0 + 3s));  // still remembered
    EXPECT_TRUE(r.hit("a", t0 + 3s));   // forgotten: counted afresh (pushes out "b")
    EXPECT_TRUE(r.hit("b", t0 + 4s));
    EXPECT_EQ(r.tracked(), 2u);
}

TEST(RateLimiter, ARenewedWindowMovesBehindTheOthersForEviction) {
    RateLimiter r(1, 1min, 2);
    const auto t0 = RateLimiter::Clock::time_point{} + 1h;
    EXPECT_TRUE(r.hit("a", t0));
    EXPECT_TRUE(r.hit("b", t0 + 30s));
    EXPECT_TRUE(r.hit("a", t0 + 61s));  // a's new window begins after b's
    EXPECT_TRUE(r.hit("c", t0 + 62s));  // so b goes, not a
    EXPECT_FALSE(r.hit("a", t0 + 63s));
    EXPECT_TRUE(r.hit("b", t0 + 63s));
}

TEST(RateLimitKey, AnIpv4ClientIsItsAddressAlsoWhenWrittenMapped) {
    EXPECT_EQ(rate_limit_key("192.0.2.7"), "192.0.2.7");
    EXPECT_EQ(rate_limit_key("::ffff:192.0.2.7"), "192.0.2.7");
}

TEST(RateLimitKey, AnIpv6ClientIsItsSlash64) {
    EXPECT_EQ(rate_limit_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
    EXPECT_EQ(rate_limit_key("2001:db8:1:2:bbbb:cccc:dddd:eeee"), "2001:db8:1:2::/64");
    EXPECT_NE(rate_limit_key("2001:db8:1:3::1"), rate_limit_key("2001:db8:1:2::1"));
    EXPECT_EQ(rate_limit_key("::1"), "::/64");
}
