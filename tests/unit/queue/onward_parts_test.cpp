// The pieces of onward delivery on their own: Received counting,
// outcome texts, message event records, grouping by target, what a report owes and says.
#include <gtest/gtest.h>

#include "queue/message_content.hpp"
#include "queue/message_event.hpp"
#include "queue/notification.hpp"
#include "queue/outcome_text.hpp"
#include "queue/remote_jobs.hpp"
#include "queue/spool_record.hpp"

namespace ehlo::queue {
namespace {

// ---- content ---------------------------------------------------------------------------------

// RFC 5321 6.3: loops are found by counting Received fields.
TEST(MessageContent, CountsReceivedFieldsInTheHeaderSectionOnly_Rfc5321_6_3) {
    const std::string content =
        "Received: from a\r\n\tby b; date\r\n"
        "received: x\r\n"
        "RECEIVED \t: y\r\n"
        "X-Received: no\r\n"
        "Subject: Received: no\r\n"
        " Received: a continuation, no\r\n"
        "\r\n"
        "Received: in the body, no\r\n";
    EXPECT_EQ(count_received(content), 3u);
    EXPECT_EQ(count_received("Received:x"), 1u) << "a last line without CRLF";
    EXPECT_EQ(count_received("\r\nReceived: x\r\n"), 0u);
}

// ---- outcome texts ---------------------------------------------------------------------------

TEST(OutcomeText, ReplyTextRoundTrips) {
    smtp::Reply r(550, "5.1.1", "No such user");
    r.lines.push_back("second line");
    const std::string text = r.one_line();
    EXPECT_EQ(text, "550 5.1.1 No such user second line");
    auto back = parse_reply_text(text);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->code, 550);
    EXPECT_EQ(back->enhanced, "5.1.1");
    ASSERT_EQ(back->lines.size(), 1u);
    EXPECT_EQ(back->lines[0], "No such user second line");
}

TEST(OutcomeText, ParsesOnlyWhatReplyTextWrites) {
    auto plain = parse_reply_text("451 Try later");
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->enhanced, "");
    EXPECT_EQ(plain->lines[0], "Try later");
    auto other_class = parse_reply_text("451 5.1.1 odd");
    ASSERT_TRUE(other_class);
    EXPECT_EQ(other_class->enhanced, "") << "an enhanced code of another class is text";
    EXPECT_TRUE(parse_reply_text("250"));
    EXPECT_FALSE(parse_reply_text("cannot create /x: No space left on device"));
    EXPECT_FALSE(parse_reply_text("4511 x"));
    EXPECT_FALSE(parse_reply_text("651 x"));
    EXPECT_FALSE(parse_reply_text("45"));
}

// ---- message events --------------------------------------------------------------------------

std::string payload_of(const std::string& record) { return record.substr(kRecordHeaderSize); }

TEST(MessageEvent, RoundTrips) {
    MessageEvent e{MessageEventKind::Reported, 1700000000000000, {0, 2}, "1GA4GC1WG0000001"};
    const std::string record = encode_message_event(e);
    EXPECT_EQ(record[0], 'G');
    auto back = decode_message_event(payload_of(record), 3);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->kind, MessageEventKind::Reported);
    EXPECT_EQ(back->time_us, e.time_us);
    EXPECT_EQ(back->recipients, e.recipients);
    EXPECT_EQ(back->report_id, e.report_id);
    auto held = decode_message_event(payload_of(encode_message_event({MessageEventKind::Held, 5, {}, ""})), 0);
    ASSERT_TRUE(held);
    EXPECT_EQ(held->kind, MessageEventKind::Held);
}

TEST(MessageEvent, DamageIsRecognised) {
    const std::string payload = payload_of(encode_message_event({MessageEventKind::DelayReported, 1, {1}, "x"}));
    EXPECT_FALSE(decode_message_event(payload, 1)) << "an index beyond the recipients";
    for (std::size_t i = 0; i < payload.size(); ++i) {
        std::string flipped = payload;
        flipped[i] = static_cast<char>(flipped[i] ^ 0x20);
        EXPECT_FALSE(decode_message_event(flipped, 5)) << "byte " << i;
    }
    EXPECT_FALSE(decode_message_event(payload.substr(0, payload.size() - 1), 5));
    EXPECT_FALSE(decode_message_event("", 5));
}

// ---- grouping --------------------------------------------------------------------------------

