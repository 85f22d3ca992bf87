// Recipient policy: which RCPT TO is accepted, what it expands to, and where its mail goes (a
// local Maildir, or onward to another server: by MX, or by a configured [[route]]).
//
// Two promises rest on this folder. ehlo is never an open relay: a recipient outside the local
// domains is accepted only from a trusted network, or as the destination of an alias or of an
// SRS address of ours (both the administrator's doing, not the client's). And no recipient
// address ever names a path outside a domain's maildir_root (local_domains.cpp, and
// maildir_folder.cpp for folders).
//
// Nothing here blocks an event loop: resolve_rcpt takes the alias table by copying a shared_ptr
// and reads quota usage from a cache; file system work (alias files, quota readings, folder
// lookups in route()) happens on the background thread, the delivery thread or a command.
#include "policy/policy.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <sys/stat.h>

#include "config/network.hpp"
#include "observe/log.hpp"
#include "policy/alias_source.hpp"
#include "policy/local_domains.hpp"
#include "policy/maildir_folder.hpp"
#include "policy/srs.hpp"
#include "smtp/text.hpp"
#include "observe/thread_name.hpp"

namespace ehlo::policy {

namespace {

// RFC 5321 4.1.3: the tag of an IPv6 address literal (compared lower-cased).
constexpr std::string_view kIpv6Tag = "ipv6:";
// The background thread's round: alias files are stat(2)ed this often, no more.
constexpr std::chrono::seconds kMaintenanceInterval{1};

// The address as it may appear in a reply line: a reply never holds CR, LF or other controls
// (the parser admits none, but a reply is no place to find out it did).
std::string printable(const smtp::Mailbox& m) {
    const std::string s = m.str();
    return smtp::printable(s, s.size());
}

smtp::Reply accepted() { return {250, "2.1.5", "Ok"}; }

smtp::Reply refused(int code, std::string enhanced, const smtp::Mailbox& rcpt, std::string_view why) {
    return {code, std::move(enhanced), "<" + printable(rcpt) + ">: " + std::string(why)};
}

smtp::Reply unknown_mailbox(const smtp::Mailbox& rcpt) {
    return refused(550, "5.1.1", rcpt, "Recipient address rejected: mailbox unknown");
}

// The LMTP server of a mailbox, if it has one: its own (mailbox_lmtp), else its domain's.
// The recipient's mail then goes there as a remote job of the queue, by LMTP (RFC 2033).
std::optional<delivery::RemoteTarget> lmtp_target(const config::LocalDomain& domain, const std::string& mailbox) {
    const auto it = domain.mailbox_lmtp.find(mailbox);
    const config::LmtpTarget& t = it != domain.mailbox_lmtp.end() ? it->second : domain.lmtp;
    if (t.kind == config::LmtpTarget::Kind::None) return std::nullopt;
    delivery::RemoteTarget target;
    target.domain = domain.name;
    target.lmtp = true;
    if (t.kind == config::LmtpTarget::Kind::Unix) {
        target.socket = t.path;
    } else {
        target.host = t.host;
        target.port = t.port;
    }
    return target;
}

}  // namespace

struct Policy::Impl {
    std::vector<config::Network> trusted;
    LocalDomains domains;
    std::vector<config::OutboundRoute> routes;  // domains and hosts lower-case
    config::Config::Outbound outbound;          // the TLS policy defaults and tls_policy by domain
    std::unique_ptr<AliasSource> aliases;
    std::optional<Srs> srs;
    mutable QuotaCache quota;
    bool any_quota = false;
    std::function<std::int64_t()> unix_time;

    // The background thread, when there is work for it.
    std::mutex wake_mutex;
    std::condition_variable_any wake;
    std::jthread background;

    Impl(const config::Config& config)
        : domains(config.domains, config.smtp.recipient_delimiter) {}

    std::int64_t now() const { return unix_time ? unix_time() : static_cast<std::int64_t>(std::time(nullptr)); }

