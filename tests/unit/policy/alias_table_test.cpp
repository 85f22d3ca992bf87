// Reading alias files: ehlo's format and Postfix's virtual(5), and every mistake named with its
// file and line.
#include <gtest/gtest.h>

#include "alias_fixture.hpp"
#include "policy/alias_table.hpp"

namespace ehlo::policy {
namespace {

using test::global;
using test::of_domain;
using test::virtual_file;

class AliasTableTest : public ::testing::Test {
protected:
    LocalDomains domains{test::test_domains(), "+"};

    std::shared_ptr<const AliasTable> parse(std::string_view text, const AliasFileSpec& spec) {
        AliasTableBuilder b(domains);
        b.add_text(text, spec);
        problems = b.problems();
        return b.build();
    }

    // The one problem `text` has: its line and a fragment of its message.
    void expect_problem(std::string_view text, const AliasFileSpec& spec, std::size_t line, std::string_view fragment) {
        SCOPED_TRACE(std::string(text));
        parse(text, spec);
        ASSERT_EQ(problems.size(), 1u) << (problems.empty() ? "" : problems[0].str());
        EXPECT_EQ(problems[0].file, spec.path);
        EXPECT_EQ(problems[0].line, line) << problems[0].str();
        EXPECT_NE(problems[0].message.find(fragment), std::string::npos) << problems[0].str();
    }

