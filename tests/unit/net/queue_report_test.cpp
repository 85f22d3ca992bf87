#include "net/queue_report.hpp"

#include <gtest/gtest.h>

namespace ehlo::net {
namespace {

queue::MessageSummary deferred_message() {
    queue::MessageSummary m;
    m.id = "1K1AZRG4D5G00000";
    m.arrival = 1000;
    m.size = 2048;
    m.sender = "alice@example.org";
    m.recipients.push_back({"bob@remote.example", "deferred", 2, 1600, "451 4.4.1 connection refused by mx1.remote.example"});
    m.recipients.push_back({"carol@local.example", "delivered", 1, 0, ""});
    return m;
}

TEST(QueueReport, ListShowsIdAgeSizeSenderStateAndEachRecipient) {
    auto text = format_queue_list({deferred_message()}, 1300);
    EXPECT_NE(text.find("1K1AZRG4D5G00000  5m  2048  <alice@example.org>  deferred\n"), std::string::npos) << text;
    EXPECT_NE(text.find("    bob@remote.example  deferred  attempts=2  next=1970-01-01T00:26:40Z (in 5m)"
                        "  last=\"451 4.4.1 connection refused by mx1.remote.example\"\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("    carol@local.example  delivered  attempts=1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("1 message\n"), std::string::npos);
}

TEST(QueueReport, HeldMessageIsShownHeldAndNullSenderAsEmptyPath) {
    auto m = deferred_message();
    m.held = true;
    m.sender.clear();
    auto text = format_queue_list({m}, 1300);
    EXPECT_NE(text.find("<>  held\n"), std::string::npos) << text;
}

TEST(QueueReport, ShowListsAttemptsAndHeaders) {
    queue::MessageDetail d;
    d.summary = deferred_message();
    d.headers = "Received: from a\r\nSubject: hi\r\n";
    d.attempts = {"1970-01-01T00:21:40Z bob@remote.example mx1.remote.example [127.0.0.2] 451 4.4.1 refused deferred"};
    auto text = format_queue_detail(d, 1300);
    EXPECT_NE(text.find("id: 1K1AZRG4D5G00000\n"), std::string::npos);
    EXPECT_NE(text.find("sender: <alice@example.org>\n"), std::string::npos);
    EXPECT_NE(text.find("attempts:\n    1970-01-01T00:21:40Z bob@remote.example"), std::string::npos) << text;
    EXPECT_NE(text.find("headers:\nReceived: from a\nSubject: hi\n"), std::string::npos) << text;
}

// Text from the network reaches a terminal escaped: no escape sequences, no line of its own,
// no reordering by bidirectional controls.
TEST(QueueReport, NetworkTextIsEscapedForTheTerminal) {
    queue::MessageDetail d;
    d.summary = deferred_message();
    d.summary.sender = "a\x1b[2J@example.org";
    d.summary.recipients[0].last_error = "451 ok\r\nfake line \xe2\x80\xae" "gpj.exe \xc2\x9b" "31m";
    d.headers = "Subject: \x1b]0;pwned\x07\r\nX-Bad: \xff\r\n";
    d.attempts = {"bob@remote.example deferred: 451 \x1b[31mred"};
    const std::string list = format_queue_list({d.summary}, 1300);
    const std::string show = format_queue_detail(d, 1300);
    for (const std::string& text : {list, show}) {
        EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
        EXPECT_EQ(text.find('\r'), std::string::npos) << text;
        EXPECT_EQ(text.find("\xe2\x80\xae"), std::string::npos) << text;
        EXPECT_EQ(text.find("\xc2\x9b"), std::string::npos) << text;
    }
    EXPECT_NE(list.find("<a\\x1b[2J@example.org>"), std::string::npos) << list;
    EXPECT_NE(list.find("last=\"451 ok\\r\\nfake line \\u202egpj.exe \\u009b31m\""), std::string::npos) << list;
    EXPECT_NE(show.find("Subject: \\x1b]0;pwned\\x07\nX-Bad: \\xff\n"), std::string::npos) << show;
    EXPECT_NE(show.find("451 \\x1b[31mred"), std::string::npos) << show;
}

TEST(QueueReport, EmptyQueue) { EXPECT_EQ(format_queue_list({}, 0), "0 messages\n"); }

}  // namespace
}  // namespace ehlo::net
