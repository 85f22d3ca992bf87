// ForwardingTransport: forwarded recipients get the rewritten sender, the others the sender as it
// came; a job mixing both for one hop becomes two transactions whose outcomes come back as one.
#include "delivery/forwarding_transport.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace ehlo::delivery {
namespace {

// Records each job and answers it at once, on the caller's thread.
struct Recorder final : RemoteTransport {
    std::vector<RemoteJob> jobs;
    bool dsn = true;
    void deliver(RemoteJob job, std::function<void(RemoteOutcome)> done) override {
        RemoteOutcome o;
        o.remote_mta = "mx.test [192.0.2.1]";
        o.dsn_passed_on = dsn;
        for (std::size_t i : job.recipients) o.recipients.push_back({i, smtp::Reply(250, "2.0.0", "Ok"), Outcome::Delivered, true});
        dsn = !dsn;  // the second transaction of a split job answers differently
        jobs.push_back(std::move(job));
        done(std::move(o));
    }
};

RemoteJob job_for(std::vector<bool> forwarded) {
    RemoteJob job;
    job.queue_id = "Q";
    job.envelope.sender = smtp::Mailbox{"someone", "orig.example"};
    for (std::size_t i = 0; i < forwarded.size(); ++i) {
        smtp::Recipient r;
        r.address = {"u" + std::to_string(i), "remote.example"};
        r.forwarded = forwarded[i];
        job.envelope.recipients.push_back(r);
        job.recipients.push_back(i);
    }
    return job;
}

std::optional<smtp::Mailbox> srs(const std::optional<smtp::Mailbox>& sender) {
    if (!sender) return std::nullopt;
    return smtp::Mailbox{"SRS0=hash=TT=" + sender->domain + "=" + sender->local_part, "example.org"};
}

TEST(ForwardingTransport, RelayedRecipientsKeepTheSender) {
    Recorder inner;
    ForwardingTransport t(inner, srs);
    std::optional<RemoteOutcome> got;
    t.deliver(job_for({false, false}), [&](RemoteOutcome o) { got = std::move(o); });
    ASSERT_EQ(inner.jobs.size(), 1u);
    EXPECT_EQ(inner.jobs[0].envelope.sender_str(), "someone@orig.example");
    ASSERT_TRUE(got);
    EXPECT_EQ(got->recipients.size(), 2u);
}

TEST(ForwardingTransport, ForwardedRecipientsGetTheRewrittenSender) {
    Recorder inner;
    ForwardingTransport t(inner, srs);
    std::optional<RemoteOutcome> got;
    t.deliver(job_for({true}), [&](RemoteOutcome o) { got = std::move(o); });
    ASSERT_EQ(inner.jobs.size(), 1u);
    EXPECT_EQ(inner.jobs[0].envelope.sender_str(), "SRS0=hash=TT=orig.example=someone@example.org");
    ASSERT_TRUE(got);
}

TEST(ForwardingTransport, NoRewriteKeepsTheSenderForForwardedToo) {
    Recorder inner;
    ForwardingTransport t(inner, [](const std::optional<smtp::Mailbox>&) { return std::optional<smtp::Mailbox>{}; });
    t.deliver(job_for({true, false}), [](RemoteOutcome) {});
    ASSERT_EQ(inner.jobs.size(), 1u);  // one transaction: both have the same sender
    EXPECT_EQ(inner.jobs[0].envelope.sender_str(), "someone@orig.example");
}

TEST(ForwardingTransport, MixedJobIsTwoTransactionsAndOneOutcome) {
    Recorder inner;
    ForwardingTransport t(inner, srs);
    int calls = 0;
    RemoteOutcome got;
    t.deliver(job_for({false, true, false}), [&](RemoteOutcome o) {
        ++calls;
        got = std::move(o);
    });
    ASSERT_EQ(inner.jobs.size(), 2u);
    EXPECT_EQ(inner.jobs[0].envelope.sender_str(), "someone@orig.example");
    EXPECT_EQ(inner.jobs[0].recipients, (std::vector<std::size_t>{0, 2}));
    EXPECT_EQ(inner.jobs[1].envelope.sender_str(), "SRS0=hash=TT=orig.example=someone@example.org");
    EXPECT_EQ(inner.jobs[1].recipients, (std::vector<std::size_t>{1}));
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(got.recipients.size(), 3u);
    EXPECT_FALSE(got.dsn_passed_on);  // one of the two did not pass DSN on: a "relayed" DSN is ours
    EXPECT_EQ(got.remote_mta, "mx.test [192.0.2.1]");
}

}  // namespace
}  // namespace ehlo::delivery
