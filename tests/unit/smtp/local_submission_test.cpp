// What `ehlo sendmail` makes of a program's message before the maildrop.
#include "smtp/local_submission.hpp"

#include <gtest/gtest.h>

using namespace ehlo::smtp;

namespace {
LocalHeaders headers(bool t = false) {
    LocalHeaders h;
    h.from = "alice@host.example";
    h.full_name = "Alice Example";
    h.date = "Thu, 03 Dec 2026 10:00:00 +0000";
    h.message_id = "<x1@host.example>";
    h.extract_recipients = t;
    return h;
}
}  // namespace

// RFC 5321 2.3.8: lines end in CRLF, whatever the program wrote.
TEST(LocalInput, LineEndsBecomeCrlf) {
    EXPECT_EQ(local_input("a\nb\r\nc\rd", false, 1000).content, "a\r\nb\r\nc\r\nd\r\n");
}

// sendmail(1): without -i a lone dot ends the message; with -i it is content.
TEST(LocalInput, LoneDotEndsUnlessI) {
    EXPECT_EQ(local_input("a\n.\nafter\n", true, 1000).content, "a\r\n");
    EXPECT_EQ(local_input("a\n.\nafter\n", false, 1000).content, "a\r\n.\r\nafter\r\n");
    EXPECT_EQ(local_input("a\n..\n", true, 1000).content, "a\r\n..\r\n");
}

TEST(LocalInput, OverTheLimitIsRefusedNotCut) {
    auto in = local_input(std::string(100, 'x') + "\n", false, 50);
    EXPECT_TRUE(in.truncated);
}

// RFC 5322 3.6: From and Date are required, Message-ID should be there; what is there stays.
TEST(LocalMessage, Rfc5322_3_6_MissingFieldsAdded) {
    auto m = complete_local_message("Subject: hi\r\n\r\nbody\r\n", headers());
    EXPECT_EQ(m.content, "Subject: hi\r\nFrom: Alice Example <alice@host.example>\r\n"
                         "Date: Thu, 03 Dec 2026 10:00:00 +0000\r\nMessage-ID: <x1@host.example>\r\n\r\nbody\r\n");
    auto kept = complete_local_message("From: b@x.example\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
                                       "Message-ID: <m@x>\r\n\r\nbody\r\n", headers());
    EXPECT_EQ(kept.content, "From: b@x.example\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <m@x>\r\n\r\nbody\r\n");
}

// A message without a header section: what it has is body.
TEST(LocalMessage, BodyOnlyGetsHeadersAndABlankLine) {
    auto m = complete_local_message("just text\r\nmore\r\n", headers());
    EXPECT_EQ(m.content.substr(m.content.find("\r\n\r\n")), "\r\n\r\njust text\r\nmore\r\n");
}

// sendmail -t: To, Cc and Bcc give the recipients and Bcc goes (RFC 5322 3.6.3).
TEST(LocalMessage, Rfc5322_3_6_3_RecipientsFromHeadersBccRemoved) {
    auto m = complete_local_message("To: Bob <bob@x.example>,\r\n carol@y.example\r\nCc: dave@z.example\r\n"
                                    "Bcc: eve@w.example\r\nSubject: s\r\n\r\nb\r\n",
                                    headers(true));
    EXPECT_EQ(m.recipients, (std::vector<std::string>{"bob@x.example", "carol@y.example", "dave@z.example", "eve@w.example"}));
    EXPECT_EQ(m.content.find("Bcc"), std::string::npos);
    EXPECT_NE(m.content.find("To: Bob <bob@x.example>,\r\n carol@y.example\r\n"), std::string::npos);
    EXPECT_TRUE(m.problem.empty());
}

// RFC 5322 3.6.6: a resent message goes to its Resent- recipients only.
TEST(LocalMessage, Rfc5322_3_6_6_ResentFieldsWin) {
    auto m = complete_local_message("To: old@x.example\r\nResent-To: new@y.example\r\n\r\nb\r\n", headers(true));
    EXPECT_EQ(m.recipients, (std::vector<std::string>{"new@y.example"}));
}

TEST(LocalMessage, ABadRecipientFieldIsAProblem) {
    auto m = complete_local_message("To: <unclosed@x.example\r\n\r\nb\r\n", headers(true));
    EXPECT_FALSE(m.problem.empty());
}

// RFC 5322 3.2.3: a display name with specials is quoted; controls never reach the header.
TEST(LocalMessage, Rfc5322_3_2_3_DisplayNameQuoted) {
    EXPECT_EQ(display_name("Alice Example"), "Alice Example");
    EXPECT_EQ(display_name("Doe, John"), "\"Doe, John\"");
    EXPECT_EQ(display_name("A \"Q\"\r\nX-Evil: 1"), "\"A \\\"Q\\\"X-Evil: 1\"");
}
