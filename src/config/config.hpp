// The whole configuration of a running ehlo, as plain values. Loaded from one TOML file
// (docs/configuration.md lists every key and its default); the defaults below are the
// embedded configuration `ehlo serve` uses without --config.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/durability.hpp"
#include "delivery/outbound_tls.hpp"

namespace ehlo::config {

struct ListenAddress {
    std::string host;        // "127.0.0.1", "::1", "0.0.0.0", "::"
    std::uint16_t port = 0;

    bool operator==(const ListenAddress&) const = default;
};

// What a listening socket serves.
enum class ListenerKind {
    Smtp,         // RFC 5321 relay and delivery, port 25 style: STARTTLS offered when possible
    Submission,   // RFC 6409, port 587 style: STARTTLS, then AUTH, before MAIL (530 5.7.0)
    Submissions,  // RFC 8314, port 465 style: TLS from the first octet, then 220; AUTH required
};

struct Listener {
    ListenAddress address;
    ListenerKind kind = ListenerKind::Smtp;

    bool operator==(const Listener&) const = default;
};

// An LMTP server (RFC 2033) that takes a domain's mail: a Unix socket or host and port.
struct LmtpTarget {
    enum class Kind { None, Unix, Tcp } kind = Kind::None;
    std::string path;        // Unix: the socket's path
    std::string host;        // Tcp: an IP address or a host name
    std::uint16_t port = 0;  // Tcp: LMTP has no well-known port and must not use 25 (RFC 2033 5)

    bool operator==(const LmtpTarget&) const = default;
};

// A mailbox's limits; 0 = none.
struct Quota {
    std::uint64_t bytes = 0;
    std::uint64_t messages = 0;

    bool none() const { return bytes == 0 && messages == 0; }
    bool operator==(const Quota&) const = default;
};

struct LocalDomain {
    std::string name;                         // lower-case
    bool catch_all = false;                   // any local part is a mailbox
    std::vector<std::string> mailboxes;       // lower-case local parts that exist
    std::string maildir_root = "./var/mail";  // Maildir of USER is <maildir_root>/<USER>/
    std::string postmaster = "postmaster";    // mailbox that receives postmaster@ (RFC 5321 4.5.1)
    std::string alias_file{};                 // this domain's aliases (docs/configuration.md); empty = none
    std::string alias_of{};                   // lower-case: every address here is that domain's; empty = none
    LmtpTarget lmtp{};                        // this domain's mailboxes delivered by LMTP, not to a Maildir
    bool folders = false;                     // USER+FOLDER@ goes to the Maildir++ folder .FOLDER if it exists
    Quota quota{};                            // every mailbox's, unless mailbox_quota names it
    std::map<std::string, Quota> mailbox_quota{};  // per mailbox name
    std::map<std::string, LmtpTarget> mailbox_lmtp{};  // per mailbox name, replacing `lmtp` for it
    // (Every member added after postmaster has an initializer, so that the short aggregate
    // form LocalDomain{name, catch_all, mailboxes, root, postmaster} stays warning-free.)

    bool operator==(const LocalDomain&) const = default;
};

// A configured next hop (a smart host): mail for `domain` goes to `host`, with no MX lookup.
struct OutboundRoute {
    std::string domain;       // lower-case; "*" = every domain that is not local
    std::string host;         // an IP address or a host name
    std::uint16_t port = 25;
    std::optional<delivery::TlsPolicy> tls{};  // STARTTLS policy; none = as [outbound] says
    std::string tls_ca_file{};                 // CA file for `verify`; empty = as [outbound] says

    bool operator==(const OutboundRoute&) const = default;
};

// Syncfs: one syncfs(2) per batch, data and directory entries of the whole batch at once;
// Fsync: fdatasync(2) per file, then fsync(2) per directory, once per batch.
using SyncMode = delivery::SyncMode;

// Which session transcripts the history keeps (commands and replies, never message content).
enum class HistoryTranscripts {
    Off,
    Errors,  // of sessions with any 4xx or 5xx reply
    All,
};

// What a DMARC failure does (RFC 7489 6.3 p=): refuse at the end of DATA (550 5.7.1), deliver
// marked as junk (an X-Ehlo-Quarantine header says so), or only record it.
enum class DmarcAction { Reject, Quarantine, None };

struct Config {
    struct Server {
        std::string hostname;                 // empty = the system's host name
        std::vector<ListenAddress> listen{{"127.0.0.1", 2525}};
        unsigned threads = 0;                 // event loops; 0 = one per core
        // Started as root (to bind ports below 1024), ehlo runs as this account once its
        // listeners are bound; group empty = the user's own group.
        std::string user = "ehlo";
        std::string group;

