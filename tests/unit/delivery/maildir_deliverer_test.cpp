#include "delivery/maildir_deliverer.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "delivery/maildir.hpp"
#include "temp_dir.hpp"

namespace ehlo::delivery {
namespace {

using testing::count_entries;
using testing::mode_of;
using testing::read_file;
using testing::TempDir;

// Content that arrives in small pieces, as a spool file gives it.
class PiecewiseContent final : public ContentSource {
public:
    PiecewiseContent(std::string content, std::size_t piece) : content_(std::move(content)), piece_(piece) {}
    std::unique_ptr<ContentReader> open(std::error_code& ec) const override {
        ec.clear();
        return std::make_unique<Reader>(content_, piece_);
    }

private:
    struct Reader final : ContentReader {
        Reader(std::string_view rest, std::size_t piece) : rest_(rest), piece_(piece) {}
        std::error_code next(std::string& piece) override {
            piece.assign(rest_.substr(0, piece_));
            rest_.remove_prefix(piece.size());
            return {};
        }
        std::string_view rest_;
        std::size_t piece_;
    };
    std::string content_;
    std::size_t piece_;
};

// Content whose reading fails after a first piece (EIO from the spool file).
class FailingContent final : public ContentSource {
public:
    std::unique_ptr<ContentReader> open(std::error_code& ec) const override {
        ec.clear();
        return std::make_unique<Reader>();
    }

private:
    struct Reader final : ContentReader {
        std::error_code next(std::string& piece) override {
            if (first_) {
                first_ = false;
                piece = "Subject: half\r\n";
                return {};
            }
            return std::make_error_code(std::errc::io_error);
        }
        bool first_ = true;
    };
};

MaildirJob job_for(const std::filesystem::path& maildir, const ContentSource& content, std::string name = "1.QID_0.h",
                   std::string sender = "bob@example.org") {
    MaildirJob job;
    job.maildir = maildir;
    job.file_name = std::move(name);
    job.return_path = std::move(sender);
    job.content = &content;
    return job;
}

TEST(MaildirDeliverer, WritesReturnPathThenContentWithLfIntoNew) {
    TempDir dir;
    auto md = dir.path() / "alice";
    MemoryContent content("Subject: hi\r\n\r\nHello\r\n");
    MaildirDeliverer deliverer(SyncMode::Syncfs);
    auto results = deliverer.deliver({job_for(md, content)});
    ASSERT_EQ(results.size(), 1u);
    ASSERT_EQ(results[0].status, MaildirResult::Status::Delivered) << results[0].error;
    EXPECT_EQ(results[0].file, md / "new" / "1.QID_0.h");
    // RFC 5321 4.4: the final delivery adds Return-Path with the reverse-path, first.
    EXPECT_EQ(read_file(results[0].file), "Return-Path: <bob@example.org>\nSubject: hi\n\nHello\n");
    EXPECT_EQ(count_entries(md / "tmp"), 0u) << "tmp/ is empty once delivered";
    EXPECT_EQ(mode_of(results[0].file), 0600u);
    EXPECT_EQ(mode_of(md / "new"), 0700u);
}

TEST(MaildirDeliverer, NullReversePathBecomesEmptyReturnPath) {
    // RFC 5321 4.4 and 4.5.5: a bounce carries the null reverse-path "<>".
    TempDir dir;
    MemoryContent content("x\r\n");
    MaildirDeliverer deliverer(SyncMode::Syncfs);
    auto results = deliverer.deliver({job_for(dir.path() / "m", content, "1.Q_0.h", "")});
    ASSERT_TRUE(results[0].ok());
    EXPECT_EQ(read_file(results[0].file), "Return-Path: <>\nx\n");
}

TEST(MaildirDeliverer, ContentInManySmallPiecesIsWrittenExactly) {
    TempDir dir;
    std::string content, expected = "Return-Path: <a@b>\n";
    for (int i = 0; i < 20000; ++i) {
        std::string line = "line " + std::to_string(i) + " of the message";
        content += line + "\r\n";
        expected += line + "\n";
    }
    PiecewiseContent source(content, 7);
    MaildirDeliverer deliverer(SyncMode::Fsync);
    auto results = deliverer.deliver({job_for(dir.path() / "m", source, "1.Q_0.h", "a@b")});
    ASSERT_TRUE(results[0].ok()) << results[0].error;
    EXPECT_EQ(read_file(results[0].file), expected);
}

TEST(MaildirDeliverer, ABatchIsMadeDurableWithTwoSyncsInSyncfsMode) {
    TempDir dir;
    MemoryContent content("x\r\n");
    int syncs = 0;
    MaildirDeliverer deliverer(SyncMode::Syncfs, [&] { ++syncs; });
    std::vector<MaildirJob> jobs;
    for (int i = 0; i < 50; ++i)
        jobs.push_back(job_for(dir.path() / ("user" + std::to_string(i % 5)), content, "1.Q_" + std::to_string(i) + ".h"));
    auto results = deliverer.deliver(jobs);
    for (const auto& r : results) ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(syncs, 2) << "one sync before the renames, one after, for the whole batch";
}

TEST(MaildirDeliverer, FsyncModeSyncsEachFileAndEachNewDirectoryOnce) {
    TempDir dir;
    MemoryContent content("x\r\n");
    int syncs = 0;
    MaildirDeliverer deliverer(SyncMode::Fsync, [&] { ++syncs; });
    std::vector<MaildirJob> jobs;
    for (int i = 0; i < 10; ++i)
        jobs.push_back(job_for(dir.path() / ("user" + std::to_string(i % 2)), content, "1.Q_" + std::to_string(i) + ".h"));
    auto results = deliverer.deliver(jobs);
    for (const auto& r : results) ASSERT_TRUE(r.ok()) << r.error;
    // Once per Maildir: it and every directory above it, up to the root (any of them may have
    // been created with it); then each file, and each new/ once per batch.
    auto chain = [](std::filesystem::path p) {
        int n = 1;
        for (p = std::filesystem::absolute(p); p.has_relative_path(); p = p.parent_path()) ++n;
        return n;
    };
    EXPECT_EQ(syncs, chain(dir.path() / "user0") + chain(dir.path() / "user1") + 10 + 2)
        << "each Maildir's directory chain once, each file, each new/";
}

TEST(MaildirDeliverer, AMessageAlreadyInNewOrCurIsNotWrittenAgain) {
    TempDir dir;
    auto md = dir.path() / "m";
    ASSERT_FALSE(ensure_maildir(md));
    std::ofstream(md / "cur" / "1.Q_0.h:2,S") << "read already";
    std::ofstream(md / "new" / "1.Q_1.h") << "not read yet";
    MemoryContent content("x\r\n");
    MaildirDeliverer deliverer(SyncMode::Syncfs);
    auto a = job_for(md, content, "1.Q_0.h");
    a.scan_existing = true;
    auto b = job_for(md, content, "1.Q_1.h");
    auto results = deliverer.deliver({a, b});
    EXPECT_EQ(results[0].status, MaildirResult::Status::AlreadyDelivered);
    EXPECT_EQ(results[0].file, md / "cur" / "1.Q_0.h:2,S");
    EXPECT_EQ(results[1].status, MaildirResult::Status::AlreadyDelivered);
    EXPECT_EQ(read_file(md / "new" / "1.Q_1.h"), "not read yet");
    EXPECT_EQ(count_entries(md / "new"), 1u);
    EXPECT_EQ(count_entries(md / "cur"), 1u);
}

TEST(MaildirDeliverer, AFailureAffectsOnlyItsOwnJob) {
    TempDir dir;
    std::ofstream(dir.path() / "blocker") << "x";
    MemoryContent content("x\r\n");
    FailingContent unreadable;
    MaildirDeliverer deliverer(SyncMode::Syncfs);
    auto results = deliverer.deliver({job_for(dir.path() / "blocker" / "m", content, "1.Q_0.h"),
                                      job_for(dir.path() / "ok", unreadable, "1.Q_1.h"),
                                      job_for(dir.path() / "ok", content, "1.Q_2.h")});
    EXPECT_EQ(results[0].status, MaildirResult::Status::Failed);
    EXPECT_NE(results[0].error.find("blocker"), std::string::npos) << results[0].error;
    EXPECT_EQ(results[1].status, MaildirResult::Status::Failed);
    EXPECT_EQ(results[2].status, MaildirResult::Status::Delivered);
    EXPECT_EQ(count_entries(dir.path() / "ok" / "tmp"), 0u) << "a failed write leaves nothing in tmp/";
    EXPECT_EQ(count_entries(dir.path() / "ok" / "new"), 1u);
}

TEST(MaildirDeliverer, AMaildirRemovedAfterFirstUseIsCreatedAgain) {
    TempDir dir;
    MemoryContent content("x\r\n");
    MaildirDeliverer deliverer(SyncMode::Syncfs);
    ASSERT_TRUE(deliverer.deliver({job_for(dir.path() / "m", content, "1.Q_0.h")})[0].ok());
    std::filesystem::remove_all(dir.path() / "m");
    auto again = deliverer.deliver({job_for(dir.path() / "m", content, "1.Q_1.h")});
    EXPECT_TRUE(again[0].ok()) << again[0].error;
}

TEST(MaildirDeliverer, ALeftoverInTmpFromACrashIsOverwritten) {
    TempDir dir;
    auto md = dir.path() / "m";
    ASSERT_FALSE(ensure_maildir(md));
    std::ofstream(md / "tmp" / "1.Q_0.h") << "half a message from before the crash, longer than the real one";
    MemoryContent content("x\r\n");
    MaildirDeliverer deliverer(SyncMode::Syncfs);
    auto results = deliverer.deliver({job_for(md, content, "1.Q_0.h", "a@b")});
    ASSERT_TRUE(results[0].ok());
    EXPECT_EQ(read_file(results[0].file), "Return-Path: <a@b>\nx\n");
    EXPECT_EQ(count_entries(md / "tmp"), 0u);
}

}  // namespace
}  // namespace ehlo::delivery