TEST(RemoteJobs, OneGroupPerTargetInFirstSeenOrder_Rfc5321_3_3) {
    using delivery::RemoteTarget;
    const RemoteTarget one{"one.test", std::nullopt, 25}, two{"two.test", std::nullopt, 25};
    const RemoteTarget smart{"one.test", std::string("192.0.2.9"), 587};
    auto groups = group_by_target({{0, one}, {1, two}, {2, one}, {3, smart}, {4, two}});
    ASSERT_EQ(groups.size(), 3u);
    EXPECT_EQ(groups[0].target, one);
    EXPECT_EQ(groups[0].recipients, (std::vector<std::size_t>{0, 2}));
    EXPECT_EQ(groups[1].recipients, (std::vector<std::size_t>{1, 4}));
    EXPECT_EQ(groups[2].target, smart);
    EXPECT_EQ(groups[2].recipients, (std::vector<std::size_t>{3}));
}

TEST(RemoteJobs, GroupsAreSplitAtOneHundredRecipients_Rfc5321_4_5_3_1_8) {
    const delivery::RemoteTarget one{"one.test", std::nullopt, 25};
    std::vector<std::pair<std::size_t, delivery::RemoteTarget>> routed;
    for (std::size_t i = 0; i < 250; ++i) routed.push_back({i, one});
    auto groups = group_by_target(routed);
    ASSERT_EQ(groups.size(), 3u);
    EXPECT_EQ(groups[0].recipients.size(), 100u);
    EXPECT_EQ(groups[1].recipients.size(), 100u);
    EXPECT_EQ(groups[2].recipients.size(), 50u);
    EXPECT_EQ(groups[1].recipients.front(), 100u);
    for (const auto& g : groups) EXPECT_EQ(g.target, one);
}

// ---- notifications ---------------------------------------------------------------------------

ReportFacts facts_with(std::optional<smtp::Mailbox> sender, std::vector<RecipientState> states, unsigned notify = 0) {
    ReportFacts f;
    f.header.id = "1GA4GC1WG0000000";
    f.header.arrival_us = 1700000000000000;
    f.header.envelope.sender = std::move(sender);
    for (std::size_t i = 0; i < states.size(); ++i)
        f.header.envelope.recipients.push_back({{"r" + std::to_string(i), "far.test"}, "", notify});
    f.recipients = std::move(states);
    f.remote_mta.resize(f.recipients.size());
    return f;
}

NotificationOptions notification_options() {
    NotificationOptions o;
    o.hostname = "mx.test";
    o.now_us = 1700000100000000;
    o.report_id = "1GA4GC1WG0000009";
    o.boundary = "b0undary";
    return o;
}

const RecipientState kFailed{DeliveryStatus::Failed, 1, 1700000050000000, 0, "550 5.1.1 No such user", {}, false};
const RecipientState kExpired{DeliveryStatus::Failed, 5, 1700000050000000, 0, "expired: 451 4.7.1 Later", {}, false};
const RecipientState kDelivered{DeliveryStatus::Delivered, 1, 1700000050000000, 0, "/srv/mail/x/new/1", {}, false};

TEST(Notification, WhatIsOwed_Rfc3461_4_1) {
    const smtp::Mailbox bob{"bob", "example.org"};
    auto plain = facts_with(bob, {kFailed, kDelivered});
    EXPECT_TRUE(final_report_owed(plain.header.envelope, 0, kFailed, false));
    EXPECT_FALSE(final_report_owed(plain.header.envelope, 0, kFailed, true)) << "reported already";
    EXPECT_FALSE(final_report_owed(plain.header.envelope, 1, kDelivered, false)) << "no NOTIFY=SUCCESS";
    auto success = facts_with(bob, {kDelivered}, smtp::notify::Success);
    EXPECT_TRUE(final_report_owed(success.header.envelope, 0, kDelivered, false));
    auto null_sender = facts_with(std::nullopt, {kDelivered}, smtp::notify::Success);
    EXPECT_FALSE(final_report_owed(null_sender.header.envelope, 0, kDelivered, false)) << "RFC 5321 4.5.5";
    EXPECT_TRUE(final_report_owed(null_sender.header.envelope, 0, kFailed, false)) << "decided (and logged) once";
}

TEST(Notification, DelayIsOwedOnceWhenConfiguredAndDue_Rfc3464_2_3_3) {
    const RecipientState deferred{DeliveryStatus::Deferred, 2, 1700000050000000, 1700000200000000, "451 4.7.1 Later", {}, false};
    auto f = facts_with(smtp::Mailbox{"bob", "example.org"}, {deferred});
    delivery::RetryPolicy policy;
    const auto at = [](std::int64_t s) { return delivery::TimePoint(std::chrono::seconds(s)); };
    EXPECT_FALSE(delay_report_owed(f.header, 0, deferred, false, policy, at(1700009999))) << "not configured";
    policy.delay_warning = std::chrono::seconds(3600);
    EXPECT_FALSE(delay_report_owed(f.header, 0, deferred, false, policy, at(1700003599)));
    EXPECT_TRUE(delay_report_owed(f.header, 0, deferred, false, policy, at(1700003600)));
    EXPECT_FALSE(delay_report_owed(f.header, 0, deferred, true, policy, at(1700003600))) << "once";
    auto never = facts_with(smtp::Mailbox{"bob", "example.org"}, {deferred}, smtp::notify::Failure);
    EXPECT_FALSE(delay_report_owed(never.header, 0, deferred, false, policy, at(1700003600))) << "NOTIFY without DELAY";
}

