// Who may send what to whom: trusted networks, local domains and mailboxes, aliases, relay
// refusal, quotas, SRS; where an accepted recipient's mail goes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "policy/alias_expansion.hpp"
#include "policy/alias_table.hpp"
#include "policy/quota.hpp"
#include "queue/queue.hpp"
#include "smtp/envelope.hpp"
#include "smtp/reply.hpp"

namespace ehlo::policy {

struct PolicyOptions {
    // Start the policy's own thread when there is work for it (alias files to follow, quotas
    // to read): once a second it stats the alias files and makes the quota readings asked for.
    // Off for one-shot commands and tests, which call maintain() themselves.
    bool background = true;
    // The time for SRS, in unix seconds; empty = the system clock. (Tests.)
    std::function<std::int64_t()> unix_time;
    // Create the SRS secret file when it is missing (the server). A command that only looks
    // leaves it alone: without the file, SRS is off for it.
    bool create_files = true;
};

// The RCPT verdict with what it stands for: the final destinations of an accepted recipient.
struct RcptVerdict {
    smtp::Reply reply;
    std::vector<Destination> destinations;  // empty when refused
    ExpansionStep tree;                     // how the address was resolved (`ehlo aliases`)
    std::string srs_original;               // an SRS address: the one it was decoded to

    bool accepted() const { return reply.code >= 200 && reply.code < 300; }
};

class Policy {
public:
    // Throws std::invalid_argument for what config::load_* would have refused (a bad CIDR or
    // mailbox name), so a Config built in code cannot bypass the path-safety checks, and
    // std::runtime_error when an alias file has a problem (listing each, FILE:LINE) or the SRS
    // secret cannot be read or created.
    explicit Policy(const config::Config& config, PolicyOptions options = {});
    ~Policy();
    Policy(const Policy&) = delete;
    Policy& operator=(const Policy&) = delete;

    // The client address (textual IPv4 or IPv6) is inside relay.trusted_networks.
    bool trusted(std::string_view client_address) const;

    // The RCPT verdict and its destinations. Any thread; never touches the disk (the alias
    // table is a shared_ptr copied, quota usage comes from a cache). Accepted (250 2.1.5): an
    // existing local mailbox, postmaster@ every local domain (RFC 5321 4.5.1), an alias with
    // at least one destination (RFC 5321 3.9.1), a valid SRS address of ours, or, for a
    // trusted client, any other domain. Refused: 550 5.1.1 for an unknown mailbox of a local
    // domain; 554 5.7.1 relay refused for anyone else; 552 5.2.2 when every mailbox it
    // reaches is over quota (RFC 3463 X.2.2; `declared_size` is SIZE=, 0 if none); 550 5.7.1 for a
    // forged or expired SRS address; 451 4.3.5 for an alias that loops, nests too deep or
    // reaches too many (a table to be fixed: the sender tries again later).
    RcptVerdict resolve_rcpt(const smtp::Mailbox& rcpt, bool client_trusted, std::uint64_t declared_size = 0) const;
    smtp::Reply check_rcpt(const smtp::Mailbox& rcpt, bool client_trusted) const {
        return resolve_rcpt(rcpt, client_trusted).reply;
    }

    // The VRFY answer (RFC 5321 3.5.3), used only when [smtp] vrfy is on: 250 2.1.5 for a
    // mailbox of a local domain, 550 5.1.1 for an unknown one, 252 2.5.0 for anything else. A
    // bare name (no domain) is looked up in the first local domain.
    smtp::Reply verify(const smtp::Mailbox& address) const;

    // Where one final recipient's mail goes (no alias expansion: that was done at RCPT): a
    // local Maildir, or its Maildir++ folder when the domain has folders and the extension
    // names one that exists (so: a stat, for the delivery thread only); onward (Remote) for a
    // domain that is not local, to the host of the first [[route]] for exactly that domain,
    // else of the "*" route, else by MX (no host); an address literal to that address, port
    // 25. Held: a local domain's unknown mailbox, or a bare name other than Postmaster.
    queue::Route route(const smtp::Mailbox& rcpt) const;

    bool is_local_domain(std::string_view domain) const;

    // The envelope sender for mail carried onward to another domain: its SRS form when [srs]
    // has a domain and the sender is neither null nor of a local domain; nothing otherwise
    // (keep the sender as it is).
    std::optional<smtp::Mailbox> forward_sender(const std::optional<smtp::Mailbox>& sender) const;
    bool srs_enabled() const;

    // Reads the alias files now (SIGHUP: call it off the event loops). True when the new table
    // is in use; false keeps the old one, and each problem is logged with its line.
    bool reload_aliases();
    // One round of the background work: reloads changed alias files, reads the quota usage
    // asked for. The background thread calls it every second.
    void maintain();
    // Usage of quota'd mailboxes, for the delivery thread (QuotaCache::add after a delivery).
    QuotaCache& quota_cache() const;
    std::shared_ptr<const AliasTable> alias_table() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The recipients an envelope carries for one accepted RCPT (RFC 5321 3.9.1: the alias is
// replaced by each of its expansions; sender and content unchanged): one per destination, each
// with the RCPT's NOTIFY, and with ORCPT set to the address the client gave unless the client
// gave one (RFC 3461: aliases pass NOTIFY and ORCPT on to each address), so DSNs still name
// the address the sender used. An RCPT that is its own single destination comes back as it is.
// A remote destination reached through an alias is marked `forwarded` (its sender gets SRS).
std::vector<smtp::Recipient> expanded_recipients(const smtp::Recipient& rcpt, const RcptVerdict& verdict);

// Problems of the files a configuration names besides itself, one "FILE:LINE: message" each:
// alias files, and the SRS secret file (read, never created here). For `ehlo check-config`.
std::vector<std::string> check_policy_files(const config::Config& config);

}  // namespace ehlo::policy
