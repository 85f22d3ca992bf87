// The RCPT verdict: local mailboxes, postmaster, relay for trusted clients only.
#include <gtest/gtest.h>

#include "policy_fixture.hpp"

namespace ehlo::policy {
namespace {

using test::mbox;

void expect_ok(const smtp::Reply& r) {
    EXPECT_EQ(r.code, 250);
    EXPECT_EQ(r.enhanced, "2.1.5");
    EXPECT_EQ(r.lines, std::vector<std::string>{"Ok"});
}

void expect_unknown(const smtp::Reply& r, const std::string& addr) {
    EXPECT_EQ(r.code, 550);
    EXPECT_EQ(r.enhanced, "5.1.1");
    EXPECT_EQ(r.lines, std::vector<std::string>{"<" + addr + ">: Recipient address rejected: mailbox unknown"});
}

void expect_relay_denied(const smtp::Reply& r, const std::string& addr) {
    EXPECT_EQ(r.code, 554);
    EXPECT_EQ(r.enhanced, "5.7.1");
    EXPECT_EQ(r.lines, std::vector<std::string>{"<" + addr + ">: Relay access denied"});
}

class PolicyRcpt : public ::testing::Test {
protected:
    Policy policy{test::test_config()};
};

TEST_F(PolicyRcpt, ExistingMailboxAccepted) {
    expect_ok(policy.check_rcpt(mbox("alice", "example.org"), false));
    expect_ok(policy.check_rcpt(mbox("bob-smith", "example.org"), false));
}

// RFC 5321 2.4: domains are case-insensitive; local parts are matched lower-cased here.
TEST_F(PolicyRcpt, DomainAndLocalPartCaseInsensitive_Rfc5321_2_4) {
    expect_ok(policy.check_rcpt(mbox("alice", "EXAMPLE.Org"), false));
    expect_ok(policy.check_rcpt(mbox("Alice", "example.org"), false));
}

// RFC 5321 4.1.2: a Quoted-string local part names the same mailbox as the Dot-string.
TEST_F(PolicyRcpt, QuotedLocalPartIsUnquoted_Rfc5321_4_1_2) {
    expect_ok(policy.check_rcpt(mbox("\"alice\"", "example.org"), false));
}

TEST_F(PolicyRcpt, DelimiterExtensionIsCutOff) {
    expect_ok(policy.check_rcpt(mbox("alice+lists", "example.org"), false));
    expect_ok(policy.check_rcpt(mbox("alice+a+b", "example.org"), false));
    expect_unknown(policy.check_rcpt(mbox("carol+x", "example.org"), false), "carol+x@example.org");
}

TEST_F(PolicyRcpt, UnknownMailboxOfLocalDomain) {
    expect_unknown(policy.check_rcpt(mbox("carol", "example.org"), false), "carol@example.org");
    // Trust does not make a local mailbox exist.
    expect_unknown(policy.check_rcpt(mbox("carol", "example.org"), true), "carol@example.org");
}

// RFC 5321 4.1.1.3: "Postmaster" with no domain must be accepted, case-insensitively.
TEST_F(PolicyRcpt, BarePostmasterAlwaysAccepted_Rfc5321_4_1_1_3) {
    for (const char* lp : {"Postmaster", "postmaster", "POSTMASTER", "\"Postmaster\""}) {
        expect_ok(policy.check_rcpt(mbox(lp, ""), false));
        expect_ok(policy.check_rcpt(mbox(lp, ""), true));
    }
}

// RFC 5321 4.5.1: postmaster@ every local domain, even from an untrusted client.
TEST_F(PolicyRcpt, PostmasterOfEveryLocalDomain_Rfc5321_4_5_1) {
    expect_ok(policy.check_rcpt(mbox("postmaster", "example.org"), false));
    expect_ok(policy.check_rcpt(mbox("PostMaster", "Example.ORG"), false));
    expect_ok(policy.check_rcpt(mbox("postmaster", "catchall.test"), false));
}

TEST_F(PolicyRcpt, PostmasterOfAForeignDomainIsRelaying) {
    expect_relay_denied(policy.check_rcpt(mbox("postmaster", "example.com"), false), "postmaster@example.com");
}

TEST_F(PolicyRcpt, OtherAddressWithoutDomainRefused) {
    const auto r = policy.check_rcpt(mbox("alice", ""), true);
    EXPECT_EQ(r.code, 550);
    EXPECT_EQ(r.enhanced, "5.1.3");
}

TEST_F(PolicyRcpt, CatchAllAcceptsAnyMailboxName) {
    expect_ok(policy.check_rcpt(mbox("anyone", "catchall.test"), false));
    expect_ok(policy.check_rcpt(mbox("Any.One+tag", "CatchAll.Test"), false));
}

TEST_F(PolicyRcpt, TrustedClientMayRelay) {
    expect_ok(policy.check_rcpt(mbox("someone", "example.com"), true));
}

TEST_F(PolicyRcpt, UntrustedClientMayNotRelay) {
    expect_relay_denied(policy.check_rcpt(mbox("someone", "example.com"), false), "someone@example.com");
    // A sub-domain of a local domain is another domain.
    expect_relay_denied(policy.check_rcpt(mbox("alice", "mx.example.org"), false), "alice@mx.example.org");
}

// RFC 5321 4.1.3: an address literal is never one of our domains (not even our own address).
TEST_F(PolicyRcpt, AddressLiteralIsNeverLocal_Rfc5321_4_1_3) {
    expect_relay_denied(policy.check_rcpt(mbox("alice", "[127.0.0.1]"), false), "alice@[127.0.0.1]");
    expect_relay_denied(policy.check_rcpt(mbox("postmaster", "[IPv6:::1]"), false), "postmaster@[IPv6:::1]");
    expect_ok(policy.check_rcpt(mbox("alice", "[192.0.2.1]"), true));
    EXPECT_FALSE(policy.is_local_domain("[127.0.0.1]"));
}

TEST_F(PolicyRcpt, IsLocalDomain) {
    EXPECT_TRUE(policy.is_local_domain("example.org"));
    EXPECT_TRUE(policy.is_local_domain("EXAMPLE.ORG"));
    EXPECT_TRUE(policy.is_local_domain("catchall.test"));
    EXPECT_FALSE(policy.is_local_domain("example.com"));
    EXPECT_FALSE(policy.is_local_domain(""));
}

TEST_F(PolicyRcpt, ReplyNeverCarriesControlCharacters) {
    const auto r = policy.check_rcpt(mbox("a\r\nb", "example.com"), false);
    ASSERT_EQ(r.lines.size(), 1u);
    EXPECT_EQ(r.lines[0].find_first_of("\r\n"), std::string::npos);
}

TEST(PolicyRcptDelimiter, EmptyDelimiterKeepsTheWholeLocalPart) {
    auto c = test::test_config();
    c.smtp.recipient_delimiter = "";
    const Policy p(c);
    expect_unknown(p.check_rcpt(mbox("alice+x", "example.org"), false), "alice+x@example.org");
}

// With '-' as delimiter, "bob-smith" still finds its own mailbox before "bob".
TEST(PolicyRcptDelimiter, FullLocalPartIsTriedBeforeTheCutOne) {
    auto c = test::test_config();
    c.smtp.recipient_delimiter = "-";
    const Policy p(c);
    EXPECT_EQ(p.route(mbox("bob-smith", "example.org")).maildir, "/srv/mail/example.org/bob-smith");
    EXPECT_EQ(p.route(mbox("bob-jones", "example.org")).maildir, "/srv/mail/example.org/bob");
    EXPECT_EQ(p.route(mbox("alice-x", "example.org")).maildir, "/srv/mail/example.org/alice");
}

TEST(PolicyRcptDefaults, LocalhostCatchAllAndNoRelay) {
    const Policy p(config::Config{});
    expect_ok(p.check_rcpt(mbox("anyone", "localhost"), false));
    expect_relay_denied(p.check_rcpt(mbox("anyone", "example.com"), false), "anyone@example.com");
    expect_ok(p.check_rcpt(mbox("anyone", "example.com"), true));
}

}  // namespace
}  // namespace ehlo::policy