TEST(Notification, AFailureReportCarriesTheReplyAndTheExpiry_Rfc3464_2_3) {
    auto f = facts_with(smtp::Mailbox{"bob", "example.org"}, {kFailed, kExpired});
    f.remote_mta[0] = "mx.far.test [192.0.2.7]";
    OwedReports owed;
    owed.failed = {0, 1};
    auto n = build_notification(f, owed, "Subject: hi\r\n", false, notification_options());
    ASSERT_TRUE(n.dsn);
    EXPECT_FALSE(n.failure_notice);
    const std::string& c = n.dsn->content;
    EXPECT_NE(c.find("Status: 5.1.1"), std::string::npos) << c;
    EXPECT_NE(c.find("Remote-MTA: dns; mx.far.test [192.0.2.7]"), std::string::npos) << c;
    EXPECT_NE(c.find("Status: 4.4.7"), std::string::npos) << c;
    EXPECT_NE(c.find("Diagnostic-Code: smtp; 451 4.7.1 Later"), std::string::npos) << c;
    EXPECT_NE(c.find("Message-ID: <1GA4GC1WG0000009@mx.test>"), std::string::npos) << c;
    EXPECT_NE(c.find("Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000"), std::string::npos) << c;
    EXPECT_FALSE(n.dsn->envelope.sender);
    EXPECT_EQ(n.dsn->envelope.recipients[0].address.str(), "bob@example.org");
}

TEST(Notification, NullSenderFailuresGoToTheNoticeMailboxOrNowhere_Rfc5321_4_5_5) {
    auto f = facts_with(std::nullopt, {kFailed});
    OwedReports owed;
    owed.failed = {0};
    NotificationOptions o = notification_options();
    auto none = build_notification(f, owed, "Subject: x\r\n", false, o);
    EXPECT_FALSE(none.dsn);
    EXPECT_EQ(none.suppressed, "null sender");

    o.null_sender_failures_to = "postmaster@example.org";
    auto notice = build_notification(f, owed, "Subject: x\r\n", false, o);
    ASSERT_TRUE(notice.dsn);
    EXPECT_TRUE(notice.failure_notice);
    EXPECT_FALSE(notice.dsn->envelope.sender);
    EXPECT_EQ(notice.dsn->envelope.recipients[0].address.str(), "postmaster@example.org");

    f.header.reception.session_id = std::string(kFailureNoticeSession);
    auto about_notice = build_notification(f, owed, "Subject: x\r\n", false, o);
    EXPECT_FALSE(about_notice.dsn) << "no notice about a notice";
    EXPECT_EQ(about_notice.suppressed, "failure notice undeliverable");
}

TEST(Notification, FailureNoticeAddress) {
    EXPECT_FALSE(failure_notice_mailbox(""));
    EXPECT_EQ(failure_notice_mailbox("postmaster")->str(), "postmaster");
    EXPECT_EQ(failure_notice_mailbox("ops@example.org")->domain, "example.org");
    EXPECT_FALSE(failure_notice_mailbox("@example.org"));
    EXPECT_FALSE(failure_notice_mailbox("ops@"));
}

TEST(Notification, WholeContentOnlyForFailuresWithRetFull_Rfc3461_4_3) {
    auto f = facts_with(smtp::Mailbox{"bob", "example.org"}, {kFailed});
    OwedReports owed;
    owed.failed = {0};
    EXPECT_FALSE(wants_whole_content(f, owed));
    f.header.envelope.ret = smtp::DsnRet::Full;
    EXPECT_TRUE(wants_whole_content(f, owed));
    f.content_size = delivery::kMaxReturnedContent + 1;
    EXPECT_FALSE(wants_whole_content(f, owed)) << "too large to return";
    OwedReports delivered;
    delivered.delivered = {0};
    f.content_size = 10;
    EXPECT_FALSE(wants_whole_content(f, delivered));
}

TEST(Notification, BoundariesDiffer) {
    const std::string a = random_boundary(), b = random_boundary();
    EXPECT_EQ(a.size(), 32u);
    EXPECT_NE(a, b);
}

}  // namespace
}  // namespace ehlo::queue
