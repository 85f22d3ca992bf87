// Onward delivery on the wire against real peers on loopback: Postfix's smtp-sink, scripted
// peers for the faults no real server produces on demand, and a real unbound for MX routing
// (smtp_test_peers.hpp, dns_test_server.hpp). No mocks; every wait is bounded.
#include <gtest/gtest.h>

#include <future>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "delivery/remote_delivery.hpp"
#include "delivery/resolver.hpp"
#include "dns_test_server.hpp"
#include "observe/log.hpp"
#include "smtp_test_peers.hpp"
#include "temp_dir.hpp"

namespace ehlo::delivery {
namespace {

using testing::accept_all;
using testing::PeerConnection;
using testing::ScriptedPeer;
using testing::SinkCounters;
using testing::SmtpSink;

constexpr auto kOutcomeWait = std::chrono::seconds(20);  // bound on waiting for any one job
const std::string kContent = "Subject: test\r\n\r\nHello\r\n.leading dot\r\n";

smtp::Envelope envelope_for(const std::vector<std::string>& recipients) {
    smtp::Envelope e;
    e.sender = smtp::Mailbox{"alice", "example.org"};
    for (const std::string& r : recipients) {
        const auto at = r.find('@');
        e.recipients.push_back({smtp::Mailbox{r.substr(0, at), r.substr(at + 1)}, "", 0});
    }
    return e;
}

RemoteTarget host_target(const std::string& host, std::uint16_t port) {
    RemoteTarget t;
    t.domain = "example.net";
    t.host = host;
    t.port = port;
    return t;
}

RemoteTarget mx_target(const std::string& domain, std::uint16_t port) {
    RemoteTarget t;
    t.domain = domain;
    t.port = port;
    return t;
}

RemoteJob job_for(RemoteTarget target, const std::vector<std::string>& recipients, std::string id = "Q1",
                  std::string content = kContent) {
    RemoteJob j;
    j.queue_id = std::move(id);
    j.envelope = envelope_for(recipients);
    for (std::size_t i = 0; i < recipients.size(); ++i) j.recipients.push_back(i);
    j.content_size = content.size();
    j.content = std::make_shared<MemoryContent>(std::make_shared<const std::string>(std::move(content)));
    j.target = std::move(target);
    return j;
}

// Collects the outcomes of jobs, and checks each `done` comes once, on the delivery thread.
// The state is shared with the callbacks, so that one coming after a failed test finds it.
class Outcomes {
public:
    std::function<void(RemoteOutcome)> callback(std::string name) {
        return [s = state_, name](RemoteOutcome o) {
            std::lock_guard lock(s->mutex);
            if (std::this_thread::get_id() == s->test_thread) s->on_test_thread = true;
            s->results.emplace_back(name, std::move(o));
            s->changed.notify_all();
        };
    }
    // The outcome of the job given `name`; fails the test if it does not come in time.
    RemoteOutcome get(const std::string& name) {
        std::unique_lock lock(state_->mutex);
        const RemoteOutcome* found = nullptr;
        state_->changed.wait_for(lock, kOutcomeWait, [&] {
            found = state_->find(name);
            return found != nullptr;
        });
        if (!found) {
            ADD_FAILURE() << "no outcome for " << name << " within " << kOutcomeWait.count() << " s";
            return {};
        }
        return *found;
    }
    std::size_t count(const std::string& name) {
        std::lock_guard lock(state_->mutex);
        std::size_t n = 0;
        for (const auto& [k, o] : state_->results) n += k == name ? 1 : 0;
        return n;
    }
    bool any_on_test_thread() {
        std::lock_guard lock(state_->mutex);
        return state_->on_test_thread;
    }

private:
    struct State {
        const RemoteOutcome* find(const std::string& name) const {
            for (const auto& [k, o] : results)
                if (k == name) return &o;
            return nullptr;
        }
        std::mutex mutex;
        std::condition_variable changed;
        std::vector<std::pair<std::string, RemoteOutcome>> results;
        std::thread::id test_thread = std::this_thread::get_id();
        bool on_test_thread = false;
    };
    std::shared_ptr<State> state_ = std::make_shared<State>();
};

RemoteOutcome deliver_one(RemoteDelivery& remote, RemoteJob job) {
    Outcomes outcomes;
    remote.deliver(std::move(job), outcomes.callback("job"));
    RemoteOutcome o = outcomes.get("job");
    EXPECT_FALSE(outcomes.any_on_test_thread());
    return o;
}

RemoteOptions options_with(double timeout_scale = 1.0) {
    RemoteOptions o;
    o.helo_name = "client.example.org";
    o.connect_timeout = std::chrono::seconds(3);
    o.timeout_scale = timeout_scale;
    o.idle_keep = std::chrono::seconds(5);
    return o;
}

// For tests that route to configured IP addresses only: a resolver that is never asked.
ResolverOptions no_dns() {
    ResolverOptions o;
    o.forwarders = {"127.0.0.1@" + std::to_string(testing::unused_loopback_port())};
    o.timeout = std::chrono::seconds(2);
    return o;
}

void expect_all(const RemoteOutcome& o, Outcome outcome, int code, std::size_t count) {
    ASSERT_EQ(o.recipients.size(), count);
    for (std::size_t i = 0; i < count; ++i) {
        EXPECT_EQ(o.recipients[i].index, i);
        EXPECT_EQ(o.recipients[i].outcome, outcome) << "recipient " << i;
        EXPECT_EQ(o.recipients[i].reply.code, code) << "recipient " << i;
    }
}

std::string text_of(const RecipientResult& r) { return r.reply.lines.empty() ? std::string{} : r.reply.lines.front(); }

// The sink has seen every session end (after stop(), every connection was closed).
SinkCounters settled(const SmtpSink& sink, int messages) {
    return sink.wait_for([&](const SinkCounters& c) { return c.messages >= messages && c.sessions >= c.quits && c.quits > 0; });
}

// ---- against smtp-sink --------------------------------------------------------------------

class RemoteDeliverySink : public ::testing::Test {
protected:
    Resolver resolver{no_dns()};
    std::uint16_t port = testing::free_tcp_port({"127.0.0.1"});
};

// RFC 5321 3.3: a whole transaction; the recipients are Delivered on the 250 to the final ".".
TEST_F(RemoteDeliverySink, DeliversToConfiguredHost_Rfc5321_3_3) {
    SmtpSink sink("127.0.0.1", port);
    RemoteDelivery remote(options_with(), resolver);
    const RemoteOutcome o = deliver_one(remote, job_for(host_target("127.0.0.1", port), {"bob@example.net", "carol@example.net"}));
    expect_all(o, Outcome::Delivered, 250, 2);
    EXPECT_TRUE(o.recipients[0].remote);
    EXPECT_EQ(o.remote_mta, "127.0.0.1 [127.0.0.1]");
    EXPECT_TRUE(o.dsn_passed_on);  // smtp-sink offers DSN

    remote.stop();
    const auto messages = sink.messages();
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_NE(messages[0].find("X-Helo-Args: client.example.org"), std::string::npos) << messages[0];
    EXPECT_NE(messages[0].find("X-Mail-Args: <alice@example.org>"), std::string::npos);
    EXPECT_NE(messages[0].find("X-Rcpt-Args: <bob@example.net>"), std::string::npos);
    EXPECT_NE(messages[0].find("X-Rcpt-Args: <carol@example.net>"), std::string::npos);
    EXPECT_NE(messages[0].find("Subject: test\n\nHello\n"), std::string::npos) << messages[0];
}

// Jobs for one destination, one after another, share one connection (RFC 5321 4.1.1.5: a new
// transaction needs no new session).
TEST_F(RemoteDeliverySink, LaterJobsReuseTheOpenConnection) {
    SmtpSink sink("127.0.0.1", port);
    RemoteDelivery remote(options_with(), resolver);
    for (int i = 0; i < 3; ++i) {
        const RemoteOutcome o =
            deliver_one(remote, job_for(host_target("127.0.0.1", port), {"bob@example.net"}, "Q" + std::to_string(i)));
        expect_all(o, Outcome::Delivered, 250, 1);
    }
    remote.stop();  // QUIT on the idle connection
    const SinkCounters c = settled(sink, 3);
    EXPECT_EQ(c.messages, 3);
    EXPECT_EQ(c.sessions, 1);
    EXPECT_EQ(c.quits, 1);
}

// max_connections_per_destination = 1: three jobs given at once go one after another on one
// connection, every one delivered.
TEST_F(RemoteDeliverySink, PerDestinationLimitSerialisesJobsOnOneConnection) {
    SmtpSink sink("127.0.0.1", port);
    RemoteOptions options = options_with();
    options.max_connections_per_destination = 1;
    RemoteDelivery remote(options, resolver);
    Outcomes outcomes;
    for (int i = 0; i < 3; ++i)
        remote.deliver(job_for(host_target("127.0.0.1", port), {"bob@example.net"}, "Q" + std::to_string(i)),
                       outcomes.callback("Q" + std::to_string(i)));
    for (int i = 0; i < 3; ++i) expect_all(outcomes.get("Q" + std::to_string(i)), Outcome::Delivered, 250, 1);
    remote.stop();
    const SinkCounters c = settled(sink, 3);
    EXPECT_EQ(c.messages, 3);
    EXPECT_EQ(c.sessions, 1);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(outcomes.count("Q" + std::to_string(i)), 1u);  // exactly once
}

TEST_F(RemoteDeliverySink, ReconnectsAfterMaxMessagesPerConnection) {
    SmtpSink sink("127.0.0.1", port);
    RemoteOptions options = options_with();
    options.max_connections_per_destination = 1;
    options.max_messages_per_connection = 2;
    RemoteDelivery remote(options, resolver);
    Outcomes outcomes;
    for (int i = 0; i < 3; ++i)
        remote.deliver(job_for(host_target("127.0.0.1", port), {"bob@example.net"}, "Q" + std::to_string(i)),
                       outcomes.callback("Q" + std::to_string(i)));
    for (int i = 0; i < 3; ++i) expect_all(outcomes.get("Q" + std::to_string(i)), Outcome::Delivered, 250, 1);
    remote.stop();
    const SinkCounters c = sink.wait_for([](const SinkCounters& s) { return s.messages >= 3 && s.quits >= 2 && s.sessions >= s.quits; });
    EXPECT_EQ(c.messages, 3);
    EXPECT_EQ(c.sessions, 2);
    EXPECT_EQ(c.quits, 2);
}

// At max_connections, an idle connection to one destination makes room for a job waiting for
// another: it says QUIT at once rather than after idle_keep.
TEST_F(RemoteDeliverySink, IdleConnectionMakesRoomAtTheTotalLimit) {
    SmtpSink first("127.0.0.1", port);
    SmtpSink second("127.0.0.2", port);
    RemoteOptions options = options_with();
    options.max_connections = 1;
    options.idle_keep = std::chrono::seconds(60);  // longer than the test waits for an outcome
    RemoteDelivery remote(options, resolver);
    expect_all(deliver_one(remote, job_for(host_target("127.0.0.1", port), {"bob@example.net"}, "A")),
               Outcome::Delivered, 250, 1);
    const RemoteOutcome b = deliver_one(remote, job_for(host_target("127.0.0.2", port), {"bob@example.net"}, "B"));
    expect_all(b, Outcome::Delivered, 250, 1);
    EXPECT_EQ(b.remote_mta, "127.0.0.2 [127.0.0.2]");
    const SinkCounters c = first.wait_for([](const SinkCounters& s) { return s.quits >= 1; });
    EXPECT_EQ(c.quits, 1);
    EXPECT_EQ(c.messages, 1);
}

// RFC 5321 4.2.5: 4yz to RCPT: the recipient is tried again later; 5yz: it fails.
TEST_F(RemoteDeliverySink, RcptSoftRejectDefers_Rfc5321_4_2_5) {
    SmtpSink sink("127.0.0.1", port, {"-r", "RCPT"});
    RemoteDelivery remote(options_with(), resolver);
    const RemoteOutcome o = deliver_one(remote, job_for(host_target("127.0.0.1", port), {"bob@example.net", "carol@example.net"}));
    expect_all(o, Outcome::Deferred, 450, 2);
    EXPECT_TRUE(o.recipients[0].remote);
    EXPECT_EQ(o.recipients[0].reply.enhanced, "4.3.0");
    remote.stop();
    EXPECT_EQ(sink.wait_for([](const SinkCounters& c) { return c.quits >= 1; }).messages, 0);
}

TEST_F(RemoteDeliverySink, RcptHardRejectFails_Rfc5321_4_2_5) {
    SmtpSink sink("127.0.0.1", port, {"-f", "RCPT"});
    RemoteDelivery remote(options_with(), resolver);
    const RemoteOutcome o = deliver_one(remote, job_for(host_target("127.0.0.1", port), {"bob@example.net"}));
    expect_all(o, Outcome::Failed, 500, 1);
    EXPECT_EQ(o.recipients[0].reply.enhanced, "5.3.0");
    EXPECT_EQ(o.remote_mta, "127.0.0.1 [127.0.0.1]");
}

// RFC 5321 4.1.1.4: DATA refused: every accepted recipient takes that reply.
TEST_F(RemoteDeliverySink, DataRejectedFails_Rfc5321_4_1_1_4) {
    SmtpSink sink("127.0.0.1", port, {"-f", "DATA"});
    RemoteDelivery remote(options_with(), resolver);
    const RemoteOutcome o = deliver_one(remote, job_for(host_target("127.0.0.1", port), {"bob@example.net", "carol@example.net"}));
    expect_all(o, Outcome::Failed, 500, 2);
}

// RFC 5321 4.1.1.4: the reply to the final "." is the message's; 4yz defers every recipient.
TEST_F(RemoteDeliverySink, EndOfDataSoftRejectDefers_Rfc5321_4_1_1_4) {
    SmtpSink sink("127.0.0.1", port, {"-r", "."});
    RemoteDelivery remote(options_with(), resolver);
    const RemoteOutcome o = deliver_one(remote, job_for(host_target("127.0.0.1", port), {"bob@example.net", "carol@example.net"}));
    expect_all(o, Outcome::Deferred, 450, 2);
}

// RFC 6152 3: 8-bit content is not sent to a server that does not offer 8BITMIME (-8).
TEST_F(RemoteDeliverySink, EightBitContentNeeds8BitMime_Rfc6152_3) {
    SmtpSink sink("127.0.0.1", port, {"-8"});
    RemoteDelivery remote(options_with(), resolver);
    RemoteJob job = job_for(host_target("127.0.0.1", port), {"bob@example.net"}, "Q1", "Subject: caf\xc3\xa9\r\n\r\nx\r\n");
    job.eight_bit = true;
    const RemoteOutcome o = deliver_one(remote, std::move(job));
    expect_all(o, Outcome::Failed, 554, 1);
    EXPECT_EQ(o.recipients[0].reply.enhanced, "5.6.3");
}

// ---- against scripted peers ---------------------------------------------------------------

class RemoteDeliveryScripted : public ::testing::Test {
protected:
    Resolver resolver{no_dns()};
};

// RFC 2920 3.1: with PIPELINING, MAIL, every RCPT and DATA go in one group. This peer answers
// nothing until it has all four commands, so a client that waited for each reply would time out.
TEST_F(RemoteDeliveryScripted, PipelinesMailRcptAndData_Rfc2920_3_1) {
    ScriptedPeer peer("127.0.0.1", 0, [](PeerConnection& p) {
        p.send("220 peer.example ESMTP\r\n");
        if (!p.line()) return;
        p.send("250-peer.example\r\n250 PIPELINING\r\n");
        for (int i = 0; i < 4; ++i)
            if (!p.line()) return;
        p.send("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n");
        if (!p.data()) return;
        p.send("250 2.0.0 Ok: queued\r\n");
        if (p.line()) p.send("221 2.0.0 Bye\r\n");
    });
    RemoteDelivery remote(options_with(0.005), resolver);  // 1.5 s for a reply to MAIL
    const RemoteOutcome o = deliver_one(remote, job_for(host_target("127.0.0.1", peer.port()), {"bob@example.net", "carol@example.net"}));
    expect_all(o, Outcome::Delivered, 250, 2);
    const auto lines = peer.lines();
    ASSERT_GE(lines.size(), 5u);
    EXPECT_EQ(lines[1], "MAIL FROM:<alice@example.org>");
    EXPECT_EQ(lines[2], "RCPT TO:<bob@example.net>");
    EXPECT_EQ(lines[3], "RCPT TO:<carol@example.net>");
    EXPECT_EQ(lines[4], "DATA");
}

// RFC 5321 4.5.3.2.6: no reply to the final "." within the timeout: the message is not known to
// have arrived, so it is Deferred (a duplicate is the lesser harm, RFC 1047).
TEST_F(RemoteDeliveryScripted, StallAfterDataTimesOutAndDefers_Rfc5321_4_5_3_2_6) {
    ScriptedPeer peer("127.0.0.1", 0, [](PeerConnection& p) {
        p.send("220 peer.example ESMTP\r\n");
        if (!p.line()) return;
        p.send("250 peer.example\r\n");
        for (const char* reply : {"250 Ok\r\n", "250 Ok\r\n", "354 Go ahead\r\n"}) {
            if (!p.line()) return;
            p.send(reply);
        }
        p.data();
        p.wait_closed();  // and never answer
    });
    RemoteDelivery remote(options_with(0.002), resolver);  // 10 minutes become 1.2 s
    const RemoteOutcome o = deliver_one(remote, job_for(host_target("127.0.0.1", peer.port()), {"bob@example.net"}));
    expect_all(o, Outcome::Deferred, 421, 1);
    EXPECT_EQ(o.recipients[0].reply.enhanced, "4.4.2");
    EXPECT_FALSE(o.recipients[0].remote);
    EXPECT_NE(text_of(o.recipients[0]).find("Timed out waiting for the reply to the end of data"), std::string::npos)
        << text_of(o.recipients[0]);
}

// RFC 5321 6.1: a connection dropped in the middle of the content delivers nothing.
TEST_F(RemoteDeliveryScripted, DropMidDataDefers_Rfc5321_6_1) {
    ScriptedPeer peer("127.0.0.1", 0, [](PeerConnection& p) {
        p.send("220 peer.example ESMTP\r\n");
        if (!p.line()) return;
        p.send("250 peer.example\r\n");
        for (const char* reply : {"250 Ok\r\n", "250 Ok\r\n", "354 Go ahead\r\n"}) {
            if (!p.line()) return;
            p.send(reply);
        }
        p.read_bytes(20000);  // then close, with much of the message unread
    });
    std::string big = "Subject: big\r\n\r\n";
    while (big.size() < 2'000'000) big += std::string(70, 'x') + "\r\n";
    RemoteDelivery remote(options_with(), resolver);
    const RemoteOutcome o = deliver_one(remote, job_for(host_target("127.0.0.1", peer.port()), {"bob@example.net"}, "Q1", big));
    expect_all(o, Outcome::Deferred, 421, 1);
    EXPECT_FALSE(o.recipients[0].remote);
}

// RFC 5321 4.5.3.2.6 and 6.1: the whole message was sent but the connection closed before the
// reply to "."; without the 250 it is still ours to deliver.
TEST_F(RemoteDeliveryScripted, DropBeforeEndOfDataReplyDefers_Rfc5321_6_1) {
    ScriptedPeer peer("127.0.0.1", 0, [](PeerConnection& p) {
        p.send("220 peer.example ESMTP\r\n");
        if (!p.line()) return;
        p.send("250 peer.example\r\n");
        for (const char* reply : {"250 Ok\r\n", "250 Ok\r\n", "354 Go ahead\r\n"}) {
            if (!p.line()) return;
            p.send(reply);
        }
        p.data();
    });
    RemoteDelivery remote(options_with(), resolver);
    const RemoteOutcome o = deliver_one(remote, job_for(host_target("127.0.0.1", peer.port()), {"bob@example.net"}));
    expect_all(o, Outcome::Deferred, 421, 1);
    EXPECT_NE(text_of(o.recipients[0]).find("Connection lost with 127.0.0.1 [127.0.0.1]"), std::string::npos);
}

// RFC 5321 3.8: a server may close an idle connection, saying 421 first. The next job then
// goes on a new connection instead of failing on the old one.
TEST_F(RemoteDeliveryScripted, ServerClosingIdleConnectionIsReplaced_Rfc5321_3_8) {
    std::atomic<int> connection{0};
    ScriptedPeer peer("127.0.0.1", 0, [&connection](PeerConnection& p) {
        if (++connection > 1) return accept_all(p);
        p.send("220 peer.example ESMTP\r\n");
        if (!p.line()) return;
        p.send("250 peer.example\r\n");
        for (const char* reply : {"250 Ok\r\n", "250 Ok\r\n", "354 Go ahead\r\n"}) {
            if (!p.line()) return;
            p.send(reply);
        }
        if (!p.data()) return;
        p.send("250 2.0.0 Ok\r\n");
        p.send("421 4.4.2 peer.example Idle timeout, closing connection\r\n");
    });
    RemoteDelivery remote(options_with(), resolver);
    expect_all(deliver_one(remote, job_for(host_target("127.0.0.1", peer.port()), {"bob@example.net"}, "A")),
               Outcome::Delivered, 250, 1);
    // Let the client hear the 421 before the next job comes.
    for (int i = 0; i < 200 && peer.closed() < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    expect_all(deliver_one(remote, job_for(host_target("127.0.0.1", peer.port()), {"bob@example.net"}, "B")),
               Outcome::Delivered, 250, 1);
    EXPECT_EQ(peer.connections(), 2);
}

// RFC 5321 5.1: nothing listens: Deferred with the error, for the queue to try again later.
TEST_F(RemoteDeliveryScripted, ConnectionRefusedDefers_Rfc5321_5_1) {
    const std::uint16_t port = testing::free_tcp_port({"127.0.0.1"});
    RemoteDelivery remote(options_with(), resolver);
    const RemoteOutcome o = deliver_one(remote, job_for(host_target("127.0.0.1", port), {"bob@example.net"}));
    expect_all(o, Outcome::Deferred, 451, 1);
    EXPECT_EQ(o.recipients[0].reply.enhanced, "4.4.1");
    EXPECT_EQ(text_of(o.recipients[0]), "connection refused by 127.0.0.1 [127.0.0.1]");
    EXPECT_FALSE(o.recipients[0].remote);
    EXPECT_EQ(o.remote_mta, "");
}

// A host that accepts no connection in connect_timeout (its listen queue is full, so the kernel
// drops our SYN) is given up on: Deferred.
TEST_F(RemoteDeliveryScripted, ConnectTimeoutDefers) {
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(listener, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(listener, 0), 0);
    ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len), 0);
    // Fill the queue of connections that are established but not accepted.
    std::vector<int> fillers;
    for (int i = 0; i < 2; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
        fillers.push_back(fd);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));

