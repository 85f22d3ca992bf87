// The SMTP client engine against scripted peers: no sockets, only the bytes either side sends.
#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "delivery/client_session.hpp"

namespace ehlo::delivery {
namespace {

constexpr const char* kHelo = "client.example.org";

smtp::Envelope envelope_for(const std::vector<std::string>& locals) {
    smtp::Envelope e;
    e.sender = smtp::Mailbox{"alice", "example.org"};
    for (const auto& l : locals) e.recipients.push_back({smtp::Mailbox{l, "example.net"}, "", 0});
    return e;
}

// A message with its content: the engine gets the envelope, and the content when it asks.
struct TestMessage : OutboundMessage {
    std::string content;
};

TestMessage message_for(const std::vector<std::string>& locals, std::string content = "Subject: hi\r\n\r\nHello\r\n") {
    TestMessage m;
    m.envelope = envelope_for(locals);
    for (std::size_t i = 0; i < locals.size(); ++i) m.recipient_indexes.push_back(i);
    m.content_size = content.size();
    m.content = std::move(content);
    return m;
}

// The engine, with the test as the caller that reads the content: whatever content the engine
// asks for is given at once, in one piece.
class Session : public ClientSession {
public:
    using ClientSession::ClientSession;
    void send(const TestMessage& m) {
        contents_.push_back(m.content);
        ClientSession::send(m);
    }
    // A scripted peer's replies come a line at a time, so that replies to the final "." that
    // a script gives together with the 354 find the content sent in between, as on the wire.
    void feed(std::string_view bytes) {
        while (!bytes.empty()) {
            const std::size_t eol = bytes.find('\n');
            const std::size_t n = eol == std::string_view::npos ? bytes.size() : eol + 1;
            ClientSession::feed(bytes.substr(0, n));
            bytes.remove_prefix(n);
            if (const auto wanted = wants_content()) {
                send_content(contents_.at(*wanted));
                end_content();
            }
        }
    }

private:
    std::vector<std::string> contents_;
};

const std::string kGreeting = "220 mx.example.net ESMTP\r\n";
const std::string kEhloPipelining =
    "250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 10000000\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n";
const std::string kEhloPlain = "250-mx.example.net\r\n250 SIZE\r\n";

// Feeds `reply` and returns what the engine wants to send in answer.
std::string step(Session& s, std::string_view reply) {
    s.feed(reply);
    return s.take_output();
}

// A session past EHLO with the given capability lines.
void open(Session& s, const std::string& ehlo) {
    EXPECT_EQ(step(s, kGreeting), std::string("EHLO ") + kHelo + "\r\n");
    s.feed(ehlo);
}

// ---- a whole conversation -------------------------------------------------------------------

const std::string kPipelinedScript = kGreeting + kEhloPipelining +
                                     "250 2.1.0 Ok\r\n"
                                     "250 2.1.5 Ok\r\n"
                                     "250 2.1.5 Ok\r\n"
                                     "354 End data with <CR><LF>.<CR><LF>\r\n"
                                     "250 2.0.0 Ok: queued as 4Xyz\r\n"
                                     "221 2.0.0 Bye\r\n";

std::string pipelined_expected_output(const TestMessage& m) {
    return std::string("EHLO ") + kHelo + "\r\n" + "MAIL FROM:<alice@example.org> SIZE=" +
           std::to_string(m.content.size()) +
           "\r\n"
           "RCPT TO:<bob@example.net>\r\n"
           "RCPT TO:<carol@example.net>\r\n"
           "DATA\r\n" +
           data_block(m.content) + "QUIT\r\n";
}

void expect_delivered_to_both(ClientSession& s) {
    auto r = s.take_result();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->recipients.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(r->recipients[i].index, i);
        EXPECT_EQ(r->recipients[i].outcome, Outcome::Delivered);
        EXPECT_EQ(r->recipients[i].reply.code, 250);
        EXPECT_TRUE(r->recipients[i].remote);
    }
    ASSERT_TRUE(r->data_reply);
    EXPECT_EQ(r->data_reply->enhanced, "2.0.0");
    EXPECT_FALSE(s.take_result());
    EXPECT_TRUE(s.finished());
    EXPECT_FALSE(s.failed());
}

// RFC 5321 3.3 transaction with RFC 2920 pipelining, the peer's replies arriving in one read.
TEST(ClientSession, PipelinedTransactionFedAllAtOnce_Rfc2920_3_1) {
    Session s(kHelo);
    const TestMessage m = message_for({"bob", "carol"});
    s.send(m);
    s.quit();
    s.feed(kPipelinedScript);
    EXPECT_EQ(s.take_output(), pipelined_expected_output(m));
    expect_delivered_to_both(s);
}

// The same replies split at every octet: reply assembly does not depend on read boundaries.
TEST(ClientSession, PipelinedTransactionFedByteByByte_Rfc5321_4_2) {
    Session s(kHelo);
    const TestMessage m = message_for({"bob", "carol"});
    s.send(m);
    s.quit();
    std::string out;
    for (char c : kPipelinedScript) {
        s.feed(std::string_view(&c, 1));
        out += s.take_output();
    }
    EXPECT_EQ(out, pipelined_expected_output(m));
    expect_delivered_to_both(s);
}

// RFC 2920 3.1: MAIL, every RCPT and DATA go in one write; the content waits for 354.
TEST(ClientSession, PipelinedCommandsGoInOneWriteAndContentWaitsFor354_Rfc2920_3_1) {
    Session s(kHelo);
    const TestMessage m = message_for({"bob", "carol"});
    s.send(m);
    open(s, kEhloPipelining);
    EXPECT_EQ(s.take_output(), "MAIL FROM:<alice@example.org> SIZE=" + std::to_string(m.content.size()) +
                                   "\r\nRCPT TO:<bob@example.net>\r\nRCPT TO:<carol@example.net>\r\nDATA\r\n");
    EXPECT_EQ(step(s, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"), "");
    EXPECT_EQ(step(s, "354 go ahead\r\n"), data_block(m.content));
    EXPECT_EQ(step(s, "250 2.0.0 Ok\r\n"), "");
    EXPECT_TRUE(s.take_result());
    EXPECT_TRUE(s.wants_message());
}

// Without PIPELINING every command waits for the reply to the one before (RFC 5321 4.1).
TEST(ClientSession, WithoutPipeliningOneCommandAtATime_Rfc5321_4_1) {
    Session s(kHelo);
    const TestMessage m = message_for({"bob", "carol"});
    s.send(m);
    open(s, kEhloPlain);
    EXPECT_EQ(s.take_output(), "MAIL FROM:<alice@example.org> SIZE=" + std::to_string(m.content.size()) + "\r\n");
    EXPECT_EQ(s.awaiting(), ClientWait::Mail);
    EXPECT_EQ(step(s, "250 Ok\r\n"), "RCPT TO:<bob@example.net>\r\n");
    EXPECT_EQ(s.awaiting(), ClientWait::Rcpt);
    EXPECT_EQ(step(s, "250 Ok\r\n"), "RCPT TO:<carol@example.net>\r\n");
    EXPECT_EQ(step(s, "250 Ok\r\n"), "DATA\r\n");
    EXPECT_EQ(s.awaiting(), ClientWait::DataInitiation);
    EXPECT_EQ(step(s, "354 go\r\n"), data_block(m.content));
    EXPECT_EQ(s.awaiting(), ClientWait::DataTermination);
    EXPECT_EQ(step(s, "250 Ok\r\n"), "");
    EXPECT_EQ(s.awaiting(), ClientWait::Nothing);
    auto r = s.take_result();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->recipients[0].outcome, Outcome::Delivered);
    EXPECT_EQ(r->recipients[1].outcome, Outcome::Delivered);
    s.quit();
    EXPECT_EQ(s.take_output(), "QUIT\r\n");
    EXPECT_FALSE(s.finished());
    s.feed("221 Bye\r\n");
    EXPECT_TRUE(s.finished());
    EXPECT_FALSE(s.failed());
}

// A second message on the same connection needs no RSET after a completed one (RFC 5321 4.1.1.5).
TEST(ClientSession, SecondMessageReusesTheConnection_Rfc5321_3_3) {
    Session s(kHelo);
    s.send(message_for({"bob"}));
    open(s, kEhloPipelining);
    s.take_output();
    s.feed("250 Ok\r\n250 Ok\r\n354 go\r\n");
    s.take_output();
    EXPECT_FALSE(s.wants_message());
    s.feed("250 Ok: queued\r\n");
    ASSERT_TRUE(s.take_result());
    ASSERT_TRUE(s.wants_message());
    TestMessage second = message_for({"dave"});
    second.envelope.sender = smtp::Mailbox{"erin", "example.org"};
    s.send(second);
    EXPECT_EQ(s.take_output(), "MAIL FROM:<erin@example.org> SIZE=" + std::to_string(second.content.size()) +
                                   "\r\nRCPT TO:<dave@example.net>\r\nDATA\r\n");
    s.quit();
    EXPECT_EQ(step(s, "250 Ok\r\n250 Ok\r\n354 go\r\n"), data_block(second.content));
    EXPECT_EQ(step(s, "250 Ok\r\n"), "QUIT\r\n");
    auto r = s.take_result();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->recipients[0].outcome, Outcome::Delivered);
}

TEST(ClientSession, SendWhileAMessageIsInProgressIsACallerMistake) {
    Session s(kHelo);
    s.send(message_for({"bob"}));
    EXPECT_FALSE(s.wants_message());
    EXPECT_THROW(s.send(message_for({"carol"})), std::logic_error);
    ClientSession t(kHelo);
    TestMessage bad = message_for({"bob"});
    bad.recipient_indexes = {3};
    EXPECT_THROW(t.send(bad), std::logic_error);
}

TEST(ClientSession, OnlyTheRecipientsOfThisHopAreSent) {
    Session s(kHelo);
    TestMessage m = message_for({"bob", "carol", "dave"});
    m.recipient_indexes = {2, 0};
    s.send(m);
    open(s, kEhloPipelining);
    const std::string out = s.take_output();
    EXPECT_NE(out.find("RCPT TO:<dave@example.net>\r\nRCPT TO:<bob@example.net>\r\nDATA"), std::string::npos);
    EXPECT_EQ(out.find("carol"), std::string::npos);
    s.feed("250 Ok\r\n250 Ok\r\n550 5.1.1 no\r\n354 go\r\n250 Ok\r\n");
    auto r = s.take_result();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->recipients.size(), 2u);
    EXPECT_EQ(r->recipients[0].index, 2u);
    EXPECT_EQ(r->recipients[0].outcome, Outcome::Delivered);
    EXPECT_EQ(r->recipients[1].index, 0u);
    EXPECT_EQ(r->recipients[1].outcome, Outcome::Failed);
}

