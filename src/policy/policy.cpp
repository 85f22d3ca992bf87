// Recipient policy: which RCPT TO is accepted, and where its mail goes (a local Maildir, or
// onward to another server: by MX, or by a configured [[route]]).
//
// Two promises rest on this file. ehlo is never an open relay: a recipient outside the local
// domains is accepted only from a trusted network. And no recipient address ever names a path
// outside a domain's maildir_root: a local part becomes a directory name only after passing
// config::is_mailbox_name ([a-z0-9._-], no leading '.', no ".."), whatever a catch-all says.
// A UTF-8 local part (RFC 6531) is first written in its "xn--" form (utf8_mailbox.hpp).
#include "policy/policy.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "config/mailbox_name.hpp"
#include "config/network.hpp"
#include "policy/utf8_mailbox.hpp"
#include "smtp/text.hpp"

namespace ehlo::policy {

namespace {

// RFC 5321 4.1.1.3: "Postmaster" without a domain, case-insensitive, must be accepted.
constexpr std::string_view kPostmaster = "postmaster";
// RFC 5321 4.1.3: the tag of an IPv6 address literal (compared lower-cased).
constexpr std::string_view kIpv6Tag = "ipv6:";

using smtp::lower;

// The address as it may appear in a reply line: a reply never holds CR, LF or other controls
// (the parser admits none, but a reply is no place to find out it did).
std::string printable(const smtp::Mailbox& m) {
    const std::string s = m.str();
    return smtp::printable(s, s.size());
}

smtp::Reply accepted() { return {250, "2.1.5", "Ok"}; }

}  // namespace

struct Policy::Impl {
    std::vector<config::Network> trusted;
    std::vector<config::LocalDomain> domains;  // names lower-case
    std::string delimiter;                     // empty or one character
    std::vector<config::OutboundRoute> routes;  // domains and hosts lower-case

    // The next hop for a domain that is not local: the first [[route]] for exactly this
    // domain, else the first for "*", else the domain's MX records (no host).
    delivery::RemoteTarget remote_target(const smtp::Mailbox& rcpt) const {
        delivery::RemoteTarget target;
        target.domain = lower(rcpt.domain);
        if (rcpt.is_address_literal()) {
            // RFC 5321 4.1.3 / 5.1: an address literal is the host itself, no DNS, port 25.
            std::string_view literal(target.domain);
            literal.remove_prefix(1);
            literal.remove_suffix(literal.ends_with(']') ? 1 : 0);
            if (literal.starts_with(kIpv6Tag)) literal.remove_prefix(kIpv6Tag.size());
            target.host = std::string(literal);
            return target;
        }
        for (const std::string_view wanted : {std::string_view(target.domain), std::string_view("*")}) {
            for (const auto& route : routes) {
                if (route.domain != wanted) continue;
                target.host = route.host;
                target.port = route.port;
                return target;
            }
        }
        return target;
    }

    // What a recipient is, once its local part is normalised and looked up.
    struct Destination {
        enum class Kind {
            Mailbox,     // a mailbox of a local domain (including its postmaster)
            Unknown,     // a local domain, but no such mailbox (or a name that cannot be one)
            NoDomain,    // no domain and not "Postmaster"
            Remote,      // not a local domain: relaying
        } kind = Kind::Remote;
        const config::LocalDomain* domain = nullptr;  // for Mailbox: whose maildir_root
        std::string mailbox;                          // for Mailbox: the directory name
    };

    const config::LocalDomain* find_domain(std::string_view name) const {
        // Address literals ("[192.0.2.1]") never name a local domain: a domain name in the
        // configuration cannot start with '[', so the comparison below rejects them.
        const std::string key = lower(name);
        for (const auto& d : domains) {
            if (d.name == key) return &d;
        }
        return nullptr;
    }

    // "alice+tag" -> "alice", at the first delimiter; the name itself when there is none.
    std::string without_extension(const std::string& local) const {
        if (delimiter.empty()) return local;
        return local.substr(0, local.find(delimiter[0]));
    }

