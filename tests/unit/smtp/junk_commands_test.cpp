// A client that only sends commands which move no mail cannot keep a session busy forever.
#include <gtest/gtest.h>

#include <string>

#include "fake_host.hpp"
#include "smtp/session.hpp"

namespace ehlo::smtp {
namespace {

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t pos = 0; (pos = text.find(what, pos)) != std::string::npos; pos += what.size()) ++n;
    return n;
}

TEST(JunkCommands, NoopsBeyondTheJunkLimitCountAsErrorsUntil421) {
    test::FakeHost host;
    SessionConfig config;
    config.max_errors = 10;
    Session s(config, ClientInfo{"192.0.2.1", 1000, false, {}}, host);
    s.start();
    s.receive("EHLO client.example\r\n");
    (void)s.take_output();
    std::string input;
    for (std::size_t i = 0; i < config.max_junk_commands + 20; ++i) input += "NOOP\r\n";
    s.receive(input);
    const std::string out = s.take_output();
    EXPECT_TRUE(s.wants_close());
    EXPECT_NE(out.find("421 4.7.0 Too many commands without mail, closing connection\r\n"), std::string::npos);
    EXPECT_TRUE(host.saw_event("too-many-commands"));
    EXPECT_FALSE(host.saw_event("too-many-errors"));
    // EHLO was the first junk command: NOOPs up to the limit are fine, the next 10 are errors.
    EXPECT_EQ(count_of(out, "250 2.0.0 Ok\r\n"), config.max_junk_commands - 1 + config.max_errors);
}

TEST(JunkCommands, TheLimitIsTheConfiguredOne) {
    test::FakeHost host;
    SessionConfig config;
    config.max_junk_commands = 5;
    config.max_errors = 2;
    Session s(config, ClientInfo{"192.0.2.1", 1000, false, {}}, host);
    s.start();
    (void)s.take_output();
    // HELO, 4 NOOPs: the limit; a 5th and a 6th NOOP: two errors and the close.
    s.receive("HELO client.example\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n");
    EXPECT_FALSE(s.wants_close());
    s.receive("NOOP\r\n");
    EXPECT_FALSE(s.wants_close());
    s.receive("NOOP\r\nNOOP\r\n");
    const std::string out = s.take_output();
    EXPECT_TRUE(s.wants_close());
    EXPECT_EQ(count_of(out, "250 Ok\r\n"), 6u);
    EXPECT_NE(out.find("421 Too many commands without mail, closing connection\r\n"), std::string::npos);
    EXPECT_EQ(out.find("421", out.find("421") + 1), std::string::npos);
}

TEST(JunkCommands, ZeroIsNoLimit) {
    test::FakeHost host;
    SessionConfig config;
    config.max_junk_commands = 0;
    config.max_errors = 1;
    Session s(config, ClientInfo{"192.0.2.1", 1000, false, {}}, host);
    s.start();
    s.receive("EHLO client.example\r\n");
    (void)s.take_output();
    std::string input;
    for (int i = 0; i < 1000; ++i) input += "NOOP\r\n";
    s.receive(input);
    EXPECT_FALSE(s.wants_close());
    EXPECT_EQ(count_of(s.take_output(), "250 2.0.0 Ok\r\n"), 1000u);
    EXPECT_FALSE(host.saw_event("too-many-commands"));
}

TEST(JunkCommands, ATransactionBetweenRsetsIsNeverRefused) {
    test::FakeHost host;
    SessionConfig config;
    Session s(config, ClientInfo{"192.0.2.1", 1000, false, {}}, host);
    s.start();
    s.receive("EHLO client.example\r\n");
    for (int i = 0; i < 50; ++i) s.receive("RSET\r\n");
    (void)s.take_output();
    s.receive("MAIL FROM:<a@example.org>\r\n");
    EXPECT_NE(s.take_output().find("250 2.1.0"), std::string::npos);
}

// Postfix's smtpd likewise: a message accepted forgives the commands and errors before it.
TEST(JunkCommands, AMessageTakenResetsTheCountsForAClientThatReusesItsConnection) {
    SessionConfig config = test::test_config();
    config.max_junk_commands = 5;
    config.max_errors = 3;
    test::Dialog d(config);
    d.ehlo();
    for (int i = 0; i < 150; ++i) {
        // RSET, NOOP, a wrong command and then a message: each round alone stays under both limits.
        const std::string out = d.send("RSET\r\nNOOP\r\nNOOP\r\nBOGUS\r\nMAIL FROM:<a@example.org>\r\n"
                                       "RCPT TO:<b@example.net>\r\nDATA\r\n");
        ASSERT_NE(out.find("354"), std::string::npos) << "round " << i << ": " << out;
        ASSERT_NE(d.send("Subject: x\r\n\r\nbody\r\n.\r\n").find("250"), std::string::npos) << "round " << i;
    }
    EXPECT_FALSE(d.session->wants_close());
    EXPECT_FALSE(d.host.saw_event("too-many-commands"));
    EXPECT_FALSE(d.host.saw_event("too-many-errors"));
}

// A refused message forgives nothing: idling around refused transactions still ends in 421.
TEST(JunkCommands, ARefusedMessageKeepsTheCounts) {
    SessionConfig config = test::test_config();
    config.max_junk_commands = 3;
    config.max_errors = 2;
    test::Dialog d(config);
    d.ehlo();
    d.host.queued = Reply(451, "4.3.0", "Could not store message");
    std::string out;
    for (int i = 0; i < 6 && !d.session->wants_close(); ++i)
        out += d.send("RSET\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"
                      "Subject: x\r\n\r\nbody\r\n.\r\n");
    EXPECT_TRUE(d.session->wants_close());
    EXPECT_TRUE(d.host.saw_event("too-many-commands"));
}

}  // namespace
}  // namespace ehlo::smtp
