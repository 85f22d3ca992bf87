// The keys of aliases, virtual domains, LMTP, folders, quotas and SRS: each reaches its field,
// and each mistake is reported at its line.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "config/network.hpp"

namespace ehlo::config {
namespace {

void check_error(std::string_view toml, std::size_t line, std::string_view fragment) {
    auto r = load_string(toml, "test.toml");
    ASSERT_FALSE(r.config);
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->line, line) << r.error->str();
    EXPECT_NE(r.error->message.find(fragment), std::string::npos) << r.error->str();
}

#define EXPECT_CONFIG_ERROR(toml, line, fragment) \
    do {                                          \
        SCOPED_TRACE(toml);                       \
        check_error(toml, line, fragment);        \
    } while (false)

constexpr const char* kMailHost = R"(
[aliases]
files = ["/etc/ehlo/aliases"]
virtual_files = ["/etc/postfix/virtual"]

[srs]
domain = "Example.ORG"
secret_file = "/etc/ehlo/srs.secret"
max_age = 30
hash_length = 6

[[domain]]
name = "example.org"
mailboxes = ["alice", "bob"]
maildir_root = "/srv/mail/example.org"
alias_file = "/etc/ehlo/aliases.example.org"
lmtp = "unix:/run/dovecot/lmtp"
folders = true
quota_bytes = 1073741824
quota_messages = 100000
mailbox_quota = { alice = { bytes = 5368709120 }, bob = { messages = 10 } }
mailbox_lmtp = { bob = "127.0.0.1:2424" }

[[domain]]
name = "example.net"
alias_of = "Example.Org"

[[domain]]
name = "lmtp.example"
catch_all = true
lmtp = "[::1]:24"
)";

TEST(MailboxKeys, EveryKeyReachesItsField) {
    auto r = load_string(kMailHost, "host.toml");
    ASSERT_TRUE(r.config) << r.error->str();
    const Config& c = *r.config;
    EXPECT_EQ(c.aliases.files, std::vector<std::string>{"/etc/ehlo/aliases"});
    EXPECT_EQ(c.aliases.virtual_files, std::vector<std::string>{"/etc/postfix/virtual"});
    EXPECT_EQ(c.srs.domain, "example.org");
    EXPECT_EQ(c.srs.secret_file, "/etc/ehlo/srs.secret");
    EXPECT_EQ(c.srs.max_age, 30u);
    EXPECT_EQ(c.srs.hash_length, 6u);
    ASSERT_EQ(c.domains.size(), 3u);
    const LocalDomain& org = c.domains[0];
    EXPECT_EQ(org.alias_file, "/etc/ehlo/aliases.example.org");
    EXPECT_EQ(org.lmtp, (LmtpTarget{LmtpTarget::Kind::Unix, "/run/dovecot/lmtp", "", 0}));
    EXPECT_TRUE(org.folders);
    EXPECT_EQ(org.quota, (Quota{1073741824, 100000}));
    EXPECT_EQ(org.mailbox_quota.at("alice"), (Quota{5368709120, 0}));
    EXPECT_EQ(org.mailbox_quota.at("bob"), (Quota{0, 10}));
    EXPECT_EQ(org.mailbox_lmtp.at("bob"), (LmtpTarget{LmtpTarget::Kind::Tcp, "", "127.0.0.1", 2424}));
    EXPECT_EQ(org.mailbox_lmtp.count("alice"), 0u);
    EXPECT_EQ(c.domains[1].alias_of, "example.org");
    EXPECT_EQ(c.domains[2].lmtp, (LmtpTarget{LmtpTarget::Kind::Tcp, "", "::1", 24}));
}

TEST(MailboxKeys, DefaultsAreOff) {
    const Config c;
    EXPECT_TRUE(c.aliases.files.empty());
    EXPECT_TRUE(c.srs.domain.empty());
    EXPECT_EQ(c.srs.max_age, 21u);
    EXPECT_EQ(c.srs.hash_length, 4u);
    const LocalDomain& d = c.domains.front();
    EXPECT_TRUE(d.alias_file.empty());
    EXPECT_TRUE(d.alias_of.empty());
    EXPECT_EQ(d.lmtp.kind, LmtpTarget::Kind::None);
    EXPECT_FALSE(d.folders);
    EXPECT_TRUE(d.quota.none());
}