        bool operator==(const Server&) const = default;
    } server;

    struct Limits {
        std::uint64_t message_size = 25u << 20;     // 552 5.3.4 beyond; advertised in SIZE
        std::size_t recipients = 1000;              // per message (RFC 5321 4.5.3.1.8: >= 100)
        std::size_t connections = 10000;            // in all; 421 4.7.0 beyond
        std::size_t connections_per_client = 50;    // per client IP address; 0 = no limit
        std::size_t connection_rate = 120;          // new connections per client and minute; 0 = no limit
        std::size_t message_rate = 300;             // MAIL commands per client and minute; 0 = no limit
        std::size_t recipient_rate = 1200;          // RCPT commands per client and minute; 0 = no limit
        double greeting_delay = 1.0;                // seconds before the 220; who speaks first gets 554
        std::size_t errors = 10;                    // bad commands before 421 4.7.0 and close
        std::size_t junk_commands = 100;            // RSET, NOOP, ... before each counts as an error; 0 = no limit
        unsigned command_timeout = 300;             // seconds (RFC 5321 4.5.3.2.7: >= 5 min)
        unsigned data_timeout = 600;                // seconds idle within message content
        unsigned data_total_timeout = 3600;         // seconds for a whole message's content
        std::size_t min_data_rate = 500;            // octets/s a message's content must average; 0 = none

        bool operator==(const Limits&) const = default;
    } limits;

    struct Spool {
        std::string path = "./var/spool";
        SyncMode sync = SyncMode::Syncfs;
        // Free space the spool's file system must keep: below it MAIL gets 452 4.3.1
        // (RFC 5321 4.5.3.1.10), so that acknowledged mail never competes for the last octets.
        std::uint64_t min_free = 64u << 20;  // octets; 0 = no reserve

        bool operator==(const Spool&) const = default;
    } spool;

    struct Relay {
        std::vector<std::string> trusted_networks{"127.0.0.1/32", "::1/128"};  // CIDR

        bool operator==(const Relay&) const = default;
    } relay;

    struct Smtp {
        bool vrfy = false;                    // false: VRFY answers 252 (RFC 5321 3.5.3)
        std::string recipient_delimiter = "+";  // alice+tag@ is alice@; empty = off
        bool dsn = true;                      // advertise DSN (RFC 3461)

        bool operator==(const Smtp&) const = default;
    } smtp;

    // The queue's onward life: retries, lifetime, bounces (seconds unless said otherwise).
    struct Delivery {
        unsigned retry_min = 60;              // first wait after a temporary failure
        unsigned retry_max = 3600;            // the wait doubles up to this (RFC 5321 4.5.4.1)
        unsigned lifetime = 432000;           // then the recipient fails with 4.4.7 (5 days)
        unsigned delay_warning = 0;           // a "delayed" DSN after this long; 0 = none
        std::size_t max_received = 100;       // more Received: fields is a loop (RFC 5321 6.3: at least 100)
        std::string null_sender_failures_to = "postmaster";  // see failure_notice_address()
        // Held in memory by the delivery thread at once; the rest wait on disk (the bound on
        // the queue's memory, whatever the backlog).
        std::size_t active_messages = 10000;
        std::size_t active_recipients = 50000;

        bool operator==(const Delivery&) const = default;
    } delivery;