// ---- greeting and EHLO ----------------------------------------------------------------------

// RFC 5321 3.8: 421 closes the channel; nothing more is said, the next MX is tried (5.1).
TEST(ClientSession, Greeting421FailsTheConnectionAndDefersQueuedRecipients_Rfc5321_3_8) {
    Session s(kHelo);
    s.send(message_for({"bob", "carol"}));
    s.feed("421 4.3.2 mx.example.net busy, try later\r\n");
    EXPECT_EQ(s.take_output(), "");
    EXPECT_TRUE(s.failed());
    EXPECT_TRUE(s.finished());
    EXPECT_EQ(s.connection_error().code, 421);
    EXPECT_EQ(s.connection_error().enhanced, "4.3.2");
    auto r = s.take_result();
    ASSERT_TRUE(r);
    for (const auto& rr : r->recipients) {
        EXPECT_EQ(rr.outcome, Outcome::Deferred);
        EXPECT_EQ(rr.reply.code, 421);
    }
    EXPECT_FALSE(s.wants_message());
}

// RFC 5321 3.1: after a 554 greeting the server waits for QUIT. One host's refusal is not the
// domain's: the recipients are Deferred and the caller tries the next MX (5.1).
TEST(ClientSession, Greeting554SaysQuitAndDefersForTheNextMx_Rfc5321_3_1) {
    Session s(kHelo);
    s.send(message_for({"bob"}));
    EXPECT_EQ(s.awaiting(), ClientWait::Greeting);
    EXPECT_EQ(step(s, "554 5.7.1 No SMTP service here\r\n"), "QUIT\r\n");
    EXPECT_TRUE(s.failed());
    EXPECT_FALSE(s.finished());
    EXPECT_EQ(s.connection_error().code, 554);
    auto r = s.take_result();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->recipients[0].outcome, Outcome::Deferred);
    s.feed("221 Bye\r\n");
    EXPECT_TRUE(s.finished());
}

