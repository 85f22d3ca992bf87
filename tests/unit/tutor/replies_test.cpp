// Every reply explained: its class (RFC 5321 4.2.1), its enhanced code (RFC 3463), the RFC
// section of what it answers, and the queue id at the end; server text escaped throughout.
#include "tutor/lessons.hpp"
#include "tutor_fixture.hpp"

namespace ehlo::tutor::test {
namespace {

using Replies = TutorTest;

TEST_F(Replies, EveryReplyGetsAReplyNoteAndACodeNote) {
    const auto notes = server("220 mx.test ESMTP ehlo");
    const Note reply = first(notes, NoteKind::Reply);
    EXPECT_EQ(reply.title, "The server is ready");
    EXPECT_TRUE(mentions(reply, "mx.test"));
    EXPECT_EQ(reply.rfc, "RFC 5321 3.1, 4.2");
    EXPECT_EQ(first(notes, NoteKind::Code).title, "220");
    EXPECT_EQ(tutor.state().server_name, "mx.test");
    EXPECT_TRUE(tutor.state().server_is_ehlo);
}

TEST_F(Replies, EachClassOfCodeIsExplained_Rfc5321_4_2_1) {
    struct Case { const char* line; const char* words; };
    for (const Case c : {Case{"250 ok", "2yz, positive completion"}, Case{"354 go", "3yz, positive intermediate"},
                         Case{"451 later", "4yz, transient negative"}, Case{"554 no", "5yz, permanent negative"}}) {
        Tutor t;
        ServerReader r;
        r.feed_line(c.line);
        const Note code = first(t.replied(r.take().reply), NoteKind::Code);
        EXPECT_TRUE(mentions(code, c.words)) << c.line << ": " << code.text;
        EXPECT_EQ(code.rfc.rfind("RFC 5321 4.2.1", 0), 0u);
    }
}

TEST_F(Replies, SecondDigitIsExplained_Rfc5321_4_2_1) {
    EXPECT_TRUE(mentions(first(server("501 bad"), NoteKind::Code), "x0z: about syntax"));
    EXPECT_TRUE(mentions(first(server("221 bye"), NoteKind::Code), "x2z: about the connection"));
}

TEST_F(Replies, CommonEnhancedCodesAreExplained_Rfc3463) {
    struct Case { const char* line; const char* words; const char* rfc; };
    for (const Case c : {
             Case{"250 2.1.0 Ok", "subject 1 (addressing), detail 0: other address status", "RFC 3463 3.2"},
             Case{"250 2.1.5 Ok", "destination address valid", "RFC 3463 3.2"},
             Case{"250 2.0.0 Ok", "class 2 (success), subject 0", "RFC 3463 3.1"},
             Case{"550 5.1.1 unknown", "bad destination mailbox address", "RFC 3463 3.2"},
             Case{"501 5.1.7 bad", "bad sender's mailbox address syntax", "RFC 3463 3.2"},
             Case{"552 5.2.2 full", "mailbox full", "RFC 3463 3.3"},
             Case{"552 5.3.4 big", "message too big for system", "RFC 3463 3.4"},
             Case{"451 4.4.1 no answer", "class 4 (persistent transient failure)", "RFC 3463 3.5"},
             Case{"500 5.5.2 what", "syntax error", "RFC 3463 3.6"},
             Case{"452 4.5.3 Too many", "too many recipients", "RFC 3463 3.6"},
             Case{"554 5.6.0 bare LF", "other or undefined media error", "RFC 3463 3.7"},
             Case{"554 5.7.1 relay", "delivery not authorized", "RFC 3463 3.8"},
             Case{"535 5.7.8 bad", "authentication credentials invalid", "RFC 4954 6"},
             Case{"550 5.7.23 spf", "SPF validation failed", "RFC 7372 3"},
         }) {
        Tutor t;
        ServerReader r;
        r.feed_line(c.line);
        const Note code = first(t.replied(r.take().reply), NoteKind::Code);
        EXPECT_TRUE(mentions(code, c.words)) << c.line << ": " << code.text;
        EXPECT_NE(code.rfc.find(c.rfc), std::string::npos) << c.line << ": " << code.rfc;
    }
}

TEST_F(Replies, UnknownEnhancedDetailIsSaidSo) {
    const Note code = first(server("550 5.7.99 odd"), NoteKind::Code);
    EXPECT_TRUE(mentions(code, "subject 7 (security or policy)"));
    EXPECT_TRUE(mentions(code, "does not know"));
}

TEST_F(Replies, EhloReplyListsTheExtensionsInWords_Rfc5321_4_1_1_1) {
    server("220 mx.test ESMTP ehlo");
    type("EHLO client.example");
    const auto notes = server({"250-mx.test greets client.example", "250-SIZE 26214400", "250-STARTTLS",
                               "250-CHUNKING", "250 X-ODD"});
    const Note offered = first(notes, NoteKind::Hint);
    EXPECT_TRUE(mentions(offered, "messages up to 25 MiB (RFC 1870)"));
    EXPECT_TRUE(mentions(offered, "STARTTLS"));
    EXPECT_TRUE(mentions(offered, "X-ODD: an extension the tutor does not know"));
    const Extensions& x = tutor.state().extensions;
    EXPECT_TRUE(x.size && x.starttls && x.chunking);
    EXPECT_EQ(x.max_size, 26214400u);
    EXPECT_TRUE(tutor.state().esmtp);
}

TEST_F(Replies, EachStepOfTheDialogNamesItsSection) {
    struct Step { const char* typed; const char* reply; const char* title; const char* rfc; };
    introduce();
    for (const Step s : {
             Step{"MAIL FROM:<me@example.org>", "250 2.1.0 Ok", "Sender accepted", "RFC 5321 3.3, 4.1.1.2"},
             Step{"RCPT TO:<alice@localhost>", "250 2.1.5 Ok", "Recipient accepted", "RFC 5321 4.1.1.3"},
             Step{"DATA", "354 End data with <CR><LF>.<CR><LF>", "Go ahead: type the message", "RFC 5321 3.3, 4.1.1.4"},
         }) {
        type(s.typed);
        const Note n = first(server(s.reply), NoteKind::Reply);
        EXPECT_EQ(n.title, s.title);
        EXPECT_EQ(n.rfc, s.rfc);
    }
    type(".");
    const Note end = first(server("250 2.0.0 Ok: queued as 0SD3XM5K2W8G0001"), NoteKind::Reply);
    EXPECT_EQ(end.title, "Message accepted");
    EXPECT_NE(end.rfc.find("6.1"), std::string::npos);  // responsibility passes with the 250
    type("QUIT");
    EXPECT_EQ(first(server("221 2.0.0 Bye"), NoteKind::Reply).rfc, "RFC 5321 3.8, 4.1.1.10");
}

TEST_F(Replies, QueueIdIsPickedUpAndTraceSuggested) {
    in_message();
    type(".");
    const Note result = first(server("250 2.0.0 Ok: queued as 0SD3XM5K2W8G0001"), NoteKind::Result);
    EXPECT_EQ(result.title, "Queued as 0SD3XM5K2W8G0001");
    EXPECT_EQ(result.line, "ehlo trace 0SD3XM5K2W8G0001");
    EXPECT_EQ(tutor.state().queue_ids, std::vector<std::string>{"0SD3XM5K2W8G0001"});
    EXPECT_TRUE(tutor.state().recipients.empty());  // the transaction is over
}

TEST_F(Replies, QueueIdOfOtherServersHasNoTraceLine) {
    server("220 mx.example.net ESMTP Postfix");
    type("EHLO client.example");
    server("250 mx.example.net");
    type("MAIL FROM:<a@b.example>");
    server("250 ok");
    type("RCPT TO:<c@d.example>");
    server("250 ok");
    type("DATA");
    server("354 go");
    type(".");
    const Note result = first(server("250 2.0.0 Ok: queued as 4Xyz1q2w3e."), NoteKind::Result);
    EXPECT_EQ(result.title, "Queued as 4Xyz1q2w3e");
    EXPECT_FALSE(result.line);
    // Exim's form
    EXPECT_EQ(lessons::queue_id(smtp::Reply(250, "", "OK id=1q2w3e-000abc-AB")), "1q2w3e-000abc-AB");
    EXPECT_EQ(lessons::queue_id(smtp::Reply(250, "2.0.0", "Ok")), "");
}

TEST_F(Replies, BdatChunkIsCountedInOctets_Rfc3030_2) {
    with_recipient();  // ehlo's EHLO offers CHUNKING
    const auto t = type("BDAT 12 LAST");
    EXPECT_TRUE(t.send);
    EXPECT_TRUE(of_kind(t.notes, NoteKind::Mistake).empty());
    EXPECT_EQ(first(t.notes, NoteKind::Hint).title, "BDAT counts octets");
    EXPECT_FALSE(tutor.awaiting_reply());  // the server answers once it has all 12 octets
    type("hello");                         // 5 + CRLF
    EXPECT_FALSE(tutor.awaiting_reply());
    type("abcd");                          // 4 + CRLF: 12
    EXPECT_TRUE(tutor.awaiting_reply());
    const auto notes = server("250 2.0.0 Ok: queued as B1");
    EXPECT_EQ(first(notes, NoteKind::Reply).title, "Message accepted");
    EXPECT_EQ(first(notes, NoteKind::Result).line, "ehlo trace B1");
}

TEST_F(Replies, ClosingReplyEndsTheDialog_Rfc5321_3_8) {
    introduce();
    const auto notes = server("421 4.7.0 mx.test Too many errors, closing connection");
    const Note n = first(notes, NoteKind::Reply);
    EXPECT_EQ(n.title, "The server is closing the connection");
    EXPECT_TRUE(mentions(n, "Too many bad commands"));
    EXPECT_EQ(tutor.state().phase, Phase::Closed);
}

TEST_F(Replies, TimeoutAndShutdownAreToldApart) {
    Tutor a, b;
    ServerReader r;
    r.feed_line("421 4.4.2 mx Timeout, closing connection");
    EXPECT_TRUE(mentions(first(a.replied(r.take().reply), NoteKind::Reply), "silent too long"));
    r.feed_line("421 4.3.2 mx Service shutting down");
    EXPECT_TRUE(mentions(first(b.replied(r.take().reply), NoteKind::Reply), "stopping"));
}

TEST_F(Replies, TooManyRecipientsIsTemporaryEvenAs552_Rfc5321_4_5_3_1_10) {
    with_recipient();
    type("RCPT TO:<bob@localhost>");
    Note n = first(server("452 4.5.3 Too many recipients"), NoteKind::Reply);
    EXPECT_EQ(n.title, "Enough recipients for one message");
    EXPECT_EQ(n.rfc, "RFC 5321 4.5.3.1.10");
    type("RCPT TO:<carol@localhost>");
    n = first(server("552 5.5.3 Too many recipients"), NoteKind::Reply);
    EXPECT_EQ(n.rfc, "RFC 5321 4.5.3.1.10");
    EXPECT_TRUE(mentions(n, "temporary"));
}

TEST_F(Replies, MessageTooBigNamesSize_Rfc1870) {
    in_message();
    type(".");
    const Note n = first(server("552 5.3.4 Message too big"), NoteKind::Reply);
    EXPECT_EQ(n.title, "Message too big");
    EXPECT_NE(n.rfc.find("RFC 1870"), std::string::npos);
}

TEST_F(Replies, StartTlsReplyAsksForEhloAgain_Rfc3207_4_2) {
    Tutor t(Options{"client.example", "me@example.org", "alice@localhost", "hello", true});
    ServerReader r;
    r.feed_line("220 mx ESMTP");
    t.replied(r.take().reply);
    t.typed("EHLO client.example");
    r.feed_line("250-mx");
    r.feed_line("250 STARTTLS");
    t.replied(r.take().reply);
    EXPECT_TRUE(t.typed("STARTTLS").send);
    r.feed_line("220 2.0.0 Ready to start TLS");
    const Note n = first(t.replied(r.take().reply), NoteKind::Reply);
    EXPECT_EQ(n.rfc, "RFC 3207 4.2");
    EXPECT_TRUE(t.state().tls);
    EXPECT_EQ(t.state().phase, Phase::Hello);
    EXPECT_FALSE(t.state().extensions.starttls);  // forgotten until the new EHLO
}

TEST_F(Replies, AuthDialogIsFollowed_Rfc4954_4) {
    server("220 submit ESMTP");
    type("EHLO client.example");
    server({"250-submit", "250 AUTH LOGIN"});
    type("AUTH LOGIN");
    EXPECT_TRUE(mentions(first(server("334 VXNlcm5hbWU6"), NoteKind::Reply), "base64"));
    type("bWU=");  // an answer, not a command: no "unknown command" mistake
    server("334 UGFzc3dvcmQ6");
    type("c2VjcmV0");
    EXPECT_EQ(first(server("235 2.7.0 Authentication successful"), NoteKind::Reply).title, "Logged in");
    EXPECT_TRUE(tutor.state().authenticated);
    EXPECT_EQ(tutor.state().mistakes, 0u);  // AUTH over plain text is a hint, not a mistake
}

TEST_F(Replies, UnaskedReplyIsNamed_Rfc5321_4_2) {
    server("220 mx ESMTP");
    const auto notes = server("250 surprise");
    EXPECT_EQ(first(notes, NoteKind::Mistake).title, "A reply nobody asked for");
}

TEST_F(Replies, HostileServerTextIsEscapedInEveryNote) {
    const auto notes = server("220 evil\x1b]0;owned\x07.example \xe2\x80\xae ESMTP ehlo");
    for (const auto& n : notes) {
        EXPECT_EQ(n.title.find('\x1b'), std::string::npos);
        EXPECT_EQ(n.text.find('\x1b'), std::string::npos);
        EXPECT_EQ(n.text.find("\xe2\x80\xae"), std::string::npos);
    }
    EXPECT_EQ(tutor.state().server_name, "evil\\x1b]0;owned\\x07.example");
    type("EHLO client.example");
    const auto refused = server("554 5.7.1 \x1b[2J\xc2\x9b" "31m gone \xff");
    for (const auto& n : refused) {
        EXPECT_EQ(n.text.find('\x1b'), std::string::npos) << n.text;
        EXPECT_EQ(n.text.find("\xc2\x9b"), std::string::npos) << n.text;
        EXPECT_EQ(n.text.find('\xff'), std::string::npos) << n.text;
    }
    EXPECT_TRUE(mentions(first(refused, NoteKind::Reply), "\\x1b[2J\\u009b31m gone \\xff"));
}

TEST_F(Replies, ConnectionLostWithTheDotUnansweredSaysSo_Rfc5321_6_1) {
    in_message();
    type(".");
    const auto notes = tutor.closed("the server closed the connection");
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_TRUE(mentions(notes[0], "may or may not have kept it"));
    EXPECT_EQ(tutor.state().phase, Phase::Closed);
    EXPECT_TRUE(tutor.closed("again").empty());
}

}  // namespace
}  // namespace ehlo::tutor::test
