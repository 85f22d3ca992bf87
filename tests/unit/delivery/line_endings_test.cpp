#include "delivery/line_endings.hpp"

#include <gtest/gtest.h>

namespace ehlo::delivery {
namespace {

std::string convert_in_pieces(std::string_view in, std::size_t piece) {
    CrlfToLf lf;
    std::string out;
    for (std::size_t i = 0; i < in.size(); i += piece) lf.convert(in.substr(i, piece), out);
    lf.finish(out);
    return out;
}

TEST(CrlfToLf, TurnsEveryCrlfIntoLf) {
    EXPECT_EQ(convert_in_pieces("Subject: a\r\n\r\nbody\r\n", 1000), "Subject: a\n\nbody\n");
}

TEST(CrlfToLf, HandlesACrlfSplitBetweenPieces) {
    const std::string in = "a\r\nbb\r\nccc\r\n\r\n";
    for (std::size_t piece = 1; piece <= in.size(); ++piece)
        EXPECT_EQ(convert_in_pieces(in, piece), "a\nbb\nccc\n\n") << "piece size " << piece;
}

TEST(CrlfToLf, KeepsACrNotFollowedByLf) {
    EXPECT_EQ(convert_in_pieces("a\rb\r\n", 1000), "a\rb\n");
    EXPECT_EQ(convert_in_pieces("a\r", 1), "a\r");
    EXPECT_EQ(convert_in_pieces("a\r\rb", 1), "a\r\rb");
}

TEST(CrlfToLf, LeavesABareLfAlone) { EXPECT_EQ(convert_in_pieces("a\nb", 1000), "a\nb"); }

}  // namespace
}  // namespace ehlo::delivery