// RFC 5321 4.2.1 multiline reply; 4.1.1.1 one extension keyword per line, case-insensitive (2.4).
TEST(ClientSession, MultilineEhloReplyGivesCapabilities_Rfc5321_4_2_1) {
    Session s(kHelo);
    open(s,
         "250-mx.example.net greets you\r\n250-pipelining\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n"
         "250-SMTPUTF8\r\n250-CHUNKING\r\n250-DSN\r\n250-STARTTLS\r\n250-X-UNKNOWN foo\r\n"
         "250 ENHANCEDSTATUSCODES\r\n");
    const Capabilities& c = s.peer();
    EXPECT_TRUE(c.esmtp);
    EXPECT_TRUE(c.pipelining);
    EXPECT_TRUE(c.size);
    EXPECT_EQ(c.max_size, 35882577u);
    EXPECT_TRUE(c.eight_bit_mime);
    EXPECT_TRUE(c.smtputf8);
    EXPECT_TRUE(c.chunking);
    EXPECT_TRUE(c.dsn);
    EXPECT_TRUE(c.starttls);
    EXPECT_TRUE(c.enhanced_status_codes);
    EXPECT_TRUE(s.wants_message());
    EXPECT_EQ(s.awaiting(), ClientWait::Nothing);
}

// RFC 1870: "SIZE" alone or "SIZE 0" declares no maximum; a number that does not parse is no limit.
TEST(ClientSession, SizeWithoutNumberMeansNoFixedMaximum_Rfc1870) {
    for (const char* line : {"250 SIZE\r\n", "250 SIZE 0\r\n", "250 SIZE 99999999999999999999999\r\n",
                             "250 SIZE 12x\r\n"}) {
        ReplyReader reader;
        reader.feed(std::string("250-mx\r\n") + line);
        auto reply = reader.take();
        ASSERT_TRUE(reply) << line;
        const Capabilities c = parse_ehlo(*reply);
        EXPECT_TRUE(c.size) << line;
        EXPECT_EQ(c.max_size, 0u) << line;
    }
}

// RFC 5321 4.1.4: a server that refuses EHLO with 5xx gets HELO, and no extension is used.
TEST(ClientSession, EhloRefusedFallsBackToHelo_Rfc5321_4_1_4) {
    Session s(kHelo);
    s.send(message_for({"bob"}));
    EXPECT_EQ(step(s, kGreeting), std::string("EHLO ") + kHelo + "\r\n");
    EXPECT_EQ(step(s, "502 5.5.1 Command not recognized\r\n"), std::string("HELO ") + kHelo + "\r\n");
    EXPECT_EQ(s.awaiting(), ClientWait::Command);
    EXPECT_EQ(step(s, "250 mx.example.net\r\n"), "MAIL FROM:<alice@example.org>\r\n");
    EXPECT_FALSE(s.peer().esmtp);
    EXPECT_FALSE(s.peer().pipelining);
    EXPECT_EQ(step(s, "250 Ok\r\n"), "RCPT TO:<bob@example.net>\r\n");
}

TEST(ClientSession, HeloRefusedTooFailsTheConnection_Rfc5321_4_1_4) {
    Session s(kHelo);
    s.send(message_for({"bob"}));
    s.feed(kGreeting);
    s.feed("500 5.5.1 what\r\n");
    s.take_output();
    EXPECT_EQ(step(s, "550 5.7.1 go away\r\n"), "QUIT\r\n");
    EXPECT_TRUE(s.failed());
    EXPECT_EQ(s.connection_error().code, 550);
    auto r = s.take_result();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->recipients[0].outcome, Outcome::Deferred);
}

TEST(ClientSession, EhloTemporaryFailureEndsTheConnection) {
    Session s(kHelo);
    s.feed(kGreeting);
    s.take_output();
    EXPECT_EQ(step(s, "454 4.7.0 not now\r\n"), "QUIT\r\n");
    EXPECT_TRUE(s.failed());
}

// ---- recipients and outcomes ------------------------------------------------------------------

// RFC 5321 4.2.5 / 3.3: a 4xx to RCPT defers that recipient; the message goes to the others, and
// the reply to "." is the reply for every accepted recipient (4.1.1.4).
TEST(ClientSession, OneRcptDeferredOneAccepted_Rfc5321_3_3) {
    Session s(kHelo);
    s.send(message_for({"bob", "carol"}));
    open(s, kEhloPipelining);
    s.take_output();
    s.feed("250 2.1.0 Ok\r\n450 4.2.1 Mailbox busy\r\n250 2.1.5 Ok\r\n354 go\r\n");
    EXPECT_EQ(s.take_output(), data_block("Subject: hi\r\n\r\nHello\r\n"));
    s.feed("250 2.0.0 Ok: queued\r\n");
    auto r = s.take_result();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->recipients[0].outcome, Outcome::Deferred);
    EXPECT_EQ(r->recipients[0].reply.code, 450);
    EXPECT_EQ(r->recipients[0].reply.enhanced, "4.2.1");
    EXPECT_EQ(r->recipients[1].outcome, Outcome::Delivered);
    EXPECT_EQ(r->recipients[1].reply.code, 250);
    ASSERT_TRUE(r->data_reply);
    EXPECT_EQ(r->data_reply->code, 250);
}

