#include <gtest/gtest.h>

#include "smtp/text.hpp"
#include "smtp/utf8.hpp"

namespace ehlo::smtp {
namespace {

TEST(Printable, CutsLongInputAndSaysSo) {
    EXPECT_EQ(printable(std::string(300, 'a'), 10), "aaaaaaaaaa...");
    EXPECT_EQ(printable("short"), "short");
}

TEST(Printable, EscapesWhatATerminalWouldActOn) {
    EXPECT_EQ(printable("a\r\nb"), "a\\r\\nb");
    EXPECT_EQ(printable("\x1b]0;title\x07"), "\\x1b]0;title\\x07");
    EXPECT_EQ(printable("\xc2\x9b" "31m"), "\\u009b31m");
    EXPECT_EQ(printable("x\xe2\x80\xaey"), "x\\u202ey");
    EXPECT_EQ(printable("\xff\xfe"), "\\xff\\xfe");
    EXPECT_EQ(printable("back\\slash"), "back\\\\slash");
    EXPECT_EQ(printable("quote\"d"), "quote\"d");  // only quoted values escape quotes
}

TEST(Printable, NeedsEscapingAgreesWithAppendPrintable) {
    for (std::string s : {"plain", "caf\xc3\xa9", "a\nb", "\xe2\x80\xa8", "\xff", "a\\b", "\xc2\x80"}) {
        std::string out;
        append_printable(out, s);
        EXPECT_EQ(needs_escaping(s), out != s) << s;
    }
}

TEST(Utf8, CharAtDecodesEachLength_Rfc3629_3) {
    char32_t cp = 0;
    EXPECT_EQ(utf8_char_at("A", 0, cp), 1u);
    EXPECT_EQ(cp, U'A');
    EXPECT_EQ(utf8_char_at("\xc3\xa9", 0, cp), 2u);
    EXPECT_EQ(cp, U'\u00e9');
    EXPECT_EQ(utf8_char_at("\xe2\x80\xae", 0, cp), 3u);
    EXPECT_EQ(cp, U'\u202e');
    EXPECT_EQ(utf8_char_at("\xf0\x9f\x98\x80", 0, cp), 4u);
    EXPECT_EQ(cp, U'\U0001f600');
    EXPECT_EQ(utf8_char_at("\xc0\x80", 0, cp), 0u);
    EXPECT_EQ(utf8_char_at("\xf4\x90\x80\x80", 0, cp), 0u);  // above U+10FFFF
}

TEST(HeaderSection, EndsBeforeTheEmptyLine_Rfc5322_2_1) {
    EXPECT_EQ(header_section("A: 1\r\nB: 2\r\n\r\nbody\r\n"), "A: 1\r\nB: 2\r\n");
    EXPECT_EQ(header_section("\r\nbody\r\n"), "");
    EXPECT_EQ(header_section("A: 1\r\n"), "A: 1\r\n") << "no body: all header";
    EXPECT_EQ(header_section(""), "");
}

TEST(Ascii, NonAsciiMeansEightBit_Rfc6152) {
    EXPECT_FALSE(has_non_ascii("plain\r\n"));
    EXPECT_TRUE(has_non_ascii("caf\xc3\xa9"));
}

TEST(Ascii, LowerAndIequals) {
    EXPECT_EQ(lower("MiXeD.Example"), "mixed.example");
    EXPECT_TRUE(iequals("Received", "RECEIVED"));
    EXPECT_FALSE(iequals("Received", "Receive"));
}

}  // namespace
}  // namespace ehlo::smtp
