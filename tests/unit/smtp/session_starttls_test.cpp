// STARTTLS (RFC 3207): the engine's side of the handshake hand-over.
#include <gtest/gtest.h>

#include "fake_host.hpp"

namespace ehlo::smtp::test {
namespace {

SessionConfig tls_config() {
    auto c = test_config();
    c.starttls_available = true;
    return c;
}

TEST(StartTls, PipelinedCommandsAfterStarttlsAreDiscarded_Rfc3207_4_2_CVE_2011_0411) {
    Dialog d(tls_config());
    d.ehlo();
    EXPECT_EQ(d.send("STARTTLS\r\nMAIL FROM:<injected@x.example>\r\n"), "220 2.0.0 Ready to start TLS\r\n");
    EXPECT_TRUE(d.session->tls_handshake_pending());
    EXPECT_EQ(d.send("RCPT TO:<also@x.example>\r\n"), "");
    d.session->tls_started();
    EXPECT_FALSE(d.session->tls_handshake_pending());
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example>\r\n"), "503 Send EHLO or HELO first\r\n");
    EXPECT_TRUE(d.host.mails.empty());
}

TEST(StartTls, SessionStartsOverAfterTheHandshake_Rfc3207_4_2) {
    Dialog d(tls_config());
    d.ehlo();
    d.send("MAIL FROM:<a@b.example>\r\n");
    d.send("STARTTLS\r\n");
    d.session->tls_started();
    EXPECT_EQ(d.session->helo_name(), "");
    EXPECT_FALSE(d.session->esmtp());
    const std::string r = d.ehlo();
    EXPECT_EQ(r.find("STARTTLS"), std::string::npos);  // not offered twice
    EXPECT_EQ(d.session->protocol(), "ESMTPS");
    EXPECT_EQ(d.send("STARTTLS\r\n"), "502 5.5.1 Command not implemented\r\n");
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example>\r\n"), "250 2.1.0 Ok\r\n");
}

TEST(StartTls, TakesNoArgument_Rfc3207_4) {
    Dialog d(tls_config());
    d.ehlo();
    EXPECT_EQ(d.send("STARTTLS now\r\n"), "501 5.5.4 Syntax: STARTTLS\r\n");
    EXPECT_FALSE(d.session->tls_handshake_pending());
}

TEST(StartTls, NotOfferedWithoutACertificate_Rfc3207_4) {
    Dialog d;  // starttls_available is off
    EXPECT_EQ(d.ehlo().find("STARTTLS"), std::string::npos);
    EXPECT_EQ(d.send("STARTTLS\r\n"), "502 5.5.1 Command not implemented\r\n");
}

TEST(StartTls, InjectedBytesInTheSameReadAsStarttlsNeverRun_CVE_2011_0411) {
    Dialog d(tls_config());
    d.ehlo();
    // One packet: the command, then what an attacker in the middle appended.
    EXPECT_EQ(d.send("STARTTLS\r\nRSET\r\nMAIL FROM:<evil@x.example>\r\nRCPT TO:<a@mx.example>\r\n"),
              "220 2.0.0 Ready to start TLS\r\n");
    d.session->tls_started();
    EXPECT_EQ(d.send("EHLO client.example\r\n").substr(0, 4), "250-");
    EXPECT_EQ(d.send("RCPT TO:<a@mx.example>\r\n"), "503 5.5.1 Need MAIL before RCPT\r\n");
    EXPECT_TRUE(d.host.mails.empty());
    EXPECT_TRUE(d.host.rcpts.empty());
}

SessionConfig submission_config() {
    auto c = tls_config();
    c.require_tls = true;
    c.require_auth = true;
    return c;
}

TEST(Submission, MailBeforeStarttlsIs530_Rfc3207_4_Rfc6409) {
    Dialog d(submission_config());
    d.ehlo();
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example>\r\n"), "530 5.7.0 Must issue a STARTTLS command first\r\n");
    EXPECT_TRUE(d.host.mails.empty());
}

TEST(Submission, MailWithoutAuthIs530_Rfc4954_6) {
    Dialog d(submission_config());
    d.ehlo();
    d.send("STARTTLS\r\n");
    d.session->tls_started();
    d.ehlo();
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example>\r\n"), "530 5.7.0 Authentication required\r\n");
    EXPECT_TRUE(d.host.mails.empty());
}

TEST(Submission, ImplicitTlsOffersNoStarttls_Rfc8314_3_3) {
    auto c = submission_config();
    c.require_tls = false;
    Dialog d(c, ClientInfo{"192.0.2.1", 40000, true, {}});
    EXPECT_EQ(d.ehlo().find("STARTTLS"), std::string::npos);
    EXPECT_EQ(d.session->protocol(), "ESMTPS");
}

}  // namespace
}  // namespace ehlo::smtp::test