// RFC 5321 4.5.3.1.10: 552 to RCPT is an old way to say "too many recipients": try later.
TEST(ClientSession, Rcpt552IsTreatedAsTemporary_Rfc5321_4_5_3_1_10) {
    Session s(kHelo);
    s.send(message_for({"bob", "carol"}));
    open(s, kEhloPipelining);
    s.take_output();
    s.feed("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n552 5.5.3 Too many recipients\r\n354 go\r\n");
    s.take_output();
    s.feed("250 2.0.0 Ok: queued\r\n");
    auto r = s.take_result();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->recipients[0].outcome, Outcome::Delivered);
    EXPECT_EQ(r->recipients[1].outcome, Outcome::Deferred);
    EXPECT_EQ(r->recipients[1].reply.code, 552);
}

TEST(ClientSession, FinalReplyAppliesToEveryAcceptedRecipient_Rfc5321_4_1_1_4) {
    for (const auto& [reply, outcome] : std::vector<std::pair<std::string, Outcome>>{
             {"554 5.7.1 spam\r\n", Outcome::Failed}, {"451 4.3.0 try again\r\n", Outcome::Deferred}}) {
        Session s(kHelo);
        s.send(message_for({"bob", "carol"}));
        open(s, kEhloPipelining);
        s.feed("250 Ok\r\n250 Ok\r\n550 5.1.1 unknown\r\n354 go\r\n" + reply);
        auto r = s.take_result();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->recipients[0].outcome, outcome);
        EXPECT_EQ(r->recipients[1].outcome, Outcome::Failed);  // its RCPT reply stands
        EXPECT_EQ(r->recipients[1].reply.enhanced, "5.1.1");
        EXPECT_TRUE(s.wants_message());
    }
}

// RFC 5321 4.1.1.5: with every RCPT refused there is no DATA; RSET closes the transaction.
TEST(ClientSession, AllRcptsRefusedWithoutPipeliningSendsRset_Rfc5321_4_1_1_5) {
    Session s(kHelo);
    s.send(message_for({"bob", "carol"}));
    open(s, kEhloPlain);
    s.take_output();
    EXPECT_EQ(step(s, "250 Ok\r\n"), "RCPT TO:<bob@example.net>\r\n");
    EXPECT_EQ(step(s, "550 5.1.1 unknown\r\n"), "RCPT TO:<carol@example.net>\r\n");
    EXPECT_EQ(step(s, "451 4.3.0 later\r\n"), "RSET\r\n");
    auto r = s.take_result();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->recipients[0].outcome, Outcome::Failed);
    EXPECT_EQ(r->recipients[1].outcome, Outcome::Deferred);
    EXPECT_FALSE(r->data_reply);
    // The next message may be given at once; it starts after RSET's reply.
    ASSERT_TRUE(s.wants_message());
    s.send(message_for({"dave"}));
    EXPECT_EQ(s.take_output(), "");
    EXPECT_EQ(step(s, "250 Ok\r\n").substr(0, 10), "MAIL FROM:");
}

// RFC 2920 3.1: the pipelined DATA after all RCPTs failed is refused (503/554); then RSET.
TEST(ClientSession, AllRcptsRefusedPipelinedDataRefused_Rfc2920_3_1) {
    Session s(kHelo);
    s.send(message_for({"bob", "carol"}));
    open(s, kEhloPipelining);
    s.take_output();
    EXPECT_EQ(step(s, "250 Ok\r\n550 5.1.1 unknown\r\n550 5.1.1 unknown\r\n554 5.5.1 No valid recipients\r\n"),
              "RSET\r\n");
    auto r = s.take_result();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->recipients[0].outcome, Outcome::Failed);
    EXPECT_EQ(r->recipients[0].reply.code, 550);
    EXPECT_EQ(r->recipients[1].outcome, Outcome::Failed);
    ASSERT_TRUE(r->data_reply);
    EXPECT_EQ(r->data_reply->code, 554);
    s.quit();
    EXPECT_EQ(step(s, "250 Ok\r\n"), "QUIT\r\n");
}

// RFC 2920 3.1: "if the DATA command was accepted the client SMTP should send a single dot".
TEST(ClientSession, AllRcptsRefusedPipelinedDataAcceptedSendsSingleDot_Rfc2920_3_1) {
    Session s(kHelo);
    s.send(message_for({"bob"}));
    open(s, kEhloPipelining);
    s.take_output();
    EXPECT_EQ(step(s, "250 Ok\r\n550 5.1.1 unknown\r\n354 go\r\n"), ".\r\n");
    EXPECT_FALSE(s.take_result());
    EXPECT_EQ(step(s, "250 Ok\r\n"), "");
    auto r = s.take_result();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->recipients[0].outcome, Outcome::Failed);  // never Delivered by the empty message
    EXPECT_TRUE(s.wants_message());
}

// RFC 5321 4.1.1.2: a refused MAIL opens no transaction: every recipient takes its reply, the
// pipelined RCPT and DATA replies are consumed, and no RSET is needed.
TEST(ClientSession, MailRefusedPipelined_Rfc5321_4_1_1_2) {
    Session s(kHelo);
    s.send(message_for({"bob", "carol"}));
    open(s, kEhloPipelining);
    s.take_output();
    EXPECT_EQ(step(s, "550 5.7.1 sender rejected\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n"
                      "503 5.5.1 need MAIL\r\n"),
              "");
    auto r = s.take_result();
    ASSERT_TRUE(r);
    for (const auto& rr : r->recipients) {
        EXPECT_EQ(rr.outcome, Outcome::Failed);
        EXPECT_EQ(rr.reply.enhanced, "5.7.1");
    }
    EXPECT_TRUE(s.wants_message());
    EXPECT_EQ(s.awaiting(), ClientWait::Nothing);
}

TEST(ClientSession, MailDeferredWithoutPipelining_Rfc5321_4_1_1_2) {
    Session s(kHelo);
    s.send(message_for({"bob", "carol"}));
    open(s, kEhloPlain);
    s.take_output();
    EXPECT_EQ(step(s, "451 4.3.0 try later\r\n"), "");
    auto r = s.take_result();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->recipients[0].outcome, Outcome::Deferred);
    EXPECT_EQ(r->recipients[1].outcome, Outcome::Deferred);
}

// ---- MAIL and RCPT parameters ------------------------------------------------------------------

