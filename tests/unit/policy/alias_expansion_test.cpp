// Alias expansion: recursion (RFC 5321 3.9.1), loops, the depth limit, duplicates, an alias of
// itself, the recipient delimiter, and virtual(5)'s order of lookups.
#include <gtest/gtest.h>

#include "alias_fixture.hpp"
#include "policy/alias_expansion.hpp"

namespace ehlo::policy {
namespace {

using What = ExpansionStep::What;
using Outcome = Expansion::Outcome;

class ExpansionTest : public ::testing::Test {
protected:
    LocalDomains domains{test::test_domains(), "+"};
    std::shared_ptr<const AliasTable> table;

    void load(std::string_view aliases, std::string_view virtual_text = {}) {
        AliasTableBuilder b(domains);
        b.add_text(aliases, test::global());
        if (!virtual_text.empty()) b.add_text(virtual_text, test::virtual_file());
        ASSERT_TRUE(b.problems().empty()) << b.problems()[0].str();
        table = b.build();
    }

    Expansion expand(std::string local, std::string domain) {
        if (!table) load("");
        return Expander(domains, *table).expand(smtp::Mailbox{std::move(local), std::move(domain)});
    }

    // The final addresses, in order.
    std::vector<std::string> finals(std::string local, std::string domain) {
        std::vector<std::string> out;
        for (const auto& d : expand(std::move(local), std::move(domain)).destinations) out.push_back(d.address.str());
        return out;
    }
};

TEST_F(ExpansionTest, MailboxWithoutAlias) {
    const auto e = expand("alice", "example.org");
    ASSERT_EQ(e.outcome, Outcome::Ok);
    ASSERT_EQ(e.destinations.size(), 1u);
    EXPECT_EQ(e.destinations[0].kind, Destination::Kind::Mailbox);
    EXPECT_EQ(e.destinations[0].mailbox, "alice");
    EXPECT_EQ(e.destinations[0].maildir, "/srv/mail/example.org/alice");
    EXPECT_EQ(e.root.what, What::Mailbox);
}

TEST_F(ExpansionTest, UnknownAddress) {
    const auto e = expand("nobody", "example.org");
    EXPECT_EQ(e.outcome, Outcome::Unknown);
    EXPECT_TRUE(e.destinations.empty());
}

// RFC 5321 3.9.1: an alias is replaced by each of its addresses, recursively.
TEST_F(ExpansionTest, RecursiveExpansion_Rfc5321_3_9_1) {
    load("team: alice, sub, friend@partner.example\nsub: bob, carol\n");
    EXPECT_EQ(finals("team", "example.org"),
              (std::vector<std::string>{"alice@example.org", "bob@example.org", "carol@example.org", "friend@partner.example"}));
    const auto e = expand("team", "example.org");
    EXPECT_EQ(e.root.what, What::Alias);
    EXPECT_EQ(e.root.detail, "aliases:1");
    ASSERT_EQ(e.root.children.size(), 3u);
    EXPECT_EQ(e.root.children[1].what, What::Alias);
    EXPECT_EQ(e.root.children[1].detail, "aliases:2");
    EXPECT_EQ(e.root.children[2].what, What::Remote);
    EXPECT_TRUE(e.destinations[3].forwarded);
    EXPECT_FALSE(e.destinations[0].forwarded);
}

TEST_F(ExpansionTest, ABareTargetIsOfTheDomainExpanded) {
    load("help: alice\n");
    EXPECT_EQ(finals("help", "example.org"), std::vector<std::string>{"alice@example.org"});
    EXPECT_EQ(finals("help", "catchall.test"), std::vector<std::string>{"alice@catchall.test"});
}

TEST_F(ExpansionTest, LoopIsSkippedAndTheRestDelivered) {
    load("a: b, alice\nb: a, carol\n");
    EXPECT_EQ(finals("a", "example.org"), (std::vector<std::string>{"carol@example.org", "alice@example.org"}));
    const auto e = expand("a", "example.org");
    EXPECT_EQ(e.outcome, Outcome::Ok);
    ASSERT_EQ(e.root.children[0].children.size(), 2u);
    EXPECT_EQ(e.root.children[0].children[0].what, What::Loop);
}

TEST_F(ExpansionTest, NothingButALoop) {
    load("a: b\nb: c\nc: a\n");
    const auto e = expand("a", "example.org");
    EXPECT_EQ(e.outcome, Outcome::Loop);
    EXPECT_TRUE(e.destinations.empty());
}

TEST_F(ExpansionTest, DepthLimit) {
    std::string text;
    for (std::size_t i = 0; i < kMaxAliasDepth; ++i) text += "l" + std::to_string(i) + ": l" + std::to_string(i + 1) + "\n";
    text += "l" + std::to_string(kMaxAliasDepth) + ": alice\n";
    text += "deeper: l0\n";
    load(text);
    // l0 .. l20 are 21 addresses; alice is at depth kMaxAliasDepth + 1.
    const auto at_limit = expand("l1", "example.org");
    EXPECT_EQ(at_limit.outcome, Outcome::Ok);
    EXPECT_EQ(at_limit.destinations.size(), 1u);
    const auto over = expand("deeper", "example.org");
    EXPECT_EQ(over.outcome, Outcome::TooDeep);
    EXPECT_TRUE(over.destinations.empty());
}

TEST_F(ExpansionTest, DuplicatesCollapse) {
    load("team: alice, Alice, alice@Example.ORG, sub, x@partner.example, X@partner.example\nsub: alice, bob, alice+lists\n");
    EXPECT_EQ(finals("team", "example.org"),
              (std::vector<std::string>{"alice@example.org", "bob@example.org", "x@partner.example"}));
}

TEST_F(ExpansionTest, AnAliasOfItselfDeliversToItsMailbox) {
    load("alice: alice, friend@partner.example\n");
    const auto e = expand("alice", "example.org");
    ASSERT_EQ(e.outcome, Outcome::Ok);
    ASSERT_EQ(e.destinations.size(), 2u);
    EXPECT_EQ(e.destinations[0].kind, Destination::Kind::Mailbox);
    EXPECT_EQ(e.destinations[0].mailbox, "alice");
    EXPECT_EQ(e.root.children[0].detail, "itself");
    EXPECT_EQ(e.destinations[1].address.str(), "friend@partner.example");
}

TEST_F(ExpansionTest, AnAliasOfItselfWithoutAMailboxIsLeftOut) {
    load("dave: dave, alice\n");
    const auto e = expand("dave", "example.org");
    EXPECT_EQ(finals("dave", "example.org"), std::vector<std::string>{"alice@example.org"});
    ASSERT_EQ(e.left_out.size(), 1u);
    EXPECT_EQ(e.left_out[0], "dave@example.org (aliases:1)");
}

TEST_F(ExpansionTest, DelimiterExtensionChoosesAFolder) {
    const auto e = expand("alice+Lists", "example.org");
    ASSERT_EQ(e.destinations.size(), 1u);
    EXPECT_EQ(e.destinations[0].mailbox, "alice");
    EXPECT_EQ(e.destinations[0].folder, "Lists");  // the case as written: folders keep theirs
    EXPECT_EQ(finals("alice+lists", "example.org"), std::vector<std::string>{"alice+lists@example.org"});
    // catchall.test has no `folders`: the inbox.
    EXPECT_EQ(expand("alice+lists", "catchall.test").destinations[0].folder, "");
    // Not a folder name: the inbox.
    EXPECT_EQ(expand("alice+..x", "example.org").destinations[0].folder, "");
}

TEST_F(ExpansionTest, AMailboxWithTheDelimiterInItsNameIsNoExtension) {
    const auto e = expand("bob+smith", "example.org");
    ASSERT_EQ(e.destinations.size(), 1u);
    EXPECT_EQ(e.destinations[0].mailbox, "bob");
    EXPECT_EQ(e.destinations[0].folder, "smith");
    LocalDomains dash(test::test_domains(), "-");
    const auto table_ = AliasTableBuilder(dash).build();
    const auto d = Expander(dash, *table_).expand(smtp::Mailbox{"bob-smith", "example.org"});
    EXPECT_EQ(d.destinations[0].mailbox, "bob-smith");
    EXPECT_EQ(d.destinations[0].folder, "");
}

// Postfix's propagate_unmatched_extensions (virtual): an alias matched without the extension
// passes it on, so the folder of the address still applies.
TEST_F(ExpansionTest, UnmatchedExtensionIsCarriedToTheTargets) {
    load("al: alice\nal+special: carol\n");
    EXPECT_EQ(finals("al+lists", "example.org"), std::vector<std::string>{"alice+lists@example.org"});
    EXPECT_EQ(expand("al+lists", "example.org").destinations[0].folder, "lists");
    EXPECT_EQ(finals("al+special", "example.org"), std::vector<std::string>{"carol@example.org"});
}

TEST_F(ExpansionTest, AliasOfItselfKeepsTheExtension) {
    load("alice: alice, bob\n");
    const auto e = expand("alice+lists", "example.org");
    ASSERT_EQ(e.destinations.size(), 2u);
    EXPECT_EQ(e.destinations[0].address.str(), "alice+lists@example.org");
    EXPECT_EQ(e.destinations[0].folder, "lists");
    EXPECT_EQ(e.destinations[1].address.str(), "bob+lists@example.org");
}

// virtual(5): "user@domain" first, then "user" (the "user@" form), then "@domain". A mailbox
// comes before "@domain" here (see alias_expansion.hpp).
TEST_F(ExpansionTest, LookupOrderOfVirtual5) {
    load("",
         "alice@example.org   carol@example.org\n"
         "alice               bob@example.org\n"
         "zed@                carol@example.org\n"
         "@example.org        bob@example.org\n"
         "alice+x@example.org carol@partner.example\n");
    EXPECT_EQ(finals("alice", "example.org"), std::vector<std::string>{"carol@example.org"});        // exact address
    EXPECT_EQ(finals("alice+x", "example.org"), std::vector<std::string>{"carol@partner.example"});  // with extension first
    EXPECT_EQ(finals("alice+y", "example.org"), std::vector<std::string>{"carol+y@example.org"});    // then without
    EXPECT_EQ(finals("zed", "example.org"), std::vector<std::string>{"carol@example.org"});          // user@ form
    EXPECT_EQ(finals("alice", "catchall.test"), std::vector<std::string>{"bob@example.org"});        // user form, any domain
    EXPECT_EQ(finals("carol", "example.org"), std::vector<std::string>{"carol@example.org"});        // a mailbox
    EXPECT_EQ(finals("nobody", "example.org"), std::vector<std::string>{"bob@example.org"});         // @domain last
}

TEST_F(ExpansionTest, CatchAllAliasBeforeACatchAllMailbox) {
    load("", "@catchall.test  @example.org\n");
    // The same user in the other domain.
    EXPECT_EQ(finals("Alice", "catchall.test"), std::vector<std::string>{"Alice@example.org"});
    EXPECT_EQ(expand("nobody", "catchall.test").outcome, Outcome::Unknown);
}

TEST_F(ExpansionTest, DomainAliasRewritesTheDomain) {
    load("sales@example.org: carol\n");
    EXPECT_EQ(finals("alice", "example.net"), std::vector<std::string>{"alice@example.org"});
    EXPECT_EQ(finals("sales", "Example.NET"), std::vector<std::string>{"carol@example.org"});
    const auto e = expand("alice", "example.net");
    EXPECT_EQ(e.root.what, What::DomainAlias);
    EXPECT_EQ(e.root.detail, "example.org");
    EXPECT_EQ(expand("nobody", "example.net").outcome, Outcome::Unknown);
}

TEST_F(ExpansionTest, TooManyDestinations) {
    std::string text = "big:";
    for (std::size_t i = 0; i <= kMaxExpansionDestinations; ++i) text += (i ? ", m" : " m") + std::to_string(i) + "@partner.example";
    load(text + "\nfits: m1@partner.example, m2@partner.example\n");
    const auto e = expand("big", "example.org");
    EXPECT_EQ(e.outcome, Outcome::TooMany);
    EXPECT_TRUE(e.destinations.empty());
    EXPECT_EQ(expand("fits", "example.org").destinations.size(), 2u);
}

TEST_F(ExpansionTest, TooMuchWorkEvenWithFewDestinations) {
    // Ten lists of a thousand duplicates each: few destinations, but more steps than allowed.
    std::string text = "all: l0, l1, l2, l3, l4, l5, l6, l7, l8, l9, l10\n";
    std::string members;
    for (std::size_t i = 0; i < kMaxExpansionDestinations; ++i) members += (i ? ", x" : " x") + std::to_string(i) + "@partner.example";
    for (int l = 0; l <= 10; ++l) text += "l" + std::to_string(l) + ":" + members + "\n";
    load(text);
    EXPECT_EQ(expand("all", "example.org").outcome, Outcome::TooMany);
}

TEST_F(ExpansionTest, TargetsThatReachNothingAreFoundAtLoad) {
    AliasTableBuilder b(domains);
    b.add_text("team@example.org: alice,\n   alcie\nhelp: whoever\nx@example.org: y@example.net\nz@example.org: nobody@catchall.test\n",
               test::global());
    const auto t = b.build();
    const auto problems = check_alias_targets(*t, domains);
    // "whoever" is a bare name of an entry for every domain: not checked. y@example.net is
    // y@example.org (alias_of), which is nothing. catchall.test takes any name.
    ASSERT_EQ(problems.size(), 2u);
    EXPECT_EQ(problems[0].str(), "aliases:2: 'alcie@example.org' (a target of 'team@example.org') is neither a mailbox nor an alias");
    EXPECT_EQ(problems[1].line, 4u);
}

}  // namespace
}  // namespace ehlo::policy
