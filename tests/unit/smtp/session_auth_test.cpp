// AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN: the dialog, its replies and what the host
// is asked; the host's verdict arrives later, as the network layer delivers it.
#include <gtest/gtest.h>

#include <algorithm>

#include "fake_host.hpp"
#include "smtp/sasl.hpp"

namespace ehlo::smtp::test {
namespace {

struct AuthHost : FakeHost {
    std::vector<std::pair<std::string, std::string>> asked;  // user, password
    void authenticate(const std::string& user, std::string password) override { asked.emplace_back(user, password); }
};

SessionConfig auth_config() {
    auto c = test_config();
    c.starttls_available = true;
    c.auth_available = true;
    return c;
}

struct AuthDialog {
    SessionConfig config;
    AuthHost host;
    Session session;
    explicit AuthDialog(SessionConfig c = auth_config(), bool tls = true)
        : config(std::move(c)), session(config, ClientInfo{"192.0.2.1", 40000, tls, {}}, host) {}
    std::string send(std::string_view bytes) {
        session.receive(bytes);
        return session.take_output();
    }
    std::string answer(AuthVerdict v) {
        session.auth_done(v);
        return session.take_output();
    }
};

std::string plain(std::string_view authzid, std::string_view user, std::string_view password) {
    std::string m(authzid);
    m += '\0';
    m += user;
    m += '\0';
    m += password;
    return base64_encode(m);
}

TEST(Auth, OfferedOnlyUnderTls_Rfc4954_4) {
    AuthDialog clear(auth_config(), false);
    const std::string ehlo = clear.send("EHLO client.example\r\n");
    EXPECT_EQ(ehlo.find("AUTH"), std::string::npos);
    EXPECT_EQ(clear.send("AUTH PLAIN " + plain("", "alice", "pw") + "\r\n"),
              "538 5.7.11 Encryption required for requested authentication mechanism\r\n");
    EXPECT_TRUE(clear.host.asked.empty());

    AuthDialog tls;
    EXPECT_NE(tls.send("EHLO client.example\r\n").find("AUTH PLAIN LOGIN\r\n"), std::string::npos);
    auto c = auth_config();
    c.auth_plaintext = true;  // the network layer's choice for loopback, in tests
    AuthDialog loopback(c, false);
    EXPECT_NE(loopback.send("EHLO client.example\r\n").find("AUTH PLAIN LOGIN"), std::string::npos);
}

TEST(Auth, PlainWithInitialResponseThen235_Rfc4954_4_Rfc4616_2) {
    AuthDialog d;
    d.send("EHLO client.example\r\n");
    EXPECT_EQ(d.send("AUTH PLAIN " + plain("", "alice", "s3cret") + "\r\nNOOP\r\n"), "");
    EXPECT_TRUE(d.session.awaiting_host());
    ASSERT_EQ(d.host.asked.size(), 1u);
    EXPECT_EQ(d.host.asked[0], (std::pair<std::string, std::string>{"alice", "s3cret"}));
    // The pipelined NOOP waits for the verdict.
    EXPECT_EQ(d.answer(AuthVerdict::Ok), "235 2.7.0 Authentication successful\r\n250 2.0.0 Ok\r\n");
    EXPECT_EQ(d.session.authenticated_user(), "alice");
    EXPECT_TRUE(d.host.saw_event("auth"));
}

TEST(Auth, PlainWithoutInitialResponseAsksWith334_Rfc4954_4) {
    AuthDialog d;
    d.send("EHLO client.example\r\n");
    EXPECT_EQ(d.send("AUTH PLAIN\r\n"), "334 \r\n");
    EXPECT_EQ(d.send(plain("alice", "alice", "pw") + "\r\n"), "");  // authzid = the user: fine
    ASSERT_EQ(d.host.asked.size(), 1u);
    EXPECT_EQ(d.answer(AuthVerdict::Ok).substr(0, 4), "235 ");
}

TEST(Auth, LoginAsksUserThenPassword) {
    AuthDialog d;
    d.send("EHLO client.example\r\n");
    EXPECT_EQ(d.send("AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
    EXPECT_EQ(d.send(base64_encode("bob") + "\r\n"), "334 UGFzc3dvcmQ6\r\n");
    EXPECT_EQ(d.send(base64_encode("hunter2") + "\r\n"), "");
    ASSERT_EQ(d.host.asked.size(), 1u);
    EXPECT_EQ(d.host.asked[0], (std::pair<std::string, std::string>{"bob", "hunter2"}));
    EXPECT_EQ(d.answer(AuthVerdict::Failed), "535 5.7.8 Authentication credentials invalid\r\n");
    EXPECT_TRUE(d.session.authenticated_user().empty());
    EXPECT_TRUE(d.host.saw_event("auth-failed"));
}

TEST(Auth, FailuresCountAsErrors_Rfc4954_6_Rfc5321_4_2_2) {
    auto c = auth_config();
    c.max_errors = 2;
    AuthDialog d(c);
    d.send("EHLO client.example\r\n");
    d.send("AUTH PLAIN " + plain("", "a", "x") + "\r\n");
    d.answer(AuthVerdict::Failed);
    d.send("AUTH PLAIN " + plain("", "a", "y") + "\r\n");
    EXPECT_EQ(d.answer(AuthVerdict::Failed),
              "535 5.7.8 Authentication credentials invalid\r\n421 4.7.0 Too many errors, closing connection\r\n");
}

TEST(Auth, LockedIs421AndCloses) {
    AuthDialog d;
    d.send("EHLO client.example\r\n");
    d.send("AUTH PLAIN " + plain("", "a", "x") + "\r\n");
    EXPECT_EQ(d.answer(AuthVerdict::Locked), "421 4.7.0 mx.example Too many failed authentications, try again later\r\n");
    EXPECT_TRUE(d.session.wants_close());
}

TEST(Auth, ErrorReplies_Rfc4954_4_and_6) {
    AuthDialog d;
    d.send("EHLO client.example\r\n");
    EXPECT_EQ(d.send("AUTH CRAM-MD5\r\n"), "504 5.5.4 Unrecognized authentication type\r\n");
    EXPECT_EQ(d.send("AUTH PLAIN not*base64\r\n"), "501 5.5.2 Invalid base64 data\r\n");
    EXPECT_EQ(d.send("AUTH PLAIN\r\n"), "334 \r\n");
    EXPECT_EQ(d.send("*\r\n"), "501 5.5.2 Authentication cancelled\r\n");
    EXPECT_EQ(d.send("AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
    EXPECT_EQ(d.send("*\r\n"), "501 5.5.2 Authentication cancelled\r\n");
    EXPECT_EQ(d.send("AUTH PLAIN " + base64_encode("no-nuls") + "\r\n"), "501 5.5.2 Invalid PLAIN response\r\n");
    // Someone else's identity (RFC 4616 2 authzid): refused.
    EXPECT_EQ(d.send("AUTH PLAIN " + plain("boss", "alice", "pw") + "\r\n"),
              "535 5.7.8 Authorization identity must be the user's own\r\n");
    EXPECT_TRUE(d.host.asked.empty());
    d.send("AUTH PLAIN " + plain("", "alice", "pw") + "\r\n");
    d.answer(AuthVerdict::Ok);
    EXPECT_EQ(d.send("AUTH PLAIN " + plain("", "alice", "pw") + "\r\n"), "503 5.5.1 Already authenticated\r\n");
}

TEST(Auth, OverLongResponseLineIs500_5_5_6AndEndsTheSession_Rfc4954_6) {
    AuthDialog d;
    d.send("EHLO client.example\r\n");
    d.send("AUTH PLAIN\r\n");
    const std::string out = d.send(std::string(3000, 'A'));
    EXPECT_EQ(out.substr(0, 10), "500 5.5.6 ");
    EXPECT_TRUE(d.session.wants_close());
    EXPECT_TRUE(d.host.asked.empty());
}

TEST(Auth, NotDuringATransaction_Rfc4954_4) {
    auto c = auth_config();
    AuthDialog d(c);
    d.send("EHLO client.example\r\nMAIL FROM:<a@b.example>\r\n");
    EXPECT_EQ(d.send("AUTH PLAIN " + plain("", "a", "b") + "\r\n"), "503 5.5.1 AUTH not permitted during a mail transaction\r\n");
}

TEST(Auth, NotOfferedAtAllIs502) {
    Dialog d;  // auth_available off
    d.ehlo();
    EXPECT_EQ(d.send("AUTH PLAIN " + plain("", "a", "b") + "\r\n"), "502 5.5.1 Command not implemented\r\n");
}

TEST(Auth, PasswordsNeverReachTheTrace) {
    AuthDialog d;
    d.send("EHLO client.example\r\n");
    const std::string secret = plain("", "alice", "TopSecret");
    d.send("AUTH PLAIN " + secret + "\r\n");
    d.answer(AuthVerdict::Failed);
    d.send("AUTH LOGIN\r\n" + base64_encode("alice") + "\r\n" + base64_encode("TopSecret") + "\r\n");
    for (const auto& line : d.host.trace_in) {
        EXPECT_EQ(line.find(secret), std::string::npos) << line;
        EXPECT_EQ(line.find(base64_encode("TopSecret")), std::string::npos) << line;
    }
    EXPECT_NE(std::find(d.host.trace_in.begin(), d.host.trace_in.end(), "AUTH PLAIN (authentication data)"), d.host.trace_in.end());
}

TEST(Auth, ProtocolIsEsmtpsaAfterAuth_Rfc3848) {
    AuthDialog d;
    d.send("EHLO client.example\r\n");
    EXPECT_EQ(d.session.protocol(), "ESMTPS");
    d.send("AUTH PLAIN " + plain("", "alice", "pw") + "\r\n");
    d.answer(AuthVerdict::Ok);
    EXPECT_EQ(d.session.protocol(), "ESMTPSA");
    auto c = auth_config();
    c.auth_plaintext = true;
    AuthDialog clear(c, false);
    clear.send("EHLO client.example\r\nAUTH PLAIN " + plain("", "alice", "pw") + "\r\n");
    clear.answer(AuthVerdict::Ok);
    EXPECT_EQ(clear.session.protocol(), "ESMTPA");
}

TEST(Auth, MailAuthParameterAccepted_Rfc4954_5) {
    AuthDialog d;
    d.send("EHLO client.example\r\n");
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example> AUTH=<>\r\n"), "250 2.1.0 Ok\r\n");
    d.send("RSET\r\n");
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example> AUTH=a+40b.example\r\n"), "250 2.1.0 Ok\r\n");
    d.send("RSET\r\n");
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example> AUTH=a+4\r\n").substr(0, 4), "501 ");
    // Without AUTH offered the keyword is unknown (RFC 5321 4.1.1.11).
    Dialog plain_dialog;
    plain_dialog.ehlo();
    EXPECT_EQ(plain_dialog.send("MAIL FROM:<a@b.example> AUTH=<>\r\n").substr(0, 4), "555 ");
}

TEST(Auth, SubmissionNeedsAuthBeforeMail_Rfc4954_6) {
    auto c = auth_config();
    c.require_auth = true;
    AuthDialog d(c);
    d.send("EHLO client.example\r\n");
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example>\r\n"), "530 5.7.0 Authentication required\r\n");
    d.send("AUTH PLAIN " + plain("", "alice", "pw") + "\r\n");
    d.answer(AuthVerdict::Ok);
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example>\r\n"), "250 2.1.0 Ok\r\n");
}

TEST(Auth, ForgottenAfterStarttls_Rfc3207_4_2) {
    auto c = auth_config();
    c.auth_plaintext = true;
    AuthDialog d(c, false);
    d.send("EHLO client.example\r\nAUTH PLAIN " + plain("", "alice", "pw") + "\r\n");
    d.answer(AuthVerdict::Ok);
    d.send("STARTTLS\r\n");
    d.session.tls_started();
    EXPECT_TRUE(d.session.authenticated_user().empty());
}

TEST(Sasl, Base64IsStrict_Rfc4648_4) {
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64_decode("Zm9vYmE="), "fooba");
    EXPECT_EQ(base64_decode(""), "");
    EXPECT_FALSE(base64_decode("Zm9"));
    EXPECT_FALSE(base64_decode("Zm9v YmFy"));
    EXPECT_FALSE(base64_decode("Zg=a"));
    EXPECT_FALSE(base64_decode("Zh=="));  // non-zero bits under the padding (RFC 4648 3.5)
    EXPECT_FALSE(base64_decode("=AAA"));
}

}  // namespace
}  // namespace ehlo::smtp::test