// RFC 6152 3: 8-bit content must not go to a server without 8BITMIME; we refuse rather than
// convert (5.6.3 "Conversion required but not supported", RFC 3463).
TEST(ClientSession, EightBitToPeerWithout8bitmimeFails_Rfc6152_3) {
    Session s(kHelo);
    TestMessage m = message_for({"bob"}, "Subject: caf\xc3\xa9\r\n\r\nx\r\n");
    m.eight_bit = true;
    s.send(m);
    open(s, kEhloPlain);
    EXPECT_EQ(s.take_output(), "");  // no MAIL at all
    auto r = s.take_result();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->recipients[0].outcome, Outcome::Failed);
    EXPECT_EQ(r->recipients[0].reply.enhanced, "5.6.3");
    EXPECT_FALSE(r->recipients[0].remote);
    EXPECT_TRUE(s.wants_message());  // the connection serves the next message
    s.quit();
    EXPECT_EQ(s.take_output(), "QUIT\r\n");
}

TEST(ClientSession, EightBitToPeerWith8bitmimeSaysBody8bitmime_Rfc6152_2) {
    Session s(kHelo);
    TestMessage m = message_for({"bob"}, "Subject: caf\xc3\xa9\r\n\r\nx\r\n");
    m.eight_bit = true;
    s.send(m);
    open(s, kEhloPipelining);
    EXPECT_NE(s.take_output().find("MAIL FROM:<alice@example.org> SIZE=" + std::to_string(m.content.size()) +
                                   " BODY=8BITMIME\r\n"),
              std::string::npos);
}

// RFC 6531 3.2: a message that needs SMTPUTF8 does not go to a server without it (5.6.7).
TEST(ClientSession, Smtputf8NeededButNotOfferedFails_Rfc6531_3_2) {
    Session s(kHelo);
    TestMessage m = message_for({"bob"});
    m.envelope.sender = smtp::Mailbox{"jos\xc3\xa9", "example.org"};
    m.needs_smtputf8 = true;
    s.send(m);
    open(s, kEhloPipelining);
    EXPECT_EQ(s.take_output(), "");
    auto r = s.take_result();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->recipients[0].outcome, Outcome::Failed);
    EXPECT_EQ(r->recipients[0].reply.enhanced, "5.6.7");
}

TEST(ClientSession, Smtputf8NeededAndOfferedIsDeclared_Rfc6531_3_4) {
    Session s(kHelo);
    TestMessage m = message_for({"bob"});
    m.envelope.sender = smtp::Mailbox{"jos\xc3\xa9", "example.org"};
    m.needs_smtputf8 = true;
    s.send(m);
    open(s, "250-mx\r\n250-SMTPUTF8\r\n250 8BITMIME\r\n");
    EXPECT_EQ(s.take_output(), "MAIL FROM:<jos\xc3\xa9@example.org> SMTPUTF8\r\n");
}

// RFC 1870: a message larger than the peer's declared maximum is refused here with 5.3.4.
TEST(ClientSession, MessageLargerThanPeerMaximumFailsLocally_Rfc1870_4) {
    Session s(kHelo);
    s.send(message_for({"bob"}, std::string(200, 'x') + "\r\n"));
    open(s, "250-mx\r\n250 SIZE 100\r\n");
    EXPECT_EQ(s.take_output(), "");
    auto r = s.take_result();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->recipients[0].outcome, Outcome::Failed);
    EXPECT_EQ(r->recipients[0].reply.code, 552);
    EXPECT_EQ(r->recipients[0].reply.enhanced, "5.3.4");
}

// RFC 3461 4.1-4.4 and 5.2: DSN requests are passed on, xtext-encoded, when the peer offers DSN.
TEST(ClientSession, DsnParametersPassedOnWhenOffered_Rfc3461_4) {
    TestMessage m = message_for({"bob", "carol"});
    m.envelope.ret = smtp::DsnRet::Headers;
    m.envelope.envid = "QQ+1=2";
    m.envelope.recipients[0].notify = smtp::notify::Success | smtp::notify::Failure;
    m.envelope.recipients[0].orcpt = "rfc822;bob+x@example.net";
    m.envelope.recipients[1].notify = smtp::notify::Never;

    Session with(kHelo);
    with.send(m);
    open(with, "250-mx\r\n250-PIPELINING\r\n250 DSN\r\n");
    EXPECT_EQ(with.take_output(),
              "MAIL FROM:<alice@example.org> RET=HDRS ENVID=QQ+2B1+3D2\r\n"
              "RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+2Bx@example.net\r\n"
              "RCPT TO:<carol@example.net> NOTIFY=NEVER\r\n"
              "DATA\r\n");
    with.feed("250 Ok\r\n250 Ok\r\n250 Ok\r\n354 go\r\n250 Ok\r\n");
    auto r = with.take_result();
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->dsn_passed_on);

    Session without(kHelo);
    without.send(m);
    open(without, "250-mx\r\n250 PIPELINING\r\n");
    EXPECT_EQ(without.take_output(),
              "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nRCPT TO:<carol@example.net>\r\n"
              "DATA\r\n");
    without.feed("250 Ok\r\n250 Ok\r\n250 Ok\r\n354 go\r\n250 Ok\r\n");
    r = without.take_result();
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->dsn_passed_on);  // a NOTIFY=SUCCESS recipient is owed a "relayed" DSN
}

TEST(ClientSession, NullReversePathIsSentAsEmptyPath_Rfc5321_4_5_5) {
    Session s(kHelo);
    TestMessage m = message_for({"bob"});
    m.envelope.sender.reset();
    s.send(m);
    open(s, "250 mx\r\n");
    EXPECT_EQ(s.take_output(), "MAIL FROM:<>\r\n");
}

