#include <gtest/gtest.h>

#include <stdexcept>

#include "policy_fixture.hpp"

namespace ehlo::policy {
namespace {

TEST(PolicyTrusted, MatchesIpv4AndIpv6Networks) {
    const Policy p(test::test_config());
    EXPECT_TRUE(p.trusted("10.1.2.3"));
    EXPECT_TRUE(p.trusted("127.0.0.1"));
    EXPECT_TRUE(p.trusted("2001:db8::25"));
    EXPECT_FALSE(p.trusted("127.0.0.2"));  // a bare address is /32
    EXPECT_FALSE(p.trusted("192.0.2.1"));
    EXPECT_FALSE(p.trusted("2001:db9::1"));
    EXPECT_FALSE(p.trusted("::1"));
}

TEST(PolicyTrusted, Ipv4MappedIpv6CountsAsTheIpv4Address) {
    const Policy p(test::test_config());
    EXPECT_TRUE(p.trusted("::ffff:10.9.8.7"));
    EXPECT_TRUE(p.trusted("::ffff:127.0.0.1"));
    EXPECT_FALSE(p.trusted("::ffff:192.0.2.1"));
}

TEST(PolicyTrusted, GarbageIsNotTrusted) {
    const Policy p(test::test_config());
    for (const char* s : {"", "10", "10.1.2.3:25", "[2001:db8::1]", "localhost", "10.1.2.3 ", "fe80::1%lo",
                          "2001:db8::1/32"}) {
        EXPECT_FALSE(p.trusted(s)) << s;
    }
    EXPECT_FALSE(p.trusted(std::string_view("10.0.0.1\0", 9)));
}

TEST(PolicyTrusted, NoNetworksTrustsNoOne) {
    auto c = test::test_config();
    c.relay.trusted_networks.clear();
    const Policy p(c);
    EXPECT_FALSE(p.trusted("127.0.0.1"));
}

TEST(PolicyTrusted, DefaultsTrustLoopbackOnly) {
    const Policy p(config::Config{});
    EXPECT_TRUE(p.trusted("127.0.0.1"));
    EXPECT_TRUE(p.trusted("::1"));
    EXPECT_FALSE(p.trusted("127.0.0.2"));
    EXPECT_FALSE(p.trusted("192.0.2.1"));
}

TEST(PolicyConstruction, RejectsAConfigurationThatWouldBeUnsafe) {
    auto bad_cidr = test::test_config();
    bad_cidr.relay.trusted_networks = {"10.0.0.0/99"};
    EXPECT_THROW(Policy{bad_cidr}, std::invalid_argument);

    auto bad_mailbox = test::test_config();
    bad_mailbox.domains[0].mailboxes.push_back("../root");
    EXPECT_THROW(Policy{bad_mailbox}, std::invalid_argument);

    auto bad_postmaster = test::test_config();
    bad_postmaster.domains[0].postmaster = "a/b";
    EXPECT_THROW(Policy{bad_postmaster}, std::invalid_argument);
}

}  // namespace
}  // namespace ehlo::policy
