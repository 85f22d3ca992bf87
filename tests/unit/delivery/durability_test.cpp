// syncfs(2) reports write-back errors only since Linux 5.8: the release string decides
// whether `sync = "syncfs"` may be used (the fallback in `ehlo serve`).
#include "delivery/durability.hpp"

#include <gtest/gtest.h>

namespace ehlo::delivery {
namespace {

TEST(SyncfsKernel, FiveEightAndNewerReportErrors) {
    EXPECT_TRUE(syncfs_reports_errors("5.8.0"));
    EXPECT_TRUE(syncfs_reports_errors("5.8"));
    EXPECT_TRUE(syncfs_reports_errors("5.10.0-28-amd64"));
    EXPECT_TRUE(syncfs_reports_errors("6.1.0-18-amd64"));
    EXPECT_TRUE(syncfs_reports_errors("6.0.0"));
    EXPECT_TRUE(syncfs_reports_errors("10.2.1"));
    EXPECT_TRUE(syncfs_reports_errors("5.15.153.1-microsoft-standard-WSL2"));
}

TEST(SyncfsKernel, OlderOnesDoNot) {
    EXPECT_FALSE(syncfs_reports_errors("5.7.0-1-amd64"));
    EXPECT_FALSE(syncfs_reports_errors("5.7.19"));
    EXPECT_FALSE(syncfs_reports_errors("5.4.0-150-generic"));
    EXPECT_FALSE(syncfs_reports_errors("4.19.0-26-amd64"));
    EXPECT_FALSE(syncfs_reports_errors("3.10.0-1160.el7.x86_64"));
    EXPECT_FALSE(syncfs_reports_errors("2.6.32"));
}

TEST(SyncfsKernel, UnreadableReleaseCountsAsOld) {
    EXPECT_FALSE(syncfs_reports_errors(""));
    EXPECT_FALSE(syncfs_reports_errors("linux"));
    EXPECT_FALSE(syncfs_reports_errors("6"));
    EXPECT_FALSE(syncfs_reports_errors("6."));
    EXPECT_FALSE(syncfs_reports_errors(".8.0"));
    EXPECT_FALSE(syncfs_reports_errors("5-8"));
    EXPECT_FALSE(syncfs_reports_errors("99999999.1"));
}

}  // namespace
}  // namespace ehlo::delivery
