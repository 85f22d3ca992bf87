// MAIL and RCPT in the session: syntax (RFC 5321 4.1.1.2, 4.1.1.3), parameters, limits and the
// host's verdicts.
#include <gtest/gtest.h>

#include "fake_host.hpp"

namespace ehlo::smtp::test {
namespace {

TEST(Mail, NullReversePathIsAccepted_Rfc5321_4_5_5) {
    Dialog d;
    d.ehlo();
    EXPECT_EQ(d.send("MAIL FROM:<>\r\n"), "250 2.1.0 Ok\r\n");
    ASSERT_EQ(d.host.mails.size(), 1u);
    EXPECT_FALSE(d.host.mails[0].sender);
}

TEST(Mail, SpacesAfterTheColonAndAnyCaseAreTolerated) {
    Dialog d;
    d.ehlo();
    EXPECT_EQ(d.send("MAIL from: <a@b.example>\r\n"), "250 2.1.0 Ok\r\n");
    d.send("RSET\r\n");
    EXPECT_EQ(d.send("MAIL FROM:   <a@b.example>  SIZE=10  \r\n"), "250 2.1.0 Ok\r\n");
    EXPECT_EQ(d.host.mails.back().declared_size, 10u);
}

TEST(Mail, MissingFromOrBracketsIs501_Rfc5321_4_1_1_2) {
    Dialog d;
    d.ehlo();
    EXPECT_EQ(d.send("MAIL\r\n"), "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]\r\n");
    EXPECT_EQ(d.send("MAIL TO:<a@b.example>\r\n"), "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]\r\n");
    EXPECT_EQ(d.send("MAIL FROM <a@b.example>\r\n"), "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]\r\n");
    EXPECT_EQ(d.send("MAIL FROM:a@b.example\r\n"), "501 5.1.7 Bad sender address syntax\r\n");
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example>SIZE=1\r\n"), "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]\r\n");
    EXPECT_EQ(d.send("MAIL FROM:<a b@c.example>\r\n"), "501 5.1.7 Bad sender address syntax\r\n");
    EXPECT_EQ(d.send("MAIL FROM:<" + std::string(65, 'a') + "@b.example>\r\n"), "501 5.1.7 Path too long\r\n");
    EXPECT_TRUE(d.host.mails.empty());
}

TEST(Mail, DeclaredSizeOverTheLimitIs552AtMail_Rfc1870_6_1) {
    Dialog d;
    d.ehlo();
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example> SIZE=1000001\r\n"),
              "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example> SIZE=1000000\r\n"), "250 2.1.0 Ok\r\n");
}

TEST(Mail, ParametersAreCheckedAndStored_Rfc5321_4_1_1_11) {
    Dialog d;
    d.ehlo();
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example> XFOO\r\n"), "555 5.5.4 Unsupported parameter XFOO\r\n");
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example> BODY=BINARYMIME\r\n"), "555 5.5.4 BODY=BINARYMIME not supported\r\n");
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example> SIZE=1 size=2\r\n"), "501 5.5.4 Duplicate SIZE parameter\r\n");
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example> RET=FULL\r\n"), "555 5.5.4 Unsupported parameter RET\r\n");
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example> BODY=8BITMIME SMTPUTF8\r\n"), "250 2.1.0 Ok\r\n");
    EXPECT_EQ(d.host.mails.back().body, BodyType::EightBitMime);
    EXPECT_TRUE(d.host.mails.back().smtputf8);
}

TEST(Mail, ParametersInAHeloSessionAre555_Rfc5321_4_1_1_11) {
    Dialog d;
    d.helo();
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example> SIZE=10\r\n"), "555 Parameters not supported after HELO\r\n");
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example> SMTPUTF8\r\n"), "555 Parameters not supported after HELO\r\n");
}

