// Whole dialogs: the greeting, EHLO/HELO (RFC 5321 4.1.1.1), the walkthrough of README.md,
// enhanced status codes (RFC 2034) and what the session reports to its host.
#include <gtest/gtest.h>

#include "fake_host.hpp"

namespace ehlo::smtp::test {
namespace {

const char* const kEhloReply =
    "250-mx.example greets client.example\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 1000000\r\n"
    "250-8BITMIME\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-SMTPUTF8\r\n"
    "250 CHUNKING\r\n";

TEST(Walkthrough, TheFirstDialogOfTheReadme_Rfc5321_3_3) {
    Dialog d;
    d.auto_answer = false;
    EXPECT_EQ(d.start(), "220 mx.example ESMTP ehlo\r\n");
    EXPECT_EQ(d.send("EHLO client.example\r\n"), kEhloReply);
    EXPECT_EQ(d.send("MAIL FROM:<me@example.org>\r\n"), "250 2.1.0 Ok\r\n");
    EXPECT_EQ(d.send("RCPT TO:<alice@localhost>\r\n"), "250 2.1.5 Ok\r\n");
    EXPECT_EQ(d.send("DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
    EXPECT_TRUE(d.session->in_message());
    EXPECT_EQ(d.send("Subject: hello\r\n\r\nHi Alice.\r\n"), "");
    EXPECT_EQ(d.send(".\r\n"), "");
    EXPECT_TRUE(d.session->awaiting_host());
    EXPECT_FALSE(d.session->in_message());
    ASSERT_EQ(d.host.messages.size(), 1u);
    EXPECT_EQ(d.host.messages[0], "Subject: hello\r\n\r\nHi Alice.\r\n");
    const Envelope& e = d.host.envelopes[0];
    EXPECT_EQ(e.sender_str(), "me@example.org");
    ASSERT_EQ(e.recipients.size(), 1u);
    EXPECT_EQ(e.recipients[0].address.str(), "alice@localhost");
    d.session->message_done(Reply(250, "2.0.0", "Ok: queued as 0SD3XM5K2W8G0001"));
    EXPECT_FALSE(d.session->awaiting_host());
    EXPECT_EQ(d.session->take_output(), "250 2.0.0 Ok: queued as 0SD3XM5K2W8G0001\r\n");
    EXPECT_EQ(d.send("QUIT\r\n"), "221 2.0.0 Bye\r\n");
    EXPECT_TRUE(d.session->wants_close());
    EXPECT_EQ(d.host.aborts, 0);
}

TEST(Greeting, RefusedGreetingIsSentAndCloses_Rfc5321_3_1) {
    Dialog d;
    d.session->start_refused(Reply(421, "4.7.0", "mx.example Too many connections"));
    EXPECT_EQ(d.session->take_output(), "421 mx.example Too many connections\r\n");
    EXPECT_TRUE(d.session->wants_close());
    EXPECT_EQ(d.send("EHLO x\r\n"), "");
}

TEST(Ehlo, AdvertisesDsnAndStarttlsOnlyWhenConfigured_Rfc3461_Rfc3207) {
    auto c = test_config();
    c.dsn = true;
    c.starttls_available = true;
    Dialog d(c);
    const std::string r = d.ehlo();
    EXPECT_NE(r.find("250-CHUNKING\r\n250-DSN\r\n250 STARTTLS\r\n"), std::string::npos) << r;
    Dialog plain;
    EXPECT_EQ(plain.ehlo().find("DSN"), std::string::npos);
}

TEST(Ehlo, VerbsAreCaseInsensitive_Rfc5321_2_4) {
    Dialog d;
    EXPECT_EQ(d.send("ehlo client.example\r\n"), kEhloReply);
    EXPECT_EQ(d.send("mAiL fRoM:<a@b.example>\r\n"), "250 2.1.0 Ok\r\n");
    EXPECT_EQ(d.send("rcpt to:<c@d.example>\r\n"), "250 2.1.5 Ok\r\n");
    EXPECT_EQ(d.send("rset\r\n"), "250 2.0.0 Ok\r\n");
}

TEST(Ehlo, NeedsADomainOrAddressLiteral_Rfc5321_4_1_1_1) {
    Dialog d;
    EXPECT_EQ(d.send("EHLO\r\n"), "501 5.5.4 Syntax: EHLO hostname\r\n");
    EXPECT_EQ(d.send("EHLO   \r\n"), "501 5.5.4 Syntax: EHLO hostname\r\n");
    EXPECT_EQ(d.send("EHLO bad_name\r\n"), "501 5.5.2 Invalid EHLO hostname\r\n");
    EXPECT_EQ(d.send("EHLO two words\r\n"), "501 5.5.2 Invalid EHLO hostname\r\n");
    EXPECT_EQ(d.send("EHLO [300.1.1.1]\r\n"), "501 5.5.2 Invalid EHLO hostname\r\n");
    EXPECT_EQ(d.send("EHLO b\xC3\xBC" "cher.example\r\n"), "501 5.5.2 Invalid EHLO hostname\r\n");
    EXPECT_FALSE(d.session->esmtp());
    EXPECT_EQ(d.send("EHLO [192.0.2.1]\r\n").substr(0, 33), "250-mx.example greets [192.0.2.1]");
    EXPECT_EQ(d.send("EHLO [IPv6:2001:db8::1]\r\n").substr(0, 40), "250-mx.example greets [IPv6:2001:db8::1]");
    EXPECT_EQ(d.session->helo_name(), "[IPv6:2001:db8::1]");
}

TEST(Helo, RepliesWithHostnameAndNoEnhancedCodes_Rfc5321_4_1_1_1_Rfc2034) {
    Dialog d;
    EXPECT_EQ(d.send("HELO\r\n"), "501 Syntax: HELO hostname\r\n");
    EXPECT_EQ(d.send("HELO client.example\r\n"), "250 mx.example\r\n");
    EXPECT_FALSE(d.session->esmtp());
    EXPECT_EQ(d.session->helo_name(), "client.example");
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example>\r\n"), "250 Ok\r\n");
    EXPECT_EQ(d.send("RCPT TO:<c@d.example>\r\n"), "250 Ok\r\n");
    EXPECT_EQ(d.send("DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
    EXPECT_EQ(d.send("x\r\n.\r\n"), "250 Ok: queued as TESTID\r\n");
    EXPECT_EQ(d.send("FOO\r\n"), "500 Command unrecognized\r\n");
    EXPECT_EQ(d.send("QUIT\r\n"), "221 Bye\r\n");
}

TEST(Ehlo, EnhancedCodesOnEveryReplyAfterEhlo_Rfc2034_3) {
    Dialog d;
    EXPECT_EQ(d.send("NOOP\r\n"), "250 Ok\r\n");  // not yet negotiated
    d.ehlo();
    EXPECT_EQ(d.send("NOOP\r\n"), "250 2.0.0 Ok\r\n");
    EXPECT_EQ(d.send("FOO\r\n"), "500 5.5.2 Command unrecognized\r\n");
    EXPECT_EQ(d.send("HELO client.example\r\n"), "250 mx.example\r\n");
    EXPECT_EQ(d.send("NOOP\r\n"), "250 Ok\r\n");  // a HELO session again
}

TEST(Ehlo, EhloAndHeloResetTheTransaction_Rfc5321_4_1_4) {
    Dialog d;
    d.open_transaction();
    EXPECT_EQ(d.send("EHLO again.example\r\n").substr(0, 4), "250-");
    EXPECT_EQ(d.send("RCPT TO:<x@y.example>\r\n"), "503 5.5.1 Need MAIL before RCPT\r\n");
    d.send("MAIL FROM:<a@b.example>\r\n");
    EXPECT_EQ(d.send("HELO again.example\r\n"), "250 mx.example\r\n");
    EXPECT_EQ(d.send("DATA\r\n"), "503 Need MAIL command\r\n");
}

TEST(SimpleCommands, RsetNoopHelpVrfyExpnQuit_Rfc5321_4_1_1) {
    Dialog d;
    d.ehlo();
    EXPECT_EQ(d.send("RSET\r\n"), "250 2.0.0 Ok\r\n");
    EXPECT_EQ(d.send("NOOP anything at all\r\n"), "250 2.0.0 Ok\r\n");  // 4.1.1.9: NOOP [SP String]
    EXPECT_EQ(d.send("HELP\r\n").substr(0, 14), "214 2.0.0 Comm");
    EXPECT_EQ(d.send("HELP MAIL\r\n").substr(0, 4), "214 ");
    EXPECT_EQ(d.send("VRFY alice\r\n"), "252 2.5.0 Cannot VRFY user, but will accept message\r\n");
    EXPECT_EQ(d.send("VRFY\r\n"), "501 5.5.4 Syntax: VRFY address\r\n");
    EXPECT_EQ(d.send("EXPN staff\r\n"), "502 5.5.1 Command not implemented\r\n");
    EXPECT_EQ(d.send("QUIT\r\n"), "221 2.0.0 Bye\r\n");
    EXPECT_TRUE(d.session->wants_close());
}

TEST(SimpleCommands, VrfyEnabledAsksTheHost_Rfc5321_3_5_3) {
    auto c = test_config();
    c.vrfy = true;
    std::vector<Mailbox> asked;
    struct VerifyingHost : FakeHost {
        std::vector<Mailbox>* asked;
        Reply verify(const Mailbox& m) override {
            asked->push_back(m);
            if (m.local_part == "alice") return Reply(250, "2.1.5", "<alice@mx.example>");
            return Reply(550, "5.1.1", "<" + m.str() + ">: mailbox unknown");
        }
    };
    VerifyingHost host;
    host.asked = &asked;
    Session s(c, {"192.0.2.1", 40000, false, {}}, host);
    s.receive("EHLO client.example\r\n");
    s.take_output();
    s.receive("VRFY <alice@mx.example>\r\nVRFY alice@mx.example\r\nVRFY alice\r\nVRFY bob\r\nVRFY <a@b\r\n");
    EXPECT_EQ(s.take_output(),
              "250 2.1.5 <alice@mx.example>\r\n"
              "250 2.1.5 <alice@mx.example>\r\n"
              "250 2.1.5 <alice@mx.example>\r\n"
              "550 5.1.1 <bob>: mailbox unknown\r\n"
              "501 5.1.3 Bad address syntax\r\n");
    ASSERT_EQ(asked.size(), 4u);
    EXPECT_EQ(asked[0], (Mailbox{"alice", "mx.example"}));
    EXPECT_EQ(asked[2], (Mailbox{"alice", ""}));  // a bare user name: the host picks the domain
}

TEST(SimpleCommands, VrfyDisabledNeverAsksTheHost_Rfc5321_3_5_3) {
    Dialog d;  // vrfy is off by default
    d.ehlo();
    EXPECT_EQ(d.send("VRFY <alice@mx.example>\r\n"), "252 2.5.0 Cannot VRFY user, but will accept message\r\n");
}

TEST(SimpleCommands, VrfyOfUnknownMailboxesCountsAsErrors_Rfc5321_3_5_3_and_4_2_2) {
    auto c = test_config();
    c.vrfy = true;
    c.max_errors = 3;
    struct NoOne : FakeHost {
        Reply verify(const Mailbox&) override { return Reply(550, "5.1.1", "mailbox unknown"); }
    } host;
    Session s(c, {"192.0.2.1", 40000, false, {}}, host);
    s.receive("EHLO client.example\r\nVRFY a\r\nVRFY b\r\nVRFY c\r\n");
    EXPECT_NE(s.take_output().find("421 4.7.0 Too many errors"), std::string::npos);
    EXPECT_TRUE(s.wants_close());
}

TEST(SimpleCommands, ArgumentsToCommandsThatTakeNoneAre501_Rfc5321_4_1_1) {
    Dialog d;
    d.open_transaction();
    EXPECT_EQ(d.send("RSET now\r\n"), "501 5.5.4 Syntax: RSET\r\n");
    EXPECT_EQ(d.send("DATA please\r\n"), "501 5.5.4 Syntax: DATA\r\n");
    EXPECT_EQ(d.send("QUIT now\r\n"), "501 5.5.4 Syntax: QUIT\r\n");
    EXPECT_FALSE(d.session->wants_close());
    EXPECT_EQ(d.send("RSET \r\n"), "250 2.0.0 Ok\r\n");  // a trailing space is no argument
}

TEST(SimpleCommands, UnknownAndUnimplementedVerbs_Rfc5321_4_2_4) {
    auto c = test_config();
    c.max_errors = 100;
    Dialog d(c);
    d.ehlo();
    EXPECT_EQ(d.send("XYZZY\r\n"), "500 5.5.2 Command unrecognized\r\n");
    EXPECT_EQ(d.send("\r\n"), "500 5.5.2 Command unrecognized\r\n");
    EXPECT_EQ(d.send(" NOOP\r\n"), "500 5.5.2 Command unrecognized\r\n");
    for (const char* verb : {"TURN", "ETRN x", "SEND FROM:<a@b>", "SOML FROM:<a@b>", "SAML FROM:<a@b>", "EXPN x",
                             "AUTH PLAIN AAAA", "STARTTLS"})
        EXPECT_EQ(d.send(std::string(verb) + "\r\n"), "502 5.5.1 Command not implemented\r\n") << verb;
}

TEST(Protocol, WithKeywordFollowsTheSession_Rfc3848_Rfc6531_4_3) {
    Dialog d;
    EXPECT_EQ(d.session->protocol(), "SMTP");
    d.helo();
    EXPECT_EQ(d.session->protocol(), "SMTP");
    d.ehlo();
    EXPECT_EQ(d.session->protocol(), "ESMTP");
    d.send("MAIL FROM:<a@b.example> SMTPUTF8\r\n");
    EXPECT_EQ(d.session->protocol(), "UTF8SMTP");
    d.send("RSET\r\n");
    EXPECT_EQ(d.session->protocol(), "ESMTP");

    Dialog tls(test_config(), ClientInfo{"192.0.2.1", 1, true, {}});
    tls.ehlo();
    EXPECT_EQ(tls.session->protocol(), "ESMTPS");
    tls.send("MAIL FROM:<a@b.example> SMTPUTF8\r\n");
    EXPECT_EQ(tls.session->protocol(), "UTF8SMTPS");
}

TEST(HostHooks, TraceGetsCommandAndReplyLinesButNoContent) {
    Dialog d;
    d.start();
    d.ehlo();
    d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nsecret content\r\n.\r\nQUIT\r\n");
    EXPECT_EQ(d.host.trace_in, (std::vector<std::string>{"EHLO client.example", "MAIL FROM:<a@b.example>",
                                                         "RCPT TO:<c@d.example>", "DATA", "QUIT"}));
    EXPECT_EQ(d.host.trace_out.front(), "220 mx.example ESMTP ehlo");
    EXPECT_EQ(d.host.trace_out[1], "250-mx.example greets client.example");
    EXPECT_EQ(d.host.trace_out.back(), "221 2.0.0 Bye");
    for (const auto& line : d.host.trace_in) EXPECT_EQ(line.find("secret"), std::string::npos);
}

TEST(HostHooks, GarbageIsTracedPrintableAndShort) {
    Dialog d;
    d.send(std::string("NO\x01OP\r\n") + std::string(5000, 'A') + "\r\n");
    ASSERT_EQ(d.host.trace_in.size(), 2u);
    EXPECT_EQ(d.host.trace_in[0], "NO\\x01OP");
    EXPECT_LT(d.host.trace_in[1].size(), 300u);
}

TEST(HostHooks, EventsForTheStepsOfADialog) {
    Dialog d;
    d.ehlo();
    d.host.rcpt_verdict = [](const Envelope&, const Recipient& r) {
        return r.address.local_part == "nobody" ? Reply(550, "5.1.1", "No such user") : Reply(250, "2.1.5", "Ok");
    };
    d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<nobody@d.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nx\r\n.\r\n"
           "RSET\r\nQUIT\r\n");
    std::vector<std::string> names;
    for (const auto& e : d.host.events) names.push_back(e.first);
    EXPECT_EQ(names, (std::vector<std::string>{"helo", "mail", "rejected", "rcpt", "data", "rset", "quit"}));
    EXPECT_EQ(d.host.events[0].second, "client.example");
    EXPECT_EQ(d.host.events[1].second, "<a@b.example>");
    EXPECT_EQ(d.host.events[2].second, "550 5.1.1 No such user");
    EXPECT_EQ(d.host.events[3].second, "<c@d.example>");
}

}  // namespace
}  // namespace ehlo::smtp::test
