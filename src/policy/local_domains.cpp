// A local part becomes a directory name only after passing config::is_mailbox_name
// ([a-z0-9._-], no leading '.', no ".."), whatever a catch-all or an alias says: this file is
// where that promise is kept. A UTF-8 local part (RFC 6531) is first written in its "xn--"
// form (utf8_mailbox.hpp).
#include "policy/local_domains.hpp"

#include <algorithm>
#include <stdexcept>

#include "config/mailbox_name.hpp"
#include "policy/utf8_mailbox.hpp"

namespace ehlo::policy {

namespace {

// The mailbox name a (lower-cased) local part would have: itself when ASCII, its "xn--" form
// when UTF-8 (RFC 6531). Empty when it can have none; not yet checked for a name.
std::string mailbox_name(std::string_view local) {
    const bool ascii = std::all_of(local.begin(), local.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (ascii) return std::string(local);
    return utf8_mailbox_name(local).value_or(std::string{});
}

}  // namespace

std::string local_key(const smtp::Mailbox& address) { return lower(address.unquoted_local_part()); }

std::string address_key(const smtp::Mailbox& address) { return local_key(address) + "@" + lower(address.domain); }

LocalDomains::LocalDomains(const std::vector<config::LocalDomain>& domains, std::string recipient_delimiter)
    : delimiter_(std::move(recipient_delimiter)) {
    if (delimiter_.size() > 1) throw std::invalid_argument("smtp.recipient_delimiter: more than one character");
    for (auto domain : domains) {
        domain.name = lower(domain.name);
        domain.alias_of = lower(domain.alias_of);
        for (const auto& name : domain.mailboxes) {
            if (!config::is_mailbox_name(name)) {
                throw std::invalid_argument("domain " + domain.name + ": '" + name + "' is not a mailbox name");
            }
        }
        if (!config::is_mailbox_name(domain.postmaster)) {
            throw std::invalid_argument("domain " + domain.name + ": postmaster '" + domain.postmaster +
                                        "' is not a mailbox name");
        }
        for (const auto& [name, quota] : domain.mailbox_quota) {
            if (!config::is_mailbox_name(name)) {
                throw std::invalid_argument("domain " + domain.name + ": mailbox_quota names '" + name +
                                            "', not a mailbox name");
            }
        }
        domains_.push_back(std::move(domain));
    }
    for (std::size_t i = 0; i < domains_.size(); ++i) {
        by_name_.emplace(domains_[i].name, i);
        mailboxes_.emplace_back(domains_[i].mailboxes.begin(), domains_[i].mailboxes.end());
    }
    for (const auto& domain : domains_) {
        if (domain.alias_of.empty()) continue;
        const auto* target = find(domain.alias_of);
        if (!target || target == &domain || !target->alias_of.empty()) {
            throw std::invalid_argument("domain " + domain.name + ": alias_of '" + domain.alias_of +
                                        "' must name another domain that is not an alias itself");
        }
    }
}

const config::LocalDomain* LocalDomains::find(std::string_view name) const {
    const auto it = by_name_.find(lower(name));
    return it == by_name_.end() ? nullptr : &domains_[it->second];
}

const config::LocalDomain* LocalDomains::canonical(std::string_view name) const {
    const config::LocalDomain* domain = find(name);
    if (domain && !domain->alias_of.empty()) return find(domain->alias_of);  // one step: checked above
    return domain;
}

std::pair<std::string, std::string> LocalDomains::split_extension(std::string_view local) const {
    if (delimiter_.empty()) return {std::string(local), {}};
    const std::size_t at = local.find(delimiter_[0]);
    if (at == std::string_view::npos) return {std::string(local), {}};
    return {std::string(local.substr(0, at)), std::string(local.substr(at + 1))};
}

std::optional<LocalDomains::MailboxMatch> LocalDomains::listed_mailbox(const config::LocalDomain& domain,
                                                                     std::string_view local) const {
    auto [base, extension] = split_extension(local);
    const std::string full = mailbox_name(local), cut = mailbox_name(base);
    // `domain` is one of ours (from find or canonical): its set answers; any other is searched.
    const bool ours = !domains_.empty() && &domain >= domains_.data() && &domain < domains_.data() + domains_.size();
    auto listed = [&](const std::string& name) -> std::optional<std::string> {
        if (name == kPostmaster) return domain.postmaster;
        const bool found = ours ? this->listed(static_cast<std::size_t>(&domain - domains_.data()), name)
                                : std::find(domain.mailboxes.begin(), domain.mailboxes.end(), name) != domain.mailboxes.end();
        if (found) return name;
        return std::nullopt;
    };
    if (auto name = listed(full)) return MailboxMatch{std::move(*name), {}};
    if (extension.empty() && base.size() == local.size()) return std::nullopt;
    if (auto name = listed(cut)) return MailboxMatch{std::move(*name), std::move(extension)};
    return std::nullopt;
}

std::optional<LocalDomains::MailboxMatch> LocalDomains::catch_all_mailbox(const config::LocalDomain& domain,
                                                                        std::string_view local) const {
    if (!domain.catch_all) return std::nullopt;
    auto [base, extension] = split_extension(local);
    std::string cut = mailbox_name(base);
    if (!config::is_mailbox_name(cut)) return std::nullopt;
    return MailboxMatch{std::move(cut), std::move(extension)};
}

}  // namespace ehlo::policy
