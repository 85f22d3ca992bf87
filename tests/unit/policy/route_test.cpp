// Where accepted mail goes: a Maildir under the domain's maildir_root, onward to another
// server (by MX or a configured [[route]]), or held.
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

TEST_F(PolicyRoute, UnknownLocalMailboxesAndBareNamesAreHeld) {
    for (const auto& m : {mbox("carol", "example.org"), mbox("alice", "")}) {
        const auto r = policy.route(m);
        EXPECT_EQ(r.kind, queue::Route::Kind::Hold) << m.str();
        EXPECT_TRUE(r.maildir.empty()) << m.str();
    }
}

// RFC 5321 5.1: mail for another domain goes onward, by its MX records.
TEST_F(PolicyRoute, OtherDomainsGoOnwardByMx_Rfc5321_5_1) {
    const auto r = policy.route(mbox("someone", "Example.COM"));
    ASSERT_EQ(r.kind, queue::Route::Kind::Remote);
    EXPECT_EQ(r.remote.domain, "example.com") << "lower-cased";
    EXPECT_FALSE(r.remote.host) << "no configured host: MX lookup";
    EXPECT_EQ(r.remote.port, 25);
    EXPECT_TRUE(r.maildir.empty());
}

// RFC 5321 4.1.3: an address literal names the host; no DNS.
TEST_F(PolicyRoute, AnAddressLiteralIsItsOwnHost_Rfc5321_4_1_3) {
    const auto v4 = policy.route(mbox("alice", "[192.0.2.7]"));
    ASSERT_EQ(v4.kind, queue::Route::Kind::Remote);
    EXPECT_EQ(v4.remote.host, "192.0.2.7");
    EXPECT_EQ(v4.remote.port, 25);
    EXPECT_EQ(v4.remote.domain, "[192.0.2.7]");
    const auto v6 = policy.route(mbox("alice", "[IPv6:2001:DB8::1]"));
    ASSERT_EQ(v6.kind, queue::Route::Kind::Remote);
    EXPECT_EQ(v6.remote.host, "2001:db8::1");
}

class PolicyRouteConfigured : public ::testing::Test {
protected:
    static config::Config with_routes() {
        auto c = test::test_config();
        c.routes = {
            {"*", "Smarthost.Example.net", 587},
            {"partner.example", "192.0.2.25", 2525},
            {"partner.example", "192.0.2.99", 25},  // not reached: the first for a domain wins
        };
        return c;
    }
    Policy policy{with_routes()};
};

TEST_F(PolicyRouteConfigured, AnExactDomainRouteWinsOverTheWildcard) {
    const auto r = policy.route(mbox("bob", "Partner.Example"));
    ASSERT_EQ(r.kind, queue::Route::Kind::Remote);
    EXPECT_EQ(r.remote.domain, "partner.example");
    EXPECT_EQ(r.remote.host, "192.0.2.25");
    EXPECT_EQ(r.remote.port, 2525);
}

TEST_F(PolicyRouteConfigured, TheWildcardTakesEveryOtherDomain) {
    const auto r = policy.route(mbox("bob", "elsewhere.example"));
    ASSERT_EQ(r.kind, queue::Route::Kind::Remote);
    EXPECT_EQ(r.remote.domain, "elsewhere.example") << "the domain stays, for the logs and DSNs";
    EXPECT_EQ(r.remote.host, "smarthost.example.net");
    EXPECT_EQ(r.remote.port, 587);
    EXPECT_EQ(r.remote.key(), "smarthost.example.net:587");
}

TEST_F(PolicyRouteConfigured, LocalDomainsAndLiteralsIgnoreRoutes) {
    EXPECT_EQ(policy.route(mbox("alice", "example.org")).kind, queue::Route::Kind::Maildir);
    const auto literal = policy.route(mbox("alice", "[192.0.2.7]"));
    EXPECT_EQ(literal.remote.host, "192.0.2.7");
    EXPECT_EQ(literal.remote.port, 25);
}

TEST_F(PolicyRouteConfigured, WithoutAWildcardOtherDomainsUseMx) {
    auto c = test::test_config();
    c.routes = {{"partner.example", "192.0.2.25", 25}};
    const Policy p(c);
    EXPECT_FALSE(p.route(mbox("x", "other.example")).remote.host);
    EXPECT_EQ(p.route(mbox("x", "partner.example")).remote.host, "192.0.2.25");
}

