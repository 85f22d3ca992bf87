// BDAT (RFC 3030 CHUNKING): binary chunks of announced size, pipelined, with the same content
// checks as DATA.
#include <gtest/gtest.h>

#include "fake_host.hpp"

namespace ehlo::smtp::test {
namespace {

constexpr const char* kQueued = "250 2.0.0 Ok: queued as TESTID\r\n";

TEST(Bdat, ChunksAreAcknowledgedAndJoined_Rfc3030_2) {
    Dialog d;
    d.open_transaction();
    EXPECT_EQ(d.send("BDAT 10\r\nSubject: x"), "250 2.0.0 10 octets received\r\n");
    EXPECT_TRUE(d.session->in_message());
    EXPECT_EQ(d.send("BDAT 8 LAST\r\n\r\n\r\nbody"), kQueued);
    EXPECT_EQ(d.host.messages.at(0), "Subject: x\r\n\r\nbody\r\n");  // the missing last CRLF is added
    EXPECT_EQ(d.host.begins, 1);
    EXPECT_FALSE(d.session->in_message());
}

TEST(Bdat, NoDotHandlingInChunks_Rfc3030_2) {
    Dialog d;
    d.open_transaction();
    const std::string content = ".\r\n..x\r\n.\r\n";
    EXPECT_EQ(d.send("BDAT " + std::to_string(content.size()) + " LAST\r\n" + content), kQueued);
    EXPECT_EQ(d.host.messages.at(0), content);
}

TEST(Bdat, ZeroLastEndsTheMessage_Rfc3030_2) {
    Dialog d;
    d.open_transaction();
    EXPECT_EQ(d.send("BDAT 4\r\nab\r\n"), "250 2.0.0 4 octets received\r\n");
    EXPECT_EQ(d.send("BDAT 0 LAST\r\n"), kQueued);
    EXPECT_EQ(d.host.messages.at(0), "ab\r\n");
    d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
    EXPECT_EQ(d.send("bdat 0 last\r\n"), kQueued);  // an empty message
    EXPECT_EQ(d.host.messages.at(1), "");
}

TEST(Bdat, ChunkSplitAcrossReceiveCalls_Rfc3030_2) {
    Dialog d;
    d.open_transaction();
    EXPECT_EQ(d.send("BDAT 13 LA"), "");
    EXPECT_EQ(d.send("ST\r\nhello"), "");
    EXPECT_TRUE(d.session->in_message());
    EXPECT_EQ(d.send(" wor"), "");
    EXPECT_EQ(d.send("ld\r\nNOOP\r\n"), std::string(kQueued) + "250 2.0.0 Ok\r\n");
    EXPECT_EQ(d.host.messages.at(0), "hello world\r\n");
}

TEST(Bdat, PipelinedChunksAndCommandsInOneWrite_Rfc3030_4_Rfc2920) {
    Dialog d;
    d.ehlo();
    const std::string out = d.send(
        "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 7\r\nline1\r\nBDAT 7\r\nline2\r\nBDAT 7 LAST\r\n"
        "line3\r\nMAIL FROM:<e@b.example>\r\nRCPT TO:<f@d.example>\r\nBDAT 3 LAST\r\nxyzQUIT\r\n");
    EXPECT_EQ(out,
              "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 7 octets received\r\n250 2.0.0 7 octets received\r\n" +
                  std::string(kQueued) + "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n" + kQueued + "221 2.0.0 Bye\r\n");
    ASSERT_EQ(d.host.messages.size(), 2u);
    EXPECT_EQ(d.host.messages[0], "line1\r\nline2\r\nline3\r\n");
    EXPECT_EQ(d.host.messages[1], "xyz\r\n");
}

TEST(Bdat, WithoutTransactionTheChunkIsReadAndDiscarded_Rfc3030_2) {
    Dialog d;
    d.ehlo();
    // The chunk holds what looks like commands: none of it may run.
    const std::string chunk = "MAIL FROM:<evil@x.example>\r\n";
    EXPECT_EQ(d.send("BDAT " + std::to_string(chunk.size()) + "\r\n" + chunk + "NOOP\r\n"),
              "503 5.5.1 Need MAIL command\r\n250 2.0.0 Ok\r\n");
    EXPECT_TRUE(d.host.mails.empty());
    EXPECT_EQ(d.host.begins, 0);
}

TEST(Bdat, BeforeEhloTheChunkIsDiscardedToo_Rfc3030_2) {
    Dialog d;
    EXPECT_EQ(d.send("BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n"), "503 Send EHLO first: CHUNKING is an ESMTP extension\r\n250 Ok\r\n");
    d.helo();
    d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
    EXPECT_EQ(d.send("BDAT 6 LAST\r\nQUIT\r\n"), "503 Send EHLO first: CHUNKING is an ESMTP extension\r\n");
    EXPECT_FALSE(d.session->wants_close());
}

TEST(Bdat, WithoutRecipientsIs554AndDiscarded_Rfc3030_2_Rfc5321_3_3) {
    Dialog d;
    d.ehlo();
    d.host.rcpt_verdict = [](const Envelope&, const Recipient&) { return Reply(550, "5.1.1", "No such user"); };
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 4 LAST\r\nRSET"),
              "250 2.1.0 Ok\r\n550 5.1.1 No such user\r\n554 5.5.1 No valid recipients\r\n");
    EXPECT_EQ(d.host.begins, 0);
}

TEST(Bdat, BadSizeSyntaxIs501AndWhatFollowsIsCommands_Rfc3030_2) {
    Dialog d;
    d.open_transaction();
    EXPECT_EQ(d.send("BDAT\r\n"), "501 5.5.4 Syntax: BDAT size [LAST]\r\n");
    EXPECT_EQ(d.send("BDAT x\r\nNOOP\r\n"), "501 5.5.4 Syntax: BDAT size [LAST]\r\n250 2.0.0 Ok\r\n");
    EXPECT_EQ(d.send("BDAT -1\r\n"), "501 5.5.4 Syntax: BDAT size [LAST]\r\n");
    EXPECT_EQ(d.send("BDAT 99999999999999999999999\r\n"), "501 5.5.4 Syntax: BDAT size [LAST]\r\n");
    EXPECT_EQ(d.send("BDAT 2  last\r\nab"), "250 2.0.0 Ok: queued as TESTID\r\n");
}

// With a readable size the chunk's octets are still counted off and discarded, never run as
// commands; the failed chunk ends the transaction (RFC 3030 2: no more chunks after a 5xx).
TEST(Bdat, ReadableSizeWithABadMarkerDiscardsTheChunk_Rfc3030_2) {
    Dialog d;
    d.open_transaction();
    EXPECT_EQ(d.send("BDAT 6 FIRST\r\nRSET\r\n"), "501 5.5.4 Syntax: BDAT size [LAST]\r\n");
    EXPECT_EQ(d.send("BDAT 2 LAST\r\nab"), "503 5.5.1 Need MAIL command\r\n");
    d.open_transaction();
    EXPECT_EQ(d.send("BDAT 6LAST\r\nNOOP\r\n"), "501 5.5.4 Syntax: BDAT size [LAST]\r\n");
    EXPECT_EQ(d.host.ends, 0);
}

TEST(Bdat, ChunkBeyondTheSizeLimitIs552AndEndsTheTransaction_Rfc3030_2_Rfc1870) {
    auto c = test_config();
    c.max_message_size = 100;
    Dialog d(c);
    d.open_transaction();
    EXPECT_EQ(d.send("BDAT 60\r\n" + std::string(60, 'a')), "250 2.0.0 60 octets received\r\n");
    EXPECT_EQ(d.send("BDAT 41\r\n" + std::string(41, 'b')), "552 5.3.4 Message too big\r\n");
    EXPECT_EQ(d.host.aborts, 1);
    // The client may have pipelined more chunks: they meet no transaction.
    EXPECT_EQ(d.send("BDAT 3 LAST\r\nabc"), "503 5.5.1 Need MAIL command\r\n");
    EXPECT_TRUE(d.host.messages.empty());
    d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
    EXPECT_EQ(d.send("BDAT 100 LAST\r\n" + std::string(98, 'c') + "\r\n"), "250 2.0.0 Ok: queued as TESTID\r\n");
}

TEST(Bdat, ChunkLargerThanTheLimitOnItsOwnIsRefusedAtOnceWithoutReadingIt_Rfc3030_2_Rfc1870) {
    auto c = test_config();
    c.max_message_size = 100;
    Dialog d(c);
    d.open_transaction();
    // Nothing of the chunk has arrived, and none of it is waited for: 552, then 421 and close.
    EXPECT_EQ(d.send("BDAT 5000000000 LAST\r\n"),
              "552 5.3.4 Chunk larger than the message size limit\r\n"
              "421 4.7.0 mx.example Cannot skip a chunk of that size, closing connection\r\n");
    EXPECT_TRUE(d.session->wants_close());
    EXPECT_EQ(d.send(std::string(10000, 'z') + "NOOP\r\n"), "");
    EXPECT_TRUE(d.host.content.empty());
    EXPECT_EQ(d.host.begins, 0);
    EXPECT_TRUE(d.host.saw_event("chunk-too-big"));
}

TEST(Bdat, ChunkLargerThanTheLimitAbortsAnOpenMessage_Rfc3030_2) {
    auto c = test_config();
    c.max_message_size = 100;
    Dialog d(c);
    d.open_transaction();
    EXPECT_EQ(d.send("BDAT 10\r\n0123456789"), "250 2.0.0 10 octets received\r\n");
    EXPECT_EQ(d.send("BDAT 101\r\n").substr(0, 10), "552 5.3.4 ");
    EXPECT_EQ(d.host.aborts, 1);
    EXPECT_TRUE(d.host.messages.empty());
}

TEST(Bdat, ChunkThatOnlyMakesTheTotalTooBigIsReadAndDiscarded_Rfc3030_2) {
    auto c = test_config();
    c.max_message_size = 100;
    Dialog d(c);
    d.open_transaction();
    EXPECT_EQ(d.send("BDAT 60\r\n" + std::string(60, 'a')), "250 2.0.0 60 octets received\r\n");
    // At most the limit's worth of octets is read to stay in step; nothing of it is stored.
    EXPECT_EQ(d.send("BDAT 100\r\n"), "");
    EXPECT_EQ(d.send(std::string(100, 'z') + "NOOP\r\n"), "552 5.3.4 Message too big\r\n250 2.0.0 Ok\r\n");
    EXPECT_EQ(d.host.content, std::string(60, 'a'));
    EXPECT_FALSE(d.session->wants_close());
}

TEST(Bdat, BareLfOrLongLineRefusedAfterLast_Rfc5321_2_3_8_and_4_5_3_1_6) {
    Dialog d;
    d.open_transaction();
    EXPECT_EQ(d.send("BDAT 4\r\na\nb\n"), "250 2.0.0 4 octets received\r\n");
    EXPECT_EQ(d.send("BDAT 0 LAST\r\n"),
              "554 5.6.0 Message refused: bare CR, bare LF or NUL in content (RFC 5321 2.3.8)\r\n");
    EXPECT_EQ(d.host.aborts, 1);
    d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
    const std::string line(1001, 'x');
    EXPECT_EQ(d.send("BDAT 1001 LAST\r\n" + line), "554 5.6.0 Line too long\r\n");
    d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
    EXPECT_EQ(d.send("BDAT 2 LAST\r\na\r"), "554 5.6.0 Message refused: bare CR, bare LF or NUL in content (RFC 5321 2.3.8)\r\n");
    EXPECT_EQ(d.host.aborts, 3);
    EXPECT_TRUE(d.host.messages.empty());
}

TEST(Bdat, RsetBetweenChunksDropsTheMessage_Rfc3030_2) {
    Dialog d;
    d.open_transaction();
    d.send("BDAT 3\r\nabc");
    EXPECT_TRUE(d.session->in_message());
    EXPECT_EQ(d.send("RSET\r\n"), "250 2.0.0 Ok\r\n");
    EXPECT_EQ(d.host.aborts, 1);
    EXPECT_FALSE(d.session->in_message());
    EXPECT_EQ(d.send("BDAT 3 LAST\r\nabc"), "503 5.5.1 Need MAIL command\r\n");
}

TEST(Bdat, BeginMessageRefusalDiscardsTheChunkAndEndsTheTransaction_Rfc3030_2) {
    Dialog d;
    d.open_transaction();
    d.host.begin_refusal = Reply(451, "4.3.0", "Queue unavailable");
    EXPECT_EQ(d.send("BDAT 4\r\nabcdBDAT 2 LAST\r\nef"),
              "451 4.3.0 Queue unavailable\r\n503 5.5.1 Need MAIL command\r\n");
}

TEST(Bdat, ProcessingWaitsForTheHostAfterLast) {
    Dialog d;
    d.auto_answer = false;
    d.open_transaction();
    EXPECT_EQ(d.send("BDAT 3 LAST\r\nabcNOOP\r\n"), "");
    EXPECT_TRUE(d.session->awaiting_host());
    d.session->message_done(Reply(250, "2.0.0", "Ok: queued as Q"));
    EXPECT_EQ(d.session->take_output(), "250 2.0.0 Ok: queued as Q\r\n250 2.0.0 Ok\r\n");
}

}  // namespace
}  // namespace ehlo::smtp::test
