// The RCPT verdict with aliases, SRS, quotas and folders, as the session host will ask for it;
// the recipients an envelope then carries; the route at delivery; reloads and check-config.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <atomic>
#include <sstream>
#include <thread>

#include "alias_fixture.hpp"
#include "observe/log.hpp"
#include "policy/alias_source.hpp"
#include "policy/policy.hpp"

namespace ehlo::policy {
namespace {

using test::write_file;

constexpr std::int64_t kNow = 1714564800;  // 2024-05-01 12:00:00 UTC
constexpr std::int64_t kDay = 24 * 60 * 60;

smtp::Mailbox mbox(std::string local, std::string domain) { return {std::move(local), std::move(domain)}; }

class PolicyAliases : public ::testing::Test {
protected:
    test::TempDir dir;
    std::int64_t now = kNow;

    config::Config make_config() {
        config::Config c;
        c.relay.trusted_networks = {"10.0.0.0/8"};
        c.domains = test::test_domains((dir / "mail").string());
        c.aliases.files = {(dir / "aliases").string()};
        return c;
    }

    std::unique_ptr<Policy> make(const config::Config& c) {
        PolicyOptions o;
        o.background = false;
        o.unix_time = [this] { return now; };
        return std::make_unique<Policy>(c, o);
    }

    std::unique_ptr<Policy> with_aliases(std::string_view text) {
        write_file(dir / "aliases", text);
        return make(make_config());
    }
};

void expect_reply(const smtp::Reply& r, int code, const std::string& enhanced, std::string_view fragment = {}) {
    EXPECT_EQ(r.code, code) << r.one_line();
    EXPECT_EQ(r.enhanced, enhanced) << r.one_line();
    if (!fragment.empty()) {
        EXPECT_NE(r.one_line().find(fragment), std::string::npos) << r.one_line();
    }
}

TEST_F(PolicyAliases, UnknownAddressStillGets550_5_1_1) {
    auto p = with_aliases("team: alice, bob\n");
    expect_reply(p->check_rcpt(mbox("nobody", "example.org"), false), 550, "5.1.1", "mailbox unknown");
    expect_reply(p->check_rcpt(mbox("team", "example.org"), false), 250, "2.1.5");
}

// RFC 5321 3.9.1: an alias to another server's address is a forward, allowed from any client
// (the administrator chose it); the client still may not relay on its own.
TEST_F(PolicyAliases, AliasToARemoteAddressIsNoOpenRelay) {
    auto c = make_config();
    c.routes = {{"partner.example", "192.0.2.25", 2525}};
    write_file(dir / "aliases", "fwd: friend@partner.example\n");
    auto p = make(c);
    const auto v = p->resolve_rcpt(mbox("fwd", "example.org"), false);
    expect_reply(v.reply, 250, "2.1.5");
    ASSERT_EQ(v.destinations.size(), 1u);
    EXPECT_EQ(v.destinations[0].kind, Destination::Kind::Remote);
    EXPECT_TRUE(v.destinations[0].forwarded);
    EXPECT_EQ(v.destinations[0].remote.host, "192.0.2.25");
    EXPECT_EQ(v.destinations[0].remote.port, 2525);
    expect_reply(p->check_rcpt(mbox("friend", "partner.example"), false), 554, "5.7.1", "Relay access denied");
}

TEST_F(PolicyAliases, ProblemsOfTheTableGet451_4_3_5) {
    auto p = with_aliases("a: b\nb: a\n");
    expect_reply(p->check_rcpt(mbox("a", "example.org"), false), 451, "4.3.5", "alias loop");
}

// RFC 5321 4.5.1: postmaster@ reaches someone even when its alias is broken.
TEST_F(PolicyAliases, PostmasterFallsBackToItsMailbox_Rfc5321_4_5_1) {
    auto p = with_aliases("postmaster: pm2\npm2: postmaster\n");
    const auto v = p->resolve_rcpt(mbox("PostMaster", "example.org"), false);
    expect_reply(v.reply, 250, "2.1.5");
    ASSERT_EQ(v.destinations.size(), 1u);
    EXPECT_EQ(v.destinations[0].mailbox, "bob");  // example.org's postmaster
    EXPECT_EQ(v.tree.what, ExpansionStep::What::Mailbox);
    EXPECT_EQ(v.tree.destination, 0u);
}

// RFC 5321 4.1.1.3: "Postmaster" alone, and its alias in the first domain.
TEST_F(PolicyAliases, BarePostmasterFollowsItsAlias_Rfc5321_4_1_1_3) {
    auto p = with_aliases("postmaster: alice, carol\n");
    const auto v = p->resolve_rcpt(mbox("Postmaster", ""), false);
    expect_reply(v.reply, 250, "2.1.5");
    ASSERT_EQ(v.destinations.size(), 2u);
    EXPECT_EQ(v.destinations[0].address.str(), "alice@example.org");
}

TEST_F(PolicyAliases, ExpandedRecipientsCarryOrcptAndNotify) {
    auto p = with_aliases("team: alice, friend@partner.example\n");
    smtp::Recipient rcpt;
    rcpt.address = mbox("Team", "example.org");
    rcpt.notify = smtp::notify::Failure | smtp::notify::Delay;
    const auto v = p->resolve_rcpt(rcpt.address, false);
    const auto out = expanded_recipients(rcpt, v);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].address.str(), "alice@example.org");
    EXPECT_EQ(out[0].orcpt, "rfc822;Team@example.org");
    EXPECT_EQ(out[0].notify, rcpt.notify);
    EXPECT_EQ(out[1].address.str(), "friend@partner.example");
    EXPECT_EQ(out[1].orcpt, "rfc822;Team@example.org");
    // The client's own ORCPT stays (RFC 3461 4.2).
    rcpt.orcpt = "rfc822;team@old.example";
    EXPECT_EQ(expanded_recipients(rcpt, v)[1].orcpt, "rfc822;team@old.example");
    // A recipient that is its own destination comes back as it was: no ORCPT added.
    smtp::Recipient plain;
    plain.address = mbox("alice", "example.org");
    const auto same = expanded_recipients(plain, p->resolve_rcpt(plain.address, false));
    ASSERT_EQ(same.size(), 1u);
    EXPECT_TRUE(same[0].orcpt.empty());
    // RFC 6533: a UTF-8 address is of type utf-8.
    write_file(dir / "aliases", "team: alice, friend@partner.example\njosé: alice, bob\n");
    ASSERT_TRUE(p->reload_aliases());
    smtp::Recipient utf8;
    utf8.address = mbox("josé", "example.org");
    EXPECT_EQ(expanded_recipients(utf8, p->resolve_rcpt(utf8.address, false))[0].orcpt, "utf-8;josé@example.org");
}

