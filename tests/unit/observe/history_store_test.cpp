// The writer's batches as HistoryStore writes them: many rows per statement, a transaction's
// MAIL and RCPT linked to its message within a batch or across batches, and each recipient's
// row left in its latest state. Read back through HistoryReader, as `ehlo trace` reads.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "history_scenarios.hpp"
#include "observe/history_query.hpp"
#include "observe/history_store.hpp"
#include "observe/sqlite.hpp"
#include "temp_dir.hpp"

namespace ehlo::observe {
namespace {

using testing::ev;
using testing::kMs;
using testing::kT0;

class Batches {
public:
    Event& add(EventKind kind, std::int64_t t) {
        batch_.push_back(std::make_unique<Event>(ev(kind, t)));
        return *batch_.back();
    }
    Event& mail(const std::string& session, std::int64_t t, const std::string& sender) {
        Event& e = add(EventKind::MailFrom, t);
        e.session_id = session;
        e.sender = sender;
        e.reply = "250 2.1.0 Ok";
        return e;
    }
    Event& rcpt(const std::string& session, std::int64_t t, const std::string& recipient,
                const std::string& reply = "250 2.1.5 Ok") {
        Event& e = add(EventKind::RcptTo, t);
        e.session_id = session;
        e.recipient = recipient;
        e.reply = reply;
        return e;
    }
    Event& queued(const std::string& id, const std::string& session, std::int64_t t, std::vector<std::string> rcpts) {
        Event& e = add(EventKind::Queued, t);
        e.queue_id = id;
        e.session_id = session;
        e.sender = "me@example.org";
        e.recipients = std::move(rcpts);
        e.size = 1000;
        e.reply = "250 2.0.0 Ok: queued as " + id;
        e.subject = "Subject of " + id;
        return e;
    }
    Event& outcome(EventKind kind, const std::string& id, std::int64_t t, const std::string& recipient) {
        Event& e = add(kind, t);
        e.queue_id = id;
        e.recipient = recipient;
        return e;
    }
    // Writes what was added as one batch.
    void write(HistoryStore& store) {
        ASSERT_EQ(store.write(batch_).error, "");
        batch_.clear();
    }

private:
    std::vector<std::unique_ptr<Event>> batch_;
};

class HistoryStoreBatches : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_EQ(store.open(dir.file("history.db"), 0), ""); }

    HistoryReader& reader() {
        if (!reader_open_) {
            EXPECT_EQ(reader_.open(dir.file("history.db")), "");
            reader_open_ = true;
        }
        return reader_;
    }

    std::vector<std::string> kinds(const std::string& id) {
        std::vector<std::string> out;
        auto t = reader().message(id);
        if (!t) return out;
        for (const auto& e : t->events) {
            std::string k(to_string(e.kind));
            if (!e.recipient.empty()) k += " " + e.recipient;
            out.push_back(k);
        }
        return out;
    }

    testing::TempDir dir;
    HistoryStore store;
    Batches b;

private:
    HistoryReader reader_;
    bool reader_open_ = false;
};

TEST_F(HistoryStoreBatches, SessionsInterleavedInOneBatchEachLinkTheirOwnTransaction) {
    b.mail("A", kT0, "a@example.org");
    b.mail("B", kT0 + 1 * kMs, "b@example.org");
    b.rcpt("A", kT0 + 2 * kMs, "x@example.com");
    b.rcpt("B", kT0 + 3 * kMs, "y@example.com");
    b.queued("QB", "B", kT0 + 4 * kMs, {"y@example.com"});
    b.queued("QA", "A", kT0 + 5 * kMs, {"x@example.com"});
    b.write(store);
    EXPECT_EQ(kinds("QA"), (std::vector<std::string>{"mail", "rcpt x@example.com", "queued"}));
    EXPECT_EQ(kinds("QB"), (std::vector<std::string>{"mail", "rcpt y@example.com", "queued"}));
}

TEST_F(HistoryStoreBatches, ATransactionBegunInAnEarlierBatchIsLinkedWhenItsMessageIsQueued) {
    b.mail("A", kT0, "a@example.org");
    b.rcpt("A", kT0 + 1 * kMs, "x@example.com");
    b.write(store);
    b.rcpt("A", kT0 + 2 * kMs, "z@example.com", "550 5.1.1 <z@example.com>: no such user");
    b.rcpt("A", kT0 + 3 * kMs, "y@example.com");
    b.queued("QA", "A", kT0 + 4 * kMs, {"x@example.com", "y@example.com"});
    b.write(store);
    EXPECT_EQ(kinds("QA"), (std::vector<std::string>{"mail", "rcpt x@example.com", "rcpt z@example.com",
                                                     "rcpt y@example.com", "queued"}));
}

