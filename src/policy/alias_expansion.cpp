#include "policy/alias_expansion.hpp"

#include <algorithm>
#include <unordered_set>

#include "policy/maildir_folder.hpp"

namespace ehlo::policy {

struct Expander::Run {
    Expansion result;
    std::unordered_set<std::string> seen;        // address keys expanded (or being expanded)
    std::vector<std::string> path;               // address keys being expanded, outermost first
    std::unordered_set<std::string> reached;     // "mailbox DOMAIN/NAME" and "remote ADDRESS" delivered to
    std::vector<const AliasEntry*> entries;      // the entries being expanded, innermost last
    std::size_t steps = 0;
    bool loop = false, too_deep = false, too_many = false;

    bool stopped() const { return too_deep || too_many; }
};

namespace {

bool on_path(const std::vector<std::string>& path, const std::string& key) {
    return std::find(path.begin(), path.end(), key) != path.end();
}

}  // namespace

Expansion Expander::expand(const smtp::Mailbox& address) const {
    Run run;
    const std::string key = address_key(address);
    run.seen.insert(key);
    run.path.push_back(key);
    visit(run, address, 0, false, run.result.root);

    Expansion& r = run.result;
    if (run.too_many) {
        r.outcome = Expansion::Outcome::TooMany;
    } else if (run.too_deep) {
        r.outcome = Expansion::Outcome::TooDeep;
    } else if (!r.destinations.empty()) {
        r.outcome = Expansion::Outcome::Ok;
    } else {
        r.outcome = run.loop ? Expansion::Outcome::Loop : Expansion::Outcome::Unknown;
    }
    if (r.outcome == Expansion::Outcome::TooMany || r.outcome == Expansion::Outcome::TooDeep) r.destinations.clear();
    return std::move(run.result);
}

void Expander::unknown(Run& run, bool via_alias, ExpansionStep& node) const {
    node.what = ExpansionStep::What::Unknown;
    if (via_alias && !run.entries.empty()) {
        run.result.left_out.push_back(node.address.str() + " (" + table_.origin(*run.entries.back()) + ")");
    }
}

void Expander::deliver_to_mailbox(Run& run, const smtp::Mailbox& address, const config::LocalDomain& domain,
                                  const LocalDomains::MailboxMatch& match, ExpansionStep& node) const {
    // One copy per mailbox: alice@ and alice+x@ reached through two aliases are one delivery.
    if (!run.reached.insert("mailbox " + domain.name + "/" + match.mailbox).second) {
        node.what = ExpansionStep::What::Duplicate;
        node.detail = "mailbox " + match.mailbox + " already reached";
        return;
    }
    if (run.result.destinations.size() >= kMaxExpansionDestinations) {
        run.too_many = true;
        node.what = ExpansionStep::What::Limit;
        return;
    }
    Destination d;
    d.kind = Destination::Kind::Mailbox;
    d.address = address;
    d.domain = &domain;
    d.mailbox = match.mailbox;
    d.maildir = LocalDomains::maildir(domain, match.mailbox);
    if (domain.folders && !match.extension.empty()) {
        // The extension as written (not lower-cased): Maildir++ folder names keep their case.
        const std::string extension = domains_.split_extension(address.unquoted_local_part()).second;
        if (is_folder_name(extension)) d.folder = extension;
    }
    node.what = ExpansionStep::What::Mailbox;
    node.destination = run.result.destinations.size();
    run.result.destinations.push_back(std::move(d));
}

void Expander::visit(Run& run, const smtp::Mailbox& address, std::size_t depth, bool via_alias,
                     ExpansionStep& node) const {
    node.address = address;
    if (run.stopped()) {
        node.what = ExpansionStep::What::Limit;
        return;
    }
    if (depth > kMaxAliasDepth) {
        run.too_deep = true;
        node.what = ExpansionStep::What::Limit;
        return;
    }
    const std::string domain_name = lower(address.domain);
    const config::LocalDomain* domain = domains_.find(domain_name);
    if (!domain) {
        // Another server's address (or an address literal): delivered there, once.
        if (!run.reached.insert("remote " + address_key(address)).second) {
            node.what = ExpansionStep::What::Duplicate;
            return;
        }
        if (run.result.destinations.size() >= kMaxExpansionDestinations) {
            run.too_many = true;
            node.what = ExpansionStep::What::Limit;
            return;
        }
        node.what = ExpansionStep::What::Remote;
        node.destination = run.result.destinations.size();
        Destination d;
        d.kind = Destination::Kind::Remote;
        d.address = address;
        d.forwarded = via_alias;
        run.result.destinations.push_back(std::move(d));
        return;
    }
    if (!domain->alias_of.empty()) {
        // alias_of: the same address in the domain it stands for.
        node.what = ExpansionStep::What::DomainAlias;
        node.detail = domain->alias_of;
        const smtp::Mailbox rewritten{address.local_part, domain->alias_of};
        const std::string key = address_key(rewritten);
        node.children.emplace_back();
        ExpansionStep& child = node.children.back();
        if (!run.seen.insert(key).second) {
            child.address = rewritten;
            child.what = on_path(run.path, key) ? ExpansionStep::What::Loop : ExpansionStep::What::Duplicate;
            run.loop = run.loop || child.what == ExpansionStep::What::Loop;
            return;
        }
        run.path.push_back(key);
        visit(run, rewritten, depth + 1, via_alias, child);
        run.path.pop_back();
        return;
    }

    const std::string local = local_key(address);
    const auto [base, extension] = domains_.split_extension(local);
    const bool has_extension = base.size() != local.size();
    // 1. and 2.: the aliases, the whole address before the one without its extension.
    const AliasEntry* entry = table_.find_address(local, domain_name);
    std::string carried;  // the extension the match left unmatched, carried to the targets
    if (!entry && has_extension && (entry = table_.find_address(base, domain_name))) carried = extension;
    if (!entry) entry = table_.find_name(local);
    if (!entry && has_extension && (entry = table_.find_name(base))) carried = extension;
    if (entry) {
        expand_entry(run, *entry, address, carried, depth, node);
        return;
    }
    // 3. a mailbox; 4. the domain's "@domain" alias; 5. a catch-all mailbox.
    if (auto match = domains_.listed_mailbox(*domain, local)) {
        deliver_to_mailbox(run, address, *domain, *match, node);
        return;
    }
    if (const AliasEntry* wildcard = table_.find_catch_all(domain_name)) {
        expand_entry(run, *wildcard, address, {}, depth, node);
        return;
    }
    if (auto match = domains_.catch_all_mailbox(*domain, local)) {
        deliver_to_mailbox(run, address, *domain, *match, node);
        return;
    }
    unknown(run, via_alias, node);
}

void Expander::expand_entry(Run& run, const AliasEntry& entry, const smtp::Mailbox& address, const std::string& extension,
                            std::size_t depth, ExpansionStep& node) const {
    node.what = ExpansionStep::What::Alias;
    node.detail = table_.origin(entry);
    const std::string self = address_key(address);
    const std::string& delimiter = domains_.delimiter();
    run.entries.push_back(&entry);
    for (const AliasTarget& target : entry.targets) {
        if (run.stopped()) break;
        // Every target counts, the ones skipped as duplicates too: they cost a lookup each.
        if (++run.steps > kMaxExpansionSteps) {
            run.too_many = true;
            break;
        }
        smtp::Mailbox next;
        if (target.kind == AliasTarget::Kind::SameUserIn) {
            next = {address.local_part, target.domain};
        } else {
            next = {target.local_part, target.domain.empty() ? lower(address.domain) : target.domain};
            // Carry the unmatched extension, unless the target has one of its own or would no
            // longer be a local part (quoted, or too long).
            if (!extension.empty() && !delimiter.empty() && !next.local_part.starts_with('"') &&
                next.local_part.find(delimiter[0]) == std::string::npos) {
                const std::string extended = next.local_part + delimiter + extension;
                if (smtp::is_valid_local_part(extended, true)) next.local_part = extended;
            }
        }
        node.children.emplace_back();
        ExpansionStep& child = node.children.back();
        child.address = next;
        const std::string key = address_key(next);
        if (key == self) {
            // "alice: alice, bob": the alias of itself is its mailbox (aliases(5), virtual(5)).
            child.detail = "itself";
            const config::LocalDomain* domain = domains_.find(address.domain);
            const std::string local = local_key(next);
            std::optional<LocalDomains::MailboxMatch> match;
            if (domain) match = domains_.listed_mailbox(*domain, local);
            if (domain && !match) match = domains_.catch_all_mailbox(*domain, local);
            if (match) {
                deliver_to_mailbox(run, next, *domain, *match, child);
            } else {
                unknown(run, true, child);
            }
            continue;
        }
        if (run.seen.count(key)) {
            child.what = on_path(run.path, key) ? ExpansionStep::What::Loop : ExpansionStep::What::Duplicate;
            run.loop = run.loop || child.what == ExpansionStep::What::Loop;
            continue;
        }
        run.seen.insert(key);
        run.path.push_back(key);
        visit(run, next, depth + 1, true, child);
        run.path.pop_back();
    }
    run.entries.pop_back();
}

std::vector<AliasProblem> check_alias_targets(const AliasTable& table, const LocalDomains& domains) {
    std::vector<AliasProblem> problems;
    for (const AliasEntry& entry : table.entries()) {
        for (const AliasTarget& target : entry.targets) {
            if (target.kind != AliasTarget::Kind::Address) continue;
            const std::string domain_name = target.domain.empty() ? entry.domain : target.domain;
            if (domain_name.empty()) continue;  // a bare name of an entry for every domain
            const config::LocalDomain* domain = domains.canonical(domain_name);
            if (!domain) continue;  // another server's address
            const std::string local = local_key(smtp::Mailbox{target.local_part, {}});
            const std::string base = domains.split_extension(local).first;
            const bool known = table.find_address(local, domain->name) || table.find_address(base, domain->name) ||
                               table.find_name(local) || table.find_name(base) ||
                               domains.listed_mailbox(*domain, local) || table.find_catch_all(domain->name) ||
                               domains.catch_all_mailbox(*domain, local);
            if (!known) {
                problems.push_back(AliasProblem{table.files()[entry.file], target.line,
                                                "'" + target.local_part + "@" + domain_name + "' (a target of '" + entry.key +
                                                    "') is neither a mailbox nor an alias"});
            }
        }
    }
    return problems;
}

}  // namespace ehlo::policy
