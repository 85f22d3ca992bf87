// Alias expansion: one address in, the final destinations out (RFC 5321 3.9: an alias
// replaces the recipient by one or more others; the envelope sender stays). Done at RCPT time,
// so that an address that is nothing here still gets 550 5.1.1 while the client can be told.
//
// For an address LOCAL+EXT@DOMAIN of a local domain (after alias_of has made DOMAIN the
// domain whose mailboxes it reaches) the first of these that exists decides, as virtual(5)
// orders its lookups:
//   1. an alias for LOCAL+EXT@DOMAIN, then for LOCAL@DOMAIN;
//   2. an alias for the name LOCAL+EXT, then LOCAL (of every local domain);
//   3. a mailbox of the domain (listed, or postmaster);
//   4. an "@DOMAIN" alias (virtual(5)'s catch-all for "other users in domain");
//   5. a catch_all domain's mailbox;
//   6. nothing: unknown.
// Postfix puts the "@DOMAIN" alias before the mailboxes, which is why virtual(5) tells its
// users to list each mailbox as an alias of itself next to a wildcard; such entries behave
// the same here (an alias of itself delivers to the mailbox), and without them the mailboxes
// are still reached.
//
// When the match was for the address without its extension, the extension is carried to each
// target (Postfix's propagate_unmatched_extensions default for virtual aliases): alice+lists@
// through "alice: alice.smith" reaches alice.smith+lists@, and so her "lists" folder.
//
// Every target is expanded in turn. A target that is the alias itself delivers to its mailbox
// (aliases(5): "alice: alice, bob" keeps a copy); one already being expanded on the way here
// is a loop and is skipped, as is one already expanded elsewhere (duplicates collapse: one
// copy per mailbox, one per remote address). Depth, total steps and the number of results
// are bounded (the constants below).
#pragma once

#include <cstddef>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "delivery/remote_transport.hpp"
#include "policy/alias_table.hpp"
#include "policy/local_domains.hpp"
#include "smtp/address.hpp"

namespace ehlo::policy {

// Nesting deeper than this is a mistake in the table, not a design: real tables nest a few
// levels (a team, its people, a forward). It also bounds the recursion's stack.
inline constexpr std::size_t kMaxAliasDepth = 20;
// One RCPT reaches at most this many destinations: the default per-message recipient limit.
// A longer list belongs in a list manager (RFC 5321 3.9.2), which sends one copy per member.
inline constexpr std::size_t kMaxExpansionDestinations = 1000;
// Addresses looked at per expansion, duplicates and loops included: bounds the work one RCPT
// can cost whatever the table's shape.
inline constexpr std::size_t kMaxExpansionSteps = 10 * kMaxExpansionDestinations;

// Where one final recipient's mail goes.
struct Destination {
    enum class Kind { Mailbox, Remote } kind = Kind::Mailbox;
    smtp::Mailbox address;                        // the final address (a mailbox's: its canonical domain)
    const config::LocalDomain* domain = nullptr;  // Mailbox: whose maildir_root
    std::string mailbox;                          // Mailbox: the directory name under maildir_root
    std::filesystem::path maildir;                // Mailbox: the inbox, <maildir_root>/<mailbox>
    // Mailbox of a domain with folders: the Maildir++ folder the extension names ("lists"
    // for alice+lists@), to be used when it exists; that is seen at delivery, off the event
    // loops (Policy::route). Empty: the inbox.
    std::string folder;
    bool forwarded = false;          // Remote, reached through an alias: the sender gets SRS
    delivery::RemoteTarget remote;   // Remote: the next hop (set by Policy)
    bool over_quota = false;         // Mailbox: over its quota by the cached usage (set by Policy)
};

// How an address was resolved, for `ehlo aliases`: one node per address looked at.
struct ExpansionStep {
    enum class What {
        Alias,        // expanded by the entry at `detail` ("FILE:LINE"); children are its targets
        DomainAlias,  // its domain is an alias_of `detail`; the one child is the rewritten address
        Mailbox,      // a final destination (detail: "itself" for an alias of itself)
        Remote,       // a final destination on another server
        Unknown,      // nothing here: refused at the top, left out inside an alias
        Loop,         // already being expanded on the way here: skipped
        Duplicate,    // already expanded, or its mailbox already reached: skipped
        Limit,        // not looked at: a limit was reached
        Srs,          // an SRS address of ours; the one child is the address it was made from
    } what = What::Unknown;
    smtp::Mailbox address;
    std::string detail;
    std::vector<ExpansionStep> children;
    std::size_t destination = std::numeric_limits<std::size_t>::max();  // index in Expansion::destinations
};

struct Expansion {
    enum class Outcome {
        Ok,       // at least one destination
        Unknown,  // nothing: no alias, no mailbox (550 5.1.1)
        Loop,     // nothing but loops
        TooDeep,  // kMaxAliasDepth reached
        TooMany,  // kMaxExpansionDestinations or kMaxExpansionSteps reached
    } outcome = Outcome::Unknown;
    std::vector<Destination> destinations;
    ExpansionStep root;
    std::vector<std::string> left_out;  // local targets that are nothing here, "ADDRESS (FILE:LINE)"
};

class Expander {
public:
    // Both must outlive the expander.
    Expander(const LocalDomains& domains, const AliasTable& table) : domains_(domains), table_(table) {}

    // `address` has a domain (a bare "Postmaster" is the caller's to place).
    Expansion expand(const smtp::Mailbox& address) const;

private:
    struct Run;
    void visit(Run& run, const smtp::Mailbox& address, std::size_t depth, bool via_alias, ExpansionStep& node) const;
    void expand_entry(Run& run, const AliasEntry& entry, const smtp::Mailbox& address, const std::string& extension,
                      std::size_t depth, ExpansionStep& node) const;
    void deliver_to_mailbox(Run& run, const smtp::Mailbox& address, const config::LocalDomain& domain,
                            const LocalDomains::MailboxMatch& match, ExpansionStep& node) const;
    void unknown(Run& run, bool via_alias, ExpansionStep& node) const;

    const LocalDomains& domains_;
    const AliasTable& table_;
};

// Targets in local domains that can reach nothing (no alias, no mailbox, no catch-all): a typo
// in a table is found when it is loaded, not when mail bounces. Bare names of an entry for
// every local domain, and "@domain" targets, depend on the address and are not checked.
std::vector<AliasProblem> check_alias_targets(const AliasTable& table, const LocalDomains& domains);

}  // namespace ehlo::policy