    RemoteOptions options = options_with(0.002);
    options.connect_timeout = std::chrono::milliseconds(500);
    RemoteDelivery remote(options, resolver);
    const RemoteOutcome o = deliver_one(remote, job_for(host_target("127.0.0.1", ntohs(a.sin_port)), {"bob@example.net"}));
    ASSERT_EQ(o.recipients.size(), 1u);
    EXPECT_EQ(o.recipients[0].outcome, Outcome::Deferred);
    // Normally the connect times out; should the kernel take the connection after all, the
    // greeting that never comes times out instead.
    EXPECT_NE(text_of(o.recipients[0]).find("imed out"), std::string::npos) << text_of(o.recipients[0]);
    for (int fd : fillers) ::close(fd);
    ::close(listener);
}

// A destination whose host will not talk to us is down for now: the jobs waiting behind the
// one that found out end Deferred with it, rather than each repeating the attempt.
TEST_F(RemoteDeliveryScripted, JobsWaitingForAnUnreachableDestinationDeferTogether) {
    std::atomic<bool> all_given{false};
    ScriptedPeer peer("127.0.0.1", 0, [&all_given](PeerConnection& p) {
        // Refuse only once B and C wait behind A.
        for (int i = 0; i < 500 && !all_given; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        p.send("421 4.3.2 peer.example Busy\r\n");
        if (p.line()) p.send("221 Bye\r\n");
    });
    RemoteOptions options = options_with();
    options.max_connections_per_destination = 1;
    RemoteDelivery remote(options, resolver);
    Outcomes outcomes;
    for (const char* id : {"A", "B", "C"})
        remote.deliver(job_for(host_target("127.0.0.1", peer.port()), {"bob@example.net"}, id), outcomes.callback(id));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // for B and C to reach the delivery thread
    all_given = true;
    for (const char* id : {"A", "B", "C"}) {
        const RemoteOutcome o = outcomes.get(id);
        expect_all(o, Outcome::Deferred, 421, 1);
        EXPECT_EQ(o.remote_mta, "127.0.0.1 [127.0.0.1]");  // the peer's own reply
        EXPECT_TRUE(o.recipients[0].remote);
    }
    EXPECT_EQ(peer.connections(), 1);
}

// stop(): the job on the wire and the job waiting behind it both end Deferred; a job given
// after stop() is Deferred at once.
TEST_F(RemoteDeliveryScripted, StopDefersJobsInFlight) {
    ScriptedPeer peer("127.0.0.1", 0, [](PeerConnection& p) {
        p.send("220 peer.example ESMTP\r\n");
        if (!p.line()) return;
        p.send("250 peer.example\r\n");
        p.line();
        p.wait_closed();  // MAIL is never answered
    });
    RemoteOptions options = options_with();
    options.max_connections_per_destination = 1;
    RemoteDelivery remote(options, resolver);
    Outcomes outcomes;
    remote.deliver(job_for(host_target("127.0.0.1", peer.port()), {"bob@example.net"}, "A"), outcomes.callback("A"));
    remote.deliver(job_for(host_target("127.0.0.1", peer.port()), {"carol@example.net"}, "B"), outcomes.callback("B"));
    ASSERT_TRUE(peer.wait_for_line("MAIL FROM:", std::chrono::seconds(10)));
    remote.stop();

    const RemoteOutcome a = outcomes.get("A");
    expect_all(a, Outcome::Deferred, 421, 1);
    EXPECT_EQ(text_of(a.recipients[0]), "Shutting down");
    const RemoteOutcome b = outcomes.get("B");
    expect_all(b, Outcome::Deferred, 451, 1);
    EXPECT_EQ(b.recipients[0].reply.enhanced, "4.3.2");

    remote.deliver(job_for(host_target("127.0.0.1", peer.port()), {"dave@example.net"}, "C"), outcomes.callback("C"));
    EXPECT_EQ(outcomes.count("C"), 1u);  // at once, on this thread
    expect_all(outcomes.get("C"), Outcome::Deferred, 451, 1);
    EXPECT_EQ(outcomes.count("A"), 1u);
    EXPECT_EQ(outcomes.count("B"), 1u);
}

// drain() (a stopping server): the transaction already on the wire runs to its end, so a
// message is never cut off after it may have been taken (and then sent again after the
// restart); the job waiting behind it, and any given later, are deferred at once.
TEST_F(RemoteDeliveryScripted, DrainFinishesTheTransactionOnTheWireAndDefersTheRest) {
    std::promise<void> drained;
    std::shared_future<void> drained_seen = drained.get_future().share();
    ScriptedPeer peer("127.0.0.1", 0, [drained_seen](PeerConnection& p) {
        p.send("220 peer.example ESMTP\r\n");
        if (!p.line()) return;  // EHLO
        p.send("250 peer.example\r\n");
        if (!p.line()) return;  // MAIL: answered only once the client is draining
        drained_seen.wait();
        p.send("250 2.1.0 Ok\r\n");
        if (!p.line()) return;  // RCPT
        p.send("250 2.1.5 Ok\r\n");
        if (!p.line()) return;  // DATA
        p.send("354 go\r\n");
        if (!p.data()) return;
        p.send("250 2.0.0 Ok: queued\r\n");
        if (p.line()) p.send("221 2.0.0 Bye\r\n");
    });
    RemoteOptions options = options_with();
    options.max_connections_per_destination = 1;
    RemoteDelivery remote(options, resolver);
    Outcomes outcomes;
    remote.deliver(job_for(host_target("127.0.0.1", peer.port()), {"bob@example.net"}, "A"), outcomes.callback("A"));
    remote.deliver(job_for(host_target("127.0.0.1", peer.port()), {"carol@example.net"}, "B"), outcomes.callback("B"));
    ASSERT_TRUE(peer.wait_for_line("MAIL FROM:", std::chrono::seconds(10)));
    remote.drain();
    expect_all(outcomes.get("B"), Outcome::Deferred, 451, 1);  // waiting: deferred at once
    drained.set_value();
    expect_all(outcomes.get("A"), Outcome::Delivered, 250, 1);  // on the wire: finished
    remote.deliver(job_for(host_target("127.0.0.1", peer.port()), {"dave@example.net"}, "C"), outcomes.callback("C"));
    expect_all(outcomes.get("C"), Outcome::Deferred, 451, 1);
    remote.stop();
    EXPECT_EQ(outcomes.count("A"), 1u);
    EXPECT_EQ(outcomes.count("B"), 1u);
}

// An idle connection is closed politely on stop() (RFC 5321 4.1.1.10).
TEST_F(RemoteDeliveryScripted, StopSaysQuitOnIdleConnections_Rfc5321_4_1_1_10) {
    ScriptedPeer peer("127.0.0.1", 0, [](PeerConnection& p) { accept_all(p); });
    RemoteDelivery remote(options_with(), resolver);
    expect_all(deliver_one(remote, job_for(host_target("127.0.0.1", peer.port()), {"bob@example.net"})),
               Outcome::Delivered, 250, 1);
    remote.stop();
    const auto lines = peer.lines();
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.back(), "QUIT");
}

