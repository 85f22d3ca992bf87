// DATA: content framing (RFC 5321 4.1.1.4), dot transparency (4.5.2), content checks (2.3.8,
// 4.5.3.1.6, RFC 1870) and the hand-over to the host.
#include <gtest/gtest.h>

#include "fake_host.hpp"

namespace ehlo::smtp::test {
namespace {

using namespace std::string_literals;

constexpr const char* k354 = "354 End data with <CR><LF>.<CR><LF>\r\n";
constexpr const char* kQueued = "250 2.0.0 Ok: queued as TESTID\r\n";
constexpr const char* kBareRefusal = "554 5.6.0 Message refused: bare CR, bare LF or NUL in content (RFC 5321 2.3.8)\r\n";

TEST(Data, EmptyMessageEndsAtTheFirstDot_Rfc5321_4_1_1_4) {
    Dialog d;
    d.open_transaction();
    EXPECT_EQ(d.send("DATA\r\n"), k354);
    EXPECT_EQ(d.send(".\r\n"), kQueued);
    EXPECT_EQ(d.host.messages.at(0), "");
}

TEST(Data, DotStuffingIsUndone_Rfc5321_4_5_2) {
    Dialog d;
    d.open_transaction();
    d.send("DATA\r\n");
    EXPECT_EQ(d.send("..\r\n..leading\r\nmid.dle\r\n...\r\n.\r\n"), kQueued);
    EXPECT_EQ(d.host.messages.at(0), ".\r\n.leading\r\nmid.dle\r\n..\r\n");
}

TEST(Data, ContentReachesTheHostInPiecesAsItArrives) {
    Dialog d;
    d.open_transaction();
    d.send("DATA\r\n");
    d.send("first line\r\n");
    EXPECT_EQ(d.host.content, "first line\r\n");
    d.send("second ");
    EXPECT_EQ(d.host.content, "first line\r\nsecond ");
    d.send("line\r\n.");
    d.send("\r\n");
    EXPECT_EQ(d.host.messages.at(0), "first line\r\nsecond line\r\n");
    EXPECT_GE(d.host.pieces.size(), 3u);
}

TEST(Data, EndMarkerSplitAtEveryPointStillEnds_Rfc5321_4_1_1_4) {
    const std::string content = "a\r\n..b\r\n.\r\nNOOP\r\n";
    for (std::size_t cut = 1; cut < content.size(); ++cut) {
        Dialog d;
        d.open_transaction();
        d.send("DATA\r\n");
        std::string out = d.send(content.substr(0, cut));
        out += d.send(content.substr(cut));
        EXPECT_EQ(out, std::string(kQueued) + "250 2.0.0 Ok\r\n") << cut;
        EXPECT_EQ(d.host.messages.at(0), "a\r\n.b\r\n") << cut;
    }
}

TEST(Data, ProcessingWaitsForTheHostAndBuffersPipelinedInput_Rfc2920) {
    Dialog d;
    d.auto_answer = false;
    d.open_transaction();
    EXPECT_EQ(d.send("DATA\r\nx\r\n.\r\nMAIL FROM:<b@b.example>\r\n"), k354);
    EXPECT_TRUE(d.session->awaiting_host());
    EXPECT_EQ(d.send("RCPT TO:<c@d.example>\r\n"), "");
    EXPECT_EQ(d.host.mails.size(), 1u);  // the second MAIL waits
    d.session->message_done(Reply(250, "2.0.0", "Ok: queued as Q1"));
    EXPECT_EQ(d.session->take_output(), "250 2.0.0 Ok: queued as Q1\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n");
    EXPECT_EQ(d.host.mails.size(), 2u);
}

TEST(Data, HostMayAnswerFromWithinEndMessage) {
    Dialog d;
    d.auto_answer = false;
    d.host.answer_at_once = d.session.get();
    d.open_transaction();
    EXPECT_EQ(d.send("DATA\r\nx\r\n.\r\nNOOP\r\n"), std::string(k354) + kQueued + "250 2.0.0 Ok\r\n");
    EXPECT_FALSE(d.session->awaiting_host());
}

TEST(Data, TemporaryFailureFromTheHostEndsTheTransaction_Rfc5321_4_1_1_4) {
    Dialog d;
    d.auto_answer = false;
    d.open_transaction();
    d.send("DATA\r\nx\r\n.\r\n");
    d.session->message_done(Reply(451, "4.3.0", "Could not store message"));
    EXPECT_EQ(d.session->take_output(), "451 4.3.0 Could not store message\r\n");
    EXPECT_EQ(d.send("RCPT TO:<c@d.example>\r\n"), "503 5.5.1 Need MAIL before RCPT\r\n");
    EXPECT_EQ(d.host.aborts, 0);  // the content was handed over; the host owns its fate
}

TEST(Data, BareLfInContentRefusesTheMessage_Rfc5321_2_3_8) {
    Dialog d;
    d.open_transaction();
    d.send("DATA\r\n");
    EXPECT_EQ(d.send("line one\nline two\r\n.\r\n"), kBareRefusal);
    EXPECT_TRUE(d.host.messages.empty());
    EXPECT_EQ(d.host.aborts, 1);
    EXPECT_EQ(d.send("RCPT TO:<c@d.example>\r\n"), "503 5.5.1 Need MAIL before RCPT\r\n");
}

TEST(Data, BareCrInContentRefusesTheMessage_Rfc5321_2_3_8) {
    Dialog d;
    d.open_transaction();
    d.send("DATA\r\n");
    EXPECT_EQ(d.send("line one\rline two\r\n.\r\n"), kBareRefusal);
    EXPECT_EQ(d.host.aborts, 1);
}

TEST(Data, NulInContentRefusesTheMessage_Rfc5321_4_1_1_4) {
    Dialog d;
    d.open_transaction();
    d.send("DATA\r\n");
    EXPECT_EQ(d.send("nul \x00 here\r\n.\r\n"s), kBareRefusal);
    EXPECT_EQ(d.host.aborts, 1);
}

TEST(Data, LineOf1000OctetsButNot1001_Rfc5321_4_5_3_1_6) {
    Dialog d;
    d.open_transaction();
    d.send("DATA\r\n");
    EXPECT_EQ(d.send(std::string(998, 'x') + "\r\n.\r\n"), kQueued);
    d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
    EXPECT_EQ(d.send(std::string(999, 'x') + "\r\n.\r\n"), "554 5.6.0 Line too long\r\n");
    EXPECT_EQ(d.host.aborts, 1);
}

TEST(Data, OneMegabyteLineIsRefusedAndReadToTheEnd_Rfc5321_4_5_3_1_6) {
    Dialog d;
    d.open_transaction();
    d.send("DATA\r\n");
    const std::string line(1 << 20, 'y');
    for (std::size_t i = 0; i < line.size(); i += 4096) EXPECT_EQ(d.send(line.substr(i, 4096)), "");
    EXPECT_LT(d.host.content.size(), 1001u);  // not stored past the point of refusal
    EXPECT_EQ(d.send("\r\n.\r\nNOOP\r\n"), "554 5.6.0 Line too long\r\n250 2.0.0 Ok\r\n");
}

TEST(Data, ContentOverTheSizeLimitIs552AtTheEnd_Rfc1870_Rfc5321_4_5_3_1_7) {
    auto c = test_config();
    c.max_message_size = 100;
    Dialog d(c);
    d.open_transaction();
    d.send("DATA\r\n");
    EXPECT_EQ(d.send(std::string(98, 'x') + "\r\n.\r\n"), kQueued);  // exactly 100 octets
    d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
    EXPECT_EQ(d.send(std::string(99, 'x') + "\r\n"), "");
    EXPECT_EQ(d.send("more\r\n.\r\n"), "552 5.3.4 Message too big\r\n");
    EXPECT_EQ(d.host.aborts, 1);
    EXPECT_EQ(d.host.messages.size(), 1u);
}

TEST(Data, BareOctetRefusalWinsOverSize) {
    auto c = test_config();
    c.max_message_size = 10;
    Dialog d(c);
    d.open_transaction();
    d.send("DATA\r\n");
    EXPECT_EQ(d.send(std::string(50, 'x') + "\nx\r\n.\r\n"), kBareRefusal);
}

TEST(Data, DataTimeoutAppliesWhileInContent) {
    Dialog d;
    d.open_transaction();
    EXPECT_FALSE(d.session->in_message());
    d.send("DATA\r\n");
    EXPECT_TRUE(d.session->in_message());
    d.send("x\r\n.\r\n");
    EXPECT_FALSE(d.session->in_message());
}

}  // namespace
}  // namespace ehlo::smtp::test
