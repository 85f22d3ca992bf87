// Queue control: list, show, flush, hold, release, remove; list_spool for a server that is
// down; and what a restart keeps (back-off schedules, holds).
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "onward_fixture.hpp"

namespace ehlo::queue {
namespace {

using namespace testing;
using delivery::Outcome;

const smtp::Mailbox kBob{"bob", "example.org"};

std::optional<delivery::RemoteOutcome> always_later(const delivery::RemoteJob& job) {
    return answer_all(job, Outcome::Deferred, try_later());
}
std::optional<delivery::RemoteOutcome> always_ok(const delivery::RemoteJob& job) {
    return answer_all(job, Outcome::Delivered, ok_reply());
}

class Control : public Onward {
protected:
    // A message whose one recipient has been deferred once (next attempt 60 s later).
    std::string deferred_message(const smtp::Mailbox& rcpt) {
        const std::size_t before = transport.job_count();
        const std::string id = send(envelope(kBob, {rcpt}));
        EXPECT_TRUE(jobs_reach(before + 1));
        EXPECT_TRUE(eventually([&] { return spooled(id).recipients[0].status == DeliveryStatus::Deferred; }));
        return id;
    }
};

TEST_F(Control, ListShowsEveryRecipientsState) {
    transport.set_script(always_later);
    start();
    const std::string id = deferred_message({"a", "one.test"});
    auto list = queue().list();
    ASSERT_EQ(list.size(), 1u);
    const MessageSummary& m = list[0];
    EXPECT_EQ(m.id, id);
    EXPECT_EQ(m.arrival, clock.now());
    EXPECT_EQ(m.size, kContent.size());
    EXPECT_EQ(m.sender, "bob@example.org");
    EXPECT_FALSE(m.held);
    ASSERT_EQ(m.recipients.size(), 1u);
    EXPECT_EQ(m.recipients[0].address, "a@one.test");
    EXPECT_EQ(m.recipients[0].status, "deferred");
    EXPECT_EQ(m.recipients[0].attempts, 1u);
    EXPECT_EQ(m.recipients[0].next_attempt, clock.now() + 60);
    EXPECT_EQ(m.recipients[0].last_error, "451 4.7.1 Greylisted, try later");
}

TEST_F(Control, ShowGivesTheHeaderSectionAndEveryAttempt) {
    transport.set_script(always_later);
    start();
    const std::string id = deferred_message({"a", "one.test"});
    clock.advance(60);
    ASSERT_TRUE(jobs_reach(2));
    ASSERT_TRUE(eventually([&] { return spooled(id).recipients[0].attempts == 2; }));
    auto detail = queue().show(id);
    ASSERT_TRUE(detail);
    EXPECT_EQ(detail->summary.id, id);
    EXPECT_EQ(detail->headers, "Received: from c.example\r\nSubject: test\r\n");
    ASSERT_EQ(detail->attempts.size(), 2u);
    EXPECT_EQ(detail->attempts[0],
              "2023-11-14T22:13:20Z a@one.test deferred mx.remote.test [192.0.2.25]: 451 4.7.1 Greylisted, try later");
    EXPECT_NE(detail->attempts[1].find("2023-11-14T22:14:20Z"), std::string::npos) << detail->attempts[1];
    EXPECT_FALSE(queue().show("0000000000000000"));
}

TEST_F(Control, FlushByIdMakesThatMessageDueNow) {
    transport.set_script(always_later);
    start();
    const std::string first = deferred_message({"a", "one.test"});
    deferred_message({"b", "two.test"});
    EXPECT_EQ(queue().flush(first), 1u);
    ASSERT_TRUE(jobs_reach(3));
    settle_briefly();
    auto jobs = transport.jobs();
    ASSERT_EQ(jobs.size(), 3u) << "only the flushed message was tried";
    EXPECT_EQ(jobs[2].queue_id, first);
}

TEST_F(Control, FlushByDomainMakesThoseRecipientsDueNow) {
    transport.set_script(always_later);
    start();
    deferred_message({"a", "one.test"});
    const std::string second = deferred_message({"b", "Two.Test"});
    EXPECT_EQ(queue().flush("TWO.test"), 1u);
    ASSERT_TRUE(jobs_reach(3));
    settle_briefly();
    ASSERT_EQ(transport.job_count(), 3u);
    EXPECT_EQ(transport.jobs()[2].queue_id, second);
    EXPECT_EQ(queue().flush("nowhere.test"), 0u);
}

TEST_F(Control, FlushAllCountsTheDeferredRecipients) {
    transport.set_script(always_later);
    start();
    deferred_message({"a", "one.test"});
    deferred_message({"b", "two.test"});
    EXPECT_EQ(queue().flush(), 2u);
    ASSERT_TRUE(jobs_reach(4));
}

TEST_F(Control, AHeldMessageIsNotAttemptedUntilReleased) {
    transport.set_script(always_later);
    start();
    const std::string id = deferred_message({"a", "one.test"});
    EXPECT_TRUE(queue().hold(id));
    EXPECT_TRUE(queue().hold(id)) << "holding twice is fine";
    auto list = queue().list();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_TRUE(list[0].held);
    EXPECT_EQ(list[0].recipients[0].status, "held");
    clock.advance(600);
    EXPECT_EQ(queue().flush(), 0u) << "flush does not release";
    settle_briefly();
    EXPECT_EQ(transport.job_count(), 1u);

    transport.set_script(always_ok);
    EXPECT_TRUE(queue().release(id));
    ASSERT_TRUE(jobs_reach(2));
    ASSERT_TRUE(eventually([&] { return !queued(id); }));
    EXPECT_FALSE(queue().hold(id)) << "no longer queued";
}

// A held message leaves memory for its file (due in the year 2200 until released), so that a
// hold costs no room in the active set, however long it lasts.
TEST_F(Control, AHeldMessageWaitsOnDiskNotInMemory) {
    transport.set_script(always_later);
    start();
    const std::string id = deferred_message({"a", "one.test"});
    ASSERT_TRUE(queue().hold(id));
    ASSERT_TRUE(eventually([&] {
        struct stat st {};
        return ::stat(queue_file(id).c_str(), &st) == 0 && st.st_mtim.tv_sec > 4'000'000'000;
    })) << "set aside with the held due time";
    auto list = queue().list();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_TRUE(list[0].held) << "listed from its file";
    clock.advance(600);  // past its next attempt: a release lets it go then
    ASSERT_TRUE(queue().release(id));
    transport.set_script(always_ok);
    ASSERT_TRUE(jobs_reach(2));
    ASSERT_TRUE(eventually([&] { return !queued(id); }));
}

TEST_F(Control, AHoldLastsAcrossARestart) {
    transport.set_script(always_later);
    start();
    const std::string id = deferred_message({"a", "one.test"});
    ASSERT_TRUE(queue().hold(id));
    stop();
    EXPECT_TRUE(spooled(id).held);

    clock.advance(600);  // long past its next attempt
    start();
    settle_briefly();
    EXPECT_EQ(transport.job_count(), 1u) << "a held message is not attempted after a restart";
    auto list = queue().list();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_TRUE(list[0].held);

    ASSERT_TRUE(queue().release(id));
    ASSERT_TRUE(jobs_reach(2));
    stop();
    EXPECT_FALSE(spooled(id).held) << "the release is recorded too";
}

// A restart does not undo the back-off (RFC 5321 4.5.4.1): a deferred recipient waits for the
// next attempt it was given.
TEST_F(Control, DeferredRecipientsKeepTheirNextAttemptAcrossARestart_Rfc5321_4_5_4_1) {
    transport.set_script(always_later);
    const std::int64_t t0 = clock.now();
    start();
    const std::string id = deferred_message({"a", "one.test"});
    stop();

    clock.advance(10);
    start();
    settle_briefly();
    EXPECT_EQ(transport.job_count(), 1u) << "not tried again at once";
    auto list = queue().list();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].recipients[0].next_attempt, t0 + 60);