TEST_F(RemoteDeliveryScripted, RejectsJobsItCannotSend) {
    RemoteDelivery remote(options_with(), resolver);
    RemoteJob job = job_for(host_target("127.0.0.1", 25), {"bob@example.net"});
    job.recipients = {3};
    EXPECT_THROW(remote.deliver(job, [](RemoteOutcome) {}), std::invalid_argument);
    job.recipients = {0};
    job.content.reset();
    EXPECT_THROW(remote.deliver(job, [](RemoteOutcome) {}), std::invalid_argument);
}

// One key=value line per recipient and attempt, and one per failed connection.
TEST(RemoteDeliveryLog, LogsEachAttempt) {
    testing::TempDir dir;
    const auto log_path = dir.path() / "ehlo.log";
    observe::init({observe::Level::Info, log_path.string(), false});
    {
        ScriptedPeer peer("127.0.0.1", 0, [](PeerConnection& p) { accept_all(p); });
        const std::uint16_t closed_port = testing::free_tcp_port({"127.0.0.1"});
        Resolver resolver{no_dns()};
        RemoteDelivery remote(options_with(), resolver);
        deliver_one(remote, job_for(host_target("127.0.0.1", peer.port()), {"bob@example.net"}, "Q1"));
        deliver_one(remote, job_for(host_target("127.0.0.1", closed_port), {"carol@example.net"}, "Q2"));
    }
    observe::init({});
    const std::string log = testing::read_file(log_path);
    EXPECT_NE(log.find("event=remote-attempt id=Q1 to=bob@example.net host=127.0.0.1 ip=127.0.0.1 "
                       "reply=\"250 2.0.0 Ok: queued\" outcome=delivered"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("event=remote-connect-failed id=Q2 host=127.0.0.1 ip=127.0.0.1 error=\"connection refused by "
                       "127.0.0.1 [127.0.0.1]\""),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("event=remote-attempt id=Q2 to=carol@example.net host=127.0.0.1 ip=127.0.0.1 reply=\"451 4.4.1 "
                       "connection refused by 127.0.0.1 [127.0.0.1]\" outcome=deferred"),
              std::string::npos)
        << log;
}

// ---- MX routing through a real DNS server -------------------------------------------------

class RemoteDeliveryMx : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dns = std::make_unique<testing::DnsTestServer>(std::vector<std::string>{
            // Listed against their order of preference: the order must come from the preference.
            "route.example. MX 20 mx2.route.example.",
            "route.example. MX 10 mx1.route.example.",
            "mx1.route.example. A 127.0.0.2",
            "mx2.route.example. A 127.0.0.3",
            "null.example. MX 0 .",
            "implicit.example. A 127.0.0.4",
            "relay.example. AAAA ::1",
        });
    }
    static void TearDownTestSuite() { dns.reset(); }

    static ResolverOptions dns_options() {
        ResolverOptions o;
        o.forwarders = {dns->forwarder()};
        return o;
    }

    static inline std::unique_ptr<testing::DnsTestServer> dns;
    Resolver resolver{dns_options()};
    std::uint16_t port = testing::free_tcp_port({"127.0.0.2", "127.0.0.3", "127.0.0.4"});
};

