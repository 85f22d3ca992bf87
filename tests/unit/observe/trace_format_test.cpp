// `ehlo trace` output: golden timelines (delivered, deferred, bounced, held, refused) and their
// JSON, from scenarios written through the real history and read back. The golden files are
// in golden/; after a deliberate change of the format, EHLO_UPDATE_GOLDEN=1 rewrites them
// (then read the diff).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "history_scenarios.hpp"
#include "observe/history_query.hpp"
#include "observe/trace_format.hpp"
#include "temp_dir.hpp"

namespace ehlo::observe {
namespace {

using namespace testing;

std::string golden_path(const std::string& name) {
    return (std::filesystem::path(EHLO_TEST_SOURCE_DIR) / "golden" / name).string();
}

void expect_golden(const std::string& name, const std::string& actual) {
    const std::string path = golden_path(name);
    if (std::getenv("EHLO_UPDATE_GOLDEN")) {
        std::ofstream(path, std::ios::binary) << actual;
        return;
    }
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << "missing " << path << "; the output was:\n" << actual;
    std::stringstream s;
    s << in.rdbuf();
    EXPECT_EQ(actual, s.str()) << "differs from " << path;
}

class TraceFormat : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        ::setenv("TZ", kZone, 1);
        ::tzset();
    }

    void SetUp() override {
        HistoryOptions o;
        o.path = dir.file("history.db");
        o.retention_days = 0;
        History h(o);
        h.start();
        record_all(h);
        h.flush();
        h.stop();
        ASSERT_EQ(reader.open(o.path), "");
    }

    MessageTrace trace(const char* id) {
        auto t = reader.message(id);
        EXPECT_TRUE(t) << id;
        return t ? *t : MessageTrace{};
    }

    TempDir dir;
    HistoryReader reader;
};

TEST_F(TraceFormat, FirstLinesSayWhereEachMessageIsAndWhy) {
    EXPECT_EQ(message_status(trace(kDeliveredId), kNow).text,
              "delivered to alice's mailbox (var/mail/alice/new/1714564992.0SD3XM5K2W8G0001_0.mail.example.com)");
    EXPECT_EQ(message_status(trace(kDeferredId), kNow).text,
              "deferred: mx1.example.net said 451 4.7.1 greylisted, next attempt 14:05");
    EXPECT_EQ(message_status(trace(kBouncedId), kNow).text,
              "bounced: mx1.example.net said 550 5.1.1 <carol@example.net>: Recipient address rejected: User "
              "unknown (DSN 0SD3XM9PQ4R80004)");
    EXPECT_EQ(message_status(trace(kHeldId), kNow).text, "held by an operator since 14:03 (control socket)");
    EXPECT_EQ(message_status(trace(kDsnId), kNow).text, "queued: waiting for its first delivery attempt");
    auto refused = reader.by_address("victim@elsewhere.example", 0, 1);
    ASSERT_EQ(refused.size(), 1u);
    EXPECT_EQ(message_status(refused[0], kNow).text,
              "refused: 554 5.7.1 <victim@elsewhere.example>: Relay access denied "
              "(RCPT TO:<victim@elsewhere.example> from 203.0.113.99)");
}

TEST_F(TraceFormat, DeliveredTimeline) { expect_golden("delivered.txt", format_traces({trace(kDeliveredId)}, kNow)); }
TEST_F(TraceFormat, DeferredTimeline) { expect_golden("deferred.txt", format_traces({trace(kDeferredId)}, kNow)); }
TEST_F(TraceFormat, BouncedTimeline) { expect_golden("bounced.txt", format_traces({trace(kBouncedId)}, kNow)); }
TEST_F(TraceFormat, HeldTimelineWithItsTranscript) {
    expect_golden("held.txt", format_traces({trace(kHeldId)}, kNow));
}
TEST_F(TraceFormat, RefusedTimeline) {
    expect_golden("refused.txt", format_traces(reader.by_address("victim@elsewhere.example", 0, 10), kNow));
}
TEST_F(TraceFormat, SeveralMessagesAreSeparatedByABlankLine) {
    const std::string text = format_traces(reader.by_address("bob@example.net", 0, 10), kNow) +
                             format_traces({trace(kDeferredId), trace(kDeliveredId)}, kNow);
    EXPECT_NE(text.find("\n\n0SD3XM5K2W8G0001  delivered"), std::string::npos) << text;
}