// ---- quotas ----------------------------------------------------------------------------------

// RFC 3463 X.2.2: mailbox full.
TEST_F(PolicyAliases, OverQuotaGets552_5_2_2_Rfc3463) {
    auto c = make_config();
    c.domains[0].quota = {1000, 0};
    c.domains[0].mailbox_quota["carol"] = {0, 2};
    write_file(dir / "aliases", "both: alice, carol\nteam: alice, bob\n");
    const auto maildir = dir / "mail" / "example.org";
    write_file(maildir / "alice" / "new" / "1.a.host", std::string(1500, 'x'));
    write_file(maildir / "carol" / "cur" / "1.a.host:2,", "x");
    write_file(maildir / "carol" / "cur" / "2.b.host:2,", "x");
    auto p = make(c);

    // Before the first reading the mailbox is taken to have room; the reading is asked for.
    expect_reply(p->check_rcpt(mbox("alice", "example.org"), false), 250, "2.1.5");
    EXPECT_TRUE(p->quota_cache().pending());
    p->maintain();  // the background thread's work, done here
    expect_reply(p->check_rcpt(mbox("alice", "example.org"), false), 552, "5.2.2", "mailbox full");
    expect_reply(p->check_rcpt(mbox("bob", "example.org"), false), 250, "2.1.5");
    // A per-mailbox limit on messages.
    p->check_rcpt(mbox("carol", "example.org"), false);
    p->maintain();
    expect_reply(p->check_rcpt(mbox("carol", "example.org"), false), 552, "5.2.2");
    // A list is refused only when every mailbox is full; a full member is flagged.
    expect_reply(p->check_rcpt(mbox("both", "example.org"), false), 552, "5.2.2");
    const auto team = p->resolve_rcpt(mbox("team", "example.org"), false);
    expect_reply(team.reply, 250, "2.1.5");
    ASSERT_EQ(team.destinations.size(), 2u);
    EXPECT_TRUE(team.destinations[0].over_quota);
    EXPECT_FALSE(team.destinations[1].over_quota);
}