TEST_F(HistoryStoreBatches, OnlyTheLastTransactionOfASessionBelongsToItsMessage) {
    // MAIL, RCPT, then a new MAIL (after RSET): the first transaction stays the session's.
    b.mail("A", kT0, "first@example.org");
    b.rcpt("A", kT0 + 1 * kMs, "x@example.com");
    b.write(store);
    b.mail("A", kT0 + 2 * kMs, "second@example.org");
    b.rcpt("A", kT0 + 3 * kMs, "y@example.com");
    b.queued("QA", "A", kT0 + 4 * kMs, {"y@example.com"});
    // And the next transaction of the session, in the same batch, is not this message's.
    b.mail("A", kT0 + 5 * kMs, "third@example.org");
    b.write(store);
    b.rcpt("A", kT0 + 6 * kMs, "w@example.com");
    b.queued("QC", "A", kT0 + 7 * kMs, {"w@example.com"});
    b.write(store);
    EXPECT_EQ(kinds("QA"), (std::vector<std::string>{"mail", "rcpt y@example.com", "queued"}));
    auto a = reader().message("QA");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->events.front().sender, "second@example.org");
    EXPECT_EQ(kinds("QC"), (std::vector<std::string>{"mail", "rcpt w@example.com", "queued"}));
    auto c = reader().message("QC");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->events.front().sender, "third@example.org");
}

TEST_F(HistoryStoreBatches, TheSessionsEndBeforeItsMessageIsQueuedStillLinksTheTransaction) {
    // The Queued event comes from the spool's thread: the session's end may be recorded first.
    b.mail("A", kT0, "a@example.org");
    b.rcpt("A", kT0 + 1 * kMs, "x@example.com");
    Event& end = b.add(EventKind::SessionEnd, kT0 + 2 * kMs);
    end.session_id = "A";
    end.detail = "QUIT";
    b.queued("QA", "A", kT0 + 3 * kMs, {"x@example.com"});
    b.write(store);
    auto t = reader().message("QA");
    ASSERT_TRUE(t);
    std::vector<std::string> own;
    for (const auto& e : t->events)
        if (!e.queue_id.empty()) own.emplace_back(to_string(e.kind));
    EXPECT_EQ(own, (std::vector<std::string>{"mail", "rcpt", "queued"}));
}

TEST_F(HistoryStoreBatches, ABounceKeepsItsEmptySender) {
    Event& q = b.queued("QD", "", kT0, {"x@example.com"});
    q.sender.clear();  // MAIL FROM:<> (RFC 5321 4.5.5)
    b.write(store);
    auto t = reader().message("QD");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->message.sender, "");
    EXPECT_EQ(reader().by_address("x@example.com", 0, 10).size(), 1u);
}

TEST_F(HistoryStoreBatches, ARecipientRowIsItsLatestStateInTheOrderOfTheRecipients) {
    b.queued("Q1", "", kT0, {"b@example.com", "a@example.com"});
    Event& d = b.outcome(EventKind::Deferred, "Q1", kT0 + 1 * kMs, "a@example.com");
    d.reply = "451 4.7.1 greylisted";
    d.next_attempt_us = kT0 + 300 * testing::kSecond;
    // The same recipient as SQLite's NOCASE sees it: one row, in its latest state.
    Event& first = b.outcome(EventKind::Deferred, "Q1", kT0 + 2 * kMs, "B@Example.com");
    first.reply = "421 4.4.2 try again";
    Event& ok = b.outcome(EventKind::Delivered, "Q1", kT0 + 3 * kMs, "b@example.com");
    ok.reply = "250 2.0.0 Ok: queued as 4XyZ";
    ok.remote_host = "mx.example.com";
    b.write(store);
    auto t = reader().message("Q1");
    ASSERT_TRUE(t);
    ASSERT_EQ(t->message.recipients.size(), 2u);
    EXPECT_EQ(t->message.recipients[0].address, "b@example.com");
    EXPECT_EQ(t->message.recipients[0].state, "delivered");
    EXPECT_EQ(t->message.recipients[0].reply, "250 2.0.0 Ok: queued as 4XyZ");
    EXPECT_EQ(t->message.recipients[0].remote_host, "mx.example.com");
    EXPECT_EQ(t->message.recipients[1].address, "a@example.com");
    EXPECT_EQ(t->message.recipients[1].state, "deferred");
    EXPECT_EQ(t->message.recipients[1].reply, "451 4.7.1 greylisted");
    EXPECT_EQ(t->message.recipients[1].next_attempt_us, kT0 + 300 * testing::kSecond);

    // A later batch moves the deferred one on; a Queued recorded again (recovery) changes nothing.
    Event& bounce = b.outcome(EventKind::Bounced, "Q1", kT0 + 3 * kMs, "a@example.com");
    bounce.detail = "too old";
    bounce.dsn_id = "QDSN";
    b.queued("Q1", "", kT0 + 4 * kMs, {"b@example.com", "a@example.com"});
    b.write(store);
    t = reader().message("Q1");
    ASSERT_TRUE(t);
    ASSERT_EQ(t->message.recipients.size(), 2u);
    EXPECT_EQ(t->message.recipients[0].state, "delivered");
    EXPECT_EQ(t->message.recipients[1].state, "bounced");
    EXPECT_EQ(t->message.recipients[1].reply, "too old");  // a local error says why
    EXPECT_EQ(t->message.recipients[1].dsn_id, "QDSN");
}

