// The loader's reader of [[domain]]: the local domains, their mailboxes and Maildir roots.
#include <algorithm>
#include <string>

#include "config/load_reader.hpp"
#include "config/mailbox_name.hpp"
#include "smtp/address.hpp"

namespace ehlo::config::load_detail {

namespace {

std::optional<std::string> mailbox_name(TableReader& r, std::string_view key, const Located& item) {
    if (!is_mailbox_name(item.value)) {
        r.error(item.where, key, "has " + in_quotes(item.value) + ", not a mailbox name (" + kMailboxNameRule + ")");
        return std::nullopt;
    }
    return item.value;
}

LocalDomain read_domain(TableReader& r, const toml::table& table) {
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
    return domain;
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
    for (const toml::node& element : *array) {
        const auto& table = *element.as_table();
        LocalDomain domain;
        {
            TableReader r(errors, table, "[[domain]]");
            domain = read_domain(r, table);
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
    }
    out = std::move(domains);
}

}  // namespace ehlo::config::load_detail
