// `ehlo aliases ADDRESS`: what an address expands to and where each result is delivered, as a
// tree, the way the running server would answer RCPT TO for it.
//
//     $ ehlo aliases team@example.org --config /etc/ehlo/ehlo.toml
//     team@example.org: 250 2.1.5 Ok
//     team@example.org  alias (/etc/ehlo/aliases:3)
//     |-- alice@example.org  mailbox /srv/mail/example.org/alice
//     |-- bob+lists@example.org  mailbox /srv/mail/example.org/bob, folder .Lists
//     `-- friend@partner.example  remote, by MX of partner.example, sender rewritten (SRS)
//     3 destinations
//
// It reads the alias files and looks at the Maildirs (folders, quota usage) now, as a command
// may; the server does the same work off its event loops.
#include <iostream>
#include <string>

#include "cli/command_config.hpp"
#include "cli/commands.hpp"
#include "config/config.hpp"
#include "policy/policy.hpp"
#include "smtp/address.hpp"

namespace ehlo::cli {
namespace {

// Text from files and the command line, safe for a terminal: control characters as \xNN.
std::string safe(std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            out += "\\x";
            out += kHex[u >> 4];
            out += kHex[u & 15];
        } else {
            out += c;
        }
    }
    return out;
}

class TreePrinter {
public:
    TreePrinter(const policy::Policy& policy, const policy::RcptVerdict& verdict) : policy_(policy), verdict_(verdict) {}

    void print(const policy::ExpansionStep& node, const std::string& prefix, bool root, bool last) {
        std::cout << prefix;
        if (!root) std::cout << (last ? "`-- " : "|-- ");
        std::cout << safe(node.address.str()) << "  " << describe(node, root) << "\n";
        const std::string inner = root ? std::string{} : prefix + (last ? "    " : "|   ");
        for (std::size_t i = 0; i < node.children.size(); ++i) print(node.children[i], inner, false, i + 1 == node.children.size());
    }

private:
    std::string describe(const policy::ExpansionStep& node, bool root) const {
        using What = policy::ExpansionStep::What;
        switch (node.what) {
            case What::Alias: return "alias (" + safe(node.detail) + ")";
            case What::DomainAlias: return "domain alias: the address of " + safe(node.detail);
            case What::Srs: return "SRS address of ours: a bounce, back to " + safe(verdict_.srs_original);
            case What::Mailbox: return mailbox(node);
            case What::Remote: return remote(node);
            case What::Unknown: return root ? "unknown" : "unknown: left out";
            case What::Loop: return "loop: skipped";
            case What::Duplicate: return "duplicate: skipped" + (node.detail.empty() ? std::string{} : " (" + safe(node.detail) + ")");
            case What::Limit: return "not expanded: a limit was reached";
        }
        return {};
    }

    const policy::Destination* destination(const policy::ExpansionStep& node) const {
        if (node.destination >= verdict_.destinations.size()) return nullptr;
        return &verdict_.destinations[node.destination];
    }

    std::string mailbox(const policy::ExpansionStep& node) const {
        const auto* d = destination(node);
        std::string text = node.detail.empty() ? "mailbox " : safe(node.detail) + ": mailbox ";
        if (!d) return text + "(refused)";
        const auto route = policy_.route(d->address);  // the folder, as delivery will find it
        if (route.kind == queue::Route::Kind::Remote && route.remote.lmtp) {
            const auto& t = route.remote;
            return text + "by LMTP to " +
                   safe(t.socket.empty() ? t.host.value_or(t.domain) + ":" + std::to_string(t.port) : "unix:" + t.socket);
        }
        text += safe(d->maildir.string());
        if (route.kind == queue::Route::Kind::Maildir && route.maildir != d->maildir) {
            text += ", folder " + safe(route.maildir.filename().string());
        } else if (!d->folder.empty()) {
            text += ", no folder ." + safe(d->folder) + ": inbox";
        }
        if (d->over_quota) text += ", over quota";
        return text;
    }

    std::string remote(const policy::ExpansionStep& node) const {
        const auto* d = destination(node);
        if (!d) return "another server's address: relaying refused";
        std::string text = "remote, ";
        text += d->remote.host ? "by route to " + safe(*d->remote.host) + ":" + std::to_string(d->remote.port)
                               : "by MX of " + safe(d->remote.domain);
        if (d->forwarded) text += policy_.srs_enabled() ? ", sender rewritten (SRS)" : ", sender kept (no [srs] domain)";
        return text;
    }

    const policy::Policy& policy_;
    const policy::RcptVerdict& verdict_;
};

}  // namespace

int aliases_command(const AliasesCommand& command) {
    auto loaded_config = command_config(command.config_file);
    if (!loaded_config) return 2;
    config::Config cfg = std::move(*loaded_config);
    std::string text = command.address;
    if (!text.starts_with('<')) text = "<" + text + ">";
    const auto parsed = smtp::parse_forward_path(text, true);
    if (!parsed.mailbox || parsed.consumed != text.size()) {
        std::cerr << "ehlo: '" << safe(command.address) << "' is not an address\n";
        return 2;
    }
    try {
        policy::PolicyOptions options;
        options.background = false;
        options.create_files = false;
        policy::Policy policy(cfg, options);
        const smtp::Mailbox& address = *parsed.mailbox;
        auto verdict = policy.resolve_rcpt(address, command.trusted);
        // Quota usage is read off the RCPT path: read what this RCPT asked for, then ask again.
        if (policy.quota_cache().pending()) {
            policy.maintain();
            verdict = policy.resolve_rcpt(address, command.trusted);
        }
        std::cout << safe(address.str()) << ": " << safe(verdict.reply.one_line()) << "\n";
        TreePrinter(policy, verdict).print(verdict.tree, "", true, true);
        if (verdict.accepted()) {
            const auto n = verdict.destinations.size();
            std::cout << n << (n == 1 ? " destination\n" : " destinations\n");
        }
        return verdict.accepted() ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "ehlo: " << e.what() << "\n";
        return 2;
    }
}

}  // namespace ehlo::cli
