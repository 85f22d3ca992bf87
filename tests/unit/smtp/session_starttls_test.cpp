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

}  // namespace
}  // namespace ehlo::smtp::test
