// Transcripts in the forms people paste: as typed at telnet (README's first dialog), as RFCs
// write them ("S:" / "C:"), and as tools print them ("<-" / "->", "<<<" / ">>>").
#include "tutor/transcript.hpp"
#include "tutor_fixture.hpp"

namespace ehlo::tutor::test {
namespace {

std::vector<Side> sides(const std::vector<AnnotatedLine>& lines) {
    std::vector<Side> out;
    for (const auto& l : lines) out.push_back(l.side);
    return out;
}

bool any_title(const std::vector<AnnotatedLine>& lines, std::string_view title) {
    for (const auto& l : lines)
        for (const auto& n : l.notes)
            if (n.title == title) return true;
    return false;
}

constexpr Side S = Side::Server, C = Side::Client, O = Side::Other;

TEST(Transcript, PlainFormOfTheReadmeIndentedAsInADocument) {
    const auto lines = explain_transcript(
        "    220 myhost ESMTP ehlo\n"
        "    EHLO client.example\n"
        "    250-myhost greets client.example\n"
        "    250 DSN\n"
        "    MAIL FROM:<me@example.org>\n"
        "    250 2.1.0 Ok\n"
        "    RCPT TO:<alice@localhost>\n"
        "    250 2.1.5 Ok\n"
        "    DATA\n"
        "    354 End data with <CR><LF>.<CR><LF>\n"
        "    Subject: hello\n"
        "\n"
        "    250 looks like a reply but is the body\n"
        "    .\n"
        "    250 2.0.0 Ok: queued as 0SD3XM5K2W8G0001\n"
        "    QUIT\n"
        "    221 2.0.0 Bye\n\n\n");
    EXPECT_EQ(sides(lines), (std::vector<Side>{S, C, S, S, C, S, C, S, C, S, C, C, C, C, S, C, S}));
    EXPECT_EQ(lines[0].shown, "220 myhost ESMTP ehlo");
    EXPECT_EQ(lines[12].shown, "250 looks like a reply but is the body");
    EXPECT_TRUE(lines[2].notes.empty());   // notes come after the reply's last line
    EXPECT_FALSE(lines[3].notes.empty());
    EXPECT_TRUE(any_title(lines, "Queued as 0SD3XM5K2W8G0001"));
    for (const auto& l : lines)
        for (const auto& n : l.notes) EXPECT_NE(n.kind, NoteKind::Suggestion);
}

TEST(Transcript, RfcForm) {
    const auto lines = explain_transcript(
        "S: 220 foo.com Simple Mail Transfer Service Ready\n"
        "C: EHLO bar.com\n"
        "S: 250-foo.com greets bar.com\n"
        "S: 250 HELP\n"
        "C: MAIL FROM:<Smith@bar.com>\n"
        "S: 250 OK\n"
        "C: RCPT TO:<Jones@foo.com>\n"
        "S: 250 OK\n"
        "C: RCPT TO:<Green@foo.com>\n"
        "S: 550 No such user here\n"
        "C: DATA\n"
        "S: 354 Start mail input; end with <CRLF>.<CRLF>\n"
        "C: Blah blah blah...\n"
        "C: .\n"
        "S: 250 OK\n"
        "C: QUIT\n"
        "S: 221 foo.com Service closing transmission channel\n");
    EXPECT_EQ(lines.size(), 17u);
    EXPECT_EQ(lines[1].side, C);
    EXPECT_EQ(lines[1].shown, "EHLO bar.com");
    EXPECT_TRUE(any_title(lines, "No such mailbox") || any_title(lines, "Requested action not taken: mailbox unavailable"));
    EXPECT_TRUE(any_title(lines, "The message starts without its header"));
}

TEST(Transcript, SwaksFormWithItsNotes) {
    const auto lines = explain_transcript(
        "=== Trying 127.0.0.1:2525...\n"
        "=== Connected to 127.0.0.1.\n"
        "<-  220 mx.test ESMTP ehlo\n"
        " -> EHLO client.example\n"
        "<-  250-mx.test greets client.example\n"
        "<-  250 DSN\n"
        " -> MAIL FROM:<me@example.org>\n"
        "<-  250 2.1.0 Ok\n"
        " -> RCPT TO:<bob@remote.example>\n"
        "<** 554 5.7.1 <bob@remote.example>: Relay access denied\n"
        " -> QUIT\n"
        "<-  221 2.0.0 Bye\n"
        "=== Connection closed with remote host.\n");
    EXPECT_EQ(sides(lines), (std::vector<Side>{O, O, S, C, S, S, C, S, C, S, C, S, O}));
    EXPECT_EQ(lines[9].shown, "554 5.7.1 <bob@remote.example>: Relay access denied");
    EXPECT_TRUE(any_title(lines, "Relaying refused"));
}

TEST(Transcript, ArrowsForm) {
    const auto lines = explain_transcript("<<< 220 mx ESMTP\n>>> HELO\n<<< 501 Syntax: HELO hostname\n");
    EXPECT_EQ(sides(lines), (std::vector<Side>{S, C, S}));
    EXPECT_TRUE(any_title(lines, "HELO without a domain"));
    EXPECT_TRUE(any_title(lines, "HELO refused: the domain is missing"));
}

TEST(Transcript, PipelinedCommandsAreMatchedToTheirRepliesInOrder_Rfc2920) {
    const auto lines = explain_transcript(
        "220 mx ESMTP\nEHLO c.example\n250-mx\n250 PIPELINING\n"
        "MAIL FROM:<a@c.example>\nRCPT TO:<b@mx.example>\nDATA\n"
        "250 2.1.0 Ok\n250 2.1.5 Ok\n354 go ahead\nSubject: x\n\nbody\n.\nQUIT\n250 2.0.0 Ok: queued as Q1\n221 Bye\n");
    EXPECT_EQ(first(lines[7].notes, NoteKind::Reply).title, "Sender accepted");
    EXPECT_EQ(first(lines[8].notes, NoteKind::Reply).title, "Recipient accepted");
    EXPECT_EQ(first(lines[9].notes, NoteKind::Reply).title, "Go ahead: type the message");
    EXPECT_EQ(lines[10].side, C);
    EXPECT_EQ(first(lines[15].notes, NoteKind::Reply).title, "Message accepted");
    EXPECT_EQ(first(lines[16].notes, NoteKind::Reply).title, "Goodbye");
}

TEST(Transcript, HostileLinesAreEscapedAndAnUnfinishedReplyNamed) {
    const auto lines = explain_transcript("220 hi\x1b[2J there\nEHLO x.example\n250-x\n");
    EXPECT_EQ(lines[0].shown, "220 hi\\x1b[2J there");
    EXPECT_TRUE(any_title(lines, "The last reply is unfinished"));
}

TEST(Transcript, ATranscriptThatStartsAfterTheGreeting) {
    const auto lines = explain_transcript("C: MAIL FROM:<a@b.example>\nS: 250 2.1.0 Ok\n");
    EXPECT_EQ(first(lines[1].notes, NoteKind::Reply).title, "Sender accepted");
    EXPECT_FALSE(any_title(lines, "Talking before the greeting"));
    for (const auto& l : lines) EXPECT_TRUE(of_kind(l.notes, NoteKind::Mistake).empty());
}

TEST(Transcript, EmptyInputGivesNothing) { EXPECT_TRUE(explain_transcript("").empty()); }

}  // namespace
}  // namespace ehlo::tutor::test
