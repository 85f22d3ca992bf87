// Hostile peer text reaches no terminal as it is: every control, every invisible direction
// change and every octet that is not UTF-8 becomes a visible escape.
#include <gtest/gtest.h>

#include "tutor/safe_text.hpp"

namespace ehlo::tutor {
namespace {

TEST(SafeText, PrintableAsciiAndUtf8PassUnchanged) {
    EXPECT_EQ(safe_text("250 2.1.5 Ok <alice@example.org>"), "250 2.1.5 Ok <alice@example.org>");
    EXPECT_EQ(safe_text("jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xac"), "jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xac");
}

TEST(SafeText, C0ControlsEscEndDelAreEscaped) {
    EXPECT_EQ(safe_text("a\x1b]0;pwned\x07z"), "a\\x1b]0;pwned\\x07z");     // retitles a terminal
    EXPECT_EQ(safe_text("\x1b[2J\x1b[H"), "\\x1b[2J\\x1b[H");                 // clears the screen
    EXPECT_EQ(safe_text(std::string("a\0b\tc\x7f", 6)), "a\\x00b\\tc\\x7f");
    EXPECT_EQ(safe_text("cr\rlf\n"), "cr\\rlf\\n");
}

TEST(SafeText, BackslashIsEscapedSoThatNoEscapeCanBeForged) {
    EXPECT_EQ(safe_text("\\x1b"), "\\\\x1b");
}

TEST(SafeText, C1ControlsAreEscapedEncodedOrRaw) {
    EXPECT_EQ(safe_text("\xc2\x9b" "2J"), "\\u009b2J");  // CSI as UTF-8
    EXPECT_EQ(safe_text("\xc2\x85"), "\\u0085");         // NEL
    EXPECT_EQ(safe_text("\x9b" "2J"), "\\x9b2J");          // CSI as a raw 8-bit octet
}

TEST(SafeText, LineSeparatorsAndBidiControlsAreEscaped) {
    EXPECT_EQ(safe_text("a\xe2\x80\xa8" "b\xe2\x80\xa9"), "a\\u2028b\\u2029");
    // RLO makes "5.7.1 refused" read backwards in a terminal that applies bidi.
    EXPECT_EQ(safe_text("\xe2\x80\xae" "1.7.5"), "\\u202e1.7.5");
    EXPECT_EQ(safe_text("\xe2\x81\xa6x\xe2\x81\xa9"), "\\u2066x\\u2069");
    EXPECT_EQ(safe_text("\xe2\x80\x8f\xd8\x9c\xef\xbb\xbf"), "\\u200f\\u061c\\ufeff");
}

TEST(SafeText, InvalidUtf8IsEscapedOctetByOctet_Rfc3629_4) {
    EXPECT_EQ(safe_text("\xc0\xaf"), "\\xc0\\xaf");          // overlong "/"
    EXPECT_EQ(safe_text("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
    EXPECT_EQ(safe_text("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
    EXPECT_EQ(safe_text("ab\xe2\x82"), "ab\\xe2\\x82");       // truncated at the end
    EXPECT_EQ(safe_text("\x80x"), "\\x80x");                  // a stray continuation octet
    EXPECT_EQ(safe_text("\xe2\x28\xa1"), "\\xe2(\\xa1");      // broken in the middle
}

}  // namespace
}  // namespace ehlo::tutor
