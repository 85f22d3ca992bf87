// [msgauth]: what reception checks of mail from outside, and what a failure does.
#include "config/toml_reader.hpp"

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
}

}  // namespace ehlo::config::load_detail
