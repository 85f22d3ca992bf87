// The server's bytes into replies (RFC 5321 4.2, 4.2.1), with every fault named rather than
// fatal, and every line bounded.
#include <gtest/gtest.h>

#include "tutor/server_reader.hpp"

namespace ehlo::tutor {
namespace {

TEST(ServerReader, MultilineReplyInPiecesIsOneReply_Rfc5321_4_2_1) {
    ServerReader r;
    r.feed("250-mx.test greets you\r\n250-PIPE");
    EXPECT_FALSE(r.has_reply());
    EXPECT_TRUE(r.partial());
    r.feed("LINING\r\n250 DSN\r\n220");
    ASSERT_TRUE(r.has_reply());
    const ServerReply reply = r.take();
    EXPECT_EQ(reply.reply.code, 250);
    EXPECT_EQ(reply.reply.lines, (std::vector<std::string>{"mx.test greets you", "PIPELINING", "DSN"}));
    EXPECT_EQ(reply.shown.size(), 3u);
    EXPECT_TRUE(reply.problems.empty());
    EXPECT_FALSE(r.has_reply());
}

TEST(ServerReader, EnhancedCodeIsSplitOffEveryLine_Rfc2034_4) {
    ServerReader r;
    r.feed("550-5.1.1 no such user\r\n550 5.1.1 try another\r\n");
    const ServerReply reply = r.take();
    EXPECT_EQ(reply.reply.enhanced, "5.1.1");
    EXPECT_EQ(reply.reply.lines, (std::vector<std::string>{"no such user", "try another"}));
}

TEST(ServerReader, EnhancedCodeOfAnotherClassIsText) {
    ServerReader r;
    r.feed_line("250 5.1.1 odd");
    EXPECT_EQ(r.take().reply.enhanced, "");
    EXPECT_EQ(enhanced_code_length("4.7.100 x", 451), 7u);
    EXPECT_EQ(enhanced_code_length("4.7.1000", 451), 0u);
}

TEST(ServerReader, CodeAloneIsAReply_Rfc5321_4_2) {
    ServerReader r;
    r.feed("354\r\n");
    const ServerReply reply = r.take();
    EXPECT_EQ(reply.reply.code, 354);
    EXPECT_EQ(reply.reply.lines, std::vector<std::string>{""});
}

TEST(ServerReader, BareLfIsNotedAndTheReplyStillRead_Rfc5321_2_3_8) {
    ServerReader r;
    r.feed("220 broken\n");
    ASSERT_TRUE(r.has_reply());
    const ServerReply reply = r.take();
    EXPECT_EQ(reply.reply.code, 220);
    ASSERT_EQ(reply.problems.size(), 1u);
    EXPECT_EQ(reply.problems[0].kind, NoteKind::Mistake);
    EXPECT_EQ(reply.problems[0].rfc, "RFC 5321 2.3.8");
}

TEST(ServerReader, LineThatIsNoReplyIsShownAndNamed) {
    ServerReader r;
    r.feed("hello there\r\n220 ok\r\n");
    const ServerReply reply = r.take();
    EXPECT_EQ(reply.shown, (std::vector<std::string>{"hello there", "220 ok"}));
    EXPECT_EQ(reply.reply.lines, std::vector<std::string>{"ok"});
    ASSERT_EQ(reply.problems.size(), 1u);
    EXPECT_EQ(reply.problems[0].title, "This line is not an SMTP reply");
}

TEST(ServerReader, CodeChangeWithinReplyIsNamed_Rfc5321_4_2_1) {
    ServerReader r;
    r.feed("250-a\r\n550 b\r\n");
    const ServerReply reply = r.take();
    EXPECT_EQ(reply.reply.code, 250);
    ASSERT_EQ(reply.problems.size(), 1u);
    EXPECT_EQ(reply.problems[0].rfc, "RFC 5321 4.2.1");
}

TEST(ServerReader, LongLineIsNotedAndCut_Rfc5321_4_5_3_1_5) {
    ServerReader r;
    r.feed("250 " + std::string(600, 'x') + "\r\n");
    ServerReply reply = r.take();
    ASSERT_EQ(reply.problems.size(), 1u);
    EXPECT_EQ(reply.problems[0].rfc, "RFC 5321 4.5.3.1.5");
    r.feed("250 " + std::string(100000, 'x') + "\r\n");
    reply = r.take();
    EXPECT_LE(reply.shown[0].size(), kKeptReplyLine + 3);
    EXPECT_LE(reply.reply.lines[0].size(), kKeptReplyLine);
}

TEST(ServerReader, EndlessReplyIsBounded) {
    ServerReader r;
    for (int i = 0; i < 250; ++i) r.feed("250-x\r\n");
    ASSERT_TRUE(r.has_reply());
    const ServerReply reply = r.take();
    EXPECT_EQ(reply.reply.lines.size(), kMaxReplyLines);
    EXPECT_FALSE(reply.problems.empty());
}

TEST(ServerReader, HostileTextIsEscapedForShowing) {
    ServerReader r;
    r.feed("220 \x1b[31mred\x1b[0m \xe2\x80\xae\r\n");
    const ServerReply reply = r.take();
    EXPECT_EQ(reply.shown[0], "220 \\x1b[31mred\\x1b[0m \\u202e");
    EXPECT_EQ(reply.shown[0].find('\x1b'), std::string::npos);
}

TEST(ServerReader, UnfinishedReplyCanBeTakenWhenTheConnectionEnds) {
    ServerReader r;
    r.feed("250-first\r\n");
    ASSERT_TRUE(r.partial());
    const ServerReply part = r.take_partial();
    EXPECT_EQ(part.shown, std::vector<std::string>{"250-first"});
    EXPECT_FALSE(r.partial());
}

}  // namespace
}  // namespace ehlo::tutor