    // The next hop for a domain that is not local: the first [[route]] for exactly this
    // domain, else the first for "*", else the domain's MX records (no host). Its TLS policy:
    // the route's, else [outbound] tls_policy for the domain, else [outbound] tls.
    delivery::RemoteTarget remote_target(const smtp::Mailbox& rcpt) const {
        const config::OutboundRoute* route = nullptr;
        delivery::RemoteTarget target = next_hop(rcpt, route);
        const auto by_domain = outbound.tls_policy.find(target.domain);
        if (route && route->tls)
            target.tls = *route->tls;
        else if (by_domain != outbound.tls_policy.end())
            target.tls = by_domain->second;
        else
            target.tls = outbound.tls;
        target.tls_ca_file = route && !route->tls_ca_file.empty() ? route->tls_ca_file : outbound.tls_ca_file;
        return target;
    }

    // `route`: the [[route]] used, if any.
    delivery::RemoteTarget next_hop(const smtp::Mailbox& rcpt, const config::OutboundRoute*& route) const {
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
            for (const auto& r : routes) {
                if (r.domain != wanted) continue;
                target.host = r.host;
                target.port = r.port;
                route = &r;
                return target;
            }
        }
        return target;
    }

    const config::Quota* quota_of(const Destination& d) const {
        const auto it = d.domain->mailbox_quota.find(d.mailbox);
        const config::Quota& q = it != d.domain->mailbox_quota.end() ? it->second : d.domain->quota;
        return q.none() ? nullptr : &q;
    }

    // The postmaster mailbox of a domain, whatever its aliases say: RFC 5321 4.5.1 wants
    // postmaster@ to reach someone even when the table for it is broken.
    Destination postmaster_of(const config::LocalDomain& domain) const {
        Destination d;
        d.kind = Destination::Kind::Mailbox;
        d.address = {std::string(kPostmaster), domain.name};
        d.domain = &domain;
        d.mailbox = domain.postmaster;
        d.maildir = LocalDomains::maildir(domain, domain.postmaster);
        return d;
    }

    RcptVerdict expand_local(const smtp::Mailbox& rcpt, const smtp::Mailbox& address, std::uint64_t declared_size) const;
    RcptVerdict reverse_srs(const smtp::Mailbox& rcpt, std::uint64_t declared_size) const;
};

RcptVerdict Policy::Impl::expand_local(const smtp::Mailbox& rcpt, const smtp::Mailbox& address,
                                       std::uint64_t declared_size) const {
    const auto table = aliases->table();  // kept alive while the expansion looks at it
    Expansion expansion = Expander(domains, *table).expand(address);
    RcptVerdict verdict;
    verdict.tree = std::move(expansion.root);
    for (const auto& left : expansion.left_out) {
        observe::warn("alias-target-unknown", {{"rcpt", rcpt.str()}, {"target", left}});
    }

    using Outcome = Expansion::Outcome;
    if (expansion.outcome != Outcome::Ok) {
        const config::LocalDomain* domain = domains.canonical(address.domain);
        if (domain && local_key(address) == kPostmaster) {
            observe::error("alias-postmaster-fallback", {{"rcpt", rcpt.str()}, {"mailbox", domain->postmaster}});
            expansion.destinations = {postmaster_of(*domain)};
            expansion.outcome = Outcome::Ok;
            ExpansionStep fallback;
            fallback.what = ExpansionStep::What::Mailbox;
            fallback.address = address;
            fallback.detail = "postmaster, its aliases failing (RFC 5321 4.5.1)";
            fallback.destination = 0;
            verdict.tree = std::move(fallback);
        }
    }
    switch (expansion.outcome) {
        case Outcome::Ok:
            break;
        case Outcome::Unknown:
            verdict.reply = unknown_mailbox(rcpt);
            return verdict;
        case Outcome::Loop:
        case Outcome::TooDeep:
        case Outcome::TooMany: {
            // RFC 3463 X.3.5, "system incorrectly configured": the table is to be fixed, and
            // a temporary reply lets the sender's server try again once it is.
            const char* why = expansion.outcome == Outcome::Loop      ? "Recipient address rejected: alias loop"
                              : expansion.outcome == Outcome::TooDeep ? "Recipient address rejected: aliases nested too deep"
                                                                      : "Recipient address rejected: alias expands to too many recipients";
            observe::error("alias-expansion-failed", {{"rcpt", rcpt.str()}, {"reason", why}});
            verdict.reply = refused(451, "4.3.5", rcpt, why);
            return verdict;
        }
    }

    std::size_t full = 0;
    for (auto& d : expansion.destinations) {
        if (d.kind == Destination::Kind::Remote) {
            d.remote = remote_target(d.address);
            continue;
        }
        if (const config::Quota* limit = quota_of(d)) {
            const auto usage = quota.cached(d.maildir, *limit);
            d.over_quota = usage && over_quota(*usage, *limit, declared_size);
            if (d.over_quota) ++full;
        }
    }
    // A list with a full member is still delivered to the others; the full mailbox keeps its
    // flag for the delivery-time check. Refused only when nothing could take the mail.
    if (full != 0 && full == expansion.destinations.size()) {
        verdict.reply = refused(552, "5.2.2", rcpt, "Recipient address rejected: mailbox full (over quota)");
        return verdict;
    }
    verdict.reply = accepted();
    verdict.destinations = std::move(expansion.destinations);
    return verdict;
}