TEST_F(HistoryStoreBatches, ALargeBatchKeepsEveryRowAndItsValues) {
    // 105 messages of 5 events: 525 event rows go 16 x 32 + 8 + 5 x 1, the 105 recipient and
    // message rows 3 x 32 + 8 + 1; each must land whole.
    constexpr int kMessages = 105;
    for (int n = 0; n < kMessages; ++n) {
        const std::string s = "S" + std::to_string(n % 7), id = "Q" + std::to_string(1000 + n);
        const std::string rcpt = "user" + std::to_string(n) + "@example.com";
        const std::int64_t t = kT0 + n * 10 * kMs;
        b.mail(s, t, "sender" + std::to_string(n) + "@example.org");
        b.rcpt(s, t + 1 * kMs, rcpt);
        b.queued(id, s, t + 2 * kMs, {rcpt});
        Event& r = b.outcome(EventKind::Routed, id, t + 3 * kMs, rcpt);
        r.next_hop = "mailbox user" + std::to_string(n);
        Event& d = b.outcome(EventKind::Delivered, id, t + 4 * kMs, rcpt);
        d.mailbox = "/var/mail/user" + std::to_string(n) + "/new/" + id;
    }
    b.write(store);
    for (int n : {0, 31, 32, 33, 63, 64, 95, 96, 100, 102, 103, 104}) {
        const std::string id = "Q" + std::to_string(1000 + n), rcpt = "user" + std::to_string(n) + "@example.com";
        SCOPED_TRACE(id);
        auto t = reader().message(id);
        ASSERT_TRUE(t);
        ASSERT_EQ(t->events.size(), 5u);
        EXPECT_EQ(t->events[0].sender, "sender" + std::to_string(n) + "@example.org");
        EXPECT_EQ(t->events[0].reply, "250 2.1.0 Ok");
        EXPECT_EQ(t->events[0].time_us, kT0 + n * 10 * kMs);
        EXPECT_EQ(t->events[1].recipient, rcpt);
        EXPECT_EQ(t->events[2].size, 1000u);
        EXPECT_EQ(t->events[3].next_hop, "mailbox user" + std::to_string(n));
        EXPECT_EQ(t->events[4].mailbox, "/var/mail/user" + std::to_string(n) + "/new/" + id);
        EXPECT_EQ(t->message.subject, "Subject of " + id);
        ASSERT_EQ(t->message.recipients.size(), 1u);
        EXPECT_EQ(t->message.recipients[0].state, "delivered");
    }
    EXPECT_EQ(reader().recent(1000).size(), static_cast<std::size_t>(kMessages));
}

// The log is copied into the database only in a pause or at its cap, never by SQLite's
// automatic checkpoint at 1000 frames: past 1000 frames it is all still there, the database
// file has not grown, and a pause copies it all.
TEST_F(HistoryStoreBatches, TheLogIsCopiedInAPauseOrAtItsCapOnly) {
    const std::string db_file = dir.file("history.db");
    const auto db_size = [&] { return std::filesystem::file_size(db_file); };
    const auto before = db_size();
    int n = 0;
    while (store.wal_frames() <= 1200) {
        for (int i = 0; i < 200; ++i, ++n) {
            const std::string id = "Q" + std::to_string(100000 + n);
            b.queued(id, "", kT0 + n * kMs, {"someone" + std::to_string(n) + "@example.com"});
            b.outcome(EventKind::Delivered, id, kT0 + n * kMs + 1, "someone" + std::to_string(n) + "@example.com");
        }
        b.write(store);
        store.checkpoint(false);  // as after each batch under load: below the cap, nothing
        ASSERT_LT(n, 100000) << "the log never grew";
    }
    EXPECT_EQ(db_size(), before);
    EXPECT_EQ(kinds("Q100000"), (std::vector<std::string>{"queued", "delivered someone0@example.com"}));

    store.checkpoint(false, store.wal_frames() + 1);  // a cap not reached yet
    EXPECT_GT(store.wal_frames(), 1200);
    store.checkpoint(true);  // a pause
    EXPECT_EQ(store.wal_frames(), 0);
    EXPECT_GT(db_size(), before + (1u << 20));  // its pages, each once
    EXPECT_EQ(kinds("Q100001"), (std::vector<std::string>{"queued", "delivered someone1@example.com"}));

    // Under a steady load, the cap: the log is copied after the batch that reaches it.
    b.queued("Q0", "", kT0, {"x@example.com"});
    b.write(store);
    ASSERT_GT(store.wal_frames(), 0);
    store.checkpoint(false, 1);
    EXPECT_EQ(store.wal_frames(), 0);
}

