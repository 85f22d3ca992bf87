// Hostile input and limits: command-line length (RFC 5321 4.5.3.1.4), bare LF/CR and NUL in
// commands (2.3.8), error counting (4.2.2, 3.8), timeouts (4.5.3.2), shutdown, bounded input.
#include <gtest/gtest.h>

#include "fake_host.hpp"

namespace ehlo::smtp::test {
namespace {

using namespace std::string_literals;

TEST(CommandLine, LineOf512OctetsButNot513_Rfc5321_4_5_3_1_4) {
    Dialog d;
    d.ehlo();
    const std::string noop510 = "NOOP " + std::string(505, 'x');  // 510 + CRLF = 512
    EXPECT_EQ(d.send(noop510 + "\r\n"), "250 2.0.0 Ok\r\n");
    EXPECT_EQ(d.send(noop510 + "y\r\n"), "500 5.5.2 Line too long\r\n");
}

TEST(CommandLine, OverLongLineIsAnsweredAtOnceAndNeverExecuted_Rfc5321_4_5_3_1_4) {
    Dialog d;
    d.ehlo();
    EXPECT_EQ(d.send("MAIL FROM:<" + std::string(600, 'a')), "500 5.5.2 Line too long\r\n");
    EXPECT_EQ(d.send(std::string(600, 'a') + "@b.example>"), "");
    EXPECT_EQ(d.send("\r\nNOOP\r\n"), "250 2.0.0 Ok\r\n");
    EXPECT_TRUE(d.host.mails.empty());
}

TEST(CommandLine, OneMegabyteLineWithoutCrlfGetsOneReply_Rfc5321_4_5_3_1_4) {
    Dialog d;
    d.ehlo();
    std::string out;
    for (int i = 0; i < 256; ++i) out += d.send(std::string(4096, 'A'));
    EXPECT_EQ(out, "500 5.5.2 Line too long\r\n");
    EXPECT_EQ(d.send("\r\nQUIT\r\n"), "221 2.0.0 Bye\r\n");
}

TEST(CommandLine, BareLfIsAnsweredAtOnce_Rfc5321_2_3_8) {
    Dialog d;
    EXPECT_EQ(d.send("EHLO nc.example\n"), "500 Bare LF received; lines must end with CRLF\r\n");
    EXPECT_FALSE(d.session->esmtp());
    EXPECT_EQ(d.send("NOOP\r\n"), "250 Ok\r\n");
}

TEST(CommandLine, BareCrOrNulIsRefusedAtTheEndOfTheLine_Rfc5321_2_3_8) {
    Dialog d;
    d.ehlo();
    EXPECT_EQ(d.send("NO\rOP\r\n"), "500 5.5.2 Bare CR or NUL in command line\r\n");
    EXPECT_EQ(d.send("NOOP\r\r\n"), "500 5.5.2 Bare CR or NUL in command line\r\n");
    EXPECT_EQ(d.send("MAIL FROM:<sen\x00" "der@client.example>\r\n"s), "500 5.5.2 Bare CR or NUL in command line\r\n");
    EXPECT_EQ(d.send("NO\x00OP\r\n"s), "500 5.5.2 Bare CR or NUL in command line\r\n");
    EXPECT_TRUE(d.host.mails.empty());
}

TEST(ErrorCount, TenthErrorClosesWith421_Rfc5321_4_2_2) {
    Dialog d;
    d.ehlo();
    std::string out;
    for (int i = 0; i < 9; ++i) out += d.send("BOGUS\r\n");
    EXPECT_FALSE(d.session->wants_close());
    EXPECT_EQ(d.send("BOGUS\r\nNOOP\r\n"),
              "500 5.5.2 Command unrecognized\r\n421 4.7.0 Too many errors, closing connection\r\n");
    EXPECT_TRUE(d.session->wants_close());
    EXPECT_TRUE(d.host.saw_event("too-many-errors"));
    EXPECT_EQ(d.send("NOOP\r\n"), "");
}

TEST(ErrorCount, EveryKindOfSyntaxOrSequenceErrorCounts_Rfc5321_4_2_2) {
    auto c = test_config();
    c.max_errors = 8;
    Dialog d(c);
    d.host.rcpt_verdict = [](const Envelope&, const Recipient&) { return Reply(550, "5.1.1", "No such user"); };
    d.send("RCPT TO:<a@b.example>\r\n");       // 503
    d.send("EHLO\r\n");                        // 501
    d.send("XYZZY\r\n");                       // 500
    d.send("TURN\r\n");                        // 502
    d.ehlo();
    d.send("MAIL FROM:<a@b.example> X=1\r\n");  // 555
    d.send("MAIL FROM:<a@b.example>\r\n");
    d.send("RCPT TO:<c@d.example>\r\n");       // 550 from the host
    d.send("NO\x00OP\r\n"s);                   // 500
    EXPECT_FALSE(d.session->wants_close());
    EXPECT_EQ(d.send("x\n"), "500 5.5.2 Bare LF received; lines must end with CRLF\r\n"
                             "421 4.7.0 Too many errors, closing connection\r\n");
}

TEST(ErrorCount, RefusalsThatAreNotErrorsDoNotCount_Rfc5321_4_2_2) {
    auto c = test_config();
    c.max_errors = 2;
    c.max_recipients = 1;
    Dialog d(c);
    d.open_transaction();
    for (int i = 0; i < 5; ++i) EXPECT_EQ(d.send("RCPT TO:<x@d.example>\r\n"), "452 4.5.3 Too many recipients\r\n");
    d.host.rcpt_verdict = [](const Envelope&, const Recipient&) { return Reply(450, "4.2.0", "Greylisted"); };
    d.send("RSET\r\nMAIL FROM:<a@b.example>\r\n");
    for (int i = 0; i < 5; ++i) d.send("RCPT TO:<x@d.example>\r\n");
    EXPECT_FALSE(d.session->wants_close());
}

TEST(ErrorCount, OpenMessageIsAbortedWhenClosing) {
    auto c = test_config();
    c.max_errors = 1;
    Dialog d(c);
    d.open_transaction();
    d.send("BDAT 2\r\nab");
    EXPECT_EQ(d.send("BOGUS\r\n"), "500 5.5.2 Command unrecognized\r\n421 4.7.0 Too many errors, closing connection\r\n");
    EXPECT_EQ(d.host.aborts, 1);
}

TEST(Timeout, IdleTimeoutSends421AndCloses_Rfc5321_4_5_3_2) {
    Dialog d;
    d.ehlo();
    d.session->timeout();
    EXPECT_EQ(d.session->take_output(), "421 4.4.2 mx.example Timeout, closing connection\r\n");
    EXPECT_TRUE(d.session->wants_close());
    EXPECT_TRUE(d.host.saw_event("timeout"));
}

TEST(Timeout, TimeoutInContentAbortsTheMessage_Rfc5321_4_5_3_2_6) {
    Dialog d;
    d.open_transaction();
    d.send("DATA\r\npartial content\r\n");
    d.session->timeout();
    EXPECT_EQ(d.session->take_output(), "421 4.4.2 mx.example Timeout, closing connection\r\n");
    EXPECT_EQ(d.host.aborts, 1);
    EXPECT_TRUE(d.host.messages.empty());
}

TEST(Shutdown, ShutdownSends421_Rfc5321_3_8) {
    Dialog d;
    d.ehlo();
    d.session->shutdown();
    EXPECT_EQ(d.session->take_output(), "421 4.3.2 mx.example Service shutting down\r\n");
    EXPECT_TRUE(d.session->wants_close());
}

TEST(Shutdown, WhileAwaitingTheHostTheMessageIsAnsweredFirst_Rfc5321_3_8) {
    Dialog d;
    d.auto_answer = false;
    d.open_transaction();
    d.send("DATA\r\nx\r\n.\r\nNOOP\r\n");
    d.session->shutdown();
    EXPECT_EQ(d.session->take_output(), "");
    EXPECT_FALSE(d.session->wants_close());
    d.session->message_done(Reply(250, "2.0.0", "Ok: queued as Q"));
    EXPECT_EQ(d.session->take_output(), "250 2.0.0 Ok: queued as Q\r\n421 4.3.2 mx.example Service shutting down\r\n");
    EXPECT_TRUE(d.session->wants_close());
    EXPECT_EQ(d.host.aborts, 0);
}

TEST(PeerClosed, MidDataAbortsSilently) {
    Dialog d;
    d.open_transaction();
    d.send("DATA\r\nhalf a mess");
    d.session->peer_closed();
    EXPECT_EQ(d.session->take_output(), "");
    EXPECT_TRUE(d.session->wants_close());
    EXPECT_EQ(d.host.aborts, 1);
    d.session->peer_closed();
    d.session->timeout();
    EXPECT_EQ(d.host.aborts, 1);
    EXPECT_EQ(d.session->take_output(), "");
}

TEST(PeerClosed, AfterEndMessageNothingIsAborted) {
    Dialog d;
    d.auto_answer = false;
    d.open_transaction();
    d.send("DATA\r\nx\r\n.\r\n");
    d.session->peer_closed();
    EXPECT_EQ(d.host.aborts, 0);
    d.session->message_done(Reply(250, "2.0.0", "late"));
    EXPECT_EQ(d.session->take_output(), "");
}

TEST(BoundedInput, PipelinedFloodWhileAwaitingTheHostIsCutOff_Rfc2920) {
    Dialog d;
    d.auto_answer = false;
    d.open_transaction();
    d.send("DATA\r\nx\r\n.\r\n");
    ASSERT_TRUE(d.session->awaiting_host());
    for (int i = 0; i < 100; ++i) d.send(std::string(1024, 'N'));  // 100 KiB of nothing useful
    d.session->message_done(Reply(250, "2.0.0", "Ok: queued as Q"));
    EXPECT_EQ(d.session->take_output(),
              "250 2.0.0 Ok: queued as Q\r\n421 4.7.0 mx.example Too much pipelined input, closing connection\r\n");
    EXPECT_TRUE(d.session->wants_close());
}

TEST(BoundedInput, ModestPipelinedInputWhileAwaitingIsKept_Rfc2920) {
    Dialog d;
    d.auto_answer = false;
    d.open_transaction();
    d.send("DATA\r\nx\r\n.\r\n");
    for (int i = 0; i < 100; ++i) d.send("NOOP\r\n");
    d.session->message_done(Reply(250, "2.0.0", "Ok: queued as Q"));
    const std::string out = d.session->take_output();
    std::size_t noops = 0;
    for (std::size_t p = out.find("250 2.0.0 Ok\r\n"); p != std::string::npos; p = out.find("250 2.0.0 Ok\r\n", p + 1)) ++noops;
    EXPECT_EQ(noops, 100u);
    EXPECT_FALSE(d.session->wants_close());
}

}  // namespace
}  // namespace ehlo::smtp::test