    std::vector<AliasProblem> problems;
};

std::vector<std::string> targets(const AliasEntry* e) {
    std::vector<std::string> out;
    if (!e) return out;
    for (const auto& t : e->targets) {
        out.push_back(t.kind == AliasTarget::Kind::SameUserIn ? "@" + t.domain
                      : t.domain.empty()                      ? t.local_part
                                                              : t.local_part + "@" + t.domain);
    }
    return out;
}

// ---- ehlo's format ---------------------------------------------------------------------------

TEST_F(AliasTableTest, NamesAddressesCommentsAndContinuations) {
    const auto table = parse(
        "# the team\n"
        "\n"
        "postmaster: alice\n"
        "team: alice, Bob@Example.ORG,\n"
        "    carol@partner.example,   \n"
        "\t# a comment inside an entry\n"
        "\tdave@partner.example\n"
        "info@example.org: alice#info\n",  // '#' inside a line is text, as in Postfix tables
        global());
    ASSERT_TRUE(problems.empty()) << problems[0].str();
    EXPECT_EQ(targets(table->find_name("postmaster")), std::vector<std::string>{"alice"});
    EXPECT_EQ(targets(table->find_name("team")),
              (std::vector<std::string>{"alice", "Bob@example.org", "carol@partner.example", "dave@partner.example"}));
    EXPECT_EQ(table->find_name("team")->line, 4u);
    EXPECT_EQ(table->find_name("team")->targets[2].line, 5u);
    EXPECT_EQ(table->find_name("team")->targets[3].line, 7u);
    EXPECT_EQ(table->origin(*table->find_name("team")), "aliases:4");
    EXPECT_EQ(targets(table->find_address("info", "example.org")), std::vector<std::string>{"alice#info"});
    EXPECT_EQ(table->size(), 3u);
}

TEST_F(AliasTableTest, KeysAreCaseInsensitiveAndUnquoted) {
    const auto table = parse("Abuse: alice\n\"Sales\"@Example.Org: bob\n", global());
    ASSERT_TRUE(problems.empty()) << problems[0].str();
    EXPECT_NE(table->find_name("abuse"), nullptr);
    EXPECT_NE(table->find_address("sales", "example.org"), nullptr);
}

TEST_F(AliasTableTest, CrlfLinesAreRead) {
    const auto table = parse("a: alice\r\nb: bob,\r\n  carol\r\n", global());
    ASSERT_TRUE(problems.empty()) << problems[0].str();
    EXPECT_EQ(targets(table->find_name("b")), (std::vector<std::string>{"bob", "carol"}));
}

TEST_F(AliasTableTest, ADomainsOwnFileHasNamesOfThatDomain) {
    const auto table = parse("sales: alice\nhelp@example.org: bob\n@example.org: carol\n", of_domain("example.org"));
    ASSERT_TRUE(problems.empty()) << problems[0].str();
    EXPECT_EQ(table->find_name("sales"), nullptr);
    EXPECT_NE(table->find_address("sales", "example.org"), nullptr);
    EXPECT_EQ(table->find_address("sales", "example.org")->domain, "example.org");
    EXPECT_NE(table->find_address("help", "example.org"), nullptr);
    EXPECT_NE(table->find_catch_all("example.org"), nullptr);
}

TEST_F(AliasTableTest, TrailingCommaIsLetPass) {
    parse("team: alice, bob,\n", global());
    EXPECT_TRUE(problems.empty());
}

TEST_F(AliasTableTest, PipeTargetRefusedWithItsLine) {
    expect_problem("a: alice\nb: \"|/usr/bin/procmail\"\n", global(), 2, "delivery to a command is not supported");
    expect_problem("b: alice,\n  |/usr/bin/vacation bob\n", global(), 2, "delivery to a command is not supported");
}

TEST_F(AliasTableTest, FileTargetRefused) {
    expect_problem("\n\nlog: /var/log/mail.copy\n", global(), 3, "delivery to a file is not supported");
}

TEST_F(AliasTableTest, IncludeRefused) {
    expect_problem("list: :include:/etc/mail/list.txt\n", global(), 1, "':include:' is not supported");
    expect_problem("list: :INCLUDE:/etc/mail/list.txt\n", global(), 1, "':include:' is not supported");
}

TEST_F(AliasTableTest, EveryErrorNamesItsLine) {
    expect_problem("a: alice\nno colon here\n", global(), 2, "expected 'NAME: TARGET, TARGET, ...'");
    expect_problem(": alice\n", global(), 1, "no name before ':'");
    expect_problem("a:\n", global(), 1, "'a' has no target");
    expect_problem("a: alice,, bob\n", global(), 1, "empty target between commas");
    expect_problem("a: not an address\n", global(), 1, "is not an address or a local name");
    expect_problem("a: alice@\n", global(), 1, "is not an address");
    expect_problem("a b: alice\n", global(), 1, "is not a name or an address");
    expect_problem("a@: alice\n", global(), 1, "is not a name or an address");
    expect_problem("  a: alice\n", global(), 1, "none comes before it");
    expect_problem("a: alice\nb: bo\x01" "b\n", global(), 2, "control character");
    expect_problem("a: @\n", global(), 1, "is not @DOMAIN");
}

TEST_F(AliasTableTest, KeysMustBeOfALocalDomainWithMailboxes) {
    expect_problem("x@elsewhere.example: alice\n", global(), 1, "'elsewhere.example' is not a local domain");
    // example.net is an alias_of example.org: its addresses are those of example.org.
    expect_problem("x@example.net: alice\n", global(), 1, "is an alias_of 'example.org'");
    expect_problem("x@catchall.test: alice\n", of_domain("example.org"), 1, "is not of 'example.org'");
}

TEST_F(AliasTableTest, DuplicateKeyNamesBothPlaces) {
    AliasTableBuilder b(domains);
    b.add_text("team: alice\n", global("one"));
    b.add_text("\nTeam: bob\n", global("two"));
    ASSERT_EQ(b.problems().size(), 1u);
    EXPECT_EQ(b.problems()[0].str(), "two:2: 'Team' is defined twice (first at one:1)");
}

TEST_F(AliasTableTest, ProblemsAreCollectedAndTheRestIsRead) {
    const auto table = parse("a: |cmd\nb: bob\nc:\n", global());
    ASSERT_EQ(problems.size(), 2u);
    EXPECT_EQ(problems[0].line, 1u);
    EXPECT_EQ(problems[1].line, 3u);
    EXPECT_NE(table->find_name("b"), nullptr);
}

TEST_F(AliasTableTest, UnreadableFileIsAProblemOfTheWholeFile) {
    AliasTableBuilder b(domains);
    b.add_file(global("/nonexistent/ehlo/aliases"));
    ASSERT_EQ(b.problems().size(), 1u);
    EXPECT_EQ(b.problems()[0].line, 0u);
    EXPECT_EQ(b.problems()[0].str(), "/nonexistent/ehlo/aliases: cannot read: No such file or directory");
}

// ---- Postfix virtual(5) ----------------------------------------------------------------------

TEST_F(AliasTableTest, VirtualFormat) {
    const auto table = parse(
        "# /etc/postfix/virtual\n"
        "example.org          anything\n"
        "alice@example.org    alice@example.org, alice@home.example\n"
        "bob                  bob@example.org\n"
        "carol@               carol@example.org\n"
        "@example.org         bob@example.org\n"
        "team@example.org     alice@example.org bob@example.org,carol@example.org\n"
        "                     dave@partner.example\n"
        "@catchall.test       @example.org\n",
        virtual_file());
    ASSERT_TRUE(problems.empty()) << problems[0].str();
    EXPECT_EQ(targets(table->find_address("alice", "example.org")),
              (std::vector<std::string>{"alice@example.org", "alice@home.example"}));
    EXPECT_NE(table->find_name("bob"), nullptr);
    EXPECT_NE(table->find_name("carol"), nullptr);  // "user@" is "user"
    EXPECT_EQ(targets(table->find_catch_all("example.org")), std::vector<std::string>{"bob@example.org"});
    EXPECT_EQ(targets(table->find_address("team", "example.org")),
              (std::vector<std::string>{"alice@example.org", "bob@example.org", "carol@example.org", "dave@partner.example"}));
    EXPECT_EQ(targets(table->find_catch_all("catchall.test")), std::vector<std::string>{"@example.org"});
    EXPECT_EQ(table->find_name("example.org"), nullptr);  // the domain line declares, it is no alias
    EXPECT_EQ(table->size(), 6u);
}

TEST_F(AliasTableTest, VirtualFormatErrors) {
    expect_problem("alice@example.org\n", virtual_file(), 1, "has no target");
    expect_problem("new.example   anything\n", virtual_file(), 1, "declares a virtual alias domain (virtual(5)); add a [[domain]]");
    expect_problem("/^(.*)@example.org$/ $1@example.com\n", virtual_file(), 1, "regular expression tables");
    expect_problem("alice: bob\n", virtual_file(), 1, "'alice:' is not a name or an address");
    expect_problem("x@elsewhere.example  alice@example.org\n", virtual_file(), 1, "is not a local domain");
    expect_problem("alice@example.org  |/bin/true\n", virtual_file(), 1, "delivery to a command");
}

}  // namespace
}  // namespace ehlo::policy