// A reader's snapshot keeps the log from starting again at the next commit: the frames
// already copied are not counted again, and what the reader holds back is copied later.
TEST_F(HistoryStoreBatches, FramesAlreadyCopiedAreNotCountedAgainWhileAReaderHoldsTheLog) {
    for (int n = 0; n < 2000; ++n) {
        const std::string id = "Q" + std::to_string(100000 + n);
        b.queued(id, "", kT0 + n * kMs, {"someone" + std::to_string(n) + "@example.com"});
    }
    b.write(store);
    ASSERT_GT(store.wal_frames(), 100);
    // A reader whose snapshot is in the log, then a checkpoint that copies all of it.
    sqlite::Database reader_db;
    ASSERT_EQ(reader_db.open(dir.file("history.db"), true), "");
    ASSERT_EQ(reader_db.exec("BEGIN"), "");
    {
        sqlite::Statement count(reader_db, "SELECT count(*) FROM messages");
        ASSERT_EQ(count.step(), SQLITE_ROW);
    }
    store.checkpoint(true);
    ASSERT_EQ(store.wal_frames(), 0);

    b.queued("QLATE", "", kT0 + 3000 * kMs, {"late@example.com"});
    b.write(store);  // appended after the 2000 messages' frames: the reader is in the log
    EXPECT_GT(store.wal_frames(), 0);
    EXPECT_LT(store.wal_frames(), 100);  // the one message's pages, not the whole log
    store.checkpoint(true);              // held back by the reader's snapshot
    EXPECT_GT(store.wal_frames(), 0);
    ASSERT_EQ(reader_db.exec("COMMIT"), "");
    store.checkpoint(true);
    EXPECT_EQ(store.wal_frames(), 0);
    EXPECT_EQ(kinds("QLATE"), (std::vector<std::string>{"queued"}));
}

// Layout version 3 indexes a session's events only while no message owns them; a version 2
// database is brought to it in place and keeps what it held.
TEST(HistoryStoreLayout, Version2IsMigratedInPlace) {
    testing::TempDir dir;
    const std::string path = dir.file("history.db");
    {
        HistoryStore store;
        ASSERT_EQ(store.open(path, 0), "");
        Batches b;
        b.mail("A", kT0, "a@example.org");
        b.rcpt("A", kT0 + kMs, "x@example.com");
        b.write(store);
    }
    {
        sqlite::Database db;
        ASSERT_EQ(db.open(path, false), "");
        ASSERT_EQ(db.exec("DROP INDEX events_by_session; "
                          "CREATE INDEX events_by_session ON events(session_id) WHERE session_id IS NOT NULL; "
                          "PRAGMA user_version = 2;"),
                  "");
    }
    HistoryStore store;
    ASSERT_EQ(store.open(path, 0), "");
    Batches b;
    b.queued("QA", "A", kT0 + 2 * kMs, {"x@example.com"});
    b.write(store);
    store.close();
    sqlite::Database db;
    ASSERT_EQ(db.open(path, true), "");
    sqlite::Statement version(db, "PRAGMA user_version");
    ASSERT_EQ(version.step(), 100);  // SQLITE_ROW
    EXPECT_EQ(version.integer(0), 3);
    sqlite::Statement index(db, "SELECT sql FROM sqlite_schema WHERE name = 'events_by_session'");
    ASSERT_EQ(index.step(), 100);
    EXPECT_NE(index.text(0).find("queue_id IS NULL"), std::string::npos);
    HistoryReader reader;
    ASSERT_EQ(reader.open(path), "");
    auto t = reader.message("QA");
    ASSERT_TRUE(t);
    ASSERT_EQ(t->events.size(), 3u);  // the MAIL and RCPT written before the migration, linked after it
}

}  // namespace
}  // namespace ehlo::observe
