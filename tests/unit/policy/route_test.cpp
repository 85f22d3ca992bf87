// Where accepted mail goes: a Maildir under the domain's maildir_root, or held.
#include <gtest/gtest.h>

#include "policy_fixture.hpp"

namespace ehlo::policy {
namespace {

using test::mbox;

class PolicyRoute : public ::testing::Test {
protected:
    Policy policy{test::test_config()};

    std::string maildir_of(const smtp::Mailbox& m) const {
        const auto r = policy.route(m);
        EXPECT_EQ(r.kind, queue::Route::Kind::Maildir) << m.str();
        return r.maildir.string();
    }
};

TEST_F(PolicyRoute, LocalMailboxGoesToItsMaildir) {
    EXPECT_EQ(maildir_of(mbox("alice", "example.org")), "/srv/mail/example.org/alice");
    EXPECT_EQ(maildir_of(mbox("ALICE+news", "Example.Org")), "/srv/mail/example.org/alice");
    EXPECT_EQ(maildir_of(mbox("\"alice\"", "example.org")), "/srv/mail/example.org/alice");
}

TEST_F(PolicyRoute, CatchAllUsesTheNormalisedLocalPart) {
    EXPECT_EQ(maildir_of(mbox("Zed.Q+tag", "catchall.test")), "/srv/mail/catchall/zed.q");
}

// RFC 5321 4.5.1: postmaster@domain goes to the domain's configured postmaster mailbox.
TEST_F(PolicyRoute, PostmasterGoesToTheDomainsPostmasterMailbox_Rfc5321_4_5_1) {
    EXPECT_EQ(maildir_of(mbox("Postmaster", "example.org")), "/srv/mail/example.org/bob");
    EXPECT_EQ(maildir_of(mbox("postmaster+x", "example.org")), "/srv/mail/example.org/bob");
    EXPECT_EQ(maildir_of(mbox("postmaster", "catchall.test")), "/srv/mail/catchall/postmaster");
}

// RFC 5321 4.1.1.3: bare "Postmaster" goes to the first domain's postmaster.
TEST_F(PolicyRoute, BarePostmasterGoesToTheFirstDomain_Rfc5321_4_1_1_3) {
    EXPECT_EQ(maildir_of(mbox("POSTMASTER", "")), "/srv/mail/example.org/bob");
}

TEST_F(PolicyRoute, BarePostmasterWithoutDomainsIsHeld) {
    auto c = test::test_config();
    c.domains.clear();
    const Policy p(c);
    EXPECT_EQ(p.check_rcpt(mbox("Postmaster", ""), false).code, 250);
    EXPECT_EQ(p.route(mbox("Postmaster", "")).kind, queue::Route::Kind::Hold);
}

TEST_F(PolicyRoute, EverythingElseIsHeld) {
    for (const auto& m : {mbox("someone", "example.com"), mbox("alice", "[127.0.0.1]"), mbox("carol", "example.org"),
                          mbox("alice", "")}) {
        const auto r = policy.route(m);
        EXPECT_EQ(r.kind, queue::Route::Kind::Hold) << m.str();
        EXPECT_TRUE(r.maildir.empty()) << m.str();
    }
}

}  // namespace
}  // namespace ehlo::policy
