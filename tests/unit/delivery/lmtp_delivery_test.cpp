// LmtpDelivery's edges that need no LMTP server (the real one, Dovecot, is in e2e t_73): a
// server that cannot be reached defers every recipient, jobs after stop() are deferred at once,
// and TransportSwitch sends LMTP targets to LMTP and the rest to SMTP.
#include "delivery/lmtp_delivery.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <stdexcept>

#include "delivery/content.hpp"

namespace ehlo::delivery {
namespace {

RemoteJob lmtp_job(std::string socket) {
    RemoteJob job;
    job.queue_id = "Q1";
    job.envelope.sender = smtp::Mailbox{"bob", "example.org"};
    job.envelope.recipients.push_back({smtp::Mailbox{"alice", "example.org"}, "", 0});
    job.envelope.recipients.push_back({smtp::Mailbox{"carol", "example.org"}, "", 0});
    job.recipients = {0, 1};
    job.content = std::make_shared<MemoryContent>(std::make_shared<const std::string>("Subject: x\r\n\r\nx\r\n"));
    job.content_size = 16;
    job.target.domain = "example.org";
    job.target.lmtp = true;
    job.target.socket = std::move(socket);
    return job;
}

LmtpOptions quick() {
    LmtpOptions o;
    o.lhlo_name = "mx.example.org";
    o.connect_timeout = std::chrono::milliseconds(2000);
    return o;
}

TEST(LmtpDelivery, UnreachableServerDefersEveryRecipient) {
    LmtpDelivery lmtp(quick());
    std::promise<RemoteOutcome> got;
    lmtp.deliver(lmtp_job("/nonexistent/ehlo-test/lmtp.sock"), [&](RemoteOutcome o) { got.set_value(std::move(o)); });
    auto future = got.get_future();
    ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    const RemoteOutcome o = future.get();
    ASSERT_EQ(o.recipients.size(), 2u);
    for (const auto& r : o.recipients) {
        EXPECT_EQ(r.outcome, Outcome::Deferred);
        EXPECT_EQ(r.reply.enhanced, "4.4.1");
        EXPECT_FALSE(r.remote);  // our reply, not the server's: no Remote-MTA in a DSN
    }
}

TEST(LmtpDelivery, JobsAfterStopAreDeferredAtOnce) {
    LmtpDelivery lmtp(quick());
    lmtp.stop();
    std::optional<RemoteOutcome> got;
    lmtp.deliver(lmtp_job("/nonexistent/x"), [&](RemoteOutcome o) { got = std::move(o); });
    ASSERT_TRUE(got);  // on this thread, before deliver() returned
    EXPECT_EQ(got->recipients.at(0).outcome, Outcome::Deferred);
    EXPECT_EQ(got->recipients.at(0).reply.enhanced, "4.3.2");
}

TEST(LmtpDelivery, RefusesWhatIsNoLmtpJob) {
    LmtpDelivery lmtp(quick());
    RemoteJob smtp_job = lmtp_job("/x");
    smtp_job.target.lmtp = false;
    EXPECT_THROW(lmtp.deliver(smtp_job, [](RemoteOutcome) {}), std::invalid_argument);
    RemoteJob bad = lmtp_job("/x");
    bad.recipients.push_back(5);
    EXPECT_THROW(lmtp.deliver(bad, [](RemoteOutcome) {}), std::invalid_argument);
}

struct Counting final : RemoteTransport {
    int jobs = 0;
    void deliver(RemoteJob, std::function<void(RemoteOutcome)> done) override {
        ++jobs;
        done({});
    }
};

TEST(TransportSwitch, LmtpTargetsToLmtpOthersToSmtp) {
    Counting smtp, lmtp;
    TransportSwitch sw(smtp, lmtp);
    sw.deliver(lmtp_job("/x"), [](RemoteOutcome) {});
    RemoteJob onward = lmtp_job("");
    onward.target.lmtp = false;
    sw.deliver(onward, [](RemoteOutcome) {});
    EXPECT_EQ(lmtp.jobs, 1);
    EXPECT_EQ(smtp.jobs, 1);
}

}  // namespace
}  // namespace ehlo::delivery
