// PIPELINING (RFC 2920): a whole dialog in one write, or trickled one octet at a time, gets
// the same replies in the same order.
#include <gtest/gtest.h>

#include "fake_host.hpp"

namespace ehlo::smtp::test {
namespace {

const std::string kTransaction =
    "MAIL FROM:<sender@client.example>\r\n"
    "RCPT TO:<alice@mx.example>\r\n"
    "RCPT TO:<bob@mx.example>\r\n"
    "DATA\r\n"
    "Subject: pipelined\r\n\r\n..dot\r\nbody\r\n.\r\n"
    "QUIT\r\n";

const std::string kExpected =
    "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
    "250 2.0.0 Ok: queued as TESTID\r\n221 2.0.0 Bye\r\n";

TEST(Pipelining, WholeTransactionInOneReceive_Rfc2920_3_1) {
    Dialog d;
    d.ehlo();
    EXPECT_EQ(d.send(kTransaction), kExpected);
    ASSERT_EQ(d.host.messages.size(), 1u);
    EXPECT_EQ(d.host.messages[0], "Subject: pipelined\r\n\r\n.dot\r\nbody\r\n");
    EXPECT_EQ(d.host.envelopes[0].recipients.size(), 2u);
    EXPECT_TRUE(d.session->wants_close());
}

TEST(Pipelining, SameRepliesWhenFedOneOctetAtATime_Rfc2920_3_1) {
    Dialog d;
    d.ehlo();
    EXPECT_EQ(d.send_bytewise(kTransaction), kExpected);
    ASSERT_EQ(d.host.messages.size(), 1u);
    EXPECT_EQ(d.host.messages[0], "Subject: pipelined\r\n\r\n.dot\r\nbody\r\n");
}

TEST(Pipelining, SameRepliesWhateverTheSplitPoint_Rfc2920_3_1) {
    for (std::size_t cut = 1; cut < kTransaction.size(); ++cut) {
        Dialog d;
        d.ehlo();
        std::string out = d.send(kTransaction.substr(0, cut));
        out += d.send(kTransaction.substr(cut));
        ASSERT_EQ(out, kExpected) << "cut at " << cut;
    }
}

TEST(Pipelining, WholeSessionIncludingEhloWithAHostThatAnswersLater_Rfc2920) {
    const std::string dialog = "EHLO c.example\r\n" + kTransaction;
    Dialog whole;
    whole.auto_answer = false;
    std::string a = whole.send(dialog);
    ASSERT_TRUE(whole.session->awaiting_host());
    whole.session->message_done(whole.host.queued);
    a += whole.session->take_output();

    Dialog trickle;
    trickle.auto_answer = false;
    std::string b;
    for (char c : dialog) b += trickle.send(std::string_view(&c, 1));  // held while awaiting the host
    ASSERT_TRUE(trickle.session->awaiting_host());
    trickle.session->message_done(trickle.host.queued);
    b += trickle.session->take_output();
    EXPECT_EQ(a, b);
    EXPECT_NE(a.find("221 2.0.0 Bye"), std::string::npos);
}

TEST(Pipelining, ErrorsInTheMiddleDoNotDisturbTheOrder_Rfc2920_3_1) {
    Dialog d;
    d.ehlo();
    d.host.rcpt_verdict = [](const Envelope&, const Recipient& r) {
        return r.address.local_part == "x" ? Reply(550, "5.1.1", "No such user") : Reply(250, "2.1.5", "Ok");
    };
    EXPECT_EQ(d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<x@d.example>\r\nBOGUS\r\nRCPT TO:<y@d.example>\r\n"
                     "DATA\r\nhi\r\n.\r\nNOOP\r\n"),
              "250 2.1.0 Ok\r\n550 5.1.1 No such user\r\n500 5.5.2 Command unrecognized\r\n250 2.1.5 Ok\r\n"
              "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued as TESTID\r\n250 2.0.0 Ok\r\n");
}

}  // namespace
}  // namespace ehlo::smtp::test
