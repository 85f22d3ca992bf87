// The loader's reader of [[domain]]: the local domains, their mailboxes and Maildir roots,
// aliases, domain aliases (alias_of), LMTP destination, Maildir++ folders and quotas.
#include <algorithm>
#include <string>

#include "config/toml_reader.hpp"
#include "config/mailbox_name.hpp"
#include "config/network.hpp"
#include "smtp/address.hpp"

namespace ehlo::config::load_detail {

namespace {

const char* const kMailboxNameRule = "[a-z0-9._-], not starting with '.', no '..', at most 64 characters";

std::optional<std::string> mailbox_name(TableReader& r, std::string_view key, const Located& item) {
    if (!is_mailbox_name(item.value)) {
        r.error(item.where, key, "has " + in_quotes(item.value) + ", not a mailbox name (" + kMailboxNameRule + ")");
        return std::nullopt;
    }
    return item.value;
}

void read_quota(TableReader& r, Quota& quota, std::string_view bytes_key, std::string_view messages_key) {
    r.integer(bytes_key, quota.bytes, 0, kNoMax, "octets; 0 = no limit");
    r.integer(messages_key, quota.messages, 0, kNoMax, "0 = no limit");
}

// mailbox_quota = { alice = { bytes = 1073741824 }, bob = { bytes = 0, messages = 50000 } }
void read_mailbox_quota(TableReader& r, LocalDomain& domain) {
    const auto* table = r.typed<toml::table>("mailbox_quota", toml::node_type::table);
    if (!table) return;
    for (const auto& [key, node] : *table) {
        const std::string name(key.str());
        if (!is_mailbox_name(name)) {
            r.error(key.source(), "mailbox_quota",
                    "names " + in_quotes(name) + ", not a mailbox name (" + kMailboxNameRule + ")");
            continue;
        }
        const auto* limits = node.as_table();
        if (!limits) {
            r.error(node.source(), "mailbox_quota", "must map " + in_quotes(name) + " to a table such as { bytes = 1073741824 }");
            continue;
        }
        TableReader q(r.errors(), *limits, "mailbox_quota." + name + " of [[domain]]");
        read_quota(q, domain.mailbox_quota[name], "bytes", "messages");
    }
}

// mailbox_lmtp = { alice = "unix:/run/dovecot/lmtp", bob = "127.0.0.1:24" }
void read_mailbox_lmtp(TableReader& r, LocalDomain& domain) {
    const auto* table = r.typed<toml::table>("mailbox_lmtp", toml::node_type::table);
    if (!table) return;
    for (const auto& [key, node] : *table) {
        const std::string name(key.str());
        if (!is_mailbox_name(name)) {
            r.error(key.source(), "mailbox_lmtp",
                    "names " + in_quotes(name) + ", not a mailbox name (" + kMailboxNameRule + ")");
            continue;
        }
        const auto* text = node.as_string();
        if (!text) {
            r.error(node.source(), "mailbox_lmtp", "must map " + in_quotes(name) + " to \"unix:PATH\" or \"HOST:PORT\"");
            continue;
        }
        auto parsed = parse_lmtp_target(text->get());
        if (!parsed.value) {
            r.error(node.source(), "mailbox_lmtp", "has " + in_quotes(text->get()) + " for " + in_quotes(name) + ": " + parsed.error);
            continue;
        }
        domain.mailbox_lmtp[name] = *parsed.value;
    }
}

// An alias_of domain has no mailboxes of its own: a key that only a mailbox domain uses would
// be silently ignored, so it is an error.
constexpr std::string_view kMailboxDomainKeys[] = {"catch_all",  "mailboxes",      "maildir_root", "postmaster",
                                                   "alias_file", "lmtp",           "folders",      "quota_bytes",
                                                   "quota_messages", "mailbox_quota", "mailbox_lmtp"};

LocalDomain read_domain(TableReader& r, const toml::table& table, std::optional<Located>& alias_of) {
    LocalDomain domain;
    if (auto name = r.string("name")) {
        domain.name = lower(name->value);
        if (!smtp::is_valid_domain(domain.name, false)) {
            r.error(name->where, "name", "must be a domain name, not " + in_quotes(name->value));
        }
    } else if (!r.node("name")) {
        r.error(table.source(), "name", "is missing");
    }
    r.boolean("catch_all", domain.catch_all);
    if (auto mailboxes = r.strings("mailboxes")) {
        for (const auto& item : *mailboxes) {
            auto name = mailbox_name(r, "mailboxes", item);
            if (!name) continue;
            if (std::find(domain.mailboxes.begin(), domain.mailboxes.end(), *name) != domain.mailboxes.end()) {
                r.error(item.where, "mailboxes", "names " + in_quotes(*name) + " twice");
            } else {
                domain.mailboxes.push_back(*name);
            }
        }
    }
    if (auto root = r.string("maildir_root")) {
        if (root->value.empty()) {
            r.error(root->where, "maildir_root", "must not be empty");
        } else {
            domain.maildir_root = root->value;
        }
    }
    if (auto postmaster = r.string("postmaster")) {
        if (auto name = mailbox_name(r, "postmaster", *postmaster)) domain.postmaster = *name;
    }
    r.string("alias_file", domain.alias_file);
    if (auto target = r.string("alias_of"); target && !target->value.empty()) {
        if (!smtp::is_valid_domain(target->value, false)) {
            r.error(target->where, "alias_of", "must be a domain name, not " + in_quotes(target->value));
        } else {
            domain.alias_of = lower(target->value);
            alias_of = Located{domain.alias_of, target->where};
            for (const std::string_view key : kMailboxDomainKeys) {
                if (const toml::node* n = table.get(key)) {
                    r.error(n->source(), key, "has no effect with alias_of: the addresses are those of " +
                                                  in_quotes(domain.alias_of));
                }
            }
        }
    }
    if (auto lmtp = r.string("lmtp"); lmtp && !lmtp->value.empty()) {
        auto parsed = parse_lmtp_target(lmtp->value);
        if (!parsed.value) {
            r.error(lmtp->where, "lmtp", "has " + in_quotes(lmtp->value) + ": " + parsed.error);
        } else {
            domain.lmtp = *parsed.value;
        }
    }
    r.boolean("folders", domain.folders);
    read_quota(r, domain.quota, "quota_bytes", "quota_messages");
    read_mailbox_quota(r, domain);
    read_mailbox_lmtp(r, domain);
    return domain;
}

// alias_of must name another [[domain]], one with mailboxes: a chain of aliases would only
// hide where mail goes.
void check_alias_of(Errors& errors, const std::vector<LocalDomain>& domains, const std::vector<std::optional<Located>>& alias_of) {
    for (std::size_t i = 0; i < domains.size(); ++i) {
        if (!alias_of[i]) continue;
        const std::string& target = alias_of[i]->value;
        const auto it = std::find_if(domains.begin(), domains.end(), [&](const LocalDomain& d) { return d.name == target; });
        std::string why;
        if (target == domains[i].name) {
            why = "must name another domain, not this one";
        } else if (it == domains.end()) {
            why = "names " + in_quotes(target) + ", which is not a [[domain]]";
        } else if (!it->alias_of.empty()) {
            why = "names " + in_quotes(target) + ", itself an alias of " + in_quotes(it->alias_of);
        }
        if (!why.empty()) errors.add(alias_of[i]->where, "'alias_of' in [[domain]] " + why);
    }
}

}  // namespace

void read_domains(Errors& errors, const toml::key& key, const toml::node& node, std::vector<LocalDomain>& out) {
    const auto* array = node.as_array();
    const bool tables = array && !array->empty() &&
                        std::all_of(array->begin(), array->end(), [](const toml::node& n) { return n.is_table(); });
    if (!tables) {
        errors.add(key.source(), "'domain' must be one or more [[domain]] tables");
        return;
    }
    std::vector<LocalDomain> domains;
    std::vector<std::size_t> first_lines;
    std::vector<std::optional<Located>> alias_of;
    for (const toml::node& element : *array) {
        const auto& table = *element.as_table();
        LocalDomain domain;
        std::optional<Located> target;
        {
            TableReader r(errors, table, "[[domain]]");
            domain = read_domain(r, table, target);
            if (domain.name.empty()) continue;
            auto same = std::find_if(domains.begin(), domains.end(),
                                     [&](const LocalDomain& d) { return d.name == domain.name; });
            if (same != domains.end()) {
                r.error(table.get("name")->source(), "name",
                        "repeats " + in_quotes(domain.name) + " (first on line " +
                            std::to_string(first_lines[static_cast<std::size_t>(same - domains.begin())]) + ")");
                continue;
            }
        }
        first_lines.push_back(table.get("name")->source().begin.line);
        domains.push_back(std::move(domain));
        alias_of.push_back(std::move(target));
    }
    check_alias_of(errors, domains, alias_of);
    out = std::move(domains);
}

}  // namespace ehlo::config::load_detail
