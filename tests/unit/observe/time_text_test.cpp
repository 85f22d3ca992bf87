// Times in `ehlo trace`: local time with the UTC offset, and the --since forms.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

#include "history_scenarios.hpp"
#include "observe/time_text.hpp"

namespace ehlo::observe {
namespace {

using testing::kSecond;
using testing::kT0;

class TimeText : public ::testing::Test {
protected:
    void SetUp() override {
        const char* tz = std::getenv("TZ");
        saved_ = tz ? tz : "";
        had_ = tz != nullptr;
        ::setenv("TZ", testing::kZone, 1);
        ::tzset();
    }
    void TearDown() override {
        if (had_) ::setenv("TZ", saved_.c_str(), 1);
        else ::unsetenv("TZ");
        ::tzset();
    }
    std::string saved_;
    bool had_ = false;
};

TEST_F(TimeText, LocalTimestampWithItsOffset) {
    EXPECT_EQ(local_timestamp(kT0), "2024-05-01 14:03:12.345 +0200");
    EXPECT_EQ(local_timestamp(kT0 - 100LL * 86400 * kSecond), "2024-01-22 13:03:12.345 +0100");  // winter
    EXPECT_EQ(local_rfc3339(kT0), "2024-05-01T14:03:12.345+02:00");
}

TEST_F(TimeText, ClockShowsTheDateOnlyOnAnotherDay) {
    EXPECT_EQ(local_clock(kT0 + 108 * kSecond, kT0), "14:05");
    EXPECT_EQ(local_clock(kT0 + 86400 * kSecond, kT0), "2024-05-02 14:03");
}

TEST_F(TimeText, Durations) {
    EXPECT_EQ(duration_text(350'000), "350 ms");
    EXPECT_EQ(duration_text(2'100'000), "2.1 s");
    EXPECT_EQ(duration_text(200 * kSecond), "3 min 20 s");
}

TEST_F(TimeText, SinceAsASpan) {
    EXPECT_EQ(parse_since("90s", kT0), kT0 - 90 * kSecond);
    EXPECT_EQ(parse_since("30m", kT0), kT0 - 1800 * kSecond);
    EXPECT_EQ(parse_since("2h", kT0), kT0 - 7200 * kSecond);
    EXPECT_EQ(parse_since("7d", kT0), kT0 - 7 * 86400 * kSecond);
    EXPECT_EQ(parse_since("1w", kT0), kT0 - 7 * 86400 * kSecond);
}

TEST_F(TimeText, SinceAsALocalDateOrTime) {
    EXPECT_EQ(parse_since("2024-05-01", kT0), (kT0 / kSecond - (12 * 3600 + 3 * 60 + 12) - 2 * 3600) * kSecond);
    EXPECT_EQ(parse_since("2024-05-01 14:03", kT0), (kT0 / kSecond - 12) * kSecond);
    EXPECT_EQ(parse_since("2024-05-01T14:03:12", kT0), kT0 / kSecond * kSecond);
    EXPECT_EQ(parse_since("2024-05-01T12:03:12Z", kT0), kT0 / kSecond * kSecond);
}

TEST_F(TimeText, SinceRefusesWhatItCannotRead) {
    for (const char* bad : {"", "h", "2x", "-2h", "yesterday", "2024-13-01", "2024-05-01 25:00", "2024-05-01 14",
                            "2024-05-01 14:03:1", "24-05-01", "99999999d"})
        EXPECT_FALSE(parse_since(bad, kT0)) << bad;
}

}  // namespace
}  // namespace ehlo::observe