    clock.set(t0 + 60);
    ASSERT_TRUE(jobs_reach(2));
    ASSERT_TRUE(eventually([&] { return spooled(id).recipients[0].attempts == 2; }));
    EXPECT_EQ(spooled(id).recipients[0].next_attempt_us, static_cast<std::uint64_t>(t0 + 60 + 120) * 1000000)
        << "the back-off goes on from the recorded attempts";
}

TEST_F(Control, PendingRecipientsOfARecoveredMessageAreTriedAtOnce) {
    std::string id;
    {
        Queue held(options(), hold_router());
        held.start();
        id = receive(held, envelope(kBob, {{"a", "one.test"}}), kContent);
        held.stop();
        forget_attempts(queue_file(id));
    }
    transport.set_script(always_ok);
    start();
    ASSERT_TRUE(jobs_reach(1));
    ASSERT_TRUE(eventually([&] { return !queued(id); }));
}

TEST_F(Control, RemoveDeletesWithoutABounce) {
    transport.set_script(always_later);
    start();
    const std::string id = deferred_message({"a", "one.test"});
    EXPECT_TRUE(queue().remove(id));
    EXPECT_FALSE(queued(id));
    EXPECT_TRUE(queue().list().empty());
    EXPECT_FALSE(queue().remove(id));
    EXPECT_FALSE(queue().release(id));
    clock.advance(600);
    settle_briefly();
    EXPECT_EQ(transport.job_count(), 1u);
    EXPECT_TRUE(mailbox("bob").empty());
    EXPECT_EQ(queue().stats().reports, 0u);
}

