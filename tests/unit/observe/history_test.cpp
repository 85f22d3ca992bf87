// The history's writer: batches, bounds, drops that are counted and logged, retention, and a
// database that cannot be written never holding up record().
#include <gtest/gtest.h>

#include <sqlite3.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "observe/history.hpp"
#include "observe/history_query.hpp"
#include "observe/log.hpp"
#include "observe/sqlite.hpp"
#include "temp_dir.hpp"

namespace ehlo::observe {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

constexpr std::int64_t kDayUs = 86'400'000'000;

std::int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Event queued(int n, std::int64_t t = 0) {
    Event e;
    e.kind = EventKind::Queued;
    e.time_us = t;
    e.queue_id = "Q" + std::to_string(n);
    e.sender = "sender@example.org";
    e.recipients = {"rcpt" + std::to_string(n) + "@example.net"};
    e.size = 100;
    return e;
}

HistoryOptions options(const TempDir& dir) {
    HistoryOptions o;
    o.path = dir.file("history.db");
    o.batch_wait = 10s;  // only flush(), a full batch or stop() make the writer write
    return o;
}

std::size_t count_messages(const std::string& path) {
    HistoryReader r;
    EXPECT_EQ(r.open(path), "");
    return r.recent(1'000'000).size();
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// Log lines go to a file for the length of a test, so a test can read what was said.
class LogToFile {
public:
    explicit LogToFile(std::string path) : path_(std::move(path)) { init({Level::Info, path_, false}); }
    ~LogToFile() { init({Level::Warn, "", false}); }
    std::string text() const { return read_file(path_); }

private:
    std::string path_;
};

TEST(History, WritesWhatIsQueuedInBatchesOfAtMostBatchEvents) {
    TempDir dir;
    auto o = options(dir);
    o.batch_events = 100;
    History h(o);
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(h.record(queued(i)));
    h.start();
    h.flush();
    const auto s = h.stats();
    EXPECT_EQ(s.recorded, 1000u);
    EXPECT_EQ(s.written, 1000u);
    EXPECT_EQ(s.batches, 10u);  // one transaction per 100 events, not one per event
    EXPECT_TRUE(s.database_ok);
    EXPECT_EQ(count_messages(o.path), 1000u);
}

TEST(History, ABurstIsWrittenInFewTransactions) {
    TempDir dir;
    auto o = options(dir);
    o.batch_wait = 50ms;
    History h(o);
    h.start();
    for (int i = 0; i < 5000; ++i) h.record(queued(i));
    h.flush();
    const auto s = h.stats();
    EXPECT_EQ(s.written, 5000u);
    EXPECT_LE(s.batches, 50u);
}

TEST(History, DropsWhenTheQueueIsFullAndCountsThem) {
    TempDir dir;
    auto o = options(dir);
    o.queue_events = 16;
    History h(o);  // not started: nothing drains the queue
    int accepted = 0;
    for (int i = 0; i < 100; ++i) accepted += h.record(queued(i)) ? 1 : 0;
    EXPECT_EQ(accepted, 16);
    EXPECT_EQ(h.stats().dropped_full, 84u);
    h.start();
    h.flush();
    EXPECT_EQ(h.stats().written, 16u);
    EXPECT_EQ(count_messages(o.path), 16u);
}

TEST(History, DropsWhenTheQueuedBytesPassTheirBound) {
    TempDir dir;
    auto o = options(dir);
    o.queue_bytes = 64 * 1024;
    History h(o);
    Event big = queued(1);
    big.reply = std::string(History::kMaxReply, 'x');  // ~16 KiB each
    int accepted = 0;
    for (int i = 0; i < 10; ++i) accepted += h.record(big) ? 1 : 0;
    EXPECT_GE(accepted, 3);
    EXPECT_LE(accepted, 4);
    EXPECT_EQ(h.stats().dropped_full, static_cast<std::uint64_t>(10 - accepted));
}

TEST(History, CutsLongFieldsSoOneEventCannotFillTheQueue) {
    TempDir dir;
    auto o = options(dir);
    History h(o);
    Event e = queued(1);
    e.subject = std::string(100000, 's');
    e.reply = std::string(100000, 'r');
    ASSERT_TRUE(h.record(e));
    h.start();
    h.flush();
    HistoryReader r;
    ASSERT_EQ(r.open(o.path), "");
    auto t = r.message("Q1");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->message.subject.size(), History::kMaxField);
    ASSERT_FALSE(t->events.empty());
    EXPECT_EQ(t->events.back().reply.size(), History::kMaxReply);
}

TEST(History, QueueFullDropsAreLoggedOnceWithTheirCount) {
    TempDir dir;
    LogToFile log(dir.file("log"));
    auto o = options(dir);
    o.queue_events = 4;
    History h(o);
    for (int i = 0; i < 50; ++i) h.record(queued(i));
    h.start();
    h.flush();
    h.stop();
    const std::string text = log.text();
    EXPECT_NE(text.find("event=history-dropped queue_full=46 write_failed=0"), std::string::npos) << text;
    // Rate-limited: the 46 drops make one line, not 46.
    std::size_t lines = 0;
    for (std::size_t at = 0; (at = text.find("history-dropped", at)) != std::string::npos; ++at) ++lines;
    EXPECT_EQ(lines, 1u);
}

// The history is advisory: where it cannot write, record() still returns at once, the events
// are dropped and counted, and the log says why.
TEST(History, AnUnwritableLocationNeverBlocksRecord) {
    TempDir dir;
    LogToFile log(dir.file("log"));
    HistoryOptions o;
    o.path = "/proc/ehlo-no-such-dir/history.db";  // no one, root included, creates files in /proc
    o.batch_wait = 1ms;
    History h(o);
    h.start();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 20000; ++i) h.record(queued(i));
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_LT(took, 2s);  // about 20 ms in fact; a blocking write per event would take far longer
    h.flush();
    const auto s = h.stats();
    EXPECT_FALSE(s.database_ok);
    EXPECT_EQ(s.written, 0u);
    EXPECT_EQ(s.dropped_failed + s.dropped_full, 20000u);
    h.stop();
    EXPECT_NE(log.text().find("event=history-unavailable path=/proc/ehlo-no-such-dir/history.db"), std::string::npos);
    EXPECT_NE(log.text().find("event=history-dropped"), std::string::npos);
}

