// The local domains as policy sees them: which domain an address belongs to (following
// alias_of), and which mailbox a local part names there. Shared by the RCPT verdict, alias
// expansion and the delivery-time route, so that all three read an address alike.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "smtp/address.hpp"
#include "smtp/text.hpp"

namespace ehlo::policy {

// RFC 5321 4.1.1.3 and 4.5.1: the reserved mailbox, compared lower-cased.
inline constexpr std::string_view kPostmaster = "postmaster";

using smtp::lower;

// The local part as it is matched: unquoted ("\"Alice\"" is Alice) and lower-cased. Local
// parts are compared case-insensitively, as Postfix and the RCPT verdict do, although RFC
// 5321 2.4 lets a host tell them apart: a local domain here never does.
std::string local_key(const smtp::Mailbox& address);

// "local@domain", both parts as matched; the key of an address in alias tables and in the
// duplicate and loop checks of an expansion.
std::string address_key(const smtp::Mailbox& address);

class LocalDomains {
public:
    // Throws std::invalid_argument for what config::load_* would have refused (a mailbox name
    // that could leave maildir_root, an alias_of naming no domain, a long delimiter), so that
    // a Config built in code cannot bypass the path-safety checks.
    LocalDomains(const std::vector<config::LocalDomain>& domains, std::string recipient_delimiter);

    // The [[domain]] of this name (case-insensitive) as configured; nullptr when not local.
    // An address literal ("[192.0.2.1]") is never local: no configured name starts with '['.
    const config::LocalDomain* find(std::string_view name) const;
    // The domain whose mailboxes an address of `name` reaches: find(name), or the domain it
    // is an alias_of.
    const config::LocalDomain* canonical(std::string_view name) const;
    const config::LocalDomain* first() const { return domains_.empty() ? nullptr : &domains_.front(); }
    const std::vector<config::LocalDomain>& all() const { return domains_; }

    const std::string& delimiter() const { return delimiter_; }
    // "alice+tag" -> {"alice", "tag"}, cut at the first delimiter; {local, ""} without one.
    std::pair<std::string, std::string> split_extension(std::string_view local) const;

    struct MailboxMatch {
        std::string mailbox;    // the directory name under maildir_root
        std::string extension;  // what followed the delimiter, when the match was without it
    };
    // The mailbox a matched local part (local_key) names in `domain`: the whole local part,
    // then the part before the extension (so that "bob-smith" stays reachable when the
    // delimiter is '-'), among the listed mailboxes or as postmaster. Nothing otherwise.
    std::optional<MailboxMatch> listed_mailbox(const config::LocalDomain& domain, std::string_view local) const;
    // For a catch_all domain: the part before the extension, when it makes a mailbox name.
    // The guard against path traversal: "../../etc", "a/b" and the like are never a name.
    std::optional<MailboxMatch> catch_all_mailbox(const config::LocalDomain& domain, std::string_view local) const;

    static std::filesystem::path maildir(const config::LocalDomain& domain, std::string_view mailbox) {
        return std::filesystem::path(domain.maildir_root) / std::string(mailbox);
    }

private:
    bool listed(std::size_t domain, const std::string& name) const { return mailboxes_[domain].count(name) != 0; }

    std::vector<config::LocalDomain> domains_;  // names and alias_of lower-case
    // Lookups by hash: a site may have many domains and a domain many mailboxes, and every
    // RCPT (every target of a list) asks.
    std::unordered_map<std::string, std::size_t> by_name_;
    std::vector<std::unordered_set<std::string>> mailboxes_;  // per domain, as domains_
    std::string delimiter_;                                   // empty or one character
};

}  // namespace ehlo::policy
