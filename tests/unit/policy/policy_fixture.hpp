// A configuration shared by the policy tests: one domain with listed mailboxes, one catch-all.
#pragma once

#include "config/config.hpp"
#include "policy/policy.hpp"

namespace ehlo::policy::test {

inline config::Config test_config() {
    config::Config c;
    c.relay.trusted_networks = {"10.0.0.0/8", "2001:db8::/32", "127.0.0.1"};
    c.smtp.recipient_delimiter = "+";
    c.domains = {
        config::LocalDomain{"example.org", false, {"alice", "bob", "bob-smith"}, "/srv/mail/example.org", "bob"},
        config::LocalDomain{"catchall.test", true, {}, "/srv/mail/catchall", "postmaster"},
    };
    return c;
}

inline smtp::Mailbox mbox(std::string local, std::string domain) { return {std::move(local), std::move(domain)}; }

}  // namespace ehlo::policy::test