RcptVerdict Policy::Impl::reverse_srs(const smtp::Mailbox& rcpt, std::uint64_t declared_size) const {
    RcptVerdict verdict;
    const auto reversed = srs->reverse(rcpt, now());
    switch (reversed.error) {
        case Srs::Error::None:
            break;
        case Srs::Error::NotSrs:
        case Srs::Error::Malformed:
            verdict.reply = unknown_mailbox(rcpt);
            return verdict;
        case Srs::Error::BadHash:
            verdict.reply = refused(550, "5.7.1", rcpt, "Recipient address rejected: SRS address with a bad hash");
            return verdict;
        case Srs::Error::Expired:
            verdict.reply = refused(550, "5.7.1", rcpt, "Recipient address rejected: SRS address expired");
            return verdict;
    }
    const smtp::Mailbox& original = *reversed.address;
    verdict.srs_original = original.str();
    RcptVerdict inner;
    if (domains.find(original.domain)) {
        inner = expand_local(rcpt, original, declared_size);
    } else {
        // The bounce goes back where the mail came from: our own address, so any client may
        // send it (this is no relaying of the client's choosing).
        Destination d;
        d.kind = Destination::Kind::Remote;
        d.address = original;
        d.remote = remote_target(original);
        inner.reply = accepted();
        inner.destinations.push_back(std::move(d));
        inner.tree.what = ExpansionStep::What::Remote;
        inner.tree.address = original;
        inner.tree.destination = 0;
    }
    verdict.reply = inner.reply;
    verdict.destinations = std::move(inner.destinations);
    verdict.tree.what = ExpansionStep::What::Srs;
    verdict.tree.address = rcpt;
    verdict.tree.children.push_back(std::move(inner.tree));
    return verdict;
}

Policy::Policy(const config::Config& config, PolicyOptions options) : impl_(std::make_unique<Impl>(config)) {
    // A Config from config::load_* is already valid; these checks catch one built in code.
    for (const auto& cidr : config.relay.trusted_networks) {
        auto parsed = config::parse_network(cidr);
        if (!parsed.value) throw std::invalid_argument("relay.trusted_networks: '" + cidr + "': " + parsed.error);
        impl_->trusted.push_back(*parsed.value);
    }
    for (auto route : config.routes) {
        if (route.domain.empty() || route.host.empty() || route.port == 0)
            throw std::invalid_argument("route: domain, host and port are required");
        route.domain = lower(route.domain);
        route.host = lower(route.host);
        impl_->routes.push_back(std::move(route));
    }
    impl_->outbound = config.outbound;
    impl_->unix_time = std::move(options.unix_time);
    const auto files = alias_files(config);
    impl_->aliases = std::make_unique<AliasSource>(files, impl_->domains);
    if (!config.srs.domain.empty()) {
        const config::LocalDomain* domain = impl_->domains.find(config.srs.domain);
        if (!domain || !domain->alias_of.empty())
            throw std::invalid_argument("srs.domain: '" + config.srs.domain + "' is not a local domain with mailboxes");
        SrsOptions so;
        so.domain = config.srs.domain;
        so.secrets = load_srs_secrets(config.srs.secret_file, options.create_files);
        so.hash_length = config.srs.hash_length;
        so.max_age_days = config.srs.max_age;
        if (!so.secrets.empty()) impl_->srs.emplace(std::move(so));
    }
    for (const auto& d : impl_->domains.all()) {
        if (!d.quota.none()) impl_->any_quota = true;
        for (const auto& [name, q] : d.mailbox_quota) impl_->any_quota = impl_->any_quota || !q.none();
    }
    if (options.background && (!files.empty() || impl_->any_quota)) {
        impl_->background = std::jthread([this](std::stop_token stop) {
            observe::name_this_thread("ehlo-policy");
            std::unique_lock lock(impl_->wake_mutex);
            while (!stop.stop_requested()) {
                impl_->wake.wait_for(lock, stop, kMaintenanceInterval, [] { return false; });
                if (stop.stop_requested()) break;
                lock.unlock();
                try {
                    maintain();
                } catch (const std::exception& e) {
                    observe::error("policy-maintenance", {{"error", e.what()}});
                }
                lock.lock();
            }
        });
    }
}

