// The classic mistakes, each recognised before the line goes out or once the server has
// answered, with what went wrong and where the RFC says so.
#include "tutor_fixture.hpp"

namespace ehlo::tutor::test {
namespace {

using Mistakes = TutorTest;

Note mistake(const Tutor::Typed& t) {
    EXPECT_TRUE(t.send);
    return first(t.notes, NoteKind::Mistake);
}

TEST_F(Mistakes, HeloWithoutDomainBeforeAndAfter501_Rfc5321_4_1_1_1) {
    server("220 mx.test ESMTP ehlo");
    const Note before = mistake(type("HELO"));
    EXPECT_EQ(before.title, "HELO without a domain");
    EXPECT_EQ(before.rfc, "RFC 5321 4.1.1.1");
    EXPECT_EQ(before.line, "HELO client.example");
    // ehlo's own answer before EHLO: no enhanced code (RFC 2034)
    const auto after = server("501 Syntax: HELO hostname");
    const Note n = first(after, NoteKind::Reply);
    EXPECT_EQ(n.title, "HELO refused: the domain is missing");
    EXPECT_TRUE(of_kind(after, NoteKind::Mistake).empty());  // told once, before
    EXPECT_EQ(tutor.state().phase, Phase::Hello);
    EXPECT_EQ(tutor.state().mistakes, 1u);
}

TEST_F(Mistakes, HeloWithSomethingThatIsNoDomain) {
    server("220 mx ESMTP");
    EXPECT_EQ(mistake(type("EHLO my laptop")).title, "That is not a host name");
    EXPECT_TRUE(of_kind(type("EHLO [192.0.2.1]").notes, NoteKind::Mistake).empty());
}

TEST_F(Mistakes, MissingAngleBrackets_Rfc5321_4_1_2) {
    introduce();
    Note n = mistake(type("MAIL FROM:me@example.org"));
    EXPECT_EQ(n.title, "The address needs angle brackets");
    EXPECT_EQ(n.line, "MAIL FROM:<me@example.org>");
    EXPECT_EQ(first(server("501 5.1.7 Bad sender address syntax"), NoteKind::Reply).title,
              "MAIL FROM refused: no angle brackets");
    type("MAIL FROM:<me@example.org>");
    server("250 2.1.0 Ok");
    n = mistake(type("RCPT TO:alice@localhost SIZE=1"));
    EXPECT_EQ(n.line, "RCPT TO:<alice@localhost>");
}

TEST_F(Mistakes, SpaceAfterTheColon_Rfc5321_4_1_2) {
    introduce();
    const Note n = mistake(type("MAIL FROM: <me@example.org>"));
    EXPECT_EQ(n.title, "A space after the colon");
    EXPECT_EQ(n.line, "MAIL FROM:<me@example.org>");
    // ehlo accepts it; a strict server's 501 is explained as this flaw
    server("250 2.1.0 Ok");
    EXPECT_EQ(tutor.state().sender, "<me@example.org>");
    type("RCPT TO: <alice@localhost>");
    EXPECT_EQ(first(server("501 5.5.4 Syntax"), NoteKind::Reply).title, "RCPT TO refused: the space after the colon");
}

TEST_F(Mistakes, KeywordOrColonMissing) {
    introduce();
    EXPECT_EQ(mistake(type("MAIL me@example.org")).title, "MAIL without FROM:");
    const Note colon = mistake(type("MAIL FROM <me@example.org>"));
    EXPECT_EQ(colon.title, "The colon after FROM is missing");
    EXPECT_EQ(colon.line, "MAIL FROM:<me@example.org>");
    EXPECT_TRUE(mentions(mistake(type("MAIL TO:<a@b.example>")), "recipients come with RCPT TO"));
}

TEST_F(Mistakes, AddressThatIsNoAddress) {
    introduce();
    EXPECT_EQ(mistake(type("MAIL FROM:<me@@example>")).title, "This is not an address");
    EXPECT_EQ(mistake(type("MAIL FROM:<" + std::string(70, 'a') + "@example.org>")).rfc, "RFC 5321 4.5.3.1");
}

TEST_F(Mistakes, RcptBeforeMail_Rfc5321_3_3) {
    introduce();
    const Note n = mistake(type("RCPT TO:<alice@localhost>"));
    EXPECT_EQ(n.title, "RCPT before MAIL");
    EXPECT_EQ(n.line, "MAIL FROM:<me@example.org>");
    EXPECT_EQ(first(server("503 5.5.1 Need MAIL before RCPT"), NoteKind::Reply).title, "RCPT before MAIL");
    EXPECT_EQ(tutor.state().phase, Phase::Mail);
    EXPECT_EQ(tutor.state().refused_recipients, 0u);
}

TEST_F(Mistakes, RcptBeforeMailSeenOnlyInTheReplyIsAMistakeNote) {
    // A transcript that starts late: the tutor did not see the order, the 503 shows it.
    server("220 mx ESMTP");
    tutor.typed("EHLO client.example");
    server("250 mx");
    tutor.typed("MAIL FROM:<a@b.example>");
    server("250 ok");
    tutor.typed("RCPT TO:<c@d.example>");
    EXPECT_EQ(first(server("503 5.5.1 Need MAIL before RCPT"), NoteKind::Mistake).title, "RCPT before MAIL");
}

TEST_F(Mistakes, MailBeforeHelloAndNestedMail_Rfc5321_4_1_4) {
    server("220 mx ESMTP");
    EXPECT_EQ(mistake(type("MAIL FROM:<me@example.org>")).title, "MAIL before HELO or EHLO");
    server("503 5.5.1 Send EHLO or HELO first");
    type("EHLO client.example");
    server("250 mx");
    type("MAIL FROM:<me@example.org>");
    server("250 ok");
    const Note nested = mistake(type("MAIL FROM:<other@example.org>"));
    EXPECT_EQ(nested.title, "A transaction is already open");
    EXPECT_EQ(nested.line, "RSET");
}

TEST_F(Mistakes, DataBeforeRcpt_Rfc5321_3_3) {
    introduce();
    EXPECT_EQ(mistake(type("DATA")).title, "DATA before MAIL and RCPT");
    server("503 5.5.1 Need MAIL command");
    type("MAIL FROM:<me@example.org>");
    server("250 2.1.0 Ok");
    const Note n = mistake(type("DATA"));
    EXPECT_EQ(n.title, "DATA before any accepted RCPT");
    EXPECT_EQ(n.line, "RCPT TO:<alice@localhost>");
    EXPECT_EQ(first(server("554 5.5.1 No valid recipients"), NoteKind::Reply).title, "DATA without an accepted recipient");
}

TEST_F(Mistakes, RelayRefusalIsExplainedAsRelaying_Rfc5321_3_6) {
    for (const char* refusal : {"554 5.7.1 <bob@remote.example>: Relay access denied",
                                "550 5.7.1 Unable to relay for bob@remote.example"}) {
        Tutor t;
        ServerReader r;
        for (const char* l : {"220 mx ESMTP", "250 mx", "250 2.1.0 Ok"}) {
            if (std::string_view(l) == "250 mx") t.typed("EHLO client.example");
            if (std::string_view(l) == "250 2.1.0 Ok") t.typed("MAIL FROM:<me@example.org>");
            r.feed_line(l);
            t.replied(r.take().reply);
        }
        t.typed("RCPT TO:<bob@remote.example>");
        r.feed_line(refusal);
        const Note n = first(t.replied(r.take().reply), NoteKind::Mistake);
        EXPECT_EQ(n.title, "Relaying refused") << refusal;
        EXPECT_TRUE(mentions(n, "remote.example")) << n.text;
        EXPECT_TRUE(mentions(n, "open relay"));
        EXPECT_EQ(n.rfc, "RFC 5321 3.6");
        EXPECT_EQ(t.state().refused_recipients, 1u);
    }
}

TEST_F(Mistakes, NoSuchMailbox) {
    open_transaction();
    type("RCPT TO:<nobody@localhost>");
    EXPECT_EQ(first(server("550 5.1.1 <nobody@localhost>: Recipient address rejected: mailbox unknown"),
                    NoteKind::Reply)
                  .title,
              "No such mailbox");
}

TEST_F(Mistakes, AuthenticationRequired_Rfc4954_6) {
    introduce();
    type("MAIL FROM:<me@example.org>");
    const Note n = first(server("530 5.7.0 Authentication required"), NoteKind::Mistake);
    EXPECT_EQ(n.title, "Authentication required");
    EXPECT_EQ(n.rfc, "RFC 4954 6");
}

TEST_F(Mistakes, TlsRequired_Rfc3207_4) {
    introduce();
    type("MAIL FROM:<me@example.org>");
    const Note n = first(server("530 5.7.0 Must issue a STARTTLS command first"), NoteKind::Mistake);
    EXPECT_EQ(n.title, "Encryption first");
    EXPECT_EQ(n.rfc, "RFC 3207 4");
}

TEST_F(Mistakes, StartTlsIsExplainedAndNotSentWithoutTls_Rfc3207_4) {
    introduce();
    const auto t = type("STARTTLS");
    EXPECT_FALSE(t.send);
    EXPECT_EQ(first(t.notes, NoteKind::Mistake).title, "STARTTLS is not offered");  // ehlo's EHLO above lists none
    EXPECT_TRUE(mentions(first(t.notes, NoteKind::Hint), "openssl s_client -starttls smtp"));
    EXPECT_FALSE(tutor.awaiting_reply());
}

TEST_F(Mistakes, BareLfNeverGoesOutAndIsExplainedWhenRefused_Rfc5321_2_3_8) {
    in_message();
    const auto t = type("line one\nline two");
    EXPECT_FALSE(t.send);
    EXPECT_TRUE(mentions(first(t.notes, NoteKind::Mistake), "554 5.6.0"));
    EXPECT_FALSE(type(std::string("a\rb")).send);
    EXPECT_FALSE(type(std::string("a\0b", 3)).send);
    type(".");
    const Note n = first(
        server("554 5.6.0 Message refused: bare CR, bare LF or NUL in content (RFC 5321 2.3.8)"), NoteKind::Mistake);
    EXPECT_EQ(n.title, "Message refused: a bare CR or LF");
    EXPECT_TRUE(mentions(n, "smuggling"));
}

TEST_F(Mistakes, LineStartingWithADotIsDotStuffing_Rfc5321_4_5_2) {
    in_message();
    type("Subject: x");
    type("");
    const Note n = mistake(type(".hidden"));
    EXPECT_EQ(n.title, "A line that starts with a dot");
    EXPECT_TRUE(mentions(n, "\"hidden\""));
    EXPECT_EQ(first(type("..kept").notes, NoteKind::Hint).title, "Dot-stuffing");
    EXPECT_FALSE(tutor.awaiting_reply());
}

TEST_F(Mistakes, ForgottenBlankLineBetweenHeaderAndBody_Rfc5322_2_1) {
    in_message();
    EXPECT_TRUE(of_kind(type("Subject: hello").notes, NoteKind::Mistake).empty());
    EXPECT_TRUE(of_kind(type("  folded on").notes, NoteKind::Mistake).empty());  // RFC 5322 2.2.3
    EXPECT_EQ(mistake(type("Hi Alice.")).title, "The blank line between header and body is missing");
}

TEST_F(Mistakes, MessageWithoutAnyHeader) {
    in_message();
    EXPECT_EQ(mistake(type("Hi Alice.")).title, "The message starts without its header");
}

TEST_F(Mistakes, CommandsTypedInsideTheMessage_Rfc5321_4_1_1_4) {
    in_message();
    type("Subject: x");
    type("");
    const Note n = mistake(type("QUIT"));
    EXPECT_EQ(n.title, "This is part of the message");
    EXPECT_EQ(n.line, ".");
    EXPECT_FALSE(tutor.state().quit_sent);
    EXPECT_FALSE(tutor.awaiting_reply());
}

TEST_F(Mistakes, TypingAfterQuit_Rfc5321_4_1_1_10) {
    introduce();
    type("QUIT");
    auto t = type("MAIL FROM:<me@example.org>");  // pipelined after QUIT
    EXPECT_FALSE(t.send);
    EXPECT_EQ(first(t.notes, NoteKind::Mistake).title, "Typing after QUIT");
    server("221 2.0.0 Bye");
    t = type("NOOP");
    EXPECT_FALSE(t.send);
    EXPECT_EQ(first(t.notes, NoteKind::Mistake).title, "Typing after QUIT");
}

TEST_F(Mistakes, UnknownCommandsHeaderLinesAndTheLoneDotOutside) {
    introduce();
    EXPECT_EQ(mistake(type("HELLO client.example")).title, "\"HELLO\" is no SMTP command");
    EXPECT_EQ(mistake(type("Subject: hi")).title, "A header line outside the message");
    EXPECT_EQ(mistake(type(".")).title, "A lone dot outside the message");
    EXPECT_EQ(mistake(type("")).title, "An empty line is no command");
    EXPECT_EQ(mistake(type("QUIT now")).title, "QUIT takes no argument");
}

TEST_F(Mistakes, ArgumentsAfterHeloNeedEhlo_Rfc5321_4_1_1_11) {
    server("220 mx ESMTP");
    type("HELO client.example");
    server("250 mx");
    EXPECT_EQ(mistake(type("MAIL FROM:<me@example.org> SIZE=100")).title, "Parameters need EHLO");
}

TEST_F(Mistakes, OverlongLines_Rfc5321_4_5_3_1) {
    introduce();
    EXPECT_EQ(mistake(type("NOOP " + std::string(600, 'x'))).rfc, "RFC 5321 4.5.3.1.4");
    server("250 2.0.0 Ok");
    type("MAIL FROM:<me@example.org>");
    server("250 ok");
    type("RCPT TO:<alice@localhost>");
    server("250 ok");
    type("DATA");
    server("354 go");
    EXPECT_EQ(mistake(type(std::string(1200, 'y'))).rfc, "RFC 5321 4.5.3.1.6");
}

TEST_F(Mistakes, TalkingBeforeTheGreeting_Rfc5321_3_1) {
    EXPECT_EQ(mistake(type("EHLO client.example")).title, "Talking before the greeting");
    // its reply is still matched in order: first the greeting, then EHLO's
    EXPECT_EQ(first(server("220 mx ESMTP"), NoteKind::Reply).title, "The server is ready");
    EXPECT_EQ(first(server("250 mx"), NoteKind::Reply).title, "EHLO accepted: the server lists its extensions");
}

TEST_F(Mistakes, MistakesAreCounted) {
    server("220 mx ESMTP");
    type("HELO");
    server("501 Syntax: HELO hostname");
    type("EHLO client.example");
    server("250 mx");
    type("RCPT TO:<alice@localhost>");
    server("503 5.5.1 Need MAIL before RCPT");
    EXPECT_EQ(tutor.state().mistakes, 2u);
}

}  // namespace
}  // namespace ehlo::tutor::test
