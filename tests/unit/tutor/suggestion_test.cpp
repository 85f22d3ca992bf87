// What to type next, for each state of the dialog (RFC 5321 3.3: greeting, EHLO, MAIL, RCPT,
// DATA, the message, the dot, QUIT), and after the refusals that change the way forward.
#include "tutor_fixture.hpp"

namespace ehlo::tutor::test {
namespace {

class Suggestion : public TutorTest {
protected:
    std::string line() {
        const Note n = tutor.suggestion();
        EXPECT_EQ(n.kind, NoteKind::Suggestion);
        return n.line.value_or("(none)");
    }
};

TEST_F(Suggestion, BeforeTheGreetingWait_Rfc5321_3_1) {
    EXPECT_EQ(line(), "(none)");
    EXPECT_EQ(tutor.state().phase, Phase::Greeting);
}

TEST_F(Suggestion, AfterTheGreetingEhlo_Rfc5321_4_1_1_1) {
    server("220 mx.test ESMTP ehlo");
    EXPECT_EQ(tutor.state().phase, Phase::Hello);
    EXPECT_EQ(line(), "EHLO client.example");
    EXPECT_EQ(tutor.suggestion().rfc, "RFC 5321 4.1.1.1");
}

TEST_F(Suggestion, AfterEhloMailFrom_Rfc5321_4_1_1_2) {
    introduce();
    EXPECT_EQ(tutor.state().phase, Phase::Mail);
    EXPECT_EQ(line(), "MAIL FROM:<me@example.org>");
}

TEST_F(Suggestion, AfterMailRcptTo_Rfc5321_4_1_1_3) {
    open_transaction();
    EXPECT_EQ(tutor.state().phase, Phase::Rcpt);
    EXPECT_EQ(line(), "RCPT TO:<alice@localhost>");
}

TEST_F(Suggestion, AfterARecipientData_Rfc5321_4_1_1_4) {
    with_recipient();
    EXPECT_EQ(tutor.state().phase, Phase::Data);
    EXPECT_EQ(line(), "DATA");
}

TEST_F(Suggestion, InTheMessageSubjectThenBlankLineThenTheLoneDot) {
    in_message();
    EXPECT_EQ(tutor.state().phase, Phase::Content);
    EXPECT_EQ(line(), "Subject: hello");
    type("Subject: hello");
    EXPECT_TRUE(tutor.state().subject_given);
    EXPECT_EQ(line(), "");  // the blank line that ends the header (RFC 5322 2.1)
    type("");
    EXPECT_TRUE(tutor.state().in_body);
    type("Hi Alice.");
    EXPECT_EQ(line(), ".");
    EXPECT_FALSE(tutor.awaiting_reply());
    type(".");
    EXPECT_TRUE(tutor.awaiting_reply());
}

TEST_F(Suggestion, AfterTheMessageQuit_Rfc5321_4_1_1_10) {
    in_message();
    type("Subject: x");
    type("");
    type(".");
    server("250 2.0.0 Ok: queued as ABC123");
    EXPECT_EQ(tutor.state().phase, Phase::Mail);
    EXPECT_EQ(line(), "QUIT");
    type("QUIT");
    EXPECT_EQ(tutor.suggestion().title, "Wait for the goodbye");
    server("221 2.0.0 Bye");
    EXPECT_EQ(tutor.state().phase, Phase::Closed);
    EXPECT_EQ(line(), "(none)");
}

TEST_F(Suggestion, NestedMailSuggestsRset_Rfc5321_4_1_1_5) {
    open_transaction();
    type("MAIL FROM:<other@example.org>");
    server("503 5.5.1 Nested MAIL command");
    EXPECT_EQ(line(), "RSET");
    type("RSET");
    server("250 2.0.0 Ok");
    EXPECT_EQ(tutor.state().phase, Phase::Mail);
    EXPECT_TRUE(tutor.state().sender.empty());
}

TEST_F(Suggestion, AllRecipientsRefusedOffersAnotherOrRset) {
    open_transaction();
    type("RCPT TO:<nobody@localhost>");
    server("550 5.1.1 <nobody@localhost>: Recipient address rejected: mailbox unknown");
    EXPECT_EQ(tutor.state().refused_recipients, 1u);
    const Note n = tutor.suggestion();
    EXPECT_TRUE(mentions(n, "RSET"));
    EXPECT_EQ(n.line, "RCPT TO:<alice@localhost>");
}

TEST_F(Suggestion, TooManyRecipientsSendsDataNow_Rfc5321_4_5_3_1_10) {
    with_recipient();
    type("RCPT TO:<bob@localhost>");
    server("452 4.5.3 Too many recipients");
    EXPECT_EQ(line(), "DATA");
    EXPECT_EQ(tutor.suggestion().rfc, "RFC 5321 4.5.3.1.10");
}

TEST_F(Suggestion, OldServerWithoutEhloGetsHelo) {
    server("220 old.example SMTP");
    type("EHLO client.example");
    server("500 Command unrecognized");
    EXPECT_EQ(line(), "HELO client.example");
}

TEST_F(Suggestion, RefusingGreetingLeaves_Rfc5321_3_1) {
    server("554 no SMTP service here for you");
    EXPECT_EQ(line(), "QUIT");
}

TEST_F(Suggestion, AuthRequiredSuggestsAuthPlain_Rfc4954_4) {
    server("220 submit.example ESMTP");
    type("EHLO client.example");
    server({"250-submit.example", "250 AUTH PLAIN LOGIN"});
    EXPECT_TRUE(tutor.state().extensions.auth);
    EXPECT_EQ(tutor.state().extensions.auth_mechanisms, "PLAIN LOGIN");
    type("MAIL FROM:<me@example.org>");
    server("530 5.7.0 Authentication required");
    EXPECT_EQ(line(), "AUTH PLAIN AG1lAHNlY3JldA==");  // base64 of "\0me\0secret"
}

TEST_F(Suggestion, OwnExamplesAreUsed) {
    Tutor own(Options{"laptop.example.net", "bob@example.net", "carol@example.com", "hi", false});
    ServerReader r;
    r.feed_line("220 mx ESMTP");
    own.replied(r.take().reply);
    EXPECT_EQ(own.suggestion().line, "EHLO laptop.example.net");
    own.typed("EHLO laptop.example.net");
    r.feed_line("250 mx");
    own.replied(r.take().reply);
    EXPECT_EQ(own.suggestion().line, "MAIL FROM:<bob@example.net>");
    own.typed("MAIL FROM:<bob@example.net>");
    r.feed_line("250 ok");
    own.replied(r.take().reply);
    EXPECT_EQ(own.suggestion().line, "RCPT TO:<carol@example.com>");
}

}  // namespace
}  // namespace ehlo::tutor::test