// RFC 5321 5.1: the MX host of lowest preference is tried first.
TEST_F(RemoteDeliveryMx, LowestPreferenceFirst_Rfc5321_5_1) {
    ScriptedPeer mx1("127.0.0.2", port, [](PeerConnection& p) { accept_all(p); });
    ScriptedPeer mx2("127.0.0.3", port, [](PeerConnection& p) { accept_all(p); });
    RemoteDelivery remote(options_with(), resolver);
    const RemoteOutcome o = deliver_one(remote, job_for(mx_target("route.example", port), {"bob@route.example"}));
    expect_all(o, Outcome::Delivered, 250, 1);
    EXPECT_EQ(o.remote_mta, "mx1.route.example [127.0.0.2]");
    EXPECT_EQ(mx2.connections(), 0);
}

// RFC 5321 5.1: a host that refuses the connection: on to the next MX.
TEST_F(RemoteDeliveryMx, ConnectionRefusedFallsBackToNextMx_Rfc5321_5_1) {
    ScriptedPeer mx2("127.0.0.3", port, [](PeerConnection& p) { accept_all(p); });
    RemoteDelivery remote(options_with(), resolver);
    const RemoteOutcome o = deliver_one(remote, job_for(mx_target("route.example", port), {"bob@route.example"}));
    expect_all(o, Outcome::Delivered, 250, 1);
    EXPECT_EQ(o.remote_mta, "mx2.route.example [127.0.0.3]");
}

