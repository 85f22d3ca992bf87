// Each query of the history, on the scenarios of history_scenarios.hpp written through the
// real writer.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>

#include "history_scenarios.hpp"
#include "observe/history_query.hpp"
#include "observe/sqlite.hpp"
#include "temp_dir.hpp"

namespace ehlo::observe {
namespace {

using namespace std::chrono_literals;
using namespace testing;

class HistoryQuery : public ::testing::Test {
protected:
    void SetUp() override {
        HistoryOptions o;
        o.path = dir.file("history.db");
        o.retention_days = 0;  // the scenarios are from 2024
        History h(o);
        h.start();
        record_all(h);
        h.flush();
        h.stop();
        ASSERT_EQ(reader.open(o.path), "");
    }

    std::vector<std::string> ids(const std::vector<MessageTrace>& traces) {
        std::vector<std::string> out;
        for (const auto& t : traces) out.push_back(t.message.queue_id);
        return out;
    }

    TempDir dir;
    HistoryReader reader;
};

std::vector<std::string> kinds(const MessageTrace& t) {
    std::vector<std::string> out;
    for (const auto& e : t.events) out.emplace_back(to_string(e.kind));
    return out;
}

TEST_F(HistoryQuery, ByQueueIdGivesTheWholeLifeInTimeOrder) {
    auto t = reader.message(kDeliveredId);
    ASSERT_TRUE(t);
    EXPECT_EQ(kinds(*t), (std::vector<std::string>{"connect", "helo", "tls", "mail", "rcpt", "queued", "routed",
                                                   "delivered", "session-end"}));
    EXPECT_EQ(t->message.sender, "me@example.org");
    EXPECT_EQ(t->message.size, 1234u);
    EXPECT_EQ(t->message.subject, "Hello Alice");
    ASSERT_EQ(t->message.recipients.size(), 1u);
    EXPECT_EQ(t->message.recipients[0].state, "delivered");
    EXPECT_EQ(t->message.recipients[0].mailbox, "var/mail/alice/new/1714564992.0SD3XM5K2W8G0001_0.mail.example.com");
    EXPECT_TRUE(t->transcript.empty());  // a session without errors: not kept in "errors" mode
    EXPECT_FALSE(reader.message("0SD3XMZZZZZZ9999"));
}

TEST_F(HistoryQuery, OnlyTheLastTransactionOfTheSessionIsLinkedToTheMessage) {
    auto t = reader.message(kHeldId);
    ASSERT_TRUE(t);
    // S4: MAIL, RCPT nobody@ (refused), RCPT erin@: all one transaction, all linked.
    std::size_t rcpts = 0;
    for (const auto& e : t->events) rcpts += e.kind == EventKind::RcptTo ? 1 : 0;
    EXPECT_EQ(rcpts, 2u);
    EXPECT_TRUE(t->message.held);
    EXPECT_NE(t->transcript.find("S: 550 5.1.1 <nobody@example.com>"), std::string::npos);
}

TEST_F(HistoryQuery, ByAddressFindsSenderAndRecipientCaseBlindWithOrWithoutBrackets) {
    EXPECT_EQ(ids(reader.by_address("me@example.org", 0, 10)),
              (std::vector<std::string>{kDeliveredId, kDeferredId, kBouncedId, kDsnId}));  // sender of three, DSN to it
    EXPECT_EQ(ids(reader.by_address("<Bob@Example.NET>", 0, 10)), (std::vector<std::string>{kDeferredId}));
    EXPECT_EQ(ids(reader.by_address("carol@example.net", 0, 10)), (std::vector<std::string>{kBouncedId}));
    EXPECT_TRUE(reader.by_address("nobody-at-all@example.net", 0, 10).empty());
}

TEST_F(HistoryQuery, ByAddressKeepsTheNewestUpToTheLimit) {
    EXPECT_EQ(ids(reader.by_address("me@example.org", 0, 2)), (std::vector<std::string>{kBouncedId, kDsnId}));
}

TEST_F(HistoryQuery, ByAddressFindsATransactionRefusedBeforeAnyMessage) {
    auto traces = reader.by_address("victim@elsewhere.example", 0, 10);
    ASSERT_EQ(traces.size(), 1u);
    const auto& t = traces[0];
    EXPECT_EQ(t.message.queue_id, "");
    EXPECT_EQ(t.message.session_id, "S5");
    EXPECT_EQ(kinds(t), (std::vector<std::string>{"connect", "mail", "rcpt", "session-end"}));
    EXPECT_EQ(t.events[2].reply, "554 5.7.1 <victim@elsewhere.example>: Relay access denied");
}

TEST_F(HistoryQuery, ByAddressFindsARefusedRecipientBesideTheMessageOfItsSession) {
    // nobody@ was refused in S4, whose transaction then went on to queue the held message:
    // that message's trace shows the refusal.
    auto traces = reader.by_address("nobody@example.com", 0, 10);
    EXPECT_EQ(ids(traces), (std::vector<std::string>{kHeldId}));
}

TEST_F(HistoryQuery, ByMessageIdWithOrWithoutBrackets) {
    EXPECT_EQ(ids(reader.by_message_id("<0SD3XM6A1B2C0002@example.org>", 0, 10)),
              (std::vector<std::string>{kDeferredId}));
    EXPECT_EQ(ids(reader.by_message_id("0SD3XM6A1B2C0002@example.org", 0, 10)),
              (std::vector<std::string>{kDeferredId}));
}

TEST_F(HistoryQuery, SinceLeavesOutMessagesWhoseLifeEndedBefore) {
    // The deferred message's latest event (its deferral, at T0 + 3.1 s) is after the window's
    // start; the others' lives ended before it.
    EXPECT_EQ(ids(reader.by_address("me@example.org", kT0 + 2500 * kMs, 10)),
              (std::vector<std::string>{kDeferredId}));
    EXPECT_TRUE(reader.by_address("me@example.org", kT0 + 3600 * kSecond, 10).empty());
}

TEST_F(HistoryQuery, FindTakesAQueueIdAnAddressOrAMessageId) {
    EXPECT_EQ(ids(reader.find(kHeldId, 0, 10)), (std::vector<std::string>{kHeldId}));
    EXPECT_EQ(ids(reader.find("erin@example.net", 0, 10)), (std::vector<std::string>{kHeldId}));
    EXPECT_EQ(ids(reader.find("<0SD3XM7D3E4F0003@example.org>", 0, 10)), (std::vector<std::string>{kBouncedId}));
    EXPECT_TRUE(reader.find("nothing", 0, 10).empty());
}

TEST_F(HistoryQuery, RecentGivesTheLatestStateNewestFirst) {
    auto recent = reader.recent(10);
    ASSERT_EQ(recent.size(), 5u);
    EXPECT_EQ(recent[0].queue_id, kHeldId);
    EXPECT_TRUE(recent[0].held);
    EXPECT_EQ(recent[1].queue_id, kDsnId);
    EXPECT_EQ(recent[1].sender, "");
    EXPECT_EQ(recent[2].queue_id, kBouncedId);
    ASSERT_EQ(recent[2].recipients.size(), 1u);
    EXPECT_EQ(recent[2].recipients[0].state, "bounced");
    EXPECT_EQ(recent[2].recipients[0].dsn_id, kDsnId);
    EXPECT_EQ(recent[3].recipients[0].state, "deferred");
    EXPECT_EQ(recent[3].recipients[0].next_attempt_us, kT0 + 108 * kSecond);
    EXPECT_EQ(recent[4].recipients[0].state, "delivered");
    EXPECT_EQ(reader.recent(2).size(), 2u);
    EXPECT_EQ(reader.recent(10, recent[1].received_us).size(), 3u);  // paging: older than the second
}

TEST_F(HistoryQuery, PerMinuteCountsEveryMinuteOfTheWindow) {
    const std::int64_t minute = kT0 / 60'000'000 * 60'000'000;
    auto counts = reader.per_minute(minute - 60 * kSecond, minute + 60 * kSecond);
    ASSERT_EQ(counts.size(), 3u);
    EXPECT_EQ(counts[0].received, 0u);
    EXPECT_EQ(counts[1].minute_us, minute);
    EXPECT_EQ(counts[1].received, 5u);  // four messages and the DSN
    EXPECT_EQ(counts[1].delivered, 1u);
    EXPECT_EQ(counts[1].deferred, 1u);
    EXPECT_EQ(counts[1].bounced, 1u);
    EXPECT_EQ(counts[2].received, 0u);
    EXPECT_EQ(reader.per_minute(kT0, kT0 - 60 * kSecond).size(), 0u);
}

TEST_F(HistoryQuery, TopErrorsCountRepliesWithTheirAddressesLeftOut) {
    auto errors = reader.top_errors(0, 10);
    ASSERT_FALSE(errors.empty());
    // 550 5.1.1 to carol (by the peer) is counted with its bounce; the refused RCPT, the
    // relay refusal and the greylisting once each.
    std::map<std::string, std::uint64_t> by;
    for (const auto& e : errors) by[e.error] = e.count;
    EXPECT_EQ(by["550 5.1.1 <...>: Recipient address rejected: User unknown"], 1u);
    EXPECT_EQ(by["550 5.1.1 <...>: Recipient address rejected: mailbox unknown"], 1u);
    EXPECT_EQ(by["554 5.7.1 <...>: Relay access denied"], 1u);
    EXPECT_EQ(by["451 4.7.1 greylisted"], 1u);
    EXPECT_EQ(reader.top_errors(0, 2).size(), 2u);
    EXPECT_TRUE(reader.top_errors(kT0 + 3600 * kSecond, 10).empty());
}

TEST_F(HistoryQuery, SearchMatchesSubjectsAddressesAndReplies) {
    auto ids_of = [](const std::vector<MessageSummary>& v) {
        std::vector<std::string> out;
        for (const auto& m : v) out.push_back(m.queue_id);
        return out;
    };
    EXPECT_EQ(ids_of(reader.search("lunch", 0, 10)), (std::vector<std::string>{kDeferredId}));  // subject, any case
    EXPECT_EQ(ids_of(reader.search("greylisted", 0, 10)), (std::vector<std::string>{kDeferredId}));  // a reply
    EXPECT_EQ(ids_of(reader.search("erin@", 0, 10)), (std::vector<std::string>{kHeldId}));  // a recipient
    EXPECT_EQ(reader.search("example.org", 0, 10).size(), 5u);
    EXPECT_EQ(reader.search("example.org", 0, 2).size(), 2u);
}

TEST_F(HistoryQuery, SearchTakesWildcardsLiterally) {
    EXPECT_TRUE(reader.search("%", 0, 10).empty());
    EXPECT_TRUE(reader.search("_", 0, 10).empty());
    EXPECT_TRUE(reader.search("", 0, 10).empty());
    EXPECT_EQ(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
}

TEST(HistoryReader, OpeningAMissingOrForeignFileSaysWhy) {
    TempDir dir;
    HistoryReader r;
    EXPECT_NE(r.open(dir.file("missing.db")), "");
    {
        std::ofstream(dir.file("text.db")) << "not a database at all, just some text that is long enough to matter\n";
    }
    EXPECT_NE(r.open(dir.file("text.db")), "");
    EXPECT_THROW(r.recent(1), HistoryError);
}

}  // namespace
}  // namespace ehlo::observe

namespace ehlo::observe {
namespace {

// The DMARC report rows of `verified` events, by time; a history of layout version 1 (before
// the rows) is brought to version 2 in place when the daemon opens it, and keeps its events.
TEST(HistoryDmarcRows, RecordedReadByDayAndMigratedFromVersion1) {
    testing::TempDir dir;
    HistoryOptions o;
    o.path = dir.file("history.db");
    o.retention_days = 0;
    auto write = [&](std::int64_t t, std::string row) {
        History h(o);
        h.start();
        Event e = testing::ev(EventKind::Verified, t);
        e.session_id = "s1";
        e.detail = "spf=pass";
        e.dmarc = std::move(row);
        h.record(e);
        h.flush();
        h.stop();
    };
    write(testing::kT0, "1\trow one");
    {
        // What a version 1 database looks like: no dmarc column, user_version 1.
        sqlite::Database db;
        ASSERT_EQ(db.open(o.path, false), "");
        ASSERT_EQ(db.exec("DROP INDEX events_dmarc_by_time; ALTER TABLE events DROP COLUMN dmarc; PRAGMA user_version = 1;"), "");
    }
    write(testing::kT0 + 2 * testing::kSecond, "1\trow two");
    write(testing::kT0 + 4 * testing::kSecond, "");
    HistoryReader reader;
    ASSERT_EQ(reader.open(o.path), "");
    EXPECT_EQ(reader.dmarc_rows(testing::kT0, testing::kT0 + 10 * testing::kSecond), (std::vector<std::string>{"1\trow two"}));
    EXPECT_TRUE(reader.dmarc_rows(testing::kT0 + 3 * testing::kSecond, testing::kT0 + 10 * testing::kSecond).empty());
}

}  // namespace
}  // namespace ehlo::observe
