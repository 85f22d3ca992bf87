// Framing of command lines (RFC 5321 2.3.8, 4.5.3.1.4) and of DATA content (4.1.1.4, 4.5.2),
// and the content checks shared by DATA and BDAT (2.3.8, 4.5.3.1.6).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "smtp/content_check.hpp"
#include "smtp/data_reader.hpp"
#include "smtp/line_reader.hpp"

namespace ehlo::smtp {
namespace {

// Feeds `input` to a LineReader in pieces of `step` octets, as the session does (appending to
// a buffer and erasing what was used), and lists the events as "KIND:text".
std::vector<std::string> line_events(std::string_view input, std::size_t step, std::size_t max = 512) {
    LineReader reader(max);
    std::vector<std::string> out;
    std::string buffer;
    for (std::size_t i = 0; i < input.size(); i += step) {
        buffer.append(input.substr(i, step));
        std::size_t pos = 0;
        while (true) {
            const auto e = reader.next(buffer, pos);
            if (e.kind == LineReader::Kind::NeedMore) break;
            const char* kind = e.kind == LineReader::Kind::Line ? "LINE" : e.kind == LineReader::Kind::TooLong ? "LONG" : "BARELF";
            out.push_back(std::string(kind) + ":" + std::string(e.text.substr(0, 20)));
        }
        buffer.erase(0, pos);
    }
    return out;
}

TEST(LineReader, LinesEndOnlyAtCrlf_Rfc5321_2_3_8) {
    EXPECT_EQ(line_events("NOOP\r\nQUIT\r\n", 100), (std::vector<std::string>{"LINE:NOOP", "LINE:QUIT"}));
    EXPECT_EQ(line_events("NO\rOP\r\n", 100), (std::vector<std::string>{"LINE:NO\rOP"}));
    EXPECT_EQ(line_events("NOOP\nQUIT\r\n", 100), (std::vector<std::string>{"BARELF:NOOP", "LINE:QUIT"}));
    EXPECT_EQ(line_events("NOOP", 100), (std::vector<std::string>{}));
}

TEST(LineReader, CommandLineOf512OctetsButNot513_Rfc5321_4_5_3_1_4) {
    const std::string ok = std::string(510, 'x') + "\r\n";
    EXPECT_EQ(line_events(ok, 1000).size(), 1u);
    EXPECT_EQ(line_events(ok, 1000)[0].substr(0, 5), "LINE:");
    const std::string over = std::string(511, 'x') + "\r\nNOOP\r\n";
    EXPECT_EQ(line_events(over, 1000), (std::vector<std::string>{"LONG:" + std::string(20, 'x'), "LINE:NOOP"}));
}

TEST(LineReader, OverLongLineIsDiscardedUpToCrlfNotUpToBareLf_Rfc5321_4_5_3_1_4) {
    const std::string in = std::string(600, 'x') + "\nMAIL FROM:<a@b>\r\nNOOP\r\n";
    EXPECT_EQ(line_events(in, 1000), (std::vector<std::string>{"LONG:" + std::string(20, 'x'), "LINE:NOOP"}));
}

TEST(LineReader, SameEventsWhateverTheSplit) {
    using namespace std::string_literals;
    const std::string in = "EHLO a\r\n" + std::string(511, 'y') + "\r\r\nA\nB\r\n" + std::string(510, 'z') +
                           "\r\nC\r\x00\r\n"s + std::string(700, 'q') + "\r" + "\r\nEND\r\n";
    const auto whole = line_events(in, in.size());
    for (std::size_t step : {1, 2, 3, 7, 64, 511, 512, 513})
        EXPECT_EQ(line_events(in, step), whole) << "step " << step;
}

TEST(LineReader, CrAtTheLimitWaitsForItsLf) {
    // 510 octets and a CR: still a valid line if LF comes next; too long if anything else does.
    EXPECT_EQ(line_events(std::string(510, 'x') + "\r" + "\n", 1)[0].substr(0, 5), "LINE:");
    EXPECT_EQ(line_events(std::string(510, 'x') + "\rx\r\n", 1)[0].substr(0, 5), "LONG:");
}

// Runs DataReader over `input` in pieces of `step`: the content and whether the end was seen
// (and how many octets after it were left alone).
struct DataResult {
    std::string content;
    bool done = false;
    std::size_t left = 0;
};
DataResult read_data(std::string_view input, std::size_t step) {
    DataReader r;
    r.reset();
    DataResult result;
    std::size_t i = 0;
    while (i < input.size() && !r.done()) {
        const auto piece = input.substr(i, step);
        i += r.feed(piece, result.content);
    }
    result.done = r.done();
    result.left = input.size() - i;
    return result;
}

TEST(DataReader, EndsAtCrlfDotCrlf_Rfc5321_4_1_1_4) {
    const auto r = read_data("Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n", 1000);
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.content, "Subject: x\r\n\r\nbody\r\n");
    EXPECT_EQ(r.left, 6u);
}

TEST(DataReader, ImmediateDotEndsAnEmptyMessage_Rfc5321_4_1_1_4) {
    const auto r = read_data(".\r\n", 1000);
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.content, "");
}