Policy::~Policy() {
    if (impl_->background.joinable()) {
        impl_->background.request_stop();
        impl_->background.join();
    }
}

bool Policy::trusted(std::string_view client_address) const {
    const auto address = config::parse_ip_address(client_address);
    if (!address) return false;
    return std::any_of(impl_->trusted.begin(), impl_->trusted.end(),
                       [&](const config::Network& n) { return n.contains(*address); });
}

bool Policy::is_local_domain(std::string_view domain) const { return impl_->domains.find(domain) != nullptr; }

RcptVerdict Policy::resolve_rcpt(const smtp::Mailbox& rcpt, bool client_trusted, std::uint64_t declared_size) const {
    const Impl& m = *impl_;
    if (rcpt.domain.empty()) {
        RcptVerdict verdict;
        if (local_key(rcpt) != kPostmaster) {
            verdict.reply = refused(550, "5.1.3", rcpt, "Recipient address rejected: domain missing");
            return verdict;
        }
        // RFC 5321 4.1.1.3: "Postmaster" alone is the first domain's postmaster.
        const config::LocalDomain* first = m.domains.first();
        if (!first) {
            verdict.reply = accepted();  // accepted, but nowhere to deliver: held
            return verdict;
        }
        return m.expand_local(rcpt, smtp::Mailbox{rcpt.local_part, first->name}, declared_size);
    }
    const config::LocalDomain* domain = m.domains.find(rcpt.domain);
    if (!domain) {
        RcptVerdict verdict;
        verdict.tree.address = rcpt;
        verdict.tree.what = ExpansionStep::What::Remote;
        if (!client_trusted) {
            verdict.reply = refused(554, "5.7.1", rcpt, "Relay access denied");
            return verdict;
        }
        Destination d;
        d.kind = Destination::Kind::Remote;
        d.address = rcpt;
        d.remote = m.remote_target(rcpt);
        verdict.destinations.push_back(std::move(d));
        verdict.tree.what = ExpansionStep::What::Remote;
        verdict.tree.destination = 0;
        verdict.reply = accepted();
        return verdict;
    }
    if (m.srs && Srs::is_srs(rcpt.local_part)) {
        const config::LocalDomain* canonical = m.domains.canonical(rcpt.domain);
        if (canonical && canonical->name == m.srs->domain()) return m.reverse_srs(rcpt, declared_size);
    }
    return m.expand_local(rcpt, rcpt, declared_size);
}

smtp::Reply Policy::verify(const smtp::Mailbox& address) const {
    smtp::Mailbox mailbox = address;
    if (mailbox.domain.empty()) {
        const config::LocalDomain* first = impl_->domains.first();
        if (first) mailbox.domain = first->name;
    }
    if (!mailbox.domain.empty() && impl_->domains.find(mailbox.domain)) {
        const RcptVerdict verdict = resolve_rcpt(mailbox, false);
        if (verdict.accepted()) return {250, "2.1.5", "<" + printable(mailbox) + ">"};
        if (verdict.reply.code == 550) return {550, "5.1.1", "<" + printable(mailbox) + ">: mailbox unknown"};
    }
    return {252, "2.5.0", "Cannot VRFY user, but will accept message"};
}