TEST_F(PolicyAliases, DeclaredSizeBeyondTheRoomLeft_Rfc1870) {
    auto c = make_config();
    c.domains[0].quota = {1000, 0};
    write_file(dir / "aliases", "");
    write_file(dir / "mail" / "example.org" / "bob" / "new" / "1.a.host", std::string(600, 'x'));
    auto p = make(c);
    p->check_rcpt(mbox("bob", "example.org"), false);
    p->maintain();
    expect_reply(p->resolve_rcpt(mbox("bob", "example.org"), false, 400).reply, 250, "2.1.5");
    expect_reply(p->resolve_rcpt(mbox("bob", "example.org"), false, 401).reply, 552, "5.2.2");
}

// ---- Maildir++ folders -----------------------------------------------------------------------

TEST_F(PolicyAliases, FolderChosenAtDeliveryWhenItExists) {
    auto p = with_aliases("al: alice\n");
    const auto alice = dir / "mail" / "example.org" / "alice";
    std::filesystem::create_directories(alice / ".Lists");
    std::filesystem::create_directories(alice / ".Work.2024");
    EXPECT_EQ(p->route(mbox("alice+lists", "example.org")).maildir, alice / ".Lists");
    EXPECT_EQ(p->route(mbox("alice+Work.2024", "example.org")).maildir, alice / ".Work.2024");
    EXPECT_EQ(p->route(mbox("alice+missing", "example.org")).maildir, alice);
    EXPECT_EQ(p->route(mbox("alice", "example.org")).maildir, alice);
    // Nothing outside the Maildir, whatever the extension says.
    EXPECT_EQ(p->route(mbox("alice+../../bob", "example.org")).maildir, alice);
    EXPECT_EQ(p->route(mbox("alice+.Lists", "example.org")).maildir, alice);
    // Through an alias, the extension is carried and the folder found (RCPT, then delivery).
    const auto v = p->resolve_rcpt(mbox("al+lists", "example.org"), false);
    ASSERT_EQ(v.destinations.size(), 1u);
    EXPECT_EQ(p->route(v.destinations[0].address).maildir, alice / ".Lists");
    // A domain without folders: the inbox.
    std::filesystem::create_directories(dir / "mail" / "catchall" / "alice" / ".Lists");
    EXPECT_EQ(p->route(mbox("alice+lists", "catchall.test")).maildir, dir / "mail" / "catchall" / "alice");
}

TEST_F(PolicyAliases, RouteFollowsTheDomainAlias) {
    auto p = with_aliases("");
    EXPECT_EQ(p->route(mbox("carol", "Example.NET")).maildir, dir / "mail" / "example.org" / "carol");
    EXPECT_EQ(p->route(mbox("nobody", "example.net")).kind, queue::Route::Kind::Hold);
}

// ---- SRS -------------------------------------------------------------------------------------

class PolicySrs : public PolicyAliases {
protected:
    std::unique_ptr<Policy> srs_policy() {
        auto c = make_config();
        c.srs.domain = "example.org";
        c.srs.secret_file = (dir / "srs.secret").string();
        write_file(dir / "aliases", "fwd: friend@partner.example\n");
        return make(c);
    }
};

