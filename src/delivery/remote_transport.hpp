// Onward delivery as the queue sees it: hand over a message and some of its recipients for one
// destination, get each recipient's outcome back. The SMTP implementation (RemoteDelivery) runs
// on its own event loop; tests can stand in with their own transport.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "delivery/client_session.hpp"
#include "delivery/content.hpp"
#include "delivery/outbound_tls.hpp"
#include "smtp/envelope.hpp"

namespace ehlo::delivery {

// Where a recipient's domain is sent: by DNS MX (RFC 5321 5.1), or to a configured host.
struct RemoteTarget {
    std::string domain;               // the recipients' domain (lower case), for MX lookup
    std::optional<std::string> host;  // configured route / smart host: an IP or a name, no MX lookup
    std::uint16_t port = 25;
    // STARTTLS (RFC 3207): what this destination requires, and the CA file its certificates
    // must chain to under Verify ("" = the system's trust store).
    TlsPolicy tls = TlsPolicy::May;
    std::string tls_ca_file{};
    // The local mailbox server by LMTP (RFC 2033), not SMTP: over the Unix socket `socket`
    // when it is set, else to host:port (never by MX).
    bool lmtp = false;
    std::string socket{};  // (an initializer: the short aggregate form {domain, host, port} stays warning-free)

    bool operator==(const RemoteTarget&) const = default;
    // Connections are pooled per key: a connection opened under one TLS policy never carries
    // a message that requires another.
    std::string key() const {
        if (lmtp) return socket.empty() ? "lmtp:" + host.value_or(domain) + ":" + std::to_string(port) : "lmtp:unix:" + socket;
        std::string k = host ? *host + ":" + std::to_string(port) : domain;
        if (tls != TlsPolicy::May || !tls_ca_file.empty()) {
            k += " tls=";
            k += tls_policy_name(tls);
            if (!tls_ca_file.empty()) k += " ca=" + tls_ca_file;
        }
        return k;
    }
};

struct RemoteJob {
    std::string queue_id;
    smtp::Envelope envelope;
    std::vector<std::size_t> recipients;          // indexes into envelope.recipients, all for `target`
    // As spooled (CRLF, Received header first), read only once a connection is ready for it, a
    // piece at a time: a job waiting for a connection holds no content.
    std::shared_ptr<const ContentSource> content;
    std::uint64_t content_size = 0;
    bool eight_bit = false;                      // content has octets >= 0x80
    bool needs_smtputf8 = false;                 // an address needs SMTPUTF8 (RFC 6531)
    RemoteTarget target;
};

struct RemoteOutcome {
    std::vector<RecipientResult> recipients;  // one per job recipient: Delivered, Deferred or Failed
    std::string remote_mta;                   // the host that gave the last reply ("mx1.example [192.0.2.1]")
    // The next hop offers DSN and was given the NOTIFY/ORCPT parameters (RFC 3461 5.2): success
    // notifications are then its to send; otherwise NOTIFY=SUCCESS gets a "relayed" DSN from us.
    bool dsn_passed_on = false;
    // The attempt was made on a connection (a session with the peer): then `tls` says whether
    // it was encrypted, and how. Not connected: DNS, connection and policy failures.
    bool connected = false;
    std::optional<TlsHandshake> tls;
    // The next hop's host connected to (an MX host or the configured one) and its address,
    // when an attempt reached one; for the history's record of the attempt.
    std::string host;
    std::string address;
};

class RemoteTransport {
public:
    virtual ~RemoteTransport() = default;
    // Any thread. `done` runs exactly once and must not block: on a transport thread, or on
    // the caller's own thread when the transport has stopped or refuses the job at once.
    virtual void deliver(RemoteJob job, std::function<void(RemoteOutcome)> done) = 0;
};

}  // namespace ehlo::delivery
