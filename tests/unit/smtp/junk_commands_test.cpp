// A client that only sends commands which move no mail cannot keep a session busy forever.
#include <gtest/gtest.h>

#include <string>

#include "fake_host.hpp"
#include "smtp/session.hpp"

namespace ehlo::smtp {
namespace {

TEST(JunkCommands, NoopsBeyondTheJunkLimitCountAsErrorsUntil421) {
    test::FakeHost host;
    SessionConfig config;
    config.max_errors = 10;
    Session s(config, ClientInfo{"192.0.2.1", 1000, false}, host);
    s.start();
    s.receive("EHLO client.example\r\n");
    (void)s.take_output();
    std::string input;
    for (std::size_t i = 0; i < kMaxJunkCommands + 20; ++i) input += "NOOP\r\n";
    s.receive(input);
    const std::string out = s.take_output();
    EXPECT_TRUE(s.wants_close());
    EXPECT_NE(out.find("421 4.7.0 Too many errors"), std::string::npos);
    // EHLO was the first junk command: NOOPs up to the limit are fine, the next 10 are errors.
    std::size_t oks = 0;
    for (std::size_t pos = 0; (pos = out.find("250 2.0.0 Ok\r\n", pos)) != std::string::npos; ++pos) ++oks;
    EXPECT_EQ(oks, kMaxJunkCommands - 1 + config.max_errors);
}

TEST(JunkCommands, ATransactionBetweenRsetsIsNeverRefused) {
    test::FakeHost host;
    SessionConfig config;
    Session s(config, ClientInfo{"192.0.2.1", 1000, false}, host);
    s.start();
    s.receive("EHLO client.example\r\n");
    for (int i = 0; i < 50; ++i) s.receive("RSET\r\n");
    (void)s.take_output();
    s.receive("MAIL FROM:<a@example.org>\r\n");
    EXPECT_NE(s.take_output().find("250 2.1.0"), std::string::npos);
}

}  // namespace
}  // namespace ehlo::smtp
