// [msgauth]: what reception checks of mail from outside, and what a failure does.
#include <algorithm>

#include "config/toml_reader.hpp"
#include "smtp/address.hpp"

namespace ehlo::config::load_detail {

namespace {

std::optional<DmarcAction> dmarc_action(std::string_view word) {
    if (word == "reject") return DmarcAction::Reject;
    if (word == "quarantine") return DmarcAction::Quarantine;
    if (word == "none") return DmarcAction::None;
    return std::nullopt;
}

void read_dmarc_action(TableReader& r, std::string_view key, DmarcAction& out) {
    auto word = r.string(key);
    if (!word) return;
    if (auto action = dmarc_action(word->value))
        out = *action;
    else
        r.error(word->where, key, "must be \"reject\", \"quarantine\" or \"none\", not " + in_quotes(word->value));
}

// Two words for one switch: `yes` sets it, `no` clears it, anything else is an error.
void read_choice(TableReader& r, std::string_view key, bool& out, std::string_view yes, std::string_view no) {
    auto word = r.string(key);
    if (!word) return;
    if (word->value == yes)
        out = true;
    else if (word->value == no)
        out = false;
    else
        r.error(word->where, key, "must be \"" + std::string(no) + "\" or \"" + std::string(yes) + "\", not " + in_quotes(word->value));
}

// RFC 8601 2.5: the authserv-id is a value (token or quoted-string); ehlo writes a token, so it
// takes the letters, digits and punctuation a host name or a token may hold.
bool is_authserv_id(std::string_view id) {
    if (id.empty() || id.size() > 255) return false;
    for (char c : id) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '-' || c == '_';
        if (!ok) return false;
    }
    return true;
}

// [[msgauth.sign]] tables: domain, selector, key_file, each required; a (domain, selector)
// pair once.
void read_signing_keys(TableReader& r, std::vector<Config::Msgauth::SigningKey>& out) {
    const auto* array = r.typed<toml::array>("sign", toml::node_type::array);
    if (!array) return;
    for (const toml::node& element : *array) {
        const auto* table = element.as_table();
        if (!table) {
            r.error(element.source(), "sign", "must hold [[msgauth.sign]] tables, not " + type_name(element.type()));
            continue;
        }
        TableReader k(r.errors(), *table, "[[msgauth.sign]]");
        Config::Msgauth::SigningKey key;
        bool ok = true;
        for (const char* name : {"domain", "selector", "key_file"}) {
            auto value = k.string(name);
            if (!value) {
                if (!table->get(name)) k.error(table->source(), name, "is required");
                ok = false;
                continue;
            }
            std::string text = value->value;
            if (std::string_view(name) != "key_file") {
                std::transform(text.begin(), text.end(), text.begin(),
                               [](unsigned char c) { return c < 0x80 ? static_cast<char>(std::tolower(c)) : static_cast<char>(c); });
                if (!smtp::is_valid_domain(text, false)) {
                    k.error(value->where, name, "must be a domain name (letters, digits, '-', labels joined by '.'), not " +
                                                    in_quotes(value->value));
                    ok = false;
                    continue;
                }
            } else if (text.empty()) {
                k.error(value->where, name, "must name the PEM file of a private key");
                ok = false;
                continue;
            }
            (std::string_view(name) == "domain" ? key.domain : std::string_view(name) == "selector" ? key.selector : key.key_file) =
                std::move(text);
        }
        if (!ok) continue;
        const bool repeated = std::any_of(out.begin(), out.end(), [&](const auto& o) {
            return o.domain == key.domain && o.selector == key.selector;
        });
        if (repeated) {
            k.error(table->source(), "selector", "repeats " + in_quotes(key.selector) + " for " + in_quotes(key.domain));
            continue;
        }
        out.push_back(std::move(key));
    }
}

}  // namespace

void read_msgauth(TableReader& r, Config::Msgauth& m) {
    r.boolean("verify", m.verify);
    if (auto id = r.string("authserv_id")) {
        if (!id->value.empty() && !is_authserv_id(id->value))
            r.error(id->where, "authserv_id", "must be a host name (letters, digits, '.', '-', '_'), not " + in_quotes(id->value));
        else
            m.authserv_id = id->value;
    }
    read_dmarc_action(r, "dmarc_reject", m.dmarc_reject);
    read_dmarc_action(r, "dmarc_quarantine", m.dmarc_quarantine);
    read_choice(r, "spf_fail", m.spf_reject, "reject", "mark");
    read_choice(r, "dns_failure", m.dns_defer, "defer", "accept");
    r.integer("max_signatures", m.max_signatures, 1, 50, "DKIM signatures checked per message");
    r.integer("threads", m.threads, 1, 64);
    read_signing_keys(r, m.sign);
    if (auto arc = r.string("arc_domain")) {
        std::string domain = arc->value;
        std::transform(domain.begin(), domain.end(), domain.begin(),
                       [](unsigned char c) { return c < 0x80 ? static_cast<char>(std::tolower(c)) : static_cast<char>(c); });
        const bool has_key = std::any_of(m.sign.begin(), m.sign.end(), [&](const auto& k) { return k.domain == domain; });
        if (!domain.empty() && !has_key)
            r.error(arc->where, "arc_domain", "names " + in_quotes(arc->value) + ", which has no [[msgauth.sign]] key to seal with");
        else
            m.arc_domain = std::move(domain);
    }
}

}  // namespace ehlo::config::load_detail
