// Reports to the sender (RFC 3464 DSNs): one per message for its failed recipients, queued as
// a message of its own from <>, honouring NOTIFY, RET, ENVID and ORCPT (RFC 3461); never one
// to the null sender (RFC 5321 4.5.5).
#include <gtest/gtest.h>

#include <fstream>

#include "observe/log.hpp"
#include "onward_fixture.hpp"
#include "queue/message_event.hpp"
#include "queue/recipient_state.hpp"

namespace ehlo::queue {
namespace {

using namespace testing;
using delivery::Outcome;

const smtp::Mailbox kBob{"bob", "example.org"};

// Fails x@ and y@ with 550 5.1.1 and z@ with 550 5.7.1; delivers the rest.
std::optional<delivery::RemoteOutcome> fail_some(const delivery::RemoteJob& job) {
    delivery::RemoteOutcome out;
    out.remote_mta = kRemoteMta;
    for (std::size_t i : job.recipients) {
        const auto& local = job.envelope.recipients[i].address.local_part;
        if (local == "x" || local == "y")
            out.recipients.push_back({i, no_such_user(), Outcome::Failed, true});
        else if (local == "z")
            out.recipients.push_back({i, smtp::Reply(550, "5.7.1", "Rejected by policy"), Outcome::Failed, true});
        else
            out.recipients.push_back({i, ok_reply(), Outcome::Delivered, true});
    }
    return out;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

// Logs at info level into a file for the test's duration.
class CapturedLog {
public:
    explicit CapturedLog(std::filesystem::path path) : path_(std::move(path)) {
        observe::init({observe::Level::Info, path_.string(), false});
    }
    ~CapturedLog() { observe::init({observe::Level::Warn, "", false}); }
    std::string text() const { return read_file(path_); }

private:
    std::filesystem::path path_;
};

// RFC 3464: one DSN for all the recipients that failed, whichever next hop they had.
TEST_F(Onward, PermanentFailuresQueueOneDsnToTheSender_Rfc3464) {
    transport.set_script(fail_some);
    CapturedLog log(mail_root().parent_path() / "log.txt");
    start();
    smtp::Envelope env = envelope(kBob, {{"x", "one.test"}, {"ok", "one.test"}, {"y", "one.test"}, {"z", "two.test"}});
    env.envid = "envelope-17";
    env.recipients[0].orcpt = "rfc822;X@one.test";
    const std::string id = send(env);
    ASSERT_TRUE(eventually([&] { return !queued(id) && mailbox("bob").size() == 1; }));
    stop();

    const auto bounces = mailbox("bob");
    ASSERT_EQ(bounces.size(), 1u) << "one DSN per message";
    const std::string& dsn = bounces[0];
    EXPECT_EQ(dsn.rfind("Return-Path: <>\n", 0), 0u) << "RFC 5321 4.5.5: sent from the null reverse-path";
    EXPECT_TRUE(contains(dsn, "Content-Type: multipart/report; report-type=delivery-status;")) << dsn;
    EXPECT_TRUE(contains(dsn, "Content-Type: message/delivery-status")) << dsn;
    EXPECT_TRUE(contains(dsn, "Reporting-MTA: dns; mx.test")) << dsn;
    EXPECT_TRUE(contains(dsn, "Original-Envelope-Id: envelope-17")) << dsn;
    EXPECT_TRUE(contains(dsn, "Original-Recipient: rfc822;X@one.test")) << dsn;
    EXPECT_TRUE(contains(dsn, "Final-Recipient: rfc822; x@one.test")) << dsn;
    EXPECT_TRUE(contains(dsn, "Final-Recipient: rfc822; y@one.test")) << dsn;
    EXPECT_TRUE(contains(dsn, "Final-Recipient: rfc822; z@two.test")) << dsn;
    EXPECT_FALSE(contains(dsn, "ok@one.test")) << "a delivered recipient without NOTIFY=SUCCESS is not reported";
    EXPECT_EQ(count_of(dsn, "Action: failed"), 3u) << dsn;
    EXPECT_EQ(count_of(dsn, "Status: 5.1.1"), 2u) << dsn;
    EXPECT_EQ(count_of(dsn, "Status: 5.7.1"), 1u) << dsn;
    EXPECT_TRUE(contains(dsn, "Remote-MTA: dns; mx.remote.test [192.0.2.25]")) << dsn;
    EXPECT_TRUE(contains(dsn, "Diagnostic-Code: smtp; 550 5.1.1 No such user")) << dsn;
    // Without RET=FULL only the header section comes back (RFC 3461 4.3).
    EXPECT_TRUE(contains(dsn, "Content-Type: text/rfc822-headers")) << dsn;
    EXPECT_TRUE(contains(dsn, "Subject: test")) << dsn;
    EXPECT_FALSE(contains(dsn, "\nbody\n")) << dsn;
    EXPECT_EQ(queue().stats().reports, 1u);

    const std::string logged = log.text();
    EXPECT_TRUE(contains(logged, "event=bounced id=" + id + " dsn_id=")) << logged;
    EXPECT_TRUE(contains(logged, "to=bob@example.org")) << logged;
}

// RFC 3461 4.3: RET=FULL returns the whole message with the failure report.
TEST_F(Onward, RetFullReturnsTheWholeMessage_Rfc3461_4_3) {
    transport.set_script(fail_some);
    start();
    smtp::Envelope env = envelope(kBob, {{"x", "one.test"}});
    env.ret = smtp::DsnRet::Full;
    send(env);
    ASSERT_TRUE(eventually([&] { return mailbox("bob").size() == 1; }));
    const std::string dsn = mailbox("bob")[0];
    EXPECT_TRUE(contains(dsn, "Content-Type: message/rfc822")) << dsn;
    EXPECT_TRUE(contains(dsn, "\nbody\n")) << dsn;
}

TEST_F(Onward, ADsnForARemoteSenderGoesOutThroughTheTransport) {
    transport.set_script(fail_some);
    start();
    const std::string id = send(envelope(smtp::Mailbox{"carol", "far.test"}, {{"x", "one.test"}}));
    ASSERT_TRUE(jobs_reach(2));
    ASSERT_TRUE(eventually([&] { return files_in(spool() / "queue").empty(); }));
    const auto dsn = transport.jobs()[1];
    EXPECT_FALSE(dsn.envelope.sender) << "from <>";
    ASSERT_EQ(dsn.envelope.recipients.size(), 1u);
    EXPECT_EQ(dsn.envelope.recipients[0].address.str(), "carol@far.test");
    EXPECT_EQ(dsn.envelope.recipients[0].notify, smtp::notify::Never);
    EXPECT_EQ(dsn.target.domain, "far.test");
    EXPECT_NE(dsn.queue_id, id);
    EXPECT_TRUE(contains(content_text(dsn.content), "Final-Recipient: rfc822; x@one.test"));
}

// RFC 5321 4.5.5: a message from <> is never answered.
TEST_F(Onward, AFailureOfMailFromTheNullSenderIsNeverBounced_Rfc5321_4_5_5) {
    transport.set_script(fail_some);
    CapturedLog log(mail_root().parent_path() / "log.txt");
    start();
    const std::string id = send(envelope(std::nullopt, {{"x", "one.test"}}));
    ASSERT_TRUE(eventually([&] { return !queued(id); }));
    stop();
    EXPECT_EQ(transport.job_count(), 1u) << "no report went anywhere";
    EXPECT_TRUE(files_in(spool() / "queue").empty());
    EXPECT_FALSE(std::filesystem::exists(mail_root()));
    EXPECT_EQ(queue().stats().reports, 0u);
    const std::string logged = log.text();
    EXPECT_TRUE(contains(logged, "event=bounce-suppressed id=" + id)) << logged;
    EXPECT_TRUE(contains(logged, "reason=\"null sender\"")) << logged;
}

TEST_F(Onward, AFailureOfMailFromTheNullSenderIsToldToTheConfiguredMailbox_Rfc5321_4_5_5) {
    transport.set_script(fail_some);
    QueueOptions o = options();
    o.null_sender_failures_to = "postmaster@example.org";
    start(o);
    const std::string id = send(envelope(std::nullopt, {{"x", "one.test"}}));
    ASSERT_TRUE(eventually([&] { return !queued(id) && mailbox("postmaster").size() == 1; }));
    const std::string notice = mailbox("postmaster")[0];
    EXPECT_EQ(notice.rfind("Return-Path: <>\n", 0), 0u) << notice;
    EXPECT_TRUE(contains(notice, "To: <postmaster@example.org>")) << notice;
    EXPECT_TRUE(contains(notice, "Final-Recipient: rfc822; x@one.test")) << notice;
    EXPECT_TRUE(contains(notice, "Action: failed")) << notice;
    EXPECT_EQ(transport.job_count(), 1u);
}

TEST_F(Onward, AFailureNoticeThatFailsIsOnlyLogged) {
    // The notice address is remote and refuses it: nothing more is sent about the notice.
    transport.set_script([](const delivery::RemoteJob& job) { return answer_all(job, Outcome::Failed, no_such_user()); });
    QueueOptions o = options();
    o.null_sender_failures_to = "hostmaster@far.test";
    start(o);
    send(envelope(std::nullopt, {{"x", "one.test"}}));
    ASSERT_TRUE(jobs_reach(2));
    ASSERT_TRUE(eventually([&] { return files_in(spool() / "queue").empty(); }));
    settle_briefly();
    EXPECT_EQ(transport.job_count(), 2u) << "the original, then the notice; no notice about the notice";
    EXPECT_EQ(transport.jobs()[1].envelope.recipients[0].address.str(), "hostmaster@far.test");
}

// A bounce is a message from <>: when it fails, the postmaster hears of it, and that is all.
TEST_F(Onward, ABounceThatFailsGoesToTheFailureNoticeMailbox) {
    transport.set_script([](const delivery::RemoteJob& job) { return answer_all(job, Outcome::Failed, no_such_user()); });
    QueueOptions o = options();
    o.null_sender_failures_to = "postmaster";  // RFC 5321 4.1.1.3's bare Postmaster: the router's
    start(o);
    send(envelope(smtp::Mailbox{"carol", "far.test"}, {{"x", "one.test"}}));
    ASSERT_TRUE(eventually([&] { return mailbox("postmaster").size() == 1; }));
    ASSERT_TRUE(eventually([&] { return files_in(spool() / "queue").empty(); }));
    EXPECT_EQ(transport.job_count(), 2u);
    EXPECT_TRUE(contains(mailbox("postmaster")[0], "Final-Recipient: rfc822; carol@far.test"));
}

// RFC 3461 4.1: NOTIFY=NEVER asks for no DSN at all.
TEST_F(Onward, NotifyNeverSendsNoDsn_Rfc3461_4_1) {
    transport.set_script(fail_some);
    start();
    const std::string id = send(with_notify(envelope(kBob, {{"x", "one.test"}}), smtp::notify::Never));
    ASSERT_TRUE(eventually([&] { return !queued(id); }));
    settle_briefly();
    EXPECT_TRUE(mailbox("bob").empty());
    EXPECT_EQ(queue().stats().reports, 0u);
    EXPECT_EQ(queue().stats().failed, 1u);
}

// RFC 3461 4.1: NOTIFY=SUCCESS asks for a "delivered" DSN, here for a local Maildir delivery.
TEST_F(Onward, NotifySuccessGetsADeliveredDsnForALocalDelivery_Rfc3461_4_1) {
    start();
    const std::string id = send(with_notify(envelope(kBob, {{"alice", kLocalDomain}}), smtp::notify::Success));
    ASSERT_TRUE(eventually([&] { return !queued(id) && mailbox("bob").size() == 1; }));
    EXPECT_EQ(mailbox("alice").size(), 1u);
    const std::string dsn = mailbox("bob")[0];
    EXPECT_TRUE(contains(dsn, "Action: delivered")) << dsn;
    EXPECT_TRUE(contains(dsn, "Status: 2.0.0")) << dsn;
    EXPECT_TRUE(contains(dsn, "Final-Recipient: rfc822; alice@example.org")) << dsn;
    EXPECT_TRUE(contains(dsn, "Subject: Successful Mail Delivery Report")) << dsn;
}

// RFC 3461 5.2: passed on to a server that may not report delivery: a "relayed" DSN.
TEST_F(Onward, NotifySuccessGetsARelayedDsnForARemoteDelivery_Rfc3461_4_1) {
    transport.set_script([](const delivery::RemoteJob& job) { return answer_all(job, Outcome::Delivered, ok_reply()); });
    start();
    const std::string id =
        send(with_notify(envelope(kBob, {{"a", "one.test"}}), smtp::notify::Success | smtp::notify::Failure));
    ASSERT_TRUE(eventually([&] { return !queued(id) && mailbox("bob").size() == 1; }));
    const std::string dsn = mailbox("bob")[0];
    EXPECT_TRUE(contains(dsn, "Action: relayed")) << dsn;
    EXPECT_TRUE(contains(dsn, "Remote-MTA: dns; mx.remote.test [192.0.2.25]")) << dsn;
}

// RFC 3461 5.2.2: the peer took NOTIFY itself (it offers DSN), so the report is its to send.
TEST_F(Onward, NotifySuccessPassedOnToADsnPeerGetsNoDsnFromUs_Rfc3461_5_2_2) {
    transport.set_script([](const delivery::RemoteJob& job) {
        auto out = answer_all(job, Outcome::Delivered, ok_reply());
        out.dsn_passed_on = true;
        return out;
    });
    start();
    const std::string id =
        send(with_notify(envelope(kBob, {{"a", "one.test"}}), smtp::notify::Success | smtp::notify::Failure));
    ASSERT_TRUE(eventually([&] { return !queued(id); }));
    settle_briefly();
    EXPECT_TRUE(mailbox("bob").empty());
    EXPECT_EQ(queue().stats().reports, 0u);
}

TEST_F(Onward, FailedAndDeliveredRecipientsShareOneDsn_Rfc3464) {
    transport.set_script(fail_some);
    start();
    const std::string id = send(with_notify(envelope(kBob, {{"x", "one.test"}, {"alice", kLocalDomain}}),
                                            smtp::notify::Success | smtp::notify::Failure));
    ASSERT_TRUE(eventually([&] { return !queued(id) && mailbox("bob").size() == 1; }));
    settle_briefly();
    ASSERT_EQ(mailbox("bob").size(), 1u);
    const std::string dsn = mailbox("bob")[0];
    EXPECT_TRUE(contains(dsn, "Action: failed")) << dsn;
    EXPECT_TRUE(contains(dsn, "Action: delivered")) << dsn;
}

// RFC 3464 2.3.3: a "delayed" DSN once delay_warning has passed, once per recipient.
TEST_F(Onward, ADelayWarningIsSentOnce_Rfc3464_2_3_3) {
    transport.set_script([](const delivery::RemoteJob& job) { return answer_all(job, Outcome::Deferred, try_later()); });
    QueueOptions o = options();
    o.delay_warning = std::chrono::seconds(100);
    start(o);
    const std::string id = send(envelope(kBob, {{"a", "one.test"}}));
    ASSERT_TRUE(jobs_reach(1));
    settle_briefly();
    EXPECT_TRUE(mailbox("bob").empty()) << "not before delay_warning";
    clock.advance(60);
    ASSERT_TRUE(jobs_reach(2));
    settle_briefly();
    EXPECT_TRUE(mailbox("bob").empty());
    clock.advance(120);  // 180 s after arrival
    ASSERT_TRUE(jobs_reach(3));
    ASSERT_TRUE(eventually([&] { return mailbox("bob").size() == 1; }));
    const std::string dsn = mailbox("bob")[0];
    EXPECT_TRUE(contains(dsn, "Action: delayed")) << dsn;
    EXPECT_TRUE(contains(dsn, "Status: 4.7.1")) << dsn;
    EXPECT_TRUE(contains(dsn, "Will-Retry-Until: ")) << dsn;
    ASSERT_TRUE(eventually([&]() -> bool { return spooled(id).delay_reported[0]; }));
    clock.advance(240);
    ASSERT_TRUE(jobs_reach(4));
    settle_briefly();
    EXPECT_EQ(mailbox("bob").size(), 1u) << "once only";
    EXPECT_TRUE(queued(id));
}

// A crash after a recipient failed and before its bounce was queued loses no bounce.
TEST_F(Onward, ABounceOwedAtACrashIsSentAfterTheRestart) {
    std::string id;
    {
        Queue held(options(), hold_router());
        held.start();
        id = receive(held, envelope(kBob, {{"x", "one.test"}}), kContent);
        held.stop();
        forget_attempts(queue_file(id));
    }
    std::string bytes = read_file(queue_file(id));
    RecipientState failed{DeliveryStatus::Failed, 1, 1'700'000'000'000'000, 0, "550 5.1.1 No such user", {}, false};
    write_file(queue_file(id), bytes + encode_state_record(0, failed));

    clock.advance(10);  // the restart comes later (queue ids are made from the time)
    start();
    ASSERT_TRUE(eventually([&] { return !queued(id) && mailbox("bob").size() == 1; }));
    EXPECT_TRUE(contains(mailbox("bob")[0], "Diagnostic-Code: smtp; 550 5.1.1 No such user"));
    EXPECT_EQ(transport.job_count(), 0u) << "a failed recipient is not tried again";
}

TEST_F(Onward, AReportedFailureIsNotReportedAgainAfterARestart) {
    std::string id;
    {
        Queue held(options(), hold_router());
        held.start();
        id = receive(held, envelope(kBob, {{"x", "one.test"}, {"y", "one.test"}}), kContent);
        held.stop();
        forget_attempts(queue_file(id));
    }
    std::string bytes = read_file(queue_file(id));
    RecipientState failed{DeliveryStatus::Failed, 1, 1'700'000'000'000'000, 0, "550 5.1.1 No such user", {}, false};
    bytes += encode_state_record(0, failed);
    bytes += encode_message_event({MessageEventKind::Reported, 1, {0}, "0000000000000000"});
    write_file(queue_file(id), bytes);

    transport.set_script([](const delivery::RemoteJob& job) { return answer_all(job, Outcome::Delivered, ok_reply()); });
    start();
    ASSERT_TRUE(eventually([&] { return !queued(id); }));
    settle_briefly();
    EXPECT_TRUE(mailbox("bob").empty());
    ASSERT_EQ(transport.job_count(), 1u);
    EXPECT_EQ(transport.jobs()[0].recipients, (std::vector<std::size_t>{1}));
}

}  // namespace
}  // namespace ehlo::queue