TEST(History, AFullDatabaseDropsBatchesAndKeepsWhatFitted) {
    TempDir dir;
    auto o = options(dir);
    o.max_bytes = 1024 * 1024;  // as a full disk: SQLite reports SQLITE_FULL past it
    o.batch_events = 10;
    o.batch_wait = 1ms;
    History h(o);
    h.start();
    Event e = queued(0);
    e.reply = std::string(3000, 'r');
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 2000; ++i) {
        e.queue_id = "Q" + std::to_string(i);
        h.record(e);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    h.flush();
    const auto s = h.stats();
    EXPECT_GT(s.written, 0u);
    EXPECT_GT(s.dropped_failed, 0u);
    EXPECT_EQ(s.written + s.dropped_failed + s.dropped_full, 2000u);
    EXPECT_EQ(count_messages(o.path), s.written);  // what was written is whole and readable
}

// The same on a real full filesystem: a tmpfs of 512 KiB mounted for the test (needs root).
TEST(History, AFullFilesystemDropsAndRecordStaysFast) {
    TempDir dir;
    const std::string mnt = dir.file("mnt");
    std::filesystem::create_directory(mnt);
    if (::geteuid() != 0 || ::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=512k") != 0)
        GTEST_SKIP() << "cannot mount a small tmpfs (needs root): " << std::strerror(errno);
    struct Unmount {
        std::string at;
        ~Unmount() { ::umount2(at.c_str(), MNT_DETACH); }
    } unmount{mnt};
    HistoryOptions o;
    o.path = mnt + "/history.db";
    o.batch_events = 50;
    o.batch_wait = 1ms;
    {
        History h(o);
        h.start();
        Event e = queued(0);
        e.reply = std::string(4000, 'r');
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < 3000; ++i) {
            e.queue_id = "Q" + std::to_string(i);
            h.record(e);
        }
        EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
        h.flush();
        const auto s = h.stats();
        EXPECT_GT(s.written, 0u);
        EXPECT_GT(s.dropped_failed, 0u);
        EXPECT_EQ(s.written + s.dropped_failed + s.dropped_full, 3000u);
    }
    EXPECT_GT(count_messages(o.path), 0u);
}

TEST(History, RetentionPrunesOldMessagesAndSessionsInSmallSteps) {
    TempDir dir;
    auto o = options(dir);
    o.retention_days = 7;
    o.prune_every = 0ms;  // a round at every turn of the writer
    o.prune_step = 10;
    History h(o);
    const std::int64_t old = now_us() - 8 * kDayUs;
    for (int i = 0; i < 100; ++i) {
        h.record(queued(i, old + i));
        Event d;
        d.kind = EventKind::Delivered;
        d.time_us = old + i + 1;
        d.queue_id = "Q" + std::to_string(i);
        d.recipient = "rcpt" + std::to_string(i) + "@example.net";
        d.mailbox = "var/mail/x/new/file";
        h.record(d);
        Event c;
        c.kind = EventKind::Connect;
        c.time_us = old + i;
        c.session_id = "S" + std::to_string(i);
        h.record(c);
    }
    for (int i = 100; i < 105; ++i) h.record(queued(i));  // recent: kept
    h.start();
    h.flush();
    for (int tries = 0; tries < 500 && count_messages(o.path) != 5; ++tries) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(count_messages(o.path), 5u);
    const auto s = h.stats();
    EXPECT_GE(s.prune_steps, 10u);  // 100 messages, 1 per step of 10 rows: many small steps
    EXPECT_GE(s.pruned, 100u * 4);  // messages, their events and recipients, the sessions
    HistoryReader r;
    ASSERT_EQ(r.open(o.path), "");
    EXPECT_FALSE(r.message("Q0"));
    EXPECT_TRUE(r.message("Q104"));
    EXPECT_TRUE(r.by_address("rcpt3@example.net", 0, 10).empty());
}