    // SMTP client side: connections to other servers.
    struct Outbound {
        std::string helo_name;                        // EHLO name; empty = server.hostname
        std::size_t connections = 100;                // open at once, in all
        std::size_t connections_per_destination = 10;
        std::size_t messages_per_connection = 100;
        unsigned connect_timeout = 30;                // seconds
        double timeout_scale = 1.0;                   // multiplies the RFC 5321 4.5.3.2 timeouts (tests)
        // STARTTLS to other servers (RFC 3207): the policy of every destination, unless
        // tls_policy (by recipient domain) or its [[route]] names another.
        delivery::TlsPolicy tls = delivery::TlsPolicy::May;
        std::string tls_ca_file{};                    // PEM CAs for `verify`; empty = the system's store
        std::map<std::string, delivery::TlsPolicy> tls_policy{};  // lower-case domain -> policy

        bool operator==(const Outbound&) const = default;
    } outbound;

    struct Dns {
        std::vector<std::string> forwarders;  // "IP" or "IP@port"; empty = /etc/resolv.conf
        unsigned timeout = 10;                // seconds for a whole lookup
        bool dnssec = false;                  // validate answers
        // Each SMTP client's name, by PTR confirmed by A/AAAA, before its greeting.
        bool client_names = true;
        // The reverse of 127.0.0.0/8 beyond 127.0.0.1 asked of the forwarders rather than
        // answered "no name" by libunbound itself (RFC 6303 4.2).
        bool forward_loopback_reverse = false;

        bool operator==(const Dns&) const = default;
    } dns;

    std::vector<OutboundRoute> routes;  // [[route]]: exact domains first, then "*"

    std::vector<Listener> listeners;  // [[listener]]; server.listen adds smtp ones

    // Inbound TLS (RFC 3207, RFC 8314): certificates, chosen by SNI; none = no STARTTLS.
    struct Tls {
        struct Certificate {
            std::string chain;  // PEM: certificate, then intermediates
            std::string key;    // PEM private key

            bool operator==(const Certificate&) const = default;
        };
        std::vector<Certificate> certificates;  // the first is the default
        unsigned handshake_timeout = 30;        // seconds

        bool operator==(const Tls&) const = default;
    } tls;

    // Authenticated submission (RFC 4954): who may log in, and how guessing is slowed.
    struct Auth {
        std::string users_file;           // NAME:HASH[:SENDERS] lines; empty = no AUTH
        bool plaintext_loopback = false;  // offer AUTH without TLS to loopback clients (tests)
        bool bind_sender = true;          // a user without SENDERS may send only as its own name
        std::size_t max_failures = 5;     // per client address or user, then 421 4.7.0
        unsigned lockout = 300;           // seconds
        unsigned failure_delay = 1;       // seconds added to the answer per failure so far
        unsigned threads = 2;             // password hashing threads

        bool operator==(const Auth&) const = default;
    } auth;

    struct Control {
        std::string socket;  // empty = <spool.path>/control.sock
        std::string group;   // may use the socket besides its owner; empty = the owner only

        bool operator==(const Control&) const = default;
    } control;

    // Local submission (`ehlo sendmail`, src/queue/maildrop.hpp): the maildrop folder every
    // local user may write into, and the pickup socket sendmail tells the daemon on.
    struct Sendmail {
        bool enabled = true;
        std::string maildrop;  // empty = "maildrop" beside the spool directory
        std::string socket;    // empty = "public/pickup.sock" beside the spool directory

        bool operator==(const Sendmail&) const = default;
    } sendmail;

    // Message authentication (src/msgauth): SPF, DKIM, ARC and DMARC of mail from outside, and
    // the Authentication-Results field that reports them (docs/msgauth.md).
    struct Msgauth {
        // Checks mail from clients outside [relay] trusted_networks that did not authenticate.
        bool verify = true;
        std::string authserv_id;  // RFC 8601 2.5; empty = server.hostname
        // What a DMARC failure under p=reject, and under p=quarantine, does to the message.
        DmarcAction dmarc_reject = DmarcAction::Reject;
        DmarcAction dmarc_quarantine = DmarcAction::Quarantine;
        bool spf_reject = false;      // spf_fail = "reject": 550 5.7.23 rather than left to DMARC
        bool dns_defer = false;       // dns_failure = "defer": 451 4.7.24 or 4.7.5; "accept" marks and accepts
        unsigned max_signatures = 5;  // DKIM signatures checked per message
        unsigned threads = 2;         // where the DNS answers and public-key work run
        // [[msgauth.sign]]: DKIM keys for mail from our own networks and authenticated users
        // whose From domain is `domain` (RFC 6376 5; two keys of one domain sign side by side,
        // RFC 8463 5: rsa-sha256 and ed25519-sha256).
        struct SigningKey {
            std::string domain;    // lower case
            std::string selector;  // s=
            std::string key_file;  // PEM private key (ehlo dkim keygen), read at start as root

