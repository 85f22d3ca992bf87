// VRFY answers when [smtp] vrfy is on (RFC 5321 3.5.3): the same lookup as RCPT.
#include <gtest/gtest.h>

#include "policy_fixture.hpp"

namespace ehlo::policy::test {
namespace {

TEST(Verify, ExistingMailboxIs250_Rfc5321_3_5_3) {
    const Policy p(test_config());
    const auto r = p.verify(mbox("Alice", "Example.org"));
    EXPECT_EQ(r.code, 250);
    EXPECT_EQ(r.enhanced, "2.1.5");
    EXPECT_EQ(r.lines, std::vector<std::string>{"<Alice@Example.org>"});
    EXPECT_EQ(p.verify(mbox("bob+tag", "example.org")).code, 250);  // the delimiter applies too
    EXPECT_EQ(p.verify(mbox("anyone", "catchall.test")).code, 250);
}

TEST(Verify, UnknownMailboxOfALocalDomainIs550_Rfc5321_3_5_3) {
    const Policy p(test_config());
    const auto r = p.verify(mbox("carol", "example.org"));
    EXPECT_EQ(r.code, 550);
    EXPECT_EQ(r.enhanced, "5.1.1");
    EXPECT_EQ(p.verify(mbox("../etc", "catchall.test")).code, 550);
}

TEST(Verify, OtherDomainsAre252AndDiscloseNothing_Rfc5321_3_5_3) {
    const Policy p(test_config());
    const auto r = p.verify(mbox("someone", "elsewhere.example"));
    EXPECT_EQ(r.code, 252);
}

TEST(Verify, BareNameIsLookedUpInTheFirstDomain_Rfc5321_3_5_3) {
    const Policy p(test_config());
    EXPECT_EQ(p.verify(mbox("alice", "")).code, 250);
    EXPECT_EQ(p.verify(mbox("carol", "")).code, 550);
    EXPECT_EQ(p.verify(mbox("postmaster", "")).code, 250);
}

}  // namespace
}  // namespace ehlo::policy::test
