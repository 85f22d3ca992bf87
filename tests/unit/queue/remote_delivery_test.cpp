// Remote recipients: one job per next hop, outcomes recorded per recipient, back-off between
// attempts, the lifetime, loop detection, and a transport that answers late.
#include <gtest/gtest.h>

#include <future>

#include "onward_fixture.hpp"
#include "queue/outcome_text.hpp"

namespace ehlo::queue {
namespace {

using namespace testing;
using delivery::Outcome;

const smtp::Mailbox kBob{"bob", "example.org"};  // a local sender: bounces land in mail/bob

std::uint64_t seconds_us(std::int64_t s) { return static_cast<std::uint64_t>(s) * 1000000; }

// RFC 5321 3.3: the recipients of one message for one destination share a transaction.
TEST_F(Onward, RecipientsForTheSameTargetTravelInOneJob_Rfc5321_3_3) {
    transport.set_script([](const delivery::RemoteJob& job) { return answer_all(job, Outcome::Delivered, ok_reply()); });
    start();
    const std::string id = send(envelope(kBob, {{"a", "one.test"}, {"b", "two.test"}, {"c", "ONE.test"}}));
    ASSERT_TRUE(jobs_reach(2));
    ASSERT_TRUE(eventually([&] { return !queued(id); }));
    auto jobs = transport.jobs();
    ASSERT_EQ(jobs.size(), 2u);
    std::sort(jobs.begin(), jobs.end(), [](const auto& x, const auto& y) { return x.target.domain < y.target.domain; });
    EXPECT_EQ(jobs[0].target.domain, "one.test");
    EXPECT_EQ(jobs[0].recipients, (std::vector<std::size_t>{0, 2}));
    EXPECT_EQ(jobs[1].target.domain, "two.test");
    EXPECT_EQ(jobs[1].recipients, (std::vector<std::size_t>{1}));
    EXPECT_EQ(jobs[0].queue_id, id);
    EXPECT_EQ(jobs[0].envelope.recipients.size(), 3u);
    ASSERT_TRUE(jobs[0].content);
    EXPECT_EQ(content_text(jobs[0].content), kContent);
    EXPECT_EQ(jobs[0].content_size, kContent.size());
    EXPECT_EQ(jobs[0].content.get(), jobs[1].content.get()) << "the content is shared, not copied per job";
    EXPECT_FALSE(jobs[0].eight_bit);
    EXPECT_FALSE(jobs[0].needs_smtputf8);
    EXPECT_EQ(queue().stats().delivered, 3u);
}

TEST_F(Onward, ContentFlagsAreWorkedOutOncePerMessage_Rfc6152_Rfc6531) {
    transport.set_script([](const delivery::RemoteJob& job) { return answer_all(job, Outcome::Delivered, ok_reply()); });
    start();
    smtp::Envelope env = envelope(kBob, {{"a", "one.test"}, {"j\xc3\xb6rg", "two.test"}});
    env.smtputf8 = true;
    send(env, "Subject: caf\xc3\xa9\r\n\r\nbody\r\n");
    ASSERT_TRUE(jobs_reach(2));
    for (const auto& job : transport.jobs()) {
        EXPECT_TRUE(job.eight_bit);
        // The header section is UTF-8 and the client asked for SMTPUTF8: it cannot travel without.
        EXPECT_TRUE(job.needs_smtputf8) << job.target.domain;
    }
}

TEST_F(Onward, AnAsciiHeaderSectionNeedsSmtputf8OnlyForUtf8Addresses_Rfc6531) {
    transport.set_script([](const delivery::RemoteJob& job) { return answer_all(job, Outcome::Delivered, ok_reply()); });
    start();
    smtp::Envelope env = envelope(kBob, {{"a", "one.test"}, {"j\xc3\xb6rg", "two.test"}});
    env.smtputf8 = true;
    send(env, "Subject: plain\r\n\r\nbody \xc3\xa9\r\n");
    ASSERT_TRUE(jobs_reach(2));
    for (const auto& job : transport.jobs()) {
        EXPECT_TRUE(job.eight_bit);
        EXPECT_EQ(job.needs_smtputf8, job.target.domain == "two.test") << job.target.domain;
    }
}

TEST_F(Onward, OnlyTheDeferredRecipientIsTriedAgain) {
    // One 250, one 451 in the same transaction: the next attempt carries the 451 one alone.
    transport.set_script([](const delivery::RemoteJob& job) {
        delivery::RemoteOutcome out;
        out.remote_mta = kRemoteMta;
        for (std::size_t i : job.recipients)
            out.recipients.push_back({i, i == 0 ? ok_reply() : try_later(), i == 0 ? Outcome::Delivered : Outcome::Deferred, true});
        return out;
    });
    start();
    const std::string id = send(envelope(kBob, {{"a", "one.test"}, {"b", "one.test"}}));
    ASSERT_TRUE(jobs_reach(1));
    ASSERT_TRUE(eventually([&] { return spooled(id).recipients[1].status == DeliveryStatus::Deferred; }));
    auto s = spooled(id);
    EXPECT_EQ(s.recipients[0].status, DeliveryStatus::Delivered);
    EXPECT_EQ(s.recipients[0].text, "relayed: 250 2.0.0 Ok: queued");
    EXPECT_EQ(s.recipients[1].attempts, 1u);
    EXPECT_EQ(s.recipients[1].text, "451 4.7.1 Greylisted, try later");

    transport.set_script([](const delivery::RemoteJob& job) { return answer_all(job, Outcome::Delivered, ok_reply()); });
    clock.advance(60);
    ASSERT_TRUE(jobs_reach(2));
    EXPECT_EQ(transport.jobs()[1].recipients, (std::vector<std::size_t>{1}));
    ASSERT_TRUE(eventually([&] { return !queued(id); }));
    EXPECT_EQ(transport.job_count(), 2u);
    EXPECT_TRUE(mailbox("bob").empty()) << "no report owed";
}

// RFC 5321 4.5.4.1: retries back off; here from retry_min (60 s) doubling to retry_max (240 s).
TEST_F(Onward, BackoffIsRecordedAndHonoured_Rfc5321_4_5_4_1) {
    transport.set_script([](const delivery::RemoteJob& job) { return answer_all(job, Outcome::Deferred, try_later()); });
    const std::int64_t t0 = clock.now();
    start();
    const std::string id = send(envelope(kBob, {{"a", "one.test"}}));
    const std::int64_t waits[] = {60, 120, 240, 240};
    std::int64_t at = t0;
    for (std::size_t n = 0; n < std::size(waits); ++n) {
        ASSERT_TRUE(jobs_reach(n + 1));
        ASSERT_TRUE(eventually([&] { return spooled(id).recipients[0].attempts == n + 1; })) << n;
        auto state = spooled(id).recipients[0];
        EXPECT_EQ(state.status, DeliveryStatus::Deferred);
        EXPECT_EQ(state.next_attempt_us, seconds_us(at + waits[n])) << "after attempt " << n + 1;
        auto listed = queue().list();
        ASSERT_EQ(listed.size(), 1u);
        EXPECT_EQ(listed[0].recipients[0].status, "deferred");
        EXPECT_EQ(listed[0].recipients[0].next_attempt, at + waits[n]);
        EXPECT_EQ(listed[0].recipients[0].attempts, n + 1);
        EXPECT_EQ(listed[0].recipients[0].last_error, "451 4.7.1 Greylisted, try later");

        clock.set(at + waits[n] - 1);  // not yet
        settle_briefly();
        EXPECT_EQ(transport.job_count(), n + 1) << "attempt " << n + 2 << " came early";
        at += waits[n];
        clock.set(at);
    }
    ASSERT_TRUE(jobs_reach(5));
}

// RFC 5321 4.5.4.1 / RFC 3463 4.4.7: given up at the end of the lifetime, and the sender is told.
TEST_F(Onward, AtTheEndOfItsLifetimeARecipientFailsWith447) {
    transport.set_script([](const delivery::RemoteJob& job) { return answer_all(job, Outcome::Deferred, try_later()); });
    QueueOptions o = options();
    o.lifetime = std::chrono::seconds(300);
    o.retry_max = std::chrono::seconds(3600);
    start(o);
    const std::string id = send(envelope(kBob, {{"a", "one.test"}}));
    // Attempts at 0, 60, 180 and (the last, cut to the lifetime's end) 300.
    std::uint32_t attempts = 1;
    for (std::int64_t step : {60, 120, 120}) {
        ASSERT_TRUE(eventually([&] { return spooled(id).recipients[0].attempts == attempts; })) << attempts;
        EXPECT_EQ(spooled(id).recipients[0].status, DeliveryStatus::Deferred);
        clock.advance(step);
        ASSERT_TRUE(jobs_reach(++attempts));
    }
    ASSERT_TRUE(eventually([&] { return !queued(id) && mailbox("bob").size() == 1; }));
    EXPECT_EQ(transport.job_count(), 4u);
    auto bounces = mailbox("bob");
    ASSERT_EQ(bounces.size(), 1u);
    EXPECT_TRUE(contains(bounces[0], "Action: failed")) << bounces[0];
    EXPECT_TRUE(contains(bounces[0], "Status: 4.4.7")) << bounces[0];
    EXPECT_TRUE(contains(bounces[0], "Diagnostic-Code: smtp; 451 4.7.1 Greylisted, try later")) << bounces[0];
    EXPECT_EQ(queue().stats().failed, 1u);
}

// A recipient with no route (its mailbox removed while the mail waited) is retried like a
// deferred one, flushed on request, and bounced when its lifetime ends (RFC 3463 4.4.7, with
// the 4.4.4 reason), never left pending for ever.
TEST_F(Onward, ARecipientWithoutARouteIsRetriedThenBouncedAtTheEndOfItsLifetime) {
    QueueOptions o = options();
    o.lifetime = std::chrono::seconds(300);
    o.retry_max = std::chrono::seconds(3600);
    Router routed = router();
    Queue queue(o, [routed](const smtp::Mailbox& m) { return m.local_part == "gone" ? Route{} : routed(m); }, &transport);
    queue.start();
    const std::string id = receive(queue, envelope(kBob, {{"gone", kLocalDomain}}), kContent);
    ASSERT_FALSE(id.empty());
    std::uint32_t attempts = 1;
    for (std::int64_t step : {60, 120}) {
        ASSERT_TRUE(eventually([&] { return spooled(id).recipients[0].attempts == attempts; })) << attempts;
        EXPECT_EQ(spooled(id).recipients[0].status, DeliveryStatus::Deferred);
        clock.advance(step);
        ++attempts;
    }
    ASSERT_TRUE(eventually([&] { return spooled(id).recipients[0].attempts == attempts; })) << attempts;
    EXPECT_EQ(queue.flush(id), 1u) << "flush reaches it too";
    ASSERT_TRUE(eventually([&] { return spooled(id).recipients[0].attempts == attempts + 1; }));
    clock.advance(300);
    ASSERT_TRUE(eventually([&] { return !queued(id) && mailbox("bob").size() == 1; }));
    queue.stop();
    EXPECT_EQ(transport.job_count(), 0u);
    const std::string bounce = mailbox("bob")[0];
    EXPECT_TRUE(contains(bounce, "Final-Recipient: rfc822; gone@example.org")) << bounce;
    EXPECT_TRUE(contains(bounce, "Status: 4.4.7")) << bounce;
    EXPECT_TRUE(contains(bounce, "4.4.4 No route")) << bounce;
}

// RFC 5321 6.3: more Received fields than max_received is a loop: 554 5.4.6, never sent on.
TEST_F(Onward, AMailLoopFailsEveryRemoteRecipientWith546_Rfc5321_6_3) {
    QueueOptions o = options();
    o.max_received = 3;
    start(o);
    std::string content;
    for (int i = 0; i < 4; ++i) content += "Received: from hop" + std::to_string(i) + ".test\r\n\tby x; date\r\n";
    content += "Subject: loop\r\n\r\nReceived: in the body does not count\r\n";
    const std::string id = send(envelope(kBob, {{"a", "one.test"}, {"alice", kLocalDomain}}), content);
    ASSERT_TRUE(eventually([&] { return !queued(id) && mailbox("bob").size() == 1; }));
    EXPECT_EQ(transport.job_count(), 0u);
    EXPECT_EQ(mailbox("alice").size(), 1u) << "a local copy stops the loop here and is delivered";
    auto bounces = mailbox("bob");
    ASSERT_EQ(bounces.size(), 1u);
    EXPECT_TRUE(contains(bounces[0], "Status: 5.4.6")) << bounces[0];
    EXPECT_TRUE(contains(bounces[0], "Final-Recipient: rfc822; a@one.test")) << bounces[0];
    EXPECT_TRUE(contains(bounces[0], "554 5.4.6 Too many Received header fields (4)")) << bounces[0];
}

TEST_F(Onward, ExactlyMaxReceivedFieldsIsNotALoop_Rfc5321_6_3) {
    transport.set_script([](const delivery::RemoteJob& job) { return answer_all(job, Outcome::Delivered, ok_reply()); });
    QueueOptions o = options();
    o.max_received = 3;
    start(o);
    std::string content = "Received: a\r\nreceived : b\r\nRECEIVED: c\r\n\r\nbody\r\n";
    const std::string id = send(envelope(kBob, {{"a", "one.test"}}), content);
    ASSERT_TRUE(jobs_reach(1));
    ASSERT_TRUE(eventually([&] { return !queued(id); }));
}

// Without a transport nothing can carry them: a deferral with the reason (RFC 3463 X.4.4), tried
// again with back-off and bounced at the end of its lifetime, never left pending for ever.
TEST_F(Onward, WithoutATransportRemoteRecipientsAreDeferredWithTheReason) {
    Queue queue(options(), router(), nullptr);
    queue.start();
    const std::string id = receive(queue, envelope(kBob, {{"a", "one.test"}}), kContent);
    ASSERT_TRUE(eventually([&] { return queue.stats().deferred == 1; }));
    EXPECT_TRUE(queued(id));
    auto listed = queue.list();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].recipients[0].status, "deferred");
    EXPECT_NE(listed[0].recipients[0].last_error.find("4.4.4"), std::string::npos) << listed[0].recipients[0].last_error;
    EXPECT_GT(listed[0].recipients[0].next_attempt, 0);
}