    // The mailbox name a (lower-cased) local part would have: itself when ASCII, its "xn--"
    // form when UTF-8 (RFC 6531). Empty when it can have none; not yet checked for a name.
    static std::string mailbox_name(const std::string& local) {
        const bool ascii = std::all_of(local.begin(), local.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
        if (ascii) return local;
        return utf8_mailbox_name(local).value_or(std::string{});
    }

    Destination resolve(const smtp::Mailbox& rcpt) const {
        using Kind = Destination::Kind;
        const std::string local = lower(rcpt.unquoted_local_part());

        if (rcpt.domain.empty()) {
            if (local != kPostmaster) return {Kind::NoDomain, nullptr, {}};
            if (domains.empty()) return {Kind::Mailbox, nullptr, {}};  // accepted, but nowhere to deliver: held
            return {Kind::Mailbox, &domains.front(), domains.front().postmaster};
        }
        if (rcpt.is_address_literal()) return {Kind::Remote, nullptr, {}};
        const config::LocalDomain* domain = find_domain(rcpt.domain);
        if (!domain) return {Kind::Remote, nullptr, {}};

        // The full local part first, then without its extension (as Postfix does), so that a
        // mailbox "bob-smith" stays reachable when the delimiter is '-'.
        const std::string full = mailbox_name(local), cut = mailbox_name(without_extension(local));
        for (const std::string& name : {full, cut}) {
            if (name == kPostmaster) return {Kind::Mailbox, domain, domain->postmaster};
            if (std::find(domain->mailboxes.begin(), domain->mailboxes.end(), name) != domain->mailboxes.end()) {
                return {Kind::Mailbox, domain, name};
            }
        }
        // The guard against path traversal: "../../etc", "a/b", "\"x/y\"" and the like are
        // refused here rather than ever joined to maildir_root.
        if (domain->catch_all && config::is_mailbox_name(cut)) return {Kind::Mailbox, domain, cut};
        return {Kind::Unknown, domain, {}};
    }
};

Policy::Policy(const config::Config& config) : impl_(std::make_unique<Impl>()) {
    // A Config from config::load_* is already valid; these checks catch one built in code.
    for (const auto& cidr : config.relay.trusted_networks) {
        auto parsed = config::parse_network(cidr);
        if (!parsed.value) throw std::invalid_argument("relay.trusted_networks: '" + cidr + "': " + parsed.error);
        impl_->trusted.push_back(*parsed.value);
    }
    for (auto domain : config.domains) {
        domain.name = lower(domain.name);
        for (const auto& name : domain.mailboxes) {
            if (!config::is_mailbox_name(name)) {
                throw std::invalid_argument("domain " + domain.name + ": '" + name + "' is not a mailbox name");
            }
        }
        if (!config::is_mailbox_name(domain.postmaster)) {
            throw std::invalid_argument("domain " + domain.name + ": postmaster '" + domain.postmaster +
                                        "' is not a mailbox name");
        }
        impl_->domains.push_back(std::move(domain));
    }
    const auto& delimiter = config.smtp.recipient_delimiter;
    if (delimiter.size() > 1) throw std::invalid_argument("smtp.recipient_delimiter: more than one character");
    impl_->delimiter = delimiter;
    for (auto route : config.routes) {
        if (route.domain.empty() || route.host.empty() || route.port == 0)
            throw std::invalid_argument("route: domain, host and port are required");
        route.domain = lower(route.domain);
        route.host = lower(route.host);
        impl_->routes.push_back(std::move(route));
    }
}

Policy::~Policy() = default;

bool Policy::trusted(std::string_view client_address) const {
    const auto address = config::parse_ip_address(client_address);
    if (!address) return false;
    return std::any_of(impl_->trusted.begin(), impl_->trusted.end(),
                       [&](const config::Network& n) { return n.contains(*address); });
}

bool Policy::is_local_domain(std::string_view domain) const { return impl_->find_domain(domain) != nullptr; }

smtp::Reply Policy::check_rcpt(const smtp::Mailbox& rcpt, bool client_trusted) const {
    using Kind = Impl::Destination::Kind;
    switch (impl_->resolve(rcpt).kind) {
        case Kind::Mailbox:
            return accepted();
        case Kind::Unknown:
            return {550, "5.1.1", "<" + printable(rcpt) + ">: Recipient address rejected: mailbox unknown"};
        case Kind::NoDomain:
            return {550, "5.1.3", "<" + printable(rcpt) + ">: Recipient address rejected: domain missing"};
        case Kind::Remote:
            break;
    }
    if (client_trusted) return accepted();
    return {554, "5.7.1", "<" + printable(rcpt) + ">: Relay access denied"};
}

smtp::Reply Policy::verify(const smtp::Mailbox& address) const {
    using Kind = Impl::Destination::Kind;
    smtp::Mailbox mailbox = address;
    if (mailbox.domain.empty() && !impl_->domains.empty()) mailbox.domain = impl_->domains.front().name;
    switch (impl_->resolve(mailbox).kind) {
        case Kind::Mailbox:
            return {250, "2.1.5", "<" + printable(mailbox) + ">"};
        case Kind::Unknown:
            return {550, "5.1.1", "<" + printable(mailbox) + ">: mailbox unknown"};
        case Kind::NoDomain:
        case Kind::Remote:
            break;
    }
    return {252, "2.5.0", "Cannot VRFY user, but will accept message"};
}

queue::Route Policy::route(const smtp::Mailbox& rcpt) const {
    const auto destination = impl_->resolve(rcpt);
    if (destination.kind == Impl::Destination::Kind::Remote) return queue::Route(impl_->remote_target(rcpt));
    if (destination.kind != Impl::Destination::Kind::Mailbox || !destination.domain) return {};
    return {queue::Route::Kind::Maildir, std::filesystem::path(destination.domain->maildir_root) / destination.mailbox};
}

}  // namespace ehlo::policy