TEST_F(PolicySrs, ForwardedSendersAreRewrittenLocalOnesAreNot) {
    auto p = srs_policy();
    const auto rewritten = p->forward_sender(mbox("someone", "orig.example"));
    ASSERT_TRUE(rewritten);
    EXPECT_TRUE(rewritten->local_part.starts_with("SRS0="));
    EXPECT_EQ(rewritten->domain, "example.org");
    EXPECT_FALSE(p->forward_sender(mbox("alice", "example.org")));   // our own domain passes SPF as it is
    EXPECT_FALSE(p->forward_sender(mbox("alice", "example.net")));   // so does an alias_of of it
    EXPECT_FALSE(p->forward_sender(std::nullopt));                   // the null sender stays null
    EXPECT_EQ(std::filesystem::status(dir / "srs.secret").permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST_F(PolicySrs, BounceToAnSrsAddressGoesBackToTheSender) {
    auto p = srs_policy();
    const auto rewritten = *p->forward_sender(mbox("someone", "orig.example"));
    now += 3 * kDay;
    const auto v = p->resolve_rcpt(rewritten, false);  // from any client: it is our address
    expect_reply(v.reply, 250, "2.1.5");
    ASSERT_EQ(v.destinations.size(), 1u);
    EXPECT_EQ(v.destinations[0].kind, Destination::Kind::Remote);
    EXPECT_EQ(v.destinations[0].address.str(), "someone@orig.example");
    EXPECT_EQ(v.srs_original, "someone@orig.example");
    EXPECT_EQ(v.tree.what, ExpansionStep::What::Srs);
}

TEST_F(PolicySrs, ForgedOrExpiredSrsAddressRefused) {
    auto p = srs_policy();
    auto rewritten = *p->forward_sender(mbox("someone", "orig.example"));
    auto forged = rewritten;
    forged.local_part.replace(forged.local_part.rfind("someone"), 7, "victim1");
    expect_reply(p->check_rcpt(forged, false), 550, "5.7.1", "bad hash");
    now += 22 * kDay;
    expect_reply(p->check_rcpt(rewritten, false), 550, "5.7.1", "expired");
    expect_reply(p->check_rcpt(mbox("SRS0=broken", "example.org"), false), 550, "5.1.1");
}

// ---- reload ----------------------------------------------------------------------------------

TEST_F(PolicyAliases, ABadFileKeepsTheOldTableAndLogsTheLine) {
    const auto log = dir / "log";
    observe::init({observe::Level::Info, log.string(), false});
    auto p = with_aliases("team: alice\n");
    write_file(dir / "aliases", "team: alice, bob\nbroken line\n");
    EXPECT_FALSE(p->reload_aliases());
    expect_reply(p->check_rcpt(mbox("team", "example.org"), false), 250, "2.1.5");
    EXPECT_EQ(p->resolve_rcpt(mbox("team", "example.org"), false).destinations.size(), 1u);  // the old table
    observe::init({observe::Level::Warn, "", false});  // flushes and closes the file
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_NE(text.str().find("event=aliases-invalid"), std::string::npos) << text.str();
    EXPECT_NE(text.str().find("line=2"), std::string::npos) << text.str();
    EXPECT_NE(text.str().find("expected 'NAME: TARGET"), std::string::npos) << text.str();
    // Fixed: the new table is used.
    write_file(dir / "aliases", "team: alice, bob\n");
    EXPECT_TRUE(p->reload_aliases());
    EXPECT_EQ(p->resolve_rcpt(mbox("team", "example.org"), false).destinations.size(), 2u);
}

TEST_F(PolicyAliases, AChangedFileIsReadOnceItHasStoppedChanging) {
    write_file(dir / "aliases", "team: alice\n");
    const auto domains = LocalDomains(test::test_domains((dir / "mail").string()), "+");
    AliasSource source({test::global((dir / "aliases").string())}, domains);
    const auto before = source.table();
    EXPECT_FALSE(source.reload_if_changed().attempted);  // unchanged
    write_file(dir / "aliases", "team: alice, bob, carol\n");
    EXPECT_FALSE(source.reload_if_changed().attempted);  // changed: seen, not yet read
    EXPECT_EQ(source.table(), before);
    const auto r = source.reload_if_changed();           // the same a second later: read
    EXPECT_TRUE(r.attempted);
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(source.table()->find_name("team")->targets.size(), 3u);
    EXPECT_EQ(before->find_name("team")->targets.size(), 1u);  // a reader's table stays whole
    // A bad version is judged once, and not read again until it changes.
    write_file(dir / "aliases", "team: |cmd\n");
    source.reload_if_changed();
    const auto bad = source.reload_if_changed();
    EXPECT_TRUE(bad.attempted);
    EXPECT_FALSE(bad.ok);
    EXPECT_FALSE(source.reload_if_changed().attempted);
    EXPECT_EQ(source.table()->find_name("team")->targets.size(), 3u);
}

// Readers on many threads (the event loops) while the table is swapped: each sees the old
// table or the new one, whole.
TEST_F(PolicyAliases, ReadersOnManyThreadsSeeOneTableOrTheOther) {
    auto p = with_aliases("team: alice\n");
    std::atomic<bool> stop{false};
    std::atomic<std::size_t> odd{0}, reads{0};
    std::vector<std::thread> readers;
    for (int i = 0; i < 4; ++i) {
        readers.emplace_back([&] {
            while (!stop) {
                const auto n = p->resolve_rcpt(mbox("team", "example.org"), false).destinations.size();
                if (n != 1 && n != 3) ++odd;
                ++reads;
            }
        });
    }
    for (int i = 0; i < 50; ++i) {
        write_file(dir / "aliases", i % 2 ? "team: alice\n" : "team: alice, bob, carol\n");
        ASSERT_TRUE(p->reload_aliases());
    }
    stop = true;
    for (auto& t : readers) t.join();
    EXPECT_EQ(odd, 0u);
    EXPECT_GT(reads, 0u);
}

// The background thread notices a changed file by itself (a stat a second; read once it has
// kept still for one round).
TEST_F(PolicyAliases, TheBackgroundThreadFollowsTheFile) {
    write_file(dir / "aliases", "team: alice\n");
    PolicyOptions o;
    o.background = true;
    Policy p(make_config(), o);
    write_file(dir / "aliases", "team: alice, bob\n");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (p.resolve_rcpt(mbox("team", "example.org"), false).destinations.size() != 2) {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the change was not picked up";
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

TEST_F(PolicyAliases, AStartWithABadFileFails) {
    write_file(dir / "aliases", "ok: alice\nteam: alice, |/bin/sh\n");
    try {
        make(make_config());
        FAIL() << "started with a bad alias file";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("aliases:2: '|/bin/sh': delivery to a command"), std::string::npos) << e.what();
    }
}

TEST_F(PolicyAliases, CheckConfigNamesFileAndLine) {
    auto c = make_config();
    c.aliases.virtual_files = {(dir / "virtual").string()};
    c.domains[0].alias_file = (dir / "org-aliases").string();
    write_file(dir / "aliases", "team: alice\n");
    write_file(dir / "org-aliases", "sales: alice\n\nhelp: alcie\n");
    write_file(dir / "virtual", "team@example.org  alice@example.org\n");
    c.srs.domain = "example.org";
    c.srs.secret_file = (dir / "no-such-dir" / "srs.secret").string();
    const auto problems = check_policy_files(c);
    ASSERT_EQ(problems.size(), 2u) << problems[0];  // every problem, each file's own
    EXPECT_EQ(problems[0], (dir / "org-aliases").string() +
                               ":3: 'alcie@example.org' (a target of 'help') is neither a mailbox nor an alias");
    write_file(dir / "org-aliases", "sales: alice\n");
    const auto srs = check_policy_files(c);
    ASSERT_EQ(srs.size(), 1u);
    EXPECT_NE(srs[0].find("cannot be created: no directory"), std::string::npos) << srs[0];
    EXPECT_FALSE(std::filesystem::exists(c.srs.secret_file));
}

}  // namespace
}  // namespace ehlo::policy
