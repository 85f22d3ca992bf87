// The header fields the history keeps: first occurrence, unfolded (RFC 5322 2.2.3), bounded.
#include "observe/header_summary.hpp"

#include <gtest/gtest.h>

namespace ehlo::observe {
namespace {

TEST(HeaderSummary, TakesTheFourFieldsUnfolded_Rfc5322_2_2_3) {
    const auto s = summarize_header_section(
        "Received: from x\r\n\tby y\r\nFrom: Alice <alice@example.org>\r\nTO: bob@example.net,\r\n carol@example.net\r\n"
        "Subject:  Hello\r\n\tthere \r\nMessage-Id: <1@example.org>\r\nSubject: second\r\n\r\n");
    EXPECT_EQ(s.from, "Alice <alice@example.org>");
    EXPECT_EQ(s.to, "bob@example.net, carol@example.net");
    EXPECT_EQ(s.subject, "Hello there");
    EXPECT_EQ(s.message_id, "<1@example.org>");
}

TEST(HeaderSummary, MissingFieldsStayEmptyAndLinesWithoutAColonAreSkipped) {
    const auto s = summarize_header_section("garbage line\nFrom:a@b\n");
    EXPECT_EQ(s.from, "a@b");
    EXPECT_TRUE(s.to.empty());
    EXPECT_TRUE(s.subject.empty());
    EXPECT_TRUE(s.message_id.empty());
}

TEST(HeaderSummary, AValueIsCutToItsBound) {
    const auto s = summarize_header_section("Subject: " + std::string(5000, 'x') + "\r\n");
    EXPECT_EQ(s.subject.size(), kMaxSummaryField);
}

}  // namespace
}  // namespace ehlo::observe