// RFC 5321 3.1 and 5.1: a 421 greeting is one host's answer, not the domain's: the next MX.
TEST_F(RemoteDeliveryMx, RefusedGreetingFallsBackToNextMx_Rfc5321_5_1) {
    ScriptedPeer mx1("127.0.0.2", port, [](PeerConnection& p) {
        p.send("421 4.3.2 mx1.route.example Busy, try later\r\n");
        p.wait_closed();
    });
    ScriptedPeer mx2("127.0.0.3", port, [](PeerConnection& p) { accept_all(p); });
    RemoteDelivery remote(options_with(), resolver);
    const RemoteOutcome o = deliver_one(remote, job_for(mx_target("route.example", port), {"bob@route.example"}));
    expect_all(o, Outcome::Delivered, 250, 1);
    EXPECT_EQ(o.remote_mta, "mx2.route.example [127.0.0.3]");
    EXPECT_EQ(mx1.connections(), 1);
}

// EHLO and HELO both refused is a host that will not talk to us: the next MX.
TEST_F(RemoteDeliveryMx, RefusedHeloFallsBackToNextMx_Rfc5321_5_1) {
    ScriptedPeer mx1("127.0.0.2", port, [](PeerConnection& p) {
        p.send("220 mx1.route.example ESMTP\r\n");
        if (!p.line()) return;
        p.send("502 5.5.2 EHLO not here\r\n");
        if (!p.line()) return;
        p.send("550 5.7.1 Go away\r\n");
        if (p.line()) p.send("221 Bye\r\n");
    });
    ScriptedPeer mx2("127.0.0.3", port, [](PeerConnection& p) { accept_all(p); });
    RemoteDelivery remote(options_with(), resolver);
    const RemoteOutcome o = deliver_one(remote, job_for(mx_target("route.example", port), {"bob@route.example"}));
    expect_all(o, Outcome::Delivered, 250, 1);
    EXPECT_EQ(o.remote_mta, "mx2.route.example [127.0.0.3]");
}

