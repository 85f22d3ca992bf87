// Who may send what to whom: trusted networks, local domains and mailboxes, relay refusal.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "queue/queue.hpp"
#include "smtp/envelope.hpp"
#include "smtp/reply.hpp"

namespace ehlo::policy {

class Policy {
public:
    // Throws std::invalid_argument for what config::load_* would have refused (a bad CIDR or
    // mailbox name), so a Config built in code cannot bypass the path-safety checks.
    explicit Policy(const config::Config& config);
    ~Policy();

    // The client address (textual IPv4 or IPv6) is inside relay.trusted_networks.
    bool trusted(std::string_view client_address) const;

    // The RCPT verdict: 250 2.1.5 for an existing local mailbox (and postmaster@ every local
    // domain, RFC 5321 4.5.1) or, for a trusted client, any other domain; 550 5.1.1 for an
    // unknown mailbox of a local domain; 554 5.7.1 relay refused for anyone else.
    smtp::Reply check_rcpt(const smtp::Mailbox& rcpt, bool client_trusted) const;

    // The VRFY answer (RFC 5321 3.5.3), used only when [smtp] vrfy is on: 250 2.1.5 for a
    // mailbox of a local domain, 550 5.1.1 for an unknown one, 252 2.5.0 for anything else. A
    // bare name (no domain) is looked up in the first local domain.
    smtp::Reply verify(const smtp::Mailbox& address) const;

    // Where an accepted recipient's mail goes: a local Maildir; onward (Remote) for a domain
    // that is not local, to the host of the first [[route]] for exactly that domain, else of
    // the "*" route, else by MX (no host); an address literal to that address, port 25.
    // Held: a local domain's unknown mailbox, or a bare name other than Postmaster.
    queue::Route route(const smtp::Mailbox& rcpt) const;

    bool is_local_domain(std::string_view domain) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ehlo::policy