queue::Route Policy::route(const smtp::Mailbox& rcpt) const {
    const Impl& m = *impl_;
    if (rcpt.domain.empty()) {
        const config::LocalDomain* first = m.domains.first();
        if (local_key(rcpt) != kPostmaster || !first) return {};
        if (auto lmtp = lmtp_target(*first, first->postmaster)) return queue::Route(std::move(*lmtp));
        return {queue::Route::Kind::Maildir, LocalDomains::maildir(*first, first->postmaster)};
    }
    if (!m.domains.find(rcpt.domain)) return queue::Route(m.remote_target(rcpt));
    const config::LocalDomain* domain = m.domains.canonical(rcpt.domain);
    const std::string local = local_key(rcpt);
    auto match = m.domains.listed_mailbox(*domain, local);
    if (!match) match = m.domains.catch_all_mailbox(*domain, local);
    if (!match) return {};
    if (auto lmtp = lmtp_target(*domain, match->mailbox)) return queue::Route(std::move(*lmtp));
    const auto maildir = LocalDomains::maildir(*domain, match->mailbox);
    if (domain->folders && !match->extension.empty()) {
        // The extension as written: a folder's name keeps its case.
        const std::string folder = m.domains.split_extension(rcpt.unquoted_local_part()).second;
        if (auto dir = find_maildir_folder(maildir, folder)) return {queue::Route::Kind::Maildir, *dir};
    }
    return {queue::Route::Kind::Maildir, maildir};
}

std::optional<smtp::Mailbox> Policy::forward_sender(const std::optional<smtp::Mailbox>& sender) const {
    const Impl& m = *impl_;
    if (!m.srs || !sender || sender->domain.empty() || m.domains.find(sender->domain)) return std::nullopt;
    return m.srs->forward(*sender, m.now());
}

bool Policy::srs_enabled() const { return impl_->srs.has_value(); }

bool Policy::reload_aliases() { return impl_->aliases->reload().ok; }

void Policy::maintain() {
    impl_->aliases->reload_if_changed();
    impl_->quota.refresh_due();
}

QuotaCache& Policy::quota_cache() const { return impl_->quota; }

std::shared_ptr<const AliasTable> Policy::alias_table() const { return impl_->aliases->table(); }

std::vector<smtp::Recipient> expanded_recipients(const smtp::Recipient& rcpt, const RcptVerdict& verdict) {
    if (verdict.destinations.empty()) return {rcpt};
    if (verdict.destinations.size() == 1 && verdict.destinations.front().address == rcpt.address) {
        smtp::Recipient same = rcpt;
        same.forwarded = verdict.destinations.front().kind == Destination::Kind::Remote && verdict.destinations.front().forwarded;
        return {same};
    }
    // RFC 3461 4.2: addr-type "rfc822", or "utf-8" for an address that needs it (RFC 6533 3).
    const std::string orcpt =
        !rcpt.orcpt.empty() ? rcpt.orcpt : (rcpt.address.needs_smtputf8() ? "utf-8;" : "rfc822;") + rcpt.address.str();
    std::vector<smtp::Recipient> out;
    out.reserve(verdict.destinations.size());
    for (const auto& d : verdict.destinations) {
        smtp::Recipient r;
        r.address = d.address;
        r.orcpt = orcpt;
        r.notify = rcpt.notify;
        r.forwarded = d.kind == Destination::Kind::Remote && d.forwarded;
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<std::string> check_policy_files(const config::Config& config) {
    std::vector<std::string> out;
    try {
        const LocalDomains domains(config.domains, config.smtp.recipient_delimiter);
        for (const auto& p : load_alias_table(alias_files(config), domains).problems) out.push_back(p.str());
    } catch (const std::invalid_argument& e) {
        out.push_back(e.what());
        return out;
    }
    if (!config.srs.domain.empty()) {
        const std::filesystem::path file = config.srs.secret_file;
        struct stat st{};
        if (::stat(file.c_str(), &st) == 0) {
            try {
                (void)load_srs_secrets(file, false);
            } catch (const std::exception& e) {
                out.push_back(e.what());
            }
        } else {
            // Created at the first start; its directory must be there for that.
            const auto dir = file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path();
            std::error_code ec;
            if (!std::filesystem::is_directory(dir, ec)) {
                out.push_back(file.string() + ": cannot be created: no directory " + dir.string());
            }
        }
    }
    return out;
}

}  // namespace ehlo::policy