TEST(History, AMessageStillInTheQueueKeepsItsWholeLife) {
    TempDir dir;
    auto o = options(dir);
    o.prune_every = 0ms;
    History h(o);
    const std::int64_t old = now_us() - 8 * kDayUs;
    h.record(queued(1, old));
    Event d;
    d.kind = EventKind::Deferred;
    d.queue_id = "Q1";
    d.recipient = "rcpt1@example.net";
    d.reply = "451 4.3.0 try later";
    h.record(d);  // now: the message's latest event is recent
    h.start();
    h.flush();
    std::this_thread::sleep_for(100ms);
    HistoryReader r;
    ASSERT_EQ(r.open(o.path), "");
    auto t = r.message("Q1");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->events.size(), 2u);
}

TEST(History, StopWritesWhatIsStillQueued) {
    TempDir dir;
    auto o = options(dir);
    {
        History h(o);
        h.start();
        for (int i = 0; i < 300; ++i) h.record(queued(i));
    }  // destructor: stop()
    EXPECT_EQ(count_messages(o.path), 300u);
}

// Readers (ehlo trace, the console) must never wait for the writer nor it for them: the
// database is in WAL mode, which is kept in the file, so any later connection sees it too.
TEST(History, TheDatabaseIsInWalJournalMode) {
    TempDir dir;
    auto o = options(dir);
    History h(o);
    h.start();
    h.record(queued(1));
    h.flush();
    ASSERT_TRUE(h.stats().database_ok);
    EXPECT_TRUE(std::filesystem::exists(o.path + "-wal"));  // the writer's connection is open

    sqlite::Database db;
    ASSERT_EQ(db.open(o.path, true), "");
    sqlite::Statement mode(db, "PRAGMA journal_mode");
    ASSERT_TRUE(mode.ok());
    ASSERT_EQ(mode.step(), SQLITE_ROW);
    EXPECT_EQ(mode.text(0), "wal");
    h.stop();
}

// The log is copied into the database file (and synced) once the writer has nothing to do:
// before, the database file holds none of the writer's pages.
TEST(History, APauseCopiesTheLogIntoTheDatabase) {
    TempDir dir;
    auto o = options(dir);
    o.batch_wait = 50ms;
    History h(o);
    h.start();
    for (int i = 0; i < 300; ++i) h.record(queued(i));
    h.flush();
    const auto pages = [&] { return std::filesystem::file_size(o.path) / 4096; };
    // Each table and index has a page of its own at least: about 20 once copied.
    for (int i = 0; i < 200 && pages() < 20; ++i) std::this_thread::sleep_for(25ms);
    EXPECT_GE(pages(), 20u);
    EXPECT_EQ(count_messages(o.path), 300u);
    h.stop();
}

TEST(History, RecordFromManyThreadsLosesNothingBelowTheBound) {
    TempDir dir;
    auto o = options(dir);
    o.batch_wait = 5ms;
    History h(o);
    h.start();
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&h, t] {
            for (int i = 0; i < 2000; ++i) h.record(queued(t * 100000 + i));
        });
    for (auto& t : threads) t.join();
    h.flush();
    EXPECT_EQ(h.stats().written, 16000u);
    EXPECT_EQ(count_messages(o.path), 16000u);
}

// WAL: a reader on its own connection reads while the writer commits batch after batch.
TEST(History, ReadsWhileTheWriterWrites) {
    TempDir dir;
    auto o = options(dir);
    o.batch_wait = 1ms;
    o.batch_events = 20;
    History h(o);
    h.start();
    h.record(queued(0));
    h.flush();
    std::atomic<bool> done{false};
    std::thread writer([&] {
        for (int i = 1; i < 20000 && !done; ++i) {
            h.record(queued(i));
            if (i % 100 == 0) std::this_thread::sleep_for(1ms);
        }
    });
    HistoryReader r;
    ASSERT_EQ(r.open(o.path), "");
    std::int64_t last = 0;
    int grew = 0;
    for (int i = 0; i < 100; ++i) {
        std::vector<MessageSummary> newest;
        ASSERT_NO_THROW(newest = r.recent(20));
        ASSERT_FALSE(newest.empty());
        EXPECT_GE(newest.front().received_us, last);
        if (newest.front().received_us > last) ++grew;
        last = newest.front().received_us;
        ASSERT_NO_THROW(r.search("rcpt1", 0, 5));
        ASSERT_NO_THROW(r.by_address("rcpt5@example.net", 0, 5));
        std::this_thread::sleep_for(2ms);
    }
    done = true;
    writer.join();
    EXPECT_GT(grew, 1);  // the reader saw new batches arrive while it read
}

}  // namespace
}  // namespace ehlo::observe