TEST_F(Control, RemoveDuringADeliveryDropsItsOutcome) {
    start();  // no script: the job waits for an answer
    const std::string id = send(envelope(kBob, {{"x", "one.test"}}));
    ASSERT_TRUE(jobs_reach(1));
    EXPECT_TRUE(queue().remove(id));
    transport.answer_held([](const delivery::RemoteJob& job) { return answer_all(job, Outcome::Failed, no_such_user()); });
    settle_briefly();
    EXPECT_FALSE(queued(id));
    EXPECT_TRUE(mailbox("bob").empty()) << "removed means no bounce";
}

TEST_F(Control, ListSpoolReadsTheFilesOfARunningOrStoppedServer) {
    transport.set_script(always_later);
    start();
    const std::string first = deferred_message({"a", "one.test"});
    const std::string second = send(envelope(std::nullopt, {{"alice", kLocalDomain}, {"b", "two.test"}}));
    ASSERT_TRUE(jobs_reach(2));
    ASSERT_TRUE(eventually([&] { return spooled(second).recipients[1].status == DeliveryStatus::Deferred; }));
    ASSERT_TRUE(queue().hold(first));

    // While the server runs and holds the spool's lock.
    auto before = read_file(queue_file(first));
    auto listed = list_spool(spool());
    EXPECT_EQ(read_file(queue_file(first)), before) << "read-only";
    ASSERT_EQ(listed.size(), 2u);
    EXPECT_EQ(listed[0].id, first);
    EXPECT_TRUE(listed[0].held);
    EXPECT_EQ(listed[0].recipients[0].status, "held");
    EXPECT_EQ(listed[1].id, second);
    EXPECT_EQ(listed[1].sender, "");
    ASSERT_EQ(listed[1].recipients.size(), 2u);
    EXPECT_EQ(listed[1].recipients[0].status, "delivered");
    EXPECT_EQ(listed[1].recipients[1].status, "deferred");
    EXPECT_EQ(listed[1].recipients[1].next_attempt, clock.now() + 60);
    EXPECT_EQ(listed[1].recipients[1].last_error, "451 4.7.1 Greylisted, try later");

    stop();
    auto after = list_spool(spool());
    ASSERT_EQ(after.size(), 2u);
    EXPECT_EQ(after[0].recipients[0].attempts, 1u);

    // A file being written (no End yet) and a stranger are skipped, not touched.
    write_file(spool() / "queue" / "0000000000000001", "M\x0d");
    write_file(spool() / "queue" / "README", "not mail");
    EXPECT_EQ(list_spool(spool()).size(), 2u);
    EXPECT_TRUE(std::filesystem::exists(spool() / "queue" / "0000000000000001"));
    EXPECT_THROW(list_spool(spool() / "nowhere"), std::system_error);
}

TEST_F(Control, ControlCallsFromManyThreadsWhileDelivering) {
    transport.set_script(always_later);
    start();
    std::vector<std::string> ids;
    for (int i = 0; i < 10; ++i) ids.push_back(deferred_message({"u" + std::to_string(i), "one.test"}));
    std::atomic<bool> stop_flag{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t)
        threads.emplace_back([&, t] {
            for (int round = 0; !stop_flag; ++round) {
                const std::string& id = ids[static_cast<std::size_t>(round + t) % ids.size()];
                queue().list();
                queue().show(id);
                queue().flush(round % 2 ? id : "one.test");
                if (round % 3 == 0) {
                    queue().hold(id);
                    queue().release(id);
                }
            }
        });
    clock.advance(60);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop_flag = true;
    for (auto& t : threads) t.join();
    stop();
    for (const auto& id : ids) {
        auto s = spooled(id);
        EXPECT_FALSE(s.held) << id;
        EXPECT_GE(s.recipients[0].attempts, 1u);
        EXPECT_EQ(s.intact_length, s.file_length);
    }
}

}  // namespace
}  // namespace ehlo::queue
