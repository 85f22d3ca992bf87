#include "delivery/maildir.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "temp_dir.hpp"

namespace ehlo::delivery {
namespace {

using testing::mode_of;
using testing::TempDir;

TEST(MaildirName, IsArrivalQueueIdRecipientAndHost) {
    EXPECT_EQ(maildir_file_name(1700000000, "01HX0000000000AB", 3, "mx.example.org"),
              "1700000000.01HX0000000000AB_3.mx.example.org");
}

TEST(MaildirName, IsTheSameOnEveryAttempt) {
    EXPECT_EQ(maildir_file_name(1, "ID", 0, "h"), maildir_file_name(1, "ID", 0, "h"));
    EXPECT_NE(maildir_file_name(1, "ID", 0, "h"), maildir_file_name(1, "ID", 1, "h"));
}

TEST(MaildirName, EscapesSlashAndColonInTheHostName) {
    EXPECT_EQ(maildir_safe_host("a/b:c"), "a\\057b\\072c");
    EXPECT_EQ(maildir_safe_host(""), "localhost");
}

TEST(Maildir, EnsureCreatesTmpNewCurPrivately) {
    TempDir dir;
    auto md = dir.path() / "users" / "alice";
    ASSERT_FALSE(ensure_maildir(md));
    for (const char* sub : {"tmp", "new", "cur"}) {
        EXPECT_TRUE(std::filesystem::is_directory(md / sub));
        EXPECT_EQ(mode_of(md / sub), 0700u) << sub;
    }
    EXPECT_EQ(mode_of(md), 0700u);
    EXPECT_FALSE(ensure_maildir(md)) << "a second call finds it there";
}

TEST(Maildir, EnsureFailsWhereAFileStandsInTheWay) {
    TempDir dir;
    std::ofstream(dir.path() / "blocker") << "x";
    EXPECT_TRUE(ensure_maildir(dir.path() / "blocker" / "alice"));
}

TEST(Maildir, FindDeliveredLooksInNewAndWithScanInCur) {
    TempDir dir;
    auto md = dir.path() / "m";
    ASSERT_FALSE(ensure_maildir(md));
    const std::string name = maildir_file_name(5, "QID", 2, "host");
    EXPECT_FALSE(find_delivered(md, name, true));

    std::ofstream(md / "cur" / (name + ":2,S")) << "x";
    EXPECT_FALSE(find_delivered(md, name, false)) << "without a scan only new/ is looked at";
    auto found = find_delivered(md, name, true);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->filename().string(), name + ":2,S");

    std::ofstream(md / "new" / name) << "x";
    EXPECT_EQ(find_delivered(md, name, false), md / "new" / name);
}

TEST(Maildir, FindDeliveredIgnoresOtherRecipientsAndMatchesAnyHost) {
    TempDir dir;
    auto md = dir.path() / "m";
    ASSERT_FALSE(ensure_maildir(md));
    std::ofstream(md / "cur" / (maildir_file_name(5, "QID", 12, "host") + ":2,")) << "x";
    EXPECT_FALSE(find_delivered(md, maildir_file_name(5, "QID", 1, "host"), true));
    std::ofstream(md / "new" / maildir_file_name(5, "QID", 1, "oldname")) << "x";
    EXPECT_TRUE(find_delivered(md, maildir_file_name(5, "QID", 1, "newname"), true))
        << "a change of host name between runs must not cause a second delivery";
}

}  // namespace
}  // namespace ehlo::delivery
