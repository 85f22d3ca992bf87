// Maildir usage (Maildir++ maildirsize, else a scan) and the cache RCPT reads it from.
#include <gtest/gtest.h>

#include "alias_fixture.hpp"
#include "policy/quota.hpp"

namespace ehlo::policy {
namespace {

using test::write_file;

void make_message(const std::filesystem::path& dir, const std::string& name, std::size_t size) {
    write_file(dir / name, std::string(size, 'x'));
}

TEST(MaildirUsage, ScanCountsNewCurAndEveryFolder) {
    test::TempDir d;
    make_message(d / "new", "1.a.host", 100);
    make_message(d / "cur", "2.b.host:2,S", 50);
    make_message(d / ".Lists" / "cur", "3.c.host:2,", 25);
    make_message(d / ".Lists.2024" / "new", "4.d.host", 5);
    make_message(d / "tmp", "5.e.host", 1000);  // not delivered yet: not counted
    make_message(d / "new", ".hidden", 1000);
    EXPECT_EQ(read_maildir_usage(d.path(), {}), (MaildirUsage{180, 4}));
}

// Maildir++: ",S=SIZE" in a name is the message's size, no stat(2) needed.
TEST(MaildirUsage, SizeFromTheNameWhenWritten) {
    test::TempDir d;
    make_message(d / "cur", "1.a.host,S=5000:2,S", 10);
    EXPECT_EQ(read_maildir_usage(d.path(), {}), (MaildirUsage{5000, 1}));
}

TEST(MaildirUsage, MaildirsizeIsSummed) {
    test::TempDir d;
    make_message(d / "new", "1.a.host", 100);  // maildirsize is trusted over the files
    write_file(d / "maildirsize", "10000S,100C\n  4000 3\n 1000 1\n-500 -1\n");
    EXPECT_EQ(read_maildir_usage(d.path(), {10000, 100}), (MaildirUsage{4500, 3}));
}

TEST(MaildirUsage, DamagedOrLargeMaildirsizeMeansAScan) {
    test::TempDir d;
    make_message(d / "new", "1.a.host", 100);
    write_file(d / "maildirsize", "10000S\n4000 three\n");
    EXPECT_EQ(read_maildir_usage(d.path(), {}), (MaildirUsage{100, 1}));
    std::string large = "10000S\n";
    while (large.size() <= 5120) large += "1 1\n";
    write_file(d / "maildirsize", large);
    EXPECT_EQ(read_maildir_usage(d.path(), {}), (MaildirUsage{100, 1}));
}

// Maildir++: before calling a mailbox full on an old maildirsize, count again.
TEST(MaildirUsage, OldMaildirsizeOverQuotaIsCheckedByAScan) {
    test::TempDir d;
    make_message(d / "new", "1.a.host", 100);
    write_file(d / "maildirsize", "1000S\n5000 10\n");
    const config::Quota limit{1000, 0};
    const auto written = std::filesystem::last_write_time(d / "maildirsize");
    EXPECT_EQ(read_maildir_usage(d.path(), limit, written + std::chrono::minutes(1)), (MaildirUsage{5000, 10}));
    EXPECT_EQ(read_maildir_usage(d.path(), limit, written + std::chrono::minutes(16)), (MaildirUsage{100, 1}));
}

TEST(MaildirUsage, AMaildirNotYetMadeIsEmpty) {
    EXPECT_EQ(read_maildir_usage("/nonexistent/ehlo/maildir", {}), (MaildirUsage{0, 0}));
}

TEST(OverQuota, BytesMessagesAndTheDeclaredSize) {
    const config::Quota limit{1000, 10};
    EXPECT_FALSE(over_quota({999, 9}, limit, 0));
    EXPECT_TRUE(over_quota({1000, 0}, limit, 0));
    EXPECT_TRUE(over_quota({0, 10}, limit, 0));
    EXPECT_FALSE(over_quota({500, 0}, limit, 500));
    EXPECT_TRUE(over_quota({500, 0}, limit, 501));  // SIZE= (RFC 1870) says it would not fit
    EXPECT_FALSE(over_quota({1u << 30, 1u << 20}, {}, 0));  // no limit
    EXPECT_FALSE(over_quota({1u << 30, 5}, {0, 10}, 0));
}

TEST(QuotaCacheTest, ReadOnlyOffTheCallersPath) {
    test::TempDir d;
    make_message(d / "new", "1.a.host", 100);
    QuotaCache cache;
    const config::Quota limit{1000, 0};
    EXPECT_FALSE(cache.cached(d.path(), limit));  // nothing read yet: asked for, not read
    EXPECT_TRUE(cache.pending());
    EXPECT_EQ(cache.refresh_due(), 1u);
    EXPECT_FALSE(cache.pending());
    EXPECT_EQ(cache.cached(d.path(), limit), (MaildirUsage{100, 1}));
    EXPECT_EQ(cache.refresh_due(), 0u);  // fresh: nothing to read
    // A delivery is counted at once.
    cache.add(d.path(), 50);
    EXPECT_EQ(cache.cached(d.path(), limit), (MaildirUsage{150, 2}));
}

TEST(QuotaCacheTest, StaleFiguresAreUsedAndReadAgain) {
    test::TempDir d;
    make_message(d / "new", "1.a.host", 100);
    auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
    QuotaCache cache(std::chrono::seconds(60), [&] { return now; });
    const config::Quota limit{1000, 0};
    cache.refresh(d.path(), limit);
    make_message(d / "new", "2.b.host", 300);
    now += std::chrono::seconds(59);
    EXPECT_EQ(cache.cached(d.path(), limit), (MaildirUsage{100, 1}));
    EXPECT_FALSE(cache.pending());
    now += std::chrono::seconds(1);
    EXPECT_EQ(cache.cached(d.path(), limit), (MaildirUsage{100, 1}));  // the old figure meanwhile
    EXPECT_TRUE(cache.pending());
    cache.refresh_due();
    EXPECT_EQ(cache.cached(d.path(), limit), (MaildirUsage{400, 2}));
}

}  // namespace
}  // namespace ehlo::policy
