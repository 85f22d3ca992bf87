// What may reach a terminal from the network: printable text and well-formed UTF-8, nothing
// that a terminal acts on or that disguises the order of the text.
#include <gtest/gtest.h>

#include "observe/terminal_safe.hpp"

namespace ehlo::observe {
namespace {

TEST(TerminalSafe, PrintableAsciiAndUtf8PassUnchanged) {
    EXPECT_EQ(terminal_safe("250 2.0.0 Ok: queued as 0ABC"), "250 2.0.0 Ok: queued as 0ABC");
    EXPECT_EQ(terminal_safe("Jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7"), "Jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7");
    EXPECT_EQ(terminal_safe(""), "");
}

TEST(TerminalSafe, C0ControlsAndDelAreEscaped) {
    EXPECT_EQ(terminal_safe("a\x1b[2Jb"), "a\\x1b[2Jb");  // clear screen
    EXPECT_EQ(terminal_safe("line\r\nnext\tcol"), "line\\r\\nnext\\tcol");
    EXPECT_EQ(terminal_safe(std::string_view("nul\0x\x7f", 6)), "nul\\x00x\\x7f");
    EXPECT_EQ(terminal_safe("\x07\x08"), "\\x07\\x08");
}

TEST(TerminalSafe, BackslashIsDoubledSoTheEscapesAreUnambiguous) {
    EXPECT_EQ(terminal_safe("C:\\x1b"), "C:\\\\x1b");
}

TEST(TerminalSafe, C1ControlsInUtf8AreEscaped) {
    EXPECT_EQ(terminal_safe("\xc2\x9b" "31m"), "\\u009b31m");  // CSI
    EXPECT_EQ(terminal_safe("\xc2\x9d" "0;title\xc2\x9c"), "\\u009d0;title\\u009c");  // OSC ... ST
    EXPECT_EQ(terminal_safe("\xc2\x85"), "\\u0085");  // NEL
    EXPECT_EQ(terminal_safe("\xc2\xa0"), "\xc2\xa0");  // NBSP is printable
}

TEST(TerminalSafe, LineAndParagraphSeparatorsAreEscaped) {
    EXPECT_EQ(terminal_safe("a\xe2\x80\xa8" "b\xe2\x80\xa9" "c"), "a\\u2028b\\u2029c");
}

TEST(TerminalSafe, BidiControlsAreEscaped) {
    EXPECT_EQ(terminal_safe("\xe2\x80\xae" "gpj.exe"), "\\u202egpj.exe");  // RIGHT-TO-LEFT OVERRIDE
    EXPECT_EQ(terminal_safe("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad"), "\\u202a\\u202b\\u202c\\u202d");
    EXPECT_EQ(terminal_safe("\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9"), "\\u2066\\u2067\\u2068\\u2069");
    EXPECT_EQ(terminal_safe("\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c"), "\\u200e\\u200f\\u061c");
}

// RFC 3629 section 4: only these sequences are UTF-8; anything else is escaped byte by byte.
TEST(TerminalSafe, InvalidUtf8IsEscapedBytewise_Rfc3629_4) {
    EXPECT_EQ(terminal_safe("\xff\xfe"), "\\xff\\xfe");
    EXPECT_EQ(terminal_safe("\x80"), "\\x80");                    // lone continuation byte
    EXPECT_EQ(terminal_safe("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
    EXPECT_EQ(terminal_safe("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");  // overlong, three bytes
    EXPECT_EQ(terminal_safe("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // surrogate U+D800
    EXPECT_EQ(terminal_safe("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // beyond U+10FFFF
    EXPECT_EQ(terminal_safe("ab\xe2\x82"), "ab\\xe2\\x82");       // truncated at the end
    EXPECT_EQ(terminal_safe("\xe2\x82" "A"), "\\xe2\\x82" "A");   // truncated in the middle
    // An overlong C1 control is not a way around the escaping either.
    EXPECT_EQ(terminal_safe("\xc1\x9b"), "\\xc1\\x9b");
}

TEST(TerminalSafe, OutputIsAlwaysPrintable) {
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    const std::string safe = terminal_safe(all);
    for (unsigned char c : safe) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << static_cast<int>(c);
}

}  // namespace
}  // namespace ehlo::observe