// An address with a line break would smuggle a command of its own into the stream.
TEST(ClientSession, AddressWithLineBreakIsNeverSent) {
    Session s(kHelo);
    TestMessage m = message_for({"bob", "x\r\nRSET"});
    s.send(m);
    open(s, kEhloPipelining);
    const std::string out = s.take_output();
    EXPECT_EQ(out.find("RSET"), std::string::npos);
    s.feed("250 Ok\r\n250 Ok\r\n354 go\r\n250 Ok\r\n");
    auto r = s.take_result();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->recipients[0].outcome, Outcome::Delivered);
    EXPECT_EQ(r->recipients[1].outcome, Outcome::Failed);
    EXPECT_EQ(r->recipients[1].reply.enhanced, "5.1.3");
}

// ---- content -------------------------------------------------------------------------------

// RFC 5321 4.5.2: a line starting with "." gets one more; the end is CRLF "." CRLF.
TEST(DataBlock, DotStuffing_Rfc5321_4_5_2) {
    EXPECT_EQ(data_block(".hidden\r\nok\r\n..two\r\n.\r\nlast\r\n"),
              "..hidden\r\nok\r\n...two\r\n..\r\nlast\r\n.\r\n");
    EXPECT_EQ(data_block("a.b\r\n .c\r\n"), "a.b\r\n .c\r\n.\r\n");  // only at a line's start
    EXPECT_EQ(data_block(""), ".\r\n");
}

// "." must start a line of its own even when the content lacks a final line ending.
TEST(DataBlock, ContentWithoutFinalLineEndingIsTerminated_Rfc5321_4_1_1_4) {
    EXPECT_EQ(data_block("Subject: x\r\n\r\nno newline"), "Subject: x\r\n\r\nno newline\r\n.\r\n");
    EXPECT_EQ(data_block("x\r\n."), "x\r\n..\r\n.\r\n");
}

// RFC 5321 2.3.8: no bare CR or LF on the wire.
TEST(DataBlock, BareLineEndsBecomeCrlf_Rfc5321_2_3_8) {
    EXPECT_EQ(data_block("a\nb\rc\r\n.d\n"), "a\r\nb\r\nc\r\n..d\r\n.\r\n");
}

TEST(ClientSession, ContentIsDotStuffedOnTheWire_Rfc5321_4_5_2) {
    Session s(kHelo);
    s.send(message_for({"bob"}, "Subject: dots\r\n\r\n.\r\n..\r\n.x\r\n"));
    open(s, kEhloPipelining);
    s.take_output();
    EXPECT_EQ(step(s, "250 Ok\r\n250 Ok\r\n354 go\r\n"), "Subject: dots\r\n\r\n..\r\n...\r\n..x\r\n.\r\n");
}

// Content streamed in pieces cut anywhere (between a CR and its LF too) goes on the wire as
// the whole would (RFC 5321 4.5.2, 2.3.8): the engine never needs the message whole.
TEST(DotStuffer, PiecesCutAnywhereGiveTheSameDataBlock_Rfc5321_4_5_2) {
    const std::string content = ".start\r\nmid.dle\r\n\r\n..x\r\nbare\nlf\rcr\r\n.\r\nend";
    const std::string whole = data_block(content);
    for (std::size_t cut = 0; cut <= content.size(); ++cut) {
        for (std::size_t cut2 = cut; cut2 <= content.size(); cut2 += 3) {
            DotStuffer stuffer;
            std::string out;
            stuffer.feed(std::string_view(content).substr(0, cut), out);
            stuffer.feed(std::string_view(content).substr(cut, cut2 - cut), out);
            stuffer.feed(std::string_view(content).substr(cut2), out);
            stuffer.finish(out);
            ASSERT_EQ(out, whole) << "cut at " << cut << " and " << cut2;
        }
    }
    std::string one_by_one;
    DotStuffer stuffer;
    for (char c : content) stuffer.feed(std::string_view(&c, 1), one_by_one);
    stuffer.finish(one_by_one);
    EXPECT_EQ(one_by_one, whole);
}

// The engine asks for the content only after 354, names the message it wants, and sends the
// final "." only when the caller says the content is complete.
TEST(ClientSession, ContentIsAskedForAfter354AndEndedByTheCaller_Rfc5321_4_1_1_4) {
    ClientSession s(kHelo);
    OutboundMessage m;
    m.envelope = envelope_for({"bob"});
    m.recipient_indexes = {0};
    m.content_size = 12;
    s.send(m);
    EXPECT_EQ(s.take_output(), "");
    s.feed(kGreeting);
    s.feed(kEhloPipelining);
    s.take_output();
    EXPECT_FALSE(s.wants_content());
    s.feed("250 Ok\r\n250 Ok\r\n");
    EXPECT_FALSE(s.wants_content()) << "not before 354";
    s.feed("354 go\r\n");
    ASSERT_TRUE(s.wants_content());
    EXPECT_EQ(*s.wants_content(), 0u);
    EXPECT_EQ(s.awaiting(), ClientWait::Nothing) << "no reply is awaited while the content is being sent";
    s.send_content("Subject: ");
    s.send_content(".\r");
    EXPECT_EQ(s.take_output(), "Subject: .\r\n");
    s.send_content("\n.x");
    EXPECT_EQ(s.take_output(), "..x");
    s.end_content();
    EXPECT_FALSE(s.wants_content());
    EXPECT_EQ(s.take_output(), "\r\n.\r\n");
    EXPECT_EQ(s.awaiting(), ClientWait::DataTermination);
    s.feed("250 2.0.0 Ok\r\n");
    auto r = s.take_result();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->recipients[0].outcome, Outcome::Delivered);
    EXPECT_THROW(s.send_content("late"), std::logic_error);
}

// A caller that cannot read the content to its end aborts: nothing is delivered, and no "."
// ever ends a truncated message (RFC 5321 6.1).
TEST(ClientSession, AbortWhileSendingContentDefersAndSendsNoDot_Rfc5321_6_1) {
    ClientSession s(kHelo);
    OutboundMessage m;
    m.envelope = envelope_for({"bob", "carol"});
    m.recipient_indexes = {0, 1};
    m.content_size = 100;
    s.send(m);
    s.feed(kGreeting);
    s.feed(kEhloPipelining);
    s.feed("250 Ok\r\n250 Ok\r\n250 Ok\r\n354 go\r\n");
    s.take_output();
    s.send_content("half of it\r\n");
    s.abort("cannot read the spool file");
    EXPECT_EQ(s.take_output().find(".\r\n"), std::string::npos);
    EXPECT_TRUE(s.finished());
    auto r = s.take_result();
    ASSERT_TRUE(r);
    for (const auto& rr : r->recipients) {
        EXPECT_EQ(rr.outcome, Outcome::Deferred);
        EXPECT_EQ(rr.reply.enhanced, "4.4.2");
    }
}

