// The maildrop file format (queue/maildrop.hpp): what sendmail writes and the pickup reads as
// untrusted input.
#include "queue/maildrop.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

using namespace ehlo::queue;

namespace {
MaildropEntry sample() {
    MaildropEntry e;
    e.sender = "alice@host.example";
    e.recipients = {"bob@example.org", "carol@example.net"};
    e.content = "Subject: hi\r\n\r\nbody\r\n";
    return e;
}
const MaildropLimits kLimits{1000, 10};

std::string why(std::string_view bytes, MaildropLimits limits = kLimits) {
    auto r = parse_maildrop(bytes, limits);
    return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : std::string("parsed");
}
}  // namespace

TEST(Maildrop, RoundTrips) {
    const auto bytes = serialize_maildrop(sample());
    auto r = parse_maildrop(bytes, kLimits);
    ASSERT_TRUE(std::holds_alternative<MaildropEntry>(r)) << std::get<std::string>(r);
    const auto& e = std::get<MaildropEntry>(r);
    EXPECT_EQ(e.sender, "alice@host.example");
    EXPECT_EQ(e.recipients, sample().recipients);
    EXPECT_EQ(e.content, sample().content);
}

TEST(Maildrop, NullSenderRoundTrips) {
    auto e = sample();
    e.sender.clear();
    auto r = parse_maildrop(serialize_maildrop(e), kLimits);
    ASSERT_TRUE(std::holds_alternative<MaildropEntry>(r));
    EXPECT_EQ(std::get<MaildropEntry>(r).sender, "");
}

// Everything in the file is someone else's: each way it can be wrong is refused with a reason.
TEST(Maildrop, HostileFilesRefused) {
    EXPECT_NE(why("garbage"), "parsed");
    EXPECT_NE(why("ehlo-maildrop 1\nS a@b\n\nx\r\n"), "parsed");                        // no recipient
    EXPECT_NE(why("ehlo-maildrop 1\nR b@c\n\nx\r\n"), "parsed");                        // no sender line first
    EXPECT_NE(why("ehlo-maildrop 1\nS a@b\nR b@c\nX y\n\nx\r\n"), "parsed");           // unknown line
    EXPECT_NE(why("ehlo-maildrop 1\nS a@b\nR b\rc\n\nx\r\n"), "parsed");               // CR in an address
    EXPECT_NE(why("ehlo-maildrop 1\nS a@b\nR b@c\n\nbare\nLF\r\n"), "parsed");         // RFC 5321 2.3.8
    EXPECT_NE(why("ehlo-maildrop 1\nS a@b\nR b@c\n\nbare\rCR\r\n"), "parsed");
    EXPECT_NE(why("ehlo-maildrop 1\nS a@b\nR b@c\n\nno end"), "parsed");
    EXPECT_NE(why("ehlo-maildrop 1\nS a@b\nR b@c\n\nx"), "parsed");                   // one octet, no CRLF
    EXPECT_NE(why("ehlo-maildrop 1\nS a@b\nR b@c"), "parsed");                          // unfinished envelope
    EXPECT_NE(why("ehlo-maildrop 1\nS a@b\nR " + std::string(600, 'x') + "\n\nx\r\n"), "parsed");
    EXPECT_EQ(why("ehlo-maildrop 1\nS a@b\nR b@c\n\n" + std::string(999, 'x') + "\r\n"), "the message is larger than limits.message_size");
    std::string many = "ehlo-maildrop 1\nS a@b\n";
    for (int i = 0; i < 11; ++i) many += "R r" + std::to_string(i) + "@c\n";
    EXPECT_EQ(why(many + "\nx\r\n"), "too many recipients");
}

TEST(Maildrop, NamesAreUnguessableAndChecked) {
    EXPECT_TRUE(is_maildrop_name("000661b87778bf76.14221.2d0dfb04ff6b57b338e4bbfd61849604"));
    EXPECT_FALSE(is_maildrop_name("tmp.000661b87778bf76.14221.2d0dfb04ff6b57b338e4bbfd61849604"));
    EXPECT_FALSE(is_maildrop_name("bad.000661b87778bf76.14221.2d0dfb04ff6b57b338e4bbfd61849604"));
    EXPECT_FALSE(is_maildrop_name("../../etc/passwd"));
    EXPECT_FALSE(is_maildrop_name("000661b87778bf76.14221.2d0dfb04ff6b57b338e4bbfd6184960"));
    EXPECT_FALSE(is_maildrop_name("000661b87778bf76.x.2d0dfb04ff6b57b338e4bbfd61849604"));
}

// Durable and readable by the daemon's account whatever the writer's umask; no temporary left.
TEST(Maildrop, WrittenUnderItsFinalNameOnly) {
    const auto dir = std::filesystem::temp_directory_path() / ("ehlo-maildrop-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const mode_t old = ::umask(077);
    std::error_code ec;
    const std::string name = write_maildrop(dir, sample(), ec);
    ::umask(old);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_TRUE(is_maildrop_name(name)) << name;
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
    EXPECT_EQ(names, std::vector<std::string>{name});
    struct stat st {};
    ASSERT_EQ(::stat((dir / name).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u);
    std::ifstream in(dir / name, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(text.str(), serialize_maildrop(sample()));
    std::filesystem::remove_all(dir);
}