TEST(MailboxKeys, AliasOfMustNameAnotherMailboxDomain) {
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\nalias_of = \"b.example\"\n", 3, "'b.example', which is not a [[domain]]");
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\nalias_of = \"a.example\"\n", 3, "another domain, not this one");
    EXPECT_CONFIG_ERROR(
        "[[domain]]\nname = \"a.example\"\nalias_of = \"b.example\"\n[[domain]]\nname = \"b.example\"\nalias_of = \"c.example\"\n"
        "[[domain]]\nname = \"c.example\"\n",
        3, "itself an alias of 'c.example'");
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\nalias_of = \"not a domain\"\n", 3, "must be a domain name");
}

TEST(MailboxKeys, AliasOfExcludesMailboxKeys) {
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"b.example\"\n[[domain]]\nname = \"a.example\"\nalias_of = \"b.example\"\n"
                        "mailboxes = [\"x\"]\n",
                        6, "'mailboxes' in [[domain]] has no effect with alias_of");
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"b.example\"\n[[domain]]\nname = \"a.example\"\nquota_bytes = 5\n"
                        "alias_of = \"b.example\"\n",
                        5, "'quota_bytes' in [[domain]] has no effect with alias_of");
}

TEST(MailboxKeys, LmtpDestination_Rfc2033) {
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\nlmtp = \"unix:\"\n", 3, "expected unix:PATH");
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\nlmtp = \"127.0.0.1\"\n", 3, "expected unix:PATH or HOST:PORT");
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\nlmtp = \"127.0.0.1:0\"\n", 3, "port must be 1 to 65535");
    // RFC 2033 5: LMTP must not be offered on the SMTP port.
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\nlmtp = \"127.0.0.1:25\"\n", 3, "RFC 2033 5");
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\nlmtp = \"::1:24\"\n", 3, "must be in brackets");
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\nlmtp = \"bad_host!:24\"\n", 3, "not an IP address or a host name");
}

TEST(MailboxKeys, MailboxLmtpIsCheckedLikeLmtp) {
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\nmailbox_lmtp = { bob = \"127.0.0.1:25\" }\n", 3, "RFC 2033 5");
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\nmailbox_lmtp = { bob = 24 }\n", 3, "must map 'bob'");
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\nmailbox_lmtp = { \"../x\" = \"unix:/s\" }\n", 3,
                        "not a mailbox name");
}

// A TOML string may hold tabs (and escapes of any control): the error that quotes a bad target
// stays one printable line (found by fuzz_config).
TEST(MailboxKeys, BadLmtpTargetIsQuotedPrintably) {
    auto r = load_string("[[domain]]\nname = \"a.example\"\nmailbox_lmtp = { bob = \"12\t\\u0001.0.0.1:24\" }\n", "t.toml");
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->line, 3u);
    for (char c : r.error->str()) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << r.error->str();
    EXPECT_NE(r.error->message.find("12\\t\\x01"), std::string::npos) << r.error->str();
}

