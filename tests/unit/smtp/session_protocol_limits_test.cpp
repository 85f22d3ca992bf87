// Limits that service extensions and abuse move: the command-line length raised by the
// parameters of SIZE, 8BITMIME, SMTPUTF8 and DSN (RFC 5321 4.5.3.1.4, RFC 1870 3, RFC 6531 3.4,
// RFC 3461 4), refusals that count as errors (RFC 5321 4.2.2), and the message time limit.
#include <gtest/gtest.h>

#include <algorithm>

#include "fake_host.hpp"

namespace ehlo::smtp::test {
namespace {

SessionConfig dsn_config() {
    auto c = test_config();
    c.dsn = true;
    return c;
}

// A valid path of 253 octets, near the 256 of RFC 5321 4.5.3.1.3.
std::string long_path() {
    const std::string domain = std::string(63, 'b') + "." + std::string(63, 'c') + "." + std::string(50, 'd') + ".example";
    return "<" + std::string(64, 'a') + "@" + domain + ">";
}

// ENVID of 100 characters, each xtext-encoded: 300 octets (RFC 3461 4, 4.4).
std::string long_envid() {
    std::string s;
    for (int i = 0; i < 100; ++i) s += "+41";
    return s;
}

TEST(ExtendedLineLimit, MailWithEveryParameterAtItsLongestIsAccepted_Rfc3461_4_Rfc1870_3_Rfc6531_3_4) {
    Dialog d(dsn_config());
    d.ehlo();
    const std::string mail = "MAIL FROM:" + long_path() +
                             " SIZE=12345 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=" + long_envid();
    ASSERT_GT(mail.size() + 2, kMaxCommandLine);
    EXPECT_EQ(d.send(mail + "\r\n"), "250 2.1.0 Ok\r\n");
    ASSERT_EQ(d.host.mails.size(), 1u);
    EXPECT_EQ(d.host.mails[0].envid, std::string(100, 'A'));
}

TEST(ExtendedLineLimit, RcptWithLongOrcptAndNotifyIsAccepted_Rfc3461_4) {
    Dialog d(dsn_config());
    d.ehlo();
    d.send("MAIL FROM:<s@client.example>\r\n");
    const std::string orcpt = "rfc822;" + std::string(64, 'x') + "@" + std::string(420, 'y').replace(60, 1, ".") + ".example";
    ASSERT_LE(orcpt.size(), 500u);
    const std::string rcpt = "RCPT TO:" + long_path() + " NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=" + orcpt;
    ASSERT_GT(rcpt.size() + 2, kMaxCommandLine);
    EXPECT_EQ(d.send(rcpt + "\r\n"), "250 2.1.5 Ok\r\n");
    ASSERT_EQ(d.host.rcpts.size(), 1u);
    EXPECT_EQ(d.host.rcpts[0].orcpt.size(), orcpt.size());
}

TEST(ExtendedLineLimit, LimitIsExactForMailAndRcpt_Rfc5321_4_5_3_1_4) {
    Dialog d(dsn_config());
    d.ehlo();
    for (const auto& [prefix, verb] : {std::pair{std::string("MAIL FROM:<a@b.example> ENVID="), LineVerb::Mail},
                                       std::pair{std::string("RCPT TO:<a@b.example> ORCPT=rfc822;"), LineVerb::Rcpt}}) {
        const std::size_t limit = command_line_limit(d.config, verb);
        const std::string at_limit = prefix + std::string(limit - 2 - prefix.size(), 'x');
        // Refused for its content (a bad parameter or a missing MAIL), never for its length.
        EXPECT_NE(d.send(at_limit + "\r\n"), "500 5.5.2 Line too long\r\n") << prefix;
        EXPECT_EQ(d.send(at_limit + "x\r\n"), "500 5.5.2 Line too long\r\n") << prefix;
    }
    EXPECT_EQ(command_line_limit(d.config, LineVerb::Mail), 512u + 26 + 16 + 10 + 9 + 307);
    EXPECT_EQ(command_line_limit(d.config, LineVerb::Rcpt), 512u + 30 + 507);
}

TEST(ExtendedLineLimit, OtherCommandsKeep512_Rfc5321_4_5_3_1_4) {
    Dialog d(dsn_config());
    d.ehlo();
    EXPECT_EQ(d.send("NOOP " + std::string(600, 'x') + "\r\n"), "500 5.5.2 Line too long\r\n");
    EXPECT_EQ(d.send("MAILX " + std::string(600, 'x') + "\r\n"), "500 5.5.2 Line too long\r\n");
    // An over-long line is still answered before its end, at the verb's own limit.
    EXPECT_EQ(d.send("RCPT TO:<" + std::string(2000, 'a')), "500 5.5.2 Line too long\r\n");
}

TEST(ExtendedLineLimit, WithoutDsnRcptKeeps512_Rfc3461_4) {
    Dialog d;  // DSN not offered: NOTIFY and ORCPT cannot be sent, nothing raises the limit
    d.ehlo();
    d.send("MAIL FROM:<s@client.example>\r\n");
    EXPECT_EQ(d.send("RCPT TO:<a@b.example> " + std::string(520, 'x') + "\r\n"), "500 5.5.2 Line too long\r\n");
}

TEST(ErrorCount, TooManyRecipientsCountsPastTheOvershoot_Rfc5321_4_5_3_1_10_and_4_2_2) {
    auto c = test_config();
    c.max_recipients = 100;
    c.max_errors = 3;
    Dialog d(c);
    d.open_transaction();
    for (int i = 1; i < 100; ++i) d.send("RCPT TO:<r" + std::to_string(i) + "@mx.example>\r\n");
    // A client with a long list pipelines it whole: it is told 452, not cut off...
    std::string out;
    for (std::size_t i = 0; i < kRecipientOvershoot; ++i) out += d.send("RCPT TO:<late@mx.example>\r\n");
    EXPECT_FALSE(d.session->wants_close());
    EXPECT_EQ(out.find("421"), std::string::npos);
    // ...but one that never stops makes errors.
    out.clear();
    for (int i = 0; i < 3; ++i) out += d.send("RCPT TO:<late@mx.example>\r\n");
    EXPECT_EQ(out, "452 4.5.3 Too many recipients\r\n452 4.5.3 Too many recipients\r\n"
                   "452 4.5.3 Too many recipients\r\n421 4.7.0 Too many errors, closing connection\r\n");
    EXPECT_TRUE(d.session->wants_close());
}

TEST(ErrorCount, SizeRefusedAtMailCounts_Rfc1870_6_1_and_Rfc5321_4_2_2) {
    auto c = test_config();
    c.max_message_size = 1000;
    c.max_errors = 2;
    Dialog d(c);
    d.ehlo();
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example> SIZE=1001\r\n"), "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
    EXPECT_FALSE(d.session->wants_close());
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example> SIZE=1001\r\n"),
              "552 5.3.4 Message size exceeds fixed maximum message size\r\n421 4.7.0 Too many errors, closing connection\r\n");
}

TEST(ErrorCount, ContentTooBigCountsForDataAndBdat_Rfc1870_and_Rfc5321_4_2_2) {
    auto c = test_config();
    c.max_message_size = 1024;
    c.max_errors = 2;
    Dialog d(c);
    d.open_transaction();
    EXPECT_EQ(d.send("DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
    std::string big;
    for (int i = 0; i < 30; ++i) big += std::string(60, 'x') + "\r\n";
    EXPECT_EQ(d.send(big + ".\r\n").substr(0, 10), "552 5.3.4 ");
    EXPECT_FALSE(d.session->wants_close());
    d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@mx.example>\r\n");
    const std::string out = d.send("BDAT 1000\r\n" + std::string(1000, 'y') + "BDAT 100 LAST\r\n" + std::string(100, 'y'));
    EXPECT_NE(out.find("552 5.3.4 Message too big\r\n421 4.7.0 Too many errors"), std::string::npos) << out;
    EXPECT_TRUE(d.session->wants_close());
}

TEST(MessageTimeout, OverallLimitInDataAbortsAndCloses_Rfc5321_4_5_3_2) {
    Dialog d;
    d.open_transaction();
    d.send("DATA\r\nSubject: slow\r\n\r\n");
    ASSERT_TRUE(d.session->in_message());
    d.session->message_timeout();
    EXPECT_EQ(d.session->take_output(), "421 4.4.2 mx.example Message transfer time limit exceeded, closing connection\r\n");
    EXPECT_TRUE(d.session->wants_close());
    EXPECT_EQ(d.host.aborts, 1);
    EXPECT_TRUE(d.host.saw_event("data-timeout"));
    EXPECT_TRUE(d.host.messages.empty());
}

TEST(MessageTimeout, OverallLimitBetweenBdatChunksAbortsToo_Rfc3030_2) {
    Dialog d;
    d.open_transaction();
    d.send("BDAT 3\r\nabc");
    ASSERT_TRUE(d.session->in_message());
    d.session->message_timeout();
    EXPECT_EQ(d.session->take_output().substr(0, 10), "421 4.4.2 ");
    EXPECT_EQ(d.host.aborts, 1);
}

TEST(MinDataRate, TooSlowContentAbortsAndCloses_Rfc5321_4_5_3_2) {
    Dialog d;
    d.open_transaction();
    d.send("DATA\r\nSubject: trickle\r\n");
    ASSERT_TRUE(d.session->in_message());
    d.session->message_too_slow("10 octets in 6.0 s");
    EXPECT_EQ(d.session->take_output(), "421 4.4.2 mx.example Transfer too slow, closing connection\r\n");
    EXPECT_TRUE(d.session->wants_close());
    EXPECT_EQ(d.host.aborts, 1);
    EXPECT_TRUE(d.host.saw_event("data-too-slow"));
    const auto slow = std::find_if(d.host.events.begin(), d.host.events.end(),
                                   [](const auto& e) { return e.first == "data-too-slow"; });
    ASSERT_NE(slow, d.host.events.end());
    EXPECT_EQ(slow->second, "10 octets in 6.0 s");
    EXPECT_TRUE(d.host.messages.empty());
}

TEST(MinDataRate, NoEffectOutsideAMessage) {
    Dialog d;
    d.open_transaction();
    d.session->message_too_slow("10 octets in 6.0 s");
    EXPECT_EQ(d.session->take_output(), "");
    EXPECT_FALSE(d.session->wants_close());
}

TEST(MessageTimeout, NoEffectOutsideAMessage) {
    Dialog d;
    d.auto_answer = false;
    d.open_transaction();
    d.session->message_timeout();
    EXPECT_EQ(d.session->take_output(), "");
    d.send("DATA\r\nx\r\n.\r\n");
    ASSERT_TRUE(d.session->awaiting_host());  // the queue is committing: the client waits for us
    d.session->message_timeout();
    EXPECT_EQ(d.session->take_output(), "");
    d.session->message_done(Reply(250, "2.0.0", "Ok: queued as Q"));
    EXPECT_EQ(d.session->take_output(), "250 2.0.0 Ok: queued as Q\r\n");
    EXPECT_FALSE(d.session->wants_close());
}

}  // namespace
}  // namespace ehlo::smtp::test
