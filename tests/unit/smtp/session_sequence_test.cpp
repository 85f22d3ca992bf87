// Commands out of order (RFC 5321 4.1.4, 3.3): each gets 503 5.5.1 (or 554 5.5.1 when no
// recipient was accepted) and changes nothing.
#include <gtest/gtest.h>

#include "fake_host.hpp"

namespace ehlo::smtp::test {
namespace {

TEST(Sequence, MailBeforeEhloIs503_Rfc5321_4_1_4) {
    Dialog d;
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example>\r\n"), "503 Send EHLO or HELO first\r\n");
    EXPECT_TRUE(d.host.mails.empty());
}

TEST(Sequence, RcptBeforeMailIs503_Rfc5321_4_1_4) {
    Dialog d;
    EXPECT_EQ(d.send("RCPT TO:<a@b.example>\r\n"), "503 Need MAIL before RCPT\r\n");
    d.ehlo();
    EXPECT_EQ(d.send("RCPT TO:<a@b.example>\r\n"), "503 5.5.1 Need MAIL before RCPT\r\n");
    EXPECT_TRUE(d.host.rcpts.empty());
}

TEST(Sequence, DataBeforeMailIs503_Rfc5321_4_1_4) {
    Dialog d;
    EXPECT_EQ(d.send("DATA\r\n"), "503 Need MAIL command\r\n");
    d.ehlo();
    EXPECT_EQ(d.send("DATA\r\n"), "503 5.5.1 Need MAIL command\r\n");
    EXPECT_EQ(d.host.begins, 0);
}

TEST(Sequence, NestedMailIs503_Rfc5321_4_1_4) {
    Dialog d;
    d.open_transaction();
    EXPECT_EQ(d.send("MAIL FROM:<other@b.example>\r\n"), "503 5.5.1 Nested MAIL command\r\n");
    EXPECT_EQ(d.host.mails.size(), 1u);
}

TEST(Sequence, DataWithoutAcceptedRecipientIs554_Rfc5321_3_3_Rfc2920_3_1) {
    Dialog d;
    d.ehlo();
    d.host.rcpt_verdict = [](const Envelope&, const Recipient&) { return Reply(550, "5.1.1", "No such user"); };
    // A pipelining client sends DATA before it knows that every RCPT failed.
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\nDATA\r\n"),
              "250 2.1.0 Ok\r\n550 5.1.1 No such user\r\n554 5.5.1 No valid recipients\r\n");
    EXPECT_EQ(d.host.begins, 0);
    // The transaction stays open: MAIL is still nested.
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example>\r\n"), "503 5.5.1 Nested MAIL command\r\n");
}

TEST(Sequence, DataAfterBdatIs503_Rfc3030_2) {
    Dialog d;
    d.open_transaction();
    EXPECT_EQ(d.send("BDAT 3\r\nabc"), "250 2.0.0 3 octets received\r\n");
    EXPECT_EQ(d.send("DATA\r\n"), "503 5.5.1 DATA not allowed after BDAT\r\n");
    EXPECT_EQ(d.send("BDAT 2 LAST\r\n\r\n"), "250 2.0.0 Ok: queued as TESTID\r\n");
    EXPECT_EQ(d.host.messages.at(0), "abc\r\n");
}

TEST(Sequence, RsetEndsTheTransaction_Rfc5321_4_1_1_5) {
    Dialog d;
    d.open_transaction();
    EXPECT_EQ(d.send("RSET\r\n"), "250 2.0.0 Ok\r\n");
    EXPECT_EQ(d.send("DATA\r\n"), "503 5.5.1 Need MAIL command\r\n");
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example>\r\n"), "250 2.1.0 Ok\r\n");
}

TEST(Sequence, RsetBeforeEhloIsFine_Rfc5321_4_1_1_5) {
    Dialog d;
    EXPECT_EQ(d.send("RSET\r\n"), "250 Ok\r\n");
    EXPECT_EQ(d.send("NOOP\r\n"), "250 Ok\r\n");
}

TEST(Sequence, RefusedMailOpensNoTransaction_Rfc5321_3_3) {
    Dialog d;
    d.ehlo();
    d.host.mail_verdict = [](const Envelope&) { return Reply(550, "5.7.1", "Go away"); };
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example>\r\n"), "550 5.7.1 Go away\r\n");
    EXPECT_EQ(d.send("RCPT TO:<c@d.example>\r\n"), "503 5.5.1 Need MAIL before RCPT\r\n");
    d.host.mail_verdict = [](const Envelope&) { return Reply(451, "4.3.0", "Try later"); };
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example>\r\n"), "451 4.3.0 Try later\r\n");
    EXPECT_EQ(d.send("RCPT TO:<c@d.example>\r\n"), "503 5.5.1 Need MAIL before RCPT\r\n");
}

TEST(Sequence, TransactionEndsAfterTheMessage_Rfc5321_4_1_1_4) {
    Dialog d;
    d.open_transaction();
    d.send("DATA\r\nx\r\n.\r\n");
    EXPECT_EQ(d.send("RCPT TO:<c@d.example>\r\n"), "503 5.5.1 Need MAIL before RCPT\r\n");
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example>\r\n"), "250 2.1.0 Ok\r\n");
}

TEST(Sequence, BeginMessageRefusalKeepsTheTransaction_Rfc5321_4_1_1_4) {
    Dialog d;
    d.open_transaction();
    d.host.begin_refusal = Reply(451, "4.3.0", "Queue unavailable");
    EXPECT_EQ(d.send("DATA\r\n"), "451 4.3.0 Queue unavailable\r\n");
    EXPECT_FALSE(d.session->in_message());
    d.host.begin_refusal.reset();
    EXPECT_EQ(d.send("DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
}

}  // namespace
}  // namespace ehlo::smtp::test
