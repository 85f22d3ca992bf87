// Reply formatting: RFC 5321 4.2 and the enhanced codes of RFC 2034 / RFC 3463.
#include <gtest/gtest.h>

#include "smtp/reply.hpp"

namespace ehlo::smtp {
namespace {

TEST(ReplyWire, EnhancedCodeFollowsTheCodeOnceNegotiated_Rfc2034) {
    const Reply r(250, "2.1.0", "Ok");
    EXPECT_EQ(r.wire(true), "250 2.1.0 Ok\r\n");
    EXPECT_EQ(r.wire(false), "250 Ok\r\n");
}

TEST(ReplyWire, ReplyWithoutEnhancedCodeNeverShowsOne) {
    EXPECT_EQ(Reply(354, "", "Go ahead").wire(true), "354 Go ahead\r\n");
}

TEST(ReplyWire, MultilineHasHyphenOnAllButTheLastLine_Rfc5321_4_2_1) {
    Reply r(250, "2.0.0", "one");
    r.lines.push_back("two");
    r.lines.push_back("three");
    EXPECT_EQ(r.wire(true), "250-2.0.0 one\r\n250-2.0.0 two\r\n250 2.0.0 three\r\n");
    EXPECT_EQ(r.wire(false), "250-one\r\n250-two\r\n250 three\r\n");
}

TEST(ReplyWire, LineBreaksInTextCannotForgeAnotherReply_Rfc5321_4_2) {
    EXPECT_EQ(Reply(550, "5.1.1", "x\r\n250 fake").wire(true), "550 5.1.1 x  250 fake\r\n");
}

TEST(ReplyWire, EmptyTextStillEndsWithCrlf) {
    Reply r;
    r.code = 250;
    r.lines.clear();
    EXPECT_EQ(r.wire(true), "250\r\n");
    r.enhanced = "2.0.0";
    EXPECT_EQ(r.wire(true), "250 2.0.0\r\n");
}

TEST(ReplyClass, ClassesFollowTheFirstDigit_Rfc5321_4_2_1) {
    EXPECT_TRUE(Reply(354, "", "x").positive());
    EXPECT_TRUE(Reply(452, "4.5.3", "x").transient());
    EXPECT_TRUE(Reply(554, "5.5.1", "x").permanent());
}

}  // namespace
}  // namespace ehlo::smtp

namespace ehlo::smtp {
namespace {

// One form for logs, spool state records and DSN Diagnostic-Code fields alike.
TEST(Reply, OneLineJoinsCodeEnhancedCodeAndLines) {
    Reply r(451, "4.4.1", "connection refused");
    r.lines.push_back("");
    r.lines.push_back("by mx1.example");
    EXPECT_EQ(r.one_line(), "451 4.4.1 connection refused by mx1.example");
    EXPECT_EQ(Reply(220, "", "ready").one_line(), "220 ready");
}

}  // namespace
}  // namespace ehlo::smtp