            bool operator==(const SigningKey&) const = default;
        };
        std::vector<SigningKey> sign{};
        // ARC (RFC 8617): checked mail that an alias forwards to another domain is sealed with
        // this domain's first [[msgauth.sign]] key; empty = no sealing.
        std::string arc_domain{};

        bool operator==(const Msgauth&) const = default;
    } msgauth;

    // The web console's HTTP listener: /metrics (Prometheus) and the console's pages and API.
    struct Console {
        bool enabled = true;
        // Loopback only, unless `tls`: then HTTPS with the [tls] certificates and a login on
        // every request (a user of [auth] users_file, or the token of `token_file`).
        bool tls = false;
        std::string token_file{};  // one secret line of at least 32 characters; empty = none
        ListenAddress listen{"127.0.0.1", 8025};

        bool operator==(const Console&) const = default;
    } console;

    // The history of every message, for `ehlo trace` and the console; advisory: mail flows
    // whether or not it can be written.
    struct History {
        bool enabled = true;
        std::string path;                     // empty = history.db in the spool directory
        unsigned retention = 7;               // days after a message's last event
        HistoryTranscripts transcripts = HistoryTranscripts::Errors;

        bool operator==(const History&) const = default;
    } history;

    struct Log {
        std::string level = "info";           // debug, info, warn, error
        std::string file;                     // empty = standard error
        bool dialog = false;                  // every command and reply (never message content)

        bool operator==(const Log&) const = default;
    } log;

    // Alias files read for every local domain (a [[domain]]'s own is its alias_file).
    struct Aliases {
        std::vector<std::string> files;          // ehlo's format: "alias: target, target"
        std::vector<std::string> virtual_files;  // Postfix virtual(5): "address target, target"

        bool operator==(const Aliases&) const = default;
    } aliases;

    // Sender Rewriting Scheme for mail forwarded to other domains (policy/srs.hpp).
    struct Srs {
        std::string domain;                           // a local domain; empty = no rewriting
        std::string secret_file = "./var/srs.secret";  // created (0600) when missing
        unsigned max_age = 21;                        // days an SRS address stays valid
        unsigned hash_length = 4;                     // base64 characters of the HMAC

        bool operator==(const Srs&) const = default;
    } srs;

    std::vector<LocalDomain> domains{LocalDomain{"localhost", true, {}, "./var/mail", "postmaster"}};

    bool operator==(const Config&) const = default;
};

// A problem in a configuration file, with where it is.
struct ConfigError {
    std::string file;
    std::size_t line = 0;    // 1-based; 0 = not tied to a line
    std::size_t column = 0;
    std::string message;
    std::string str() const;  // "FILE:LINE:COLUMN: MESSAGE"
};

struct LoadResult {
    std::optional<Config> config;
    std::optional<ConfigError> error;
};

// Parse and validate a TOML file. Unknown keys are errors (a typo must not pass silently).
LoadResult load_file(const std::string& path);
LoadResult load_string(std::string_view toml, const std::string& name = "<string>");

// Where failures of mail from the null sender are reported: delivery.null_sender_failures_to
// as written when it names a domain, a bare mailbox name at the first [[domain]], or "" (only
// log them; also when there is no local domain).
std::string failure_notice_address(const Config& config);

// Every listener: server.listen as smtp ones, then the [[listener]] tables.
std::vector<Listener> all_listeners(const Config& config);

// Local submission: sendmail.maildrop or "maildrop" beside the spool; sendmail.socket or
// "public/pickup.sock" beside the spool.
std::filesystem::path maildrop_path(const Config& config);
std::filesystem::path pickup_socket_path(const Config& config);

// The control socket: control.socket, or control.sock in the spool directory.
std::filesystem::path control_socket_path(const Config& config);

// The history database: history.path, or history.db in the spool directory.
std::filesystem::path history_path(const Config& config);

}  // namespace ehlo::config