// Every MX greets with 554: Deferred, not Failed: a refusal by hosts is not the domain refusing
// the recipient, and may be temporary.
TEST_F(RemoteDeliveryMx, AllHostsRefusingDefers_Rfc5321_5_1) {
    const auto refuse = [](PeerConnection& p) {
        p.send("554 5.7.1 No service for you\r\n");
        if (p.line()) p.send("221 Bye\r\n");
    };
    ScriptedPeer mx1("127.0.0.2", port, refuse);
    ScriptedPeer mx2("127.0.0.3", port, refuse);
    RemoteDelivery remote(options_with(), resolver);
    const RemoteOutcome o = deliver_one(remote, job_for(mx_target("route.example", port), {"bob@route.example"}));
    expect_all(o, Outcome::Deferred, 451, 1);
    EXPECT_NE(text_of(o.recipients[0]).find("mx2.route.example [127.0.0.3] refused the session: 554 5.7.1"),
              std::string::npos)
        << text_of(o.recipients[0]);
    EXPECT_EQ(mx1.connections(), 1);
    EXPECT_EQ(mx2.connections(), 1);
}

// RFC 7505 4.2: a null MX: the domain accepts no mail: Failed 556 5.1.10, no connection.
TEST_F(RemoteDeliveryMx, NullMxFails_Rfc7505_4_2) {
    RemoteDelivery remote(options_with(), resolver);
    const RemoteOutcome o = deliver_one(remote, job_for(mx_target("null.example", port), {"bob@null.example", "carol@null.example"}));
    expect_all(o, Outcome::Failed, 556, 2);
    EXPECT_EQ(o.recipients[0].reply.enhanced, "5.1.10");
    EXPECT_FALSE(o.recipients[0].remote);
    EXPECT_EQ(o.remote_mta, "");
}

