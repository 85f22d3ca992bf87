// The log formatter: one event is one line, and text from the network cannot forge, hide or
// reorder anything a person reads in it.
#include <gtest/gtest.h>

#include "observe/log.hpp"

namespace ehlo::observe {
namespace {

TEST(LogFormat, PlainValuesAreBare) {
    EXPECT_EQ(format_fields("queued", {{"id", "0ABC"}, {"nrcpt", 3}}), "event=queued id=0ABC nrcpt=3");
}

TEST(LogFormat, ValuesWithSpacesQuotesOrEqualsAreQuoted) {
    EXPECT_EQ(format_fields("e", {{"reply", "250 2.0.0 Ok"}}), "event=e reply=\"250 2.0.0 Ok\"");
    EXPECT_EQ(format_fields("e", {{"v", "a\"b"}}), "event=e v=\"a\\\"b\"");
    EXPECT_EQ(format_fields("e", {{"v", "k=v"}}), "event=e v=\"k=v\"");
    EXPECT_EQ(format_fields("e", {{"v", ""}}), "event=e v=\"\"");
    EXPECT_EQ(format_fields("e", {{"v", "a\\b"}}), "event=e v=\"a\\\\b\"");
}

TEST(LogFormat, LineBreaksCannotStartAForgedLine) {
    const std::string line = format_fields("dialog", {{"line", "MAIL FROM:<a>\r\nevent=delivered id=X"}});
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_EQ(line.find('\r'), std::string::npos);
    EXPECT_EQ(line, "event=dialog line=\"MAIL FROM:<a>\\r\\nevent=delivered id=X\"");
}

TEST(LogFormat, C0ControlsAndEscapeSequencesAreEscaped) {
    // ESC [ 2 J would clear a terminal that shows the log.
    EXPECT_EQ(format_fields("e", {{"v", std::string("a\x1b[2Jb\x07\x7f", 8)}}), "event=e v=\"a\\x1b[2Jb\\x07\\x7f\"");
    EXPECT_EQ(format_fields("e", {{"v", std::string("a\0b", 3)}}), "event=e v=\"a\\x00b\"");
}

TEST(LogFormat, C1ControlsAreEscaped) {
    // U+009B is CSI, which some terminals act on like ESC [.
    EXPECT_EQ(format_fields("e", {{"v", "x\xc2\x9b" "2Jy"}}), "event=e v=\"x\\u009b2Jy\"");
    EXPECT_EQ(format_fields("e", {{"v", "\xc2\x85"}}), "event=e v=\"\\u0085\"");  // NEL
}

TEST(LogFormat, LineAndParagraphSeparatorsAreEscaped) {
    EXPECT_EQ(format_fields("e", {{"v", "a\xe2\x80\xa8" "b\xe2\x80\xa9" "c"}}), "event=e v=\"a\\u2028b\\u2029c\"");
}

TEST(LogFormat, BidirectionalOverridesAreEscaped) {
    // U+202E RIGHT-TO-LEFT OVERRIDE would show "gpj.exe" as "exe.jpg" (Trojan Source).
    EXPECT_EQ(format_fields("e", {{"v", "a\xe2\x80\xae" "b"}}), "event=e v=\"a\\u202eb\"");
    EXPECT_EQ(format_fields("e", {{"v", "\xe2\x81\xa6" "x\xe2\x81\xa9"}}), "event=e v=\"\\u2066x\\u2069\"");
    EXPECT_EQ(format_fields("e", {{"v", "\xe2\x80\x8f\xd8\x9c"}}), "event=e v=\"\\u200f\\u061c\"");
}

TEST(LogFormat, InvalidUtf8IsEscapedOctetByOctet) {
    EXPECT_EQ(format_fields("e", {{"v", "a\xff" "b"}}), "event=e v=\"a\\xffb\"");
    EXPECT_EQ(format_fields("e", {{"v", "\xc0\xaf"}}), "event=e v=\"\\xc0\\xaf\"");          // overlong '/'
    EXPECT_EQ(format_fields("e", {{"v", "\xed\xa0\x80"}}), "event=e v=\"\\xed\\xa0\\x80\"");  // a surrogate
    EXPECT_EQ(format_fields("e", {{"v", "\xe2\x80"}}), "event=e v=\"\\xe2\\x80\"");          // truncated
}

TEST(LogFormat, WellFormedUtf8PassesAsItIs) {
    EXPECT_EQ(format_fields("e", {{"to", "jos\xc3\xa9@example.org"}}), "event=e to=\"jos\xc3\xa9@example.org\"");
    EXPECT_EQ(format_fields("e", {{"v", "\xe6\x97\xa5\xe6\x9c\xac"}}), "event=e v=\"\xe6\x97\xa5\xe6\x9c\xac\"");
}

TEST(LogFormat, KeysAreOursAndPassAsTheyAre) {
    EXPECT_EQ(format_fields("remote-attempt", {{"host", "mx.example"}}), "event=remote-attempt host=mx.example");
}

}  // namespace
}  // namespace ehlo::observe