TEST_F(TraceFormat, DeliveredAsJson) { expect_golden("delivered.json", traces_json({trace(kDeliveredId)}, kNow)); }
TEST_F(TraceFormat, HeldAsJson) { expect_golden("held.json", traces_json({trace(kHeldId)}, kNow)); }

// What /api/v1/search gives: each message as in its trace, without the events and transcript.
TEST_F(TraceFormat, SearchResultsAreTheTracesWithoutTheirEvents) {
    for (const char* id : {kDeliveredId, kDeferredId, kBouncedId}) {
        const MessageTrace t = trace(id);
        auto whole = nlohmann::ordered_json::parse(traces_json({t}, kNow));
        for (auto& m : whole["messages"]) {
            m.erase("events");
            m.erase("transcript");
        }
        EXPECT_EQ(nlohmann::ordered_json::parse(summaries_json({t.message}, kNow)), whole) << id;
    }
    EXPECT_EQ(summaries_json({}, kNow), "{\n  \"messages\": []\n}\n");
}

TEST(TraceFormatStatus, MixedOutcomesAndSeveralRecipients) {
    MessageSummary m;
    m.queue_id = "Q";
    m.recipients = {{"a@x", "delivered", 1, "250 ok", "mx.x", 0, "", ""},
                    {"b@x", "bounced", 2, "550 5.1.1 no", "mx.x", 0, "", "D1"}};
    EXPECT_EQ(message_status(m, 0).text, "partly delivered: 1 delivered, 1 bounced: mx.x said 550 5.1.1 no (DSN D1)");
    m.recipients[1].state = "deferred";
    m.recipients[1].next_attempt_us = 0;
    EXPECT_EQ(message_status(m, 0).text, "deferred: mx.x said 550 5.1.1 no (1 of 2 recipients)");
    m.recipients[1].state = "delivered";
    EXPECT_EQ(message_status(m, 0).text, "delivered to all 2 recipients");
    m.recipients.resize(1);
    m.recipients[0].mailbox.clear();
    EXPECT_EQ(message_status(m, 0).text, "delivered to mx.x: 250 ok");
    m.deleted = true;
    EXPECT_EQ(message_status(m, 0).state, "deleted");
}

// Whatever a peer puts in its reply, the text form shows it escaped and the JSON form is ASCII.
TEST(TraceFormatHostile, NetworkTextCannotActOnTheTerminal) {
    MessageTrace t;
    t.message.queue_id = "Q";
    t.message.subject = "\x1b]0;owned\x07 \xe2\x80\xae" "fdp.exe";
    t.message.recipients = {{"a@x", "bounced", 1, "550 \x1b[2J\xc2\x9b" "31m bad\xff", "evil\nhost", 0, "", ""}};
    Event e;
    e.kind = EventKind::Bounced;
    e.time_us = 1;
    e.recipient = "a@x";
    e.reply = t.message.recipients[0].reply + "\nsecond line \xe2\x80\xa8";
    t.events.push_back(e);
    const std::string text = format_traces({t}, 0);
    for (unsigned char c : text) EXPECT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7f)) << static_cast<int>(c) << text;
    EXPECT_NE(text.find("\\x1b]0;owned\\x07 \\u202efdp.exe"), std::string::npos) << text;
    EXPECT_NE(text.find("evil\\nhost said 550"), std::string::npos) << text;
    const std::string json = traces_json({t}, 0);
    for (unsigned char c : json) EXPECT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7f)) << static_cast<int>(c);
    EXPECT_NE(json.find("\\u001b]0;owned\\u0007 \\u202efdp.exe"), std::string::npos) << json;
    EXPECT_NE(json.find("\\ufffd"), std::string::npos);  // the byte 0xff, not UTF-8
}

}  // namespace
}  // namespace ehlo::observe
