#include "queue/checksum.hpp"

#include <gtest/gtest.h>

namespace ehlo::queue {
namespace {

TEST(Crc32c, MatchesTheStandardCheckValue) {
    EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
    EXPECT_EQ(crc32c(""), 0u);
}

TEST(Crc32c, CanBeComputedInPieces) {
    std::string data;
    for (int i = 0; i < 1000; ++i) data += static_cast<char>(i * 7);
    for (std::size_t cut : {0u, 1u, 7u, 8u, 9u, 500u, 999u, 1000u})
        EXPECT_EQ(crc32c(data.substr(cut), crc32c(data.substr(0, cut))), crc32c(data)) << cut;
}

TEST(Crc32c, NoticesASingleFlippedBit) {
    std::string data(4096, 'a');
    auto good = crc32c(data);
    data[1234] ^= 0x10;
    EXPECT_NE(crc32c(data), good);
}

}  // namespace
}  // namespace ehlo::queue