// RFC 3463 5.1.2: a domain that does not exist.
TEST_F(RemoteDeliveryMx, NoSuchDomainFails_Rfc3463_5_1_2) {
    RemoteDelivery remote(options_with(), resolver);
    const RemoteOutcome o = deliver_one(remote, job_for(mx_target("nowhere.example", port), {"bob@nowhere.example"}));
    expect_all(o, Outcome::Failed, 550, 1);
    EXPECT_EQ(o.recipients[0].reply.enhanced, "5.1.2");
}

// RFC 5321 5.1: no MX records: the domain's own address is the implicit MX.
TEST_F(RemoteDeliveryMx, ImplicitMxIsTheDomainItself_Rfc5321_5_1) {
    SmtpSink sink("127.0.0.4", port);
    RemoteDelivery remote(options_with(), resolver);
    const RemoteOutcome o = deliver_one(remote, job_for(mx_target("implicit.example", port), {"bob@implicit.example"}));
    expect_all(o, Outcome::Delivered, 250, 1);
    EXPECT_EQ(o.remote_mta, "implicit.example [127.0.0.4]");
}

// A configured relay by name: its addresses, no MX lookup; here IPv6 only.
TEST_F(RemoteDeliveryMx, ConfiguredHostNameIsResolvedToItsAddresses) {
    std::unique_ptr<ScriptedPeer> relay;
    try {
        relay = std::make_unique<ScriptedPeer>("::1", 0, [](PeerConnection& p) { accept_all(p); });
    } catch (const std::exception& e) {
        GTEST_SKIP() << "no IPv6 loopback: " << e.what();
    }
    RemoteDelivery remote(options_with(), resolver);
    const RemoteOutcome o = deliver_one(remote, job_for(host_target("relay.example", relay->port()), {"bob@example.net"}));
    expect_all(o, Outcome::Delivered, 250, 1);
    EXPECT_EQ(o.remote_mta, "relay.example [::1]");
}

// A configured relay whose name has no address is a configuration to fix, not a bounce.
TEST_F(RemoteDeliveryMx, ConfiguredHostWithoutAddressDefers) {
    RemoteDelivery remote(options_with(), resolver);
    const RemoteOutcome o = deliver_one(remote, job_for(host_target("norelay.example", port), {"bob@example.net"}));
    expect_all(o, Outcome::Deferred, 451, 1);
    EXPECT_EQ(o.recipients[0].reply.enhanced, "4.4.4");
}

}  // namespace
}  // namespace ehlo::delivery