TEST(Mail, Utf8SenderNeedsSmtputf8_Rfc6531_3_4) {
    Dialog d;
    d.ehlo();
    EXPECT_EQ(d.send("MAIL FROM:<j\xC3\xB6rg@b.example>\r\n"), "553 5.6.7 SMTPUTF8 required\r\n");
    EXPECT_EQ(d.send("MAIL FROM:<j\xC3\xB6rg@b.example> SMTPUTF8\r\n"), "250 2.1.0 Ok\r\n");
    EXPECT_EQ(d.host.mails.back().sender->local_part, "j\xC3\xB6rg");
    d.send("RSET\r\n");
    EXPECT_EQ(d.send("MAIL FROM:<j\xC3@b.example> SMTPUTF8\r\n"), "501 5.1.7 Bad sender address syntax\r\n");
}

TEST(Mail, DsnParametersWhenEnabled_Rfc3461) {
    auto c = test_config();
    c.dsn = true;
    Dialog d(c);
    d.ehlo();
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example> RET=HDRS ENVID=id+2B1\r\n"), "250 2.1.0 Ok\r\n");
    EXPECT_EQ(d.send("RCPT TO:<c@d.example> NOTIFY=FAILURE,DELAY ORCPT=rfc822;c+40d.example\r\n"), "250 2.1.5 Ok\r\n");
    d.send("DATA\r\nx\r\n.\r\n");
    const Envelope& e = d.host.envelopes.at(0);
    EXPECT_EQ(e.ret, DsnRet::Headers);
    EXPECT_EQ(e.envid, "id+1");
    EXPECT_EQ(e.recipients.at(0).notify, notify::Failure | notify::Delay);
    EXPECT_EQ(e.recipients.at(0).orcpt, "rfc822;c@d.example");
}

TEST(Rcpt, PostmasterWithoutDomain_Rfc5321_4_1_1_3) {
    Dialog d;
    d.ehlo();
    d.send("MAIL FROM:<a@b.example>\r\n");
    EXPECT_EQ(d.send("RCPT TO:<postmaster>\r\n"), "250 2.1.5 Ok\r\n");
    EXPECT_EQ(d.host.rcpts.at(0).address, (Mailbox{"Postmaster", ""}));
    EXPECT_EQ(d.send("RCPT TO:<webmaster>\r\n"), "501 5.1.3 Bad recipient address syntax\r\n");
}

TEST(Rcpt, SyntaxErrorsAre501_Rfc5321_4_1_1_3) {
    Dialog d;
    d.ehlo();
    d.send("MAIL FROM:<a@b.example>\r\n");
    EXPECT_EQ(d.send("RCPT\r\n"), "501 5.5.4 Syntax: RCPT TO:<address> [parameters]\r\n");
    EXPECT_EQ(d.send("RCPT FROM:<c@d.example>\r\n"), "501 5.5.4 Syntax: RCPT TO:<address> [parameters]\r\n");
    EXPECT_EQ(d.send("RCPT TO:<>\r\n"), "501 5.1.3 Bad recipient address syntax\r\n");
    EXPECT_EQ(d.send("RCPT TO:c@d.example\r\n"), "501 5.1.3 Bad recipient address syntax\r\n");
    EXPECT_EQ(d.send("RCPT TO:<c@[1.2.3.999]>\r\n"), "501 5.1.3 Bad recipient address syntax\r\n");
    EXPECT_EQ(d.send("RCPT TO:<c@d.example>x\r\n"), "501 5.5.4 Syntax: RCPT TO:<address> [parameters]\r\n");
    EXPECT_EQ(d.send("RCPT TO:<c@d.example> NOTIFY=NEVER\r\n"), "555 5.5.4 Unsupported parameter NOTIFY\r\n");
    EXPECT_TRUE(d.host.rcpts.empty());
    EXPECT_EQ(d.send("RCPT to: <c@d.example>\r\n"), "250 2.1.5 Ok\r\n");
}

TEST(Rcpt, TooLongPartsAre501_Rfc5321_4_5_3_1) {
    Dialog d;
    d.ehlo();
    d.send("MAIL FROM:<a@b.example>\r\n");
    EXPECT_EQ(d.send("RCPT TO:<" + std::string(64, 'l') + "@d.example>\r\n"), "250 2.1.5 Ok\r\n");
    EXPECT_EQ(d.send("RCPT TO:<" + std::string(65, 'l') + "@d.example>\r\n"), "501 5.1.3 Path too long\r\n");
    std::string long_domain;
    for (int i = 0; i < 5; ++i) long_domain += std::string(50, 'd') + ".";
    long_domain += "example";  // 262 octets
    EXPECT_EQ(d.send("RCPT TO:<c@" + long_domain + ">\r\n"), "501 5.1.3 Path too long\r\n");
}