// [msgauth] and its [[msgauth.sign]] keys: each mistake at its line.
TEST(MsgauthKeys, MistakesAreReportedAtTheirLine) {
    EXPECT_CONFIG_ERROR("[msgauth]\ndmarc_reject = \"bounce\"\n", 2, "\"reject\", \"quarantine\" or \"none\"");
    EXPECT_CONFIG_ERROR("[msgauth]\nspf_fail = \"refuse\"\n", 2, "\"mark\" or \"reject\"");
    EXPECT_CONFIG_ERROR("[msgauth]\ndns_failure = \"retry\"\n", 2, "\"accept\" or \"defer\"");
    EXPECT_CONFIG_ERROR("[msgauth]\nauthserv_id = \"mx; dkim=pass\"\n", 2, "must be a host name");
    EXPECT_CONFIG_ERROR("[msgauth]\nmax_signatures = 0\n", 2, "1 to 50");
    EXPECT_CONFIG_ERROR("[[msgauth.sign]]\ndomain = \"example.org\"\nselector = \"s1\"\n", 1, "'key_file' in [[msgauth.sign]] is required");
    EXPECT_CONFIG_ERROR("[[msgauth.sign]]\ndomain = \"exa mple.org\"\nselector = \"s1\"\nkey_file = \"/k\"\n", 2,
                        "must be a domain name");
    EXPECT_CONFIG_ERROR("[[msgauth.sign]]\ndomain = \"example.org\"\nselector = \"s1\"\nkey_file = \"/k\"\ncolour = 1\n", 5,
                        "unknown key 'colour'");
    EXPECT_CONFIG_ERROR("[[msgauth.sign]]\ndomain = \"a.example\"\nselector = \"s1\"\nkey_file = \"/k\"\n"
                        "[[msgauth.sign]]\ndomain = \"A.example\"\nselector = \"s1\"\nkey_file = \"/j\"\n", 5,
                        "repeats 's1' for 'a.example'");
    EXPECT_CONFIG_ERROR("[msgauth]\narc_domain = \"b.example\"\n", 2, "has no [[msgauth.sign]] key");
}

TEST(MailboxKeys, LmtpTargetForms) {
    EXPECT_EQ(parse_lmtp_target("dovecot.example:24").value, (LmtpTarget{LmtpTarget::Kind::Tcp, "", "dovecot.example", 24}));
    EXPECT_EQ(parse_lmtp_target("192.0.2.5:2424").value, (LmtpTarget{LmtpTarget::Kind::Tcp, "", "192.0.2.5", 2424}));
    EXPECT_EQ(parse_lmtp_target("unix:var/lmtp.sock").value, (LmtpTarget{LmtpTarget::Kind::Unix, "var/lmtp.sock", "", 0}));
    EXPECT_FALSE(parse_lmtp_target("unix:" + std::string(kMaxSocketPath + 1, 'a')).value);
}

TEST(MailboxKeys, QuotaValues) {
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\nquota_bytes = -1\n", 3, "0 = no limit");
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\nmailbox_quota = { \"../x\" = { bytes = 1 } }\n", 3,
                        "not a mailbox name");
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\nmailbox_quota = { alice = 5 }\n", 3,
                        "must map 'alice' to a table");
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\nmailbox_quota = { alice = { size = 5 } }\n", 3,
                        "unknown key 'size' in mailbox_quota.alice");
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\nmailbox_quota = 5\n", 3, "must be a table");
}

TEST(MailboxKeys, AliasFiles) {
    EXPECT_CONFIG_ERROR("[aliases]\nfiles = [\"\"]\n", 2, "must not hold an empty file name");
    EXPECT_CONFIG_ERROR("[aliases]\nfiles = [\"a\"]\nvirtual_files = [\"a\"]\n", 3, "names 'a' twice");
    EXPECT_CONFIG_ERROR("[aliases]\nfile = \"a\"\n", 2, "unknown key 'file' in [aliases]");
}

TEST(MailboxKeys, SrsDomainMustBeLocal) {
    EXPECT_CONFIG_ERROR("[srs]\ndomain = \"elsewhere.example\"\n", 2, "is not a [[domain]]");
    EXPECT_CONFIG_ERROR("[srs]\ndomain = \"x\"\n[[domain]]\nname = \"b.example\"\n[[domain]]\nname = \"x\"\n"
                        "alias_of = \"b.example\"\n",
                        2, "must not be an alias_of domain");
    EXPECT_CONFIG_ERROR("[srs]\ndomain = \"not a domain\"\n", 2, "must be empty or a domain name");
}

TEST(MailboxKeys, SrsBounds) {
    EXPECT_CONFIG_ERROR("[srs]\nmax_age = 0\n", 2, "must be 1 to 1023");
    EXPECT_CONFIG_ERROR("[srs]\nmax_age = 1024\n", 2, "modulo 1024");
    EXPECT_CONFIG_ERROR("[srs]\nhash_length = 3\n", 2, "must be 4 to 27");
    EXPECT_CONFIG_ERROR("[srs]\nsecret_file = \"\"\n", 2, "must not be empty");
}

}  // namespace
}  // namespace ehlo::config