TEST_F(Onward, StopWaitsForRemoteDeliveriesInProgress) {
    start();
    const std::string id = send(envelope(kBob, {{"a", "one.test"}}));
    ASSERT_TRUE(jobs_reach(1));
    std::thread answer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        transport.answer_held([](const delivery::RemoteJob& job) { return answer_all(job, Outcome::Delivered, ok_reply()); });
    });
    stop();  // remote_stop_grace is 200 ms
    answer.join();
    EXPECT_FALSE(queued(id)) << "the outcome that came during stop() was recorded";
    EXPECT_EQ(queue().stats().delivered, 1u);
}

TEST_F(Onward, NoNewRemoteTransactionStartsDuringStop) {
    // The delivery thread is kept busy with a first message until stop() is under way; the
    // second, remote message is then left for the next start rather than begun.
    std::promise<void> entered, release;
    auto released = release.get_future().share();
    std::atomic<bool> first{true};
    Router base = router();
    Router blocking = [&, base](const smtp::Mailbox& m) {
        if (first.exchange(false)) {
            entered.set_value();
            released.wait();
        }
        return base(m);
    };
    Queue q(options(), blocking, &transport);
    q.start();
    receive(q, envelope(kBob, {{"alice", kLocalDomain}}), kContent);
    entered.get_future().wait();
    const std::string id = receive(q, envelope(kBob, {{"a", "one.test"}}), kContent);
    std::thread stopper([&] { q.stop(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    release.set_value();
    stopper.join();
    EXPECT_EQ(transport.job_count(), 0u);
    EXPECT_EQ(spooled(id).recipients[0].status, DeliveryStatus::Pending);
    EXPECT_EQ(mailbox("alice").size(), 1u);
}

TEST_F(Onward, AnOutcomeAfterStopIsDroppedAndTheRecipientTriedAgainLater) {
    std::string first, second;
    {
        QueueOptions o = options();
        o.remote_stop_grace = std::chrono::milliseconds(0);
        auto q = std::make_unique<Queue>(o, router(), &transport);
        q->start();
        first = receive(*q, envelope(kBob, {{"a", "one.test"}}), kContent);
        second = receive(*q, envelope(kBob, {{"b", "two.test"}}), kContent);
        ASSERT_TRUE(jobs_reach(2));
        q->stop();
        // After stop(), and after the queue is gone: neither may touch what is no longer there.
        EXPECT_TRUE(transport.answer_held([](const delivery::RemoteJob& job) {
            return answer_all(job, Outcome::Delivered, ok_reply());
        }));
        settle_briefly();
        EXPECT_TRUE(queued(first)) << "not recorded after stop()";
    }
    EXPECT_TRUE(transport.answer_held([](const delivery::RemoteJob& job) { return answer_all(job, Outcome::Failed, no_such_user()); }));
    settle_briefly();
    EXPECT_EQ(spooled(first).recipients[0].status, DeliveryStatus::Pending);
    EXPECT_EQ(spooled(second).recipients[0].status, DeliveryStatus::Pending);

    transport.set_script([](const delivery::RemoteJob& job) { return answer_all(job, Outcome::Delivered, ok_reply()); });
    start();
    ASSERT_TRUE(eventually([&] { return !queued(first) && !queued(second); }));
    EXPECT_EQ(transport.job_count(), 4u);
    EXPECT_TRUE(mailbox("bob").empty());
}

TEST_F(Onward, ATransportThatAnswersForOtherRecipientsIsNotBelieved) {
    transport.set_script([](const delivery::RemoteJob& job) {
        delivery::RemoteOutcome out = answer_all(job, Outcome::Delivered, ok_reply());
        out.recipients.push_back({7, ok_reply(), Outcome::Delivered, true});  // not in the job
        out.recipients.erase(out.recipients.begin());                         // and one missing
        return out;
    });
    start();
    const std::string id = send(envelope(kBob, {{"a", "one.test"}}));
    ASSERT_TRUE(eventually([&] { return spooled(id).recipients[0].status == DeliveryStatus::Deferred; }));
    EXPECT_EQ(spooled(id).recipients[0].text, "451 4.3.0 no outcome from the remote delivery");
}

TEST_F(Onward, ATransportThatThrowsDefersTheJob) {
    class Throwing final : public delivery::RemoteTransport {
        void deliver(delivery::RemoteJob, std::function<void(delivery::RemoteOutcome)>) override {
            throw std::runtime_error("no loop running");
        }
    } throwing;
    Queue queue(options(), router(), &throwing);
    queue.start();
    const std::string id = receive(queue, envelope(kBob, {{"a", "one.test"}}), kContent);
    ASSERT_TRUE(eventually([&] { return spooled(id).recipients[0].status == DeliveryStatus::Deferred; }));
    EXPECT_NE(spooled(id).recipients[0].text.find("no loop running"), std::string::npos);
}

}  // namespace
}  // namespace ehlo::queue