TEST(Rcpt, Utf8RecipientOnlyAfterMailWithSmtputf8_Rfc6531_3_4) {
    Dialog d;
    d.ehlo();
    d.send("MAIL FROM:<a@b.example>\r\n");
    EXPECT_EQ(d.send("RCPT TO:<j\xC3\xB6rg@d.example>\r\n"), "553 5.6.7 SMTPUTF8 required\r\n");
    d.send("RSET\r\nMAIL FROM:<a@b.example> SMTPUTF8\r\n");
    EXPECT_EQ(d.send("RCPT TO:<j\xC3\xB6rg@b\xC3\xBC" "cher.example>\r\n"), "250 2.1.5 Ok\r\n");
    EXPECT_EQ(d.send("RCPT TO:<\xC3\xB6\xC3@d.example>\r\n"), "501 5.1.3 Bad recipient address syntax\r\n");
}

TEST(Rcpt, RecipientsBeyondTheLimitGet452_Rfc5321_4_5_3_1_10) {
    auto c = test_config();
    c.max_recipients = 3;
    Dialog d(c);
    d.ehlo();
    d.send("MAIL FROM:<a@b.example>\r\n");
    for (int i = 0; i < 3; ++i) EXPECT_EQ(d.send("RCPT TO:<r" + std::to_string(i) + "@d.example>\r\n"), "250 2.1.5 Ok\r\n");
    EXPECT_EQ(d.send("RCPT TO:<r3@d.example>\r\n"), "452 4.5.3 Too many recipients\r\n");
    EXPECT_EQ(d.send("RCPT TO:<r4@d.example>\r\n"), "452 4.5.3 Too many recipients\r\n");
    d.send("DATA\r\nx\r\n.\r\n");
    EXPECT_EQ(d.host.envelopes.at(0).recipients.size(), 3u);
    // Not an error: many more of them do not close the session.
    d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<a@d.example>\r\nRCPT TO:<b@d.example>\r\nRCPT TO:<c@d.example>\r\n");
    for (int i = 0; i < 20; ++i) d.send("RCPT TO:<x@d.example>\r\n");
    EXPECT_FALSE(d.session->wants_close());
}

TEST(Rcpt, OnlyAcceptedRecipientsJoinTheEnvelope_Rfc5321_3_3) {
    Dialog d;
    d.ehlo();
    d.host.rcpt_verdict = [](const Envelope&, const Recipient& r) {
        if (r.address.local_part == "full") return Reply(452, "4.2.2", "Mailbox full");
        if (r.address.local_part == "nobody") return Reply(550, "5.1.1", "No such user");
        return Reply(250, "2.1.5", "Ok");
    };
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<full@d.example>\r\nRCPT TO:<nobody@d.example>\r\n"
                     "RCPT TO:<yes@d.example>\r\nDATA\r\nx\r\n.\r\n"),
              "250 2.1.0 Ok\r\n452 4.2.2 Mailbox full\r\n550 5.1.1 No such user\r\n250 2.1.5 Ok\r\n"
              "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued as TESTID\r\n");
    ASSERT_EQ(d.host.envelopes.at(0).recipients.size(), 1u);
    EXPECT_EQ(d.host.envelopes[0].recipients[0].address.str(), "yes@d.example");
}

TEST(Rcpt, HostSeesTheEnvelopeSoFar) {
    Dialog d;
    d.ehlo();
    std::vector<std::size_t> seen;
    d.host.rcpt_verdict = [&](const Envelope& e, const Recipient&) {
        seen.push_back(e.recipients.size());
        return Reply(250, "2.1.5", "Ok");
    };
    d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<x@d.example>\r\nRCPT TO:<y@d.example>\r\n");
    EXPECT_EQ(seen, (std::vector<std::size_t>{0, 1}));
}

}  // namespace
}  // namespace ehlo::smtp::test