TEST(DataReader, LeadingDotIsRemoved_Rfc5321_4_5_2) {
    EXPECT_EQ(read_data("..\r\n.\r\n", 100).content, ".\r\n");
    EXPECT_EQ(read_data("...x\r\n.\r\n", 100).content, "..x\r\n");
    EXPECT_EQ(read_data(".x\r\n.\r\n", 100).content, "x\r\n");
    EXPECT_EQ(read_data("a.\r\n.a\r\n.\r\n", 100).content, "a.\r\na\r\n");
    EXPECT_EQ(read_data("..\r\n..\r\n.\r\n", 100).content, ".\r\n.\r\n");
}

TEST(DataReader, DotsNotAtALineStartAreContent_Rfc5321_4_5_2) {
    EXPECT_EQ(read_data("a.b\r\n.\r\n", 100).content, "a.b\r\n");
    EXPECT_EQ(read_data(" .\r\n.\r\n", 100).content, " .\r\n");
}

TEST(DataReader, SameContentWhateverTheSplit) {
    const std::string in = "a\r\n..b\r\n.\rc\r\n\n.\n\r.\r\r\n.x\r\n..\r\n\r\n.\r\nNEXT";
    const auto whole = read_data(in, in.size());
    ASSERT_TRUE(whole.done);
    for (std::size_t step = 1; step < in.size(); ++step) {
        const auto r = read_data(in, step);
        EXPECT_EQ(r.content, whole.content) << step;
        EXPECT_EQ(r.left, whole.left) << step;
    }
}

TEST(DataReader, OnlyCrlfDotCrlfEndsTheContent_SmugglingVectors) {
    using namespace std::string_literals;
    // Each of these ended DATA in some server (CVE-2023-51764 family, SEC Consult 2023).
    for (const std::string& trick : {"\n.\n"s, "\r.\r"s, "\n.\r\n"s, "\r\n.\n"s, "\r\n.\r"s, "\r.\r\n"s,
                                     "\n.\r"s, "\r\n.\r\r\n"s, "\r\n\x00.\r\n"s, "\r\n .\r\n"s}) {
        const std::string in = "text" + trick + "MAIL FROM:<x@y>\r\n";
        EXPECT_FALSE(read_data(in, 1000).done) << testing::PrintToString(in);
    }
}

TEST(ContentCheck, LineOf1000OctetsButNot1001_Rfc5321_4_5_3_1_6) {
    ContentCheck ok(0);
    ok.feed(std::string(998, 'x') + "\r\n");
    ok.finish();
    EXPECT_FALSE(ok.verdict());
    ContentCheck over(0);
    over.feed(std::string(999, 'x') + "\r\n");
    over.finish();
    ASSERT_TRUE(over.verdict());
    EXPECT_EQ(over.verdict()->wire(true), "554 5.6.0 Line too long\r\n");
}

TEST(ContentCheck, LeadingDotCountsAsOnTheWire_Rfc5321_4_5_2) {
    // ".xxx" is sent as "..xxx": 997 octets of content make a 1000-octet line.
    ContentCheck ok(0);
    ok.feed("." + std::string(996, 'x') + "\r\n");
    EXPECT_TRUE(ok.acceptable());
    ContentCheck over(0);
    over.feed("." + std::string(997, 'x') + "\r\n");
    EXPECT_FALSE(over.acceptable());
}

TEST(ContentCheck, BareCrBareLfAndNulAreRefused_Rfc5321_2_3_8) {
    using namespace std::string_literals;
    for (const std::string& bad : {"a\rb\r\n"s, "a\nb\r\n"s, "a\0b\r\n"s, "a\r\r\n"s, "end\r"s}) {
        ContentCheck c(0);
        c.feed(bad);
        c.finish();
        ASSERT_TRUE(c.verdict()) << testing::PrintToString(bad);
        EXPECT_EQ(c.verdict()->code, 554);
        EXPECT_EQ(c.verdict()->enhanced, "5.6.0");
    }
}

TEST(ContentCheck, CrlfSplitAcrossPiecesIsFine) {
    ContentCheck c(0);
    c.feed("a\r");
    c.feed("\nb\r");
    c.feed("\n");
    c.finish();
    EXPECT_FALSE(c.verdict());
    EXPECT_TRUE(c.at_line_start());
    EXPECT_EQ(c.size(), 6u);
}

TEST(ContentCheck, SizeOverTheLimit_Rfc1870) {
    ContentCheck c(10);
    c.feed("12345678\r\n");
    EXPECT_TRUE(c.acceptable());
    c.feed("x");
    EXPECT_FALSE(c.acceptable());
    ASSERT_TRUE(c.verdict());
    EXPECT_EQ(c.verdict()->wire(true), "552 5.3.4 Message too big\r\n");
}

}  // namespace
}  // namespace ehlo::smtp