TEST(PolicyRouteInvalid, ARouteBuiltInCodeNeedsAHost) {
    auto c = test::test_config();
    c.routes = {{"a.example", "", 25}};
    EXPECT_THROW(Policy{c}, std::invalid_argument);
}

}  // namespace
}  // namespace ehlo::policy

namespace ehlo::policy {
namespace {

// The TLS policy of a destination (RFC 3207 outbound): its [[route]]'s, else [outbound]
// tls_policy for the recipient's domain, else [outbound] tls; the CA file likewise.
TEST(PolicyRouteTls, RouteThenDomainThenDefault) {
    using delivery::TlsPolicy;
    auto c = test::test_config();
    c.outbound.tls = TlsPolicy::Encrypt;
    c.outbound.tls_ca_file = "/etc/ehlo/ca.pem";
    c.outbound.tls_policy = {{"bank.example", TlsPolicy::Verify}, {"partner.example", TlsPolicy::None}};
    config::OutboundRoute partner{"partner.example", "192.0.2.25", 25};
    partner.tls = TlsPolicy::Verify;
    partner.tls_ca_file = "/etc/ehlo/partner-ca.pem";
    config::OutboundRoute other{"other.example", "192.0.2.26", 25};  // no tls key: not the route's say
    c.routes = {partner, other};
    const Policy p(c);

    const auto routed = p.route(mbox("x", "partner.example")).remote;
    EXPECT_EQ(routed.tls, TlsPolicy::Verify) << "the route wins over tls_policy";
    EXPECT_EQ(routed.tls_ca_file, "/etc/ehlo/partner-ca.pem");
    const auto bank = p.route(mbox("x", "Bank.Example")).remote;
    EXPECT_EQ(bank.tls, TlsPolicy::Verify);
    EXPECT_EQ(bank.tls_ca_file, "/etc/ehlo/ca.pem");
    EXPECT_EQ(p.route(mbox("x", "other.example")).remote.tls, TlsPolicy::Encrypt);
    EXPECT_EQ(p.route(mbox("x", "elsewhere.example")).remote.tls, TlsPolicy::Encrypt);
    // Connections are pooled per key: another policy is another pool.
    EXPECT_NE(bank.key(), "bank.example");
}

TEST(PolicyRouteTls, DefaultIsMay) {
    const Policy p(test::test_config());
    const auto r = p.route(mbox("x", "elsewhere.example")).remote;
    EXPECT_EQ(r.tls, delivery::TlsPolicy::May);
    EXPECT_EQ(r.tls_ca_file, "");
    EXPECT_EQ(r.key(), "elsewhere.example");
}

// RFC 2033: a domain (or a mailbox) with an LMTP server gets its mail there, as a remote job
// of the queue whose target says lmtp; never by MX, never to the Maildir.
TEST(PolicyRouteLmtp, DomainAndMailboxLmtpServers_Rfc2033) {
    auto config = test::test_config();
    auto& org = config.domains.front();
    ASSERT_EQ(org.name, "example.org");
    org.lmtp = {config::LmtpTarget::Kind::Unix, "/run/dovecot/lmtp", "", 0};
    org.mailbox_lmtp["alice"] = {config::LmtpTarget::Kind::Tcp, "", "192.0.2.24", 24};
    Policy policy(config);

    const auto bob = policy.route(test::mbox("Bob+lists", "Example.Org"));
    ASSERT_EQ(bob.kind, queue::Route::Kind::Remote);
    EXPECT_TRUE(bob.remote.lmtp);
    EXPECT_EQ(bob.remote.socket, "/run/dovecot/lmtp");
    EXPECT_EQ(bob.remote.key(), "lmtp:unix:/run/dovecot/lmtp");

    const auto alice = policy.route(test::mbox("alice", "example.org"));
    ASSERT_EQ(alice.kind, queue::Route::Kind::Remote);
    EXPECT_TRUE(alice.remote.lmtp);
    EXPECT_TRUE(alice.remote.socket.empty());
    EXPECT_EQ(alice.remote.host, "192.0.2.24");
    EXPECT_EQ(alice.remote.port, 24);

    // An unknown mailbox is still held; another domain is still SMTP.
    EXPECT_EQ(policy.route(test::mbox("nobody", "example.org")).kind, queue::Route::Kind::Hold);
    EXPECT_FALSE(policy.route(test::mbox("x", "elsewhere.example")).remote.lmtp);
}

}  // namespace
}  // namespace ehlo::policy