// Each message of a connection is asked for by its own number.
TEST(ClientSession, WantsContentNamesTheMessage) {
    Session s(kHelo);
    s.send(message_for({"bob"}, "first\r\n"));
    open(s, kEhloPipelining);
    s.take_output();
    EXPECT_EQ(step(s, "250 Ok\r\n250 Ok\r\n354 go\r\n"), "first\r\n.\r\n");
    s.feed("250 Ok\r\n");
    ASSERT_TRUE(s.take_result());
    s.send(message_for({"carol"}, "second\r\n"));
    s.take_output();
    EXPECT_EQ(step(s, "250 Ok\r\n250 Ok\r\n354 go\r\n"), "second\r\n.\r\n");
}

// ---- the connection ends early -----------------------------------------------------------------

// RFC 5321 4.1.1.4 and 6.1: without the reply to "." nothing is known to be delivered.
TEST(ClientSession, ConnectionLostAfterContentDefersNeverDelivers_Rfc5321_6_1) {
    Session s(kHelo);
    s.send(message_for({"bob", "carol"}));
    open(s, kEhloPipelining);
    s.take_output();
    s.feed("250 Ok\r\n550 5.1.1 unknown\r\n250 Ok\r\n354 go\r\n");
    s.take_output();
    EXPECT_EQ(s.awaiting(), ClientWait::DataTermination);
    s.abort("connection lost");
    EXPECT_TRUE(s.finished());
    EXPECT_TRUE(s.failed());
    auto r = s.take_result();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->recipients[0].outcome, Outcome::Failed);  // answered before the loss
    EXPECT_EQ(r->recipients[1].outcome, Outcome::Deferred);
    EXPECT_EQ(r->recipients[1].reply.code, 421);
    EXPECT_EQ(r->recipients[1].reply.enhanced, "4.4.2");
    EXPECT_FALSE(r->recipients[1].remote);
    EXPECT_EQ(s.take_output(), "");
    s.feed("250 Ok\r\n");  // too late: ignored
    EXPECT_FALSE(s.take_result());
}

TEST(ClientSession, TimeoutMidPipelineDefersEveryone_Rfc5321_4_5_3_2) {
    Session s(kHelo);
    s.send(message_for({"bob", "carol"}));
    open(s, kEhloPipelining);
    s.feed("250 Ok\r\n250 Ok\r\n");
    EXPECT_EQ(s.awaiting(), ClientWait::Rcpt);
    s.abort("timeout waiting for the reply to RCPT");
    auto r = s.take_result();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->recipients[0].outcome, Outcome::Deferred);
    EXPECT_EQ(r->recipients[1].outcome, Outcome::Deferred);
    EXPECT_EQ(s.connection_error().lines.at(0), "timeout waiting for the reply to RCPT");
}

// RFC 5321 3.8: a 421 may answer any command; the server then closes.
TEST(ClientSession, Peer421AfterDotDefers_Rfc5321_3_8) {
    Session s(kHelo);
    s.send(message_for({"bob"}));
    s.quit();
    open(s, kEhloPipelining);
    s.take_output();
    s.feed("250 Ok\r\n250 Ok\r\n354 go\r\n");
    s.take_output();
    s.feed("421 4.3.2 shutting down\r\n");
    EXPECT_EQ(s.take_output(), "");
    EXPECT_TRUE(s.finished());
    auto r = s.take_result();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->recipients[0].outcome, Outcome::Deferred);
    EXPECT_EQ(r->recipients[0].reply.code, 421);
    EXPECT_TRUE(r->recipients[0].remote);
}

TEST(ClientSession, ConnectionLostWhileAwaitingQuitReplyIsNoFailure) {
    Session s(kHelo);
    s.quit();
    open(s, "250 mx\r\n");
    EXPECT_EQ(s.take_output(), "QUIT\r\n");
    s.abort("connection closed");
    EXPECT_TRUE(s.finished());
    EXPECT_FALSE(s.failed());
}

// RFC 5321 4.5.3.2: the client timeouts.
TEST(ClientSession, TimeoutsPerPhase_Rfc5321_4_5_3_2) {
    using std::chrono::minutes;
    EXPECT_EQ(timeout_of(ClientWait::Greeting), minutes{5});
    EXPECT_EQ(timeout_of(ClientWait::Mail), minutes{5});
    EXPECT_EQ(timeout_of(ClientWait::Rcpt), minutes{5});
    EXPECT_EQ(timeout_of(ClientWait::DataInitiation), minutes{2});
    EXPECT_EQ(kDataBlockTimeout, minutes{3});
    EXPECT_EQ(timeout_of(ClientWait::DataTermination), minutes{10});
    EXPECT_EQ(timeout_of(ClientWait::Command), minutes{5});
    Session s(kHelo);
    EXPECT_EQ(s.awaiting(), ClientWait::Greeting);
    s.feed(kGreeting);
    EXPECT_EQ(s.awaiting(), ClientWait::Command);
}

// ---- hostile and broken peers -----------------------------------------------------------------

ClientSession& failed_on(ClientSession& s, std::string_view bytes) {
    s.send(message_for({"bob"}));
    s.feed(bytes);
    return s;
}

void expect_protocol_failure(std::string_view bytes) {
    Session s(kHelo);
    failed_on(s, bytes);
    EXPECT_TRUE(s.failed()) << bytes;
    EXPECT_TRUE(s.finished()) << bytes;
    EXPECT_EQ(s.connection_error().code, 421) << bytes;
    EXPECT_EQ(s.connection_error().enhanced, "4.5.0") << bytes;
    auto r = s.take_result();
    ASSERT_TRUE(r) << bytes;
    EXPECT_EQ(r->recipients[0].outcome, Outcome::Deferred) << bytes;
}

