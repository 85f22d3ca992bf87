// The LMTP client engine (RFC 2033) against scripted servers: bytes only, no sockets.
#include "delivery/lmtp_session.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace ehlo::delivery {
namespace {

constexpr const char* kGreeting = "220 lmtp.example LMTP ready\r\n";
constexpr const char* kLhlo = "250-lmtp.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n";
constexpr const char* kContent = "Subject: hi\r\n\r\n.dot line\r\nHello\r\n";

OutboundMessage message_for(const std::vector<std::string>& locals) {
    OutboundMessage m;
    m.envelope.sender = smtp::Mailbox{"bob", "example.org"};
    for (std::size_t i = 0; i < locals.size(); ++i) {
        m.envelope.recipients.push_back({smtp::Mailbox{locals[i], "example.org"}, "", 0});
        m.recipient_indexes.push_back(i);
    }
    m.content_size = std::string_view(kContent).size();
    return m;
}

// Greeting and LHLO done; the message given; what was written since.
struct Ready {
    LmtpSession s{"mx.example.org"};
    std::string wire;

    explicit Ready(const std::vector<std::string>& locals) {
        s.feed(kGreeting);
        wire += s.take_output();
        s.feed(kLhlo);
        wire += s.take_output();
        s.send(message_for(locals));
        wire += s.take_output();
    }
    // The server says 354: the content goes, dot-stuffed, with its end.
    void give_content() {
        ASSERT_TRUE(s.wants_content());
        s.send_content(kContent);
        s.end_content();
        wire += s.take_output();
    }
};

TEST(LmtpSession, LhloNeverEhloAndOnePipelinedWrite) {
    // RFC 2033 4.1: LHLO; RFC 2033 5: the server supports PIPELINING, so one write
    Ready r({"alice", "carol"});
    EXPECT_EQ(r.wire,
              "LHLO mx.example.org\r\n"
              "MAIL FROM:<bob@example.org>\r\n"
              "RCPT TO:<alice@example.org>\r\n"
              "RCPT TO:<carol@example.org>\r\n"
              "DATA\r\n");
}

TEST(LmtpSession, OneReplyPerAcceptedRecipientAfterTheDot) {
    // RFC 2033 4.2: each recipient's outcome is its own reply after the final "."
    Ready r({"alice", "carol", "dave", "erin"});
    r.s.feed("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no carol\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
    r.give_content();
    EXPECT_NE(r.wire.find("\r\n..dot line\r\nHello\r\n.\r\n"), std::string::npos) << r.wire;
    EXPECT_EQ(r.s.awaiting(), ClientWait::DataTermination);
    r.s.feed("250 2.0.0 <alice@example.org> Saved\r\n");
    EXPECT_FALSE(r.s.take_result());  // two more replies are due (dave, erin): not done yet
    r.s.feed("552 5.2.2 <dave@example.org> Quota exceeded\r\n452 4.2.2 <erin@example.org> Mailbox is locked\r\n");
    auto result = r.s.take_result();
    ASSERT_TRUE(result);
    ASSERT_EQ(result->recipients.size(), 4u);
    EXPECT_EQ(result->recipients[0].outcome, Outcome::Delivered);
    EXPECT_EQ(result->recipients[1].outcome, Outcome::Failed);   // at RCPT
    EXPECT_EQ(result->recipients[1].reply.code, 550);
    EXPECT_EQ(result->recipients[2].outcome, Outcome::Failed);   // 552 5.2.2, taken at face value
    EXPECT_EQ(result->recipients[2].reply.enhanced, "5.2.2");
    EXPECT_EQ(result->recipients[3].outcome, Outcome::Deferred);  // 4xx: tried again later
    EXPECT_FALSE(result->dsn_passed_on);
    EXPECT_TRUE(r.s.wants_message());
    EXPECT_EQ(r.s.awaiting(), ClientWait::Nothing);
}

TEST(LmtpSession, ConnectionLostBetweenRepliesDefersOnlyTheUnanswered) {
    // RFC 5321 6.1: without its reply a recipient is still ours; the one answered keeps it
    Ready r({"alice", "carol"});
    r.s.feed("250 Ok\r\n250 Ok\r\n250 Ok\r\n354 go\r\n");
    r.give_content();
    r.s.feed("250 2.0.0 <alice@example.org> Saved\r\n");
    r.s.abort("Connection lost");
    auto result = r.s.take_result();
    ASSERT_TRUE(result);
    EXPECT_EQ(result->recipients[0].outcome, Outcome::Delivered);
    EXPECT_EQ(result->recipients[1].outcome, Outcome::Deferred);
    EXPECT_EQ(result->recipients[1].reply.code, 421);
    EXPECT_TRUE(r.s.failed());
}

TEST(LmtpSession, NoRecipientAcceptedDataRefused) {
    // RFC 2033 4.2: with no successful RCPT, DATA fails with 503
    Ready r({"alice"});
    r.s.feed("250 Ok\r\n550 5.1.1 no such user\r\n503 5.5.1 No valid recipients\r\n");
    auto result = r.s.take_result();
    ASSERT_TRUE(result);
    EXPECT_EQ(result->recipients[0].outcome, Outcome::Failed);
    EXPECT_EQ(result->recipients[0].reply.code, 550);
    EXPECT_EQ(r.s.take_output(), "RSET\r\n");  // the transaction MAIL opened is closed
    r.s.feed("250 Ok\r\n");
    EXPECT_TRUE(r.s.wants_message());
}

TEST(LmtpSession, MailRefusedIsEveryRecipients) {
    Ready r({"alice", "carol"});
    r.s.feed("451 4.3.0 try later\r\n503 5.5.1 MAIL first\r\n503 5.5.1 MAIL first\r\n503 5.5.1 MAIL first\r\n");
    auto result = r.s.take_result();
    ASSERT_TRUE(result);
    for (const auto& rr : result->recipients) {
        EXPECT_EQ(rr.outcome, Outcome::Deferred);
        EXPECT_EQ(rr.reply.code, 451);
    }
}

TEST(LmtpSession, LhloRefusedIsNoLmtpServer) {
    // RFC 2033 4.1: no fallback to HELO
    LmtpSession s("mx.example.org");
    s.feed(kGreeting);
    (void)s.take_output();
    s.feed("500 5.5.1 unknown command\r\n");
    EXPECT_TRUE(s.failed());
    EXPECT_EQ(s.take_output(), "QUIT\r\n");
    EXPECT_EQ(s.connection_error().code, 500);
}

TEST(LmtpSession, A421AfterTheDotDefersThatRecipientAndTheRest) {
    Ready r({"alice", "carol"});
    r.s.feed("250 Ok\r\n250 Ok\r\n250 Ok\r\n354 go\r\n");
    r.give_content();
    r.s.feed("421 4.3.2 shutting down\r\n");
    auto result = r.s.take_result();
    ASSERT_TRUE(result);
    EXPECT_EQ(result->recipients[0].outcome, Outcome::Deferred);
    EXPECT_EQ(result->recipients[1].outcome, Outcome::Deferred);
    EXPECT_TRUE(r.s.failed());
}

TEST(LmtpSession, ControlOctetsInAnAddressNeverReachTheWire) {
    LmtpSession s("mx.example.org");
    s.feed(kGreeting);
    s.feed(kLhlo);
    (void)s.take_output();
    OutboundMessage m = message_for({"alice", "evil\r\nRSET"});
    s.send(m);
    const std::string out = s.take_output();
    EXPECT_EQ(out.find("evil"), std::string::npos) << out;
    s.feed("250 Ok\r\n250 Ok\r\n354 go\r\n");
    ASSERT_TRUE(s.wants_content());
}

TEST(LmtpSession, EightBitContentNeedsEightBitMime) {
    LmtpSession s("mx.example.org");
    s.feed(kGreeting);
    s.feed("250-lmtp.example\r\n250 PIPELINING\r\n");
    (void)s.take_output();
    OutboundMessage m = message_for({"alice"});
    m.eight_bit = true;
    s.send(m);
    auto result = s.take_result();
    ASSERT_TRUE(result);
    EXPECT_EQ(result->recipients[0].outcome, Outcome::Failed);
    EXPECT_EQ(result->recipients[0].reply.enhanced, "5.6.3");
    EXPECT_FALSE(result->recipients[0].remote);
}

TEST(LmtpSession, SendWhileBusyIsTheCallersMistake) {
    Ready r({"alice"});
    EXPECT_THROW(r.s.send(message_for({"carol"})), std::logic_error);
    OutboundMessage bad = message_for({"alice"});
    bad.recipient_indexes.push_back(7);
    LmtpSession fresh("x");
    EXPECT_THROW(fresh.send(bad), std::logic_error);
}

}  // namespace
}  // namespace ehlo::delivery