// RFC 5321 4.2: Reply-code = %x32-35 %x30-35 %x30-39, then SP, "-" or CRLF; lines end in CRLF.
TEST(ClientSession, MalformedRepliesFailTheConnection_Rfc5321_4_2) {
    for (const char* bad : {"hello\r\n", "2x0 ok\r\n", "620 ok\r\n", "160 ok\r\n", "290 ok\r\n", "250_ok\r\n",
                            "22\r\n", "\r\n", "220 ok\n", "220 ok\rx\r\n", "220-a\r\n221 b\r\n"}) {
        expect_protocol_failure(bad);
    }
    expect_protocol_failure(std::string("220 o\0k\r\n", 9));
}

// RFC 5321 4.5.3.1.5: a reply line is at most 512 octets with its CRLF.
TEST(ClientSession, ReplyLineLimit_Rfc5321_4_5_3_1_5) {
    ClientSession ok(kHelo);
    ok.feed("220 " + std::string(506, 'x') + "\r\n");  // 512 octets
    EXPECT_FALSE(ok.failed());
    EXPECT_EQ(ok.take_output(), std::string("EHLO ") + kHelo + "\r\n");
    expect_protocol_failure("220 " + std::string(507, 'x') + "\r\n");  // 513
    expect_protocol_failure(std::string(100000, '2'));                 // never ends
}

TEST(ClientSession, ReplyOfTooManyLinesFailsTheConnection) {
    std::string lines;
    for (std::size_t i = 0; i + 1 < kMaxReplyLines; ++i) lines += "220-x\r\n";
    ClientSession ok(kHelo);
    ok.feed(lines + "220 last\r\n");  // exactly the limit
    EXPECT_FALSE(ok.failed());
    expect_protocol_failure(lines + "220-one too many\r\n220 last\r\n");
}

TEST(ClientSession, ReplyNothingAskedForFailsTheConnection) {
    Session s(kHelo);
    open(s, "250 mx\r\n");
    s.take_output();
    s.feed("250 surprise\r\n");
    EXPECT_TRUE(s.failed());
    EXPECT_TRUE(s.finished());
}

// Arbitrary bytes from the peer, in arbitrary pieces: no crash, no unbounded growth, and a
// recipient is never Delivered without a 2xx reply to the final ".".
TEST(ClientSession, RandomPeerBytesNeverCrashOrDeliverWithoutFinalReply) {
    std::mt19937 rng(12345);
    const std::vector<std::string> pieces = {
        "220 mx\r\n", "250-mx\r\n", "250-PIPELINING\r\n", "250 8BITMIME\r\n", "250 Ok\r\n", "354 go\r\n",
        "550 5.1.1 no\r\n", "451 4.3.0 later\r\n", "421 bye\r\n", "221 bye\r\n", "\r\n", "2", "50", " ",
        "\n", "\r", std::string(600, 'a'), "503 5.5.1 sequence\r\n", "250-", "250 2.0.0 queued\r\n"};
    for (int round = 0; round < 3000; ++round) {
        Session s(kHelo);
        s.send(message_for({"bob", "carol", "dave"}));
        const int n = std::uniform_int_distribution<int>(1, 12)(rng);
        for (int i = 0; i < n && !s.finished(); ++i) {
            std::string chunk = pieces[std::uniform_int_distribution<std::size_t>(0, pieces.size() - 1)(rng)];
            if (rng() % 5 == 0) chunk[rng() % chunk.size()] = static_cast<char>(rng() & 0xFF);
            s.feed(chunk);
            s.take_output();
            if (s.wants_message() && rng() % 3 == 0) s.send(message_for({"erin"}));
        }
        if (rng() % 2) s.abort("connection lost");
        while (auto r = s.take_result()) {
            for (const auto& rr : r->recipients) {
                if (rr.outcome != Outcome::Delivered) continue;
                ASSERT_TRUE(r->data_reply);
                EXPECT_EQ(r->data_reply->code / 100, 2);
            }
        }
    }
}

// ---- reply reading ------------------------------------------------------------------------

// RFC 3463 / RFC 2034: the enhanced code of the reply's class is taken from every line.
TEST(ReplyReader, EnhancedStatusCodeIsSeparated_Rfc2034) {
    ReplyReader reader;
    const std::string bytes = "550-5.1.1 The email account that you tried to reach\r\n550 5.1.1 does not exist\r\n";
    EXPECT_EQ(reader.feed(bytes), bytes.size());
    auto r = reader.take();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, 550);
    EXPECT_EQ(r->enhanced, "5.1.1");
    EXPECT_EQ(r->lines, (std::vector<std::string>{"The email account that you tried to reach", "does not exist"}));
    EXPECT_FALSE(reader.take());
}

TEST(ReplyReader, TextThatOnlyLooksLikeAStatusCodeStaysText) {
    ReplyReader reader;
    reader.feed("550 4.0.0 not my class\r\n");
    auto r = reader.take();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->enhanced, "");
    EXPECT_EQ(r->lines.at(0), "4.0.0 not my class");
    reader.feed("250 2.1.0\r\n");
    r = reader.take();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->enhanced, "2.1.0");
    EXPECT_EQ(r->lines.at(0), "");
}

// RFC 5321 4.2: the text is optional: "250" CRLF is a whole reply.
TEST(ReplyReader, CodeAloneIsAReply_Rfc5321_4_2) {
    ReplyReader reader;
    reader.feed("250\r\n");
    auto r = reader.take();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, 250);
    EXPECT_EQ(r->lines, std::vector<std::string>{""});
}

// Input after a complete reply is left for the next call.
TEST(ReplyReader, StopsAfterOneReply) {
    ReplyReader reader;
    const std::string two = "250 a\r\n251 b\r\n";
    EXPECT_EQ(reader.feed(two), 7u);
    EXPECT_EQ(reader.take()->code, 250);
    EXPECT_EQ(reader.feed(std::string_view(two).substr(7)), 7u);
    EXPECT_EQ(reader.take()->code, 251);
}

}  // namespace
}  // namespace ehlo::delivery
