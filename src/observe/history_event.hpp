// One event in the life of a message (or of the session it came in by), as the history keeps
// it: a plain value that any thread can fill in and hand to History::record().
//
// Which fields an event of each kind carries (every other field stays empty or 0):
//
//   kind          fields
//   Connect       session_id, remote_address, remote_host (the client's name confirmed by
//                 forward DNS, [dns] client_names), detail (no name: why, "no PTR", ...);
//                 recorded once the name is known, before the greeting
//   Helo          session_id, helo, reply
//   Tls           session_id (inbound) or queue_id+recipient (outbound), tls
//   Auth          session_id, reply (the verdict), auth_user (when it is a success)
//   MailFrom      session_id, sender, reply (accepted or not), detail (the ESMTP parameters)
//   RcptTo        session_id, recipient, reply
//   DataRefused   session_id, reply (DATA/BDAT/end of data refused: no message was queued),
//                 sender (the envelope's: finds the refusal by address)
//   SessionEnd    session_id, detail (why it ended), transcript (Transcript::finish())
//   Queued        queue_id, session_id (empty if not from SMTP: a DSN), sender, recipients,
//                 size, reply (the "250 ... queued as" sent), message_id, header_from,
//                 header_to, subject
//   Routed        queue_id, recipient, next_hop ("mailbox /var/mail/alice", "mx example.net",
//                 "route smarthost.example:587"), at each pass that tries it
//   Attempt       queue_id, recipient, next_hop, remote_host (the MX host), remote_address,
//                 tls, reply (the peer's reply, verbatim, one line per line), duration_us;
//                 only an attempt that reached a peer (else the Deferred says why)
//   Deferred      queue_id, recipient, reply (or detail, for a local error), next_attempt_us,
//                 remote_host (who said it, if a peer did)
//   Delivered     queue_id, recipient, mailbox (the Maildir file) or reply (the peer's
//                 "250 ... queued as ...") with remote_host
//   Bounced       queue_id, recipient, reply (or detail), dsn_id (the DSN's queue id; empty
//                 when none is sent), remote_host; recorded once the DSN is queued, with the
//                 time the recipient failed
//   DelayNotified queue_id, recipient, dsn_id (a "delayed" DSN, RFC 3464 2.3.3)
//   Held, Released, Deleted, Flushed
//                 queue_id, detail (who asked: "control socket", "console")
//
// The SMTP events before DATA have no queue id yet; the history links the MAIL and RCPT
// events of a session's last transaction to the message when its Queued event arrives.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ehlo::observe {

enum class EventKind : std::uint8_t {
    Connect,
    Helo,
    Tls,
    Auth,
    MailFrom,
    RcptTo,
    DataRefused,
    SessionEnd,
    Queued,
    Routed,
    Attempt,
    Deferred,
    Delivered,
    Bounced,
    DelayNotified,
    Held,
    Released,
    Deleted,
    Flushed,
    Verified,  // message authentication at reception: SPF, DKIM, ARC, DMARC (detail: the verdicts)
};

// The word stored in the database and shown by `ehlo trace --json`: "connect", "mail", ...
std::string_view to_string(EventKind kind);
std::optional<EventKind> event_kind_from_string(std::string_view word);

struct Event {
    std::int64_t time_us = 0;  // unix time, microseconds; 0 = when record() is called
    EventKind kind = EventKind::Connect;
    std::string queue_id;
    std::string session_id;
    std::string recipient;                // the recipient it concerns; empty = the whole message
    std::vector<std::string> recipients;  // Queued: every recipient of the envelope
    std::string sender;                   // reverse-path without brackets; empty = <>
    std::string reply;                    // the reply that decided it, verbatim; lines joined by '\n'
    std::string remote_host;              // the client's or the peer's host name
    std::string remote_address;           // the client's or the peer's IP address
    std::string helo;
    std::string tls;                      // e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384"
    std::string auth_user;
    std::uint64_t size = 0;               // Queued: octets
    std::string next_hop;
    std::int64_t duration_us = 0;         // Attempt
    std::int64_t next_attempt_us = 0;     // Deferred: unix time, microseconds
    std::string mailbox;                  // Delivered locally: the file
    std::string dsn_id;                   // Bounced, DelayNotified
    std::string message_id;               // Queued: the header fields, for search
    std::string header_from;
    std::string header_to;
    std::string subject;
    std::string detail;                   // anything else worth a word
    std::string transcript;               // SessionEnd: commands and replies, if kept
    std::string dmarc;                    // Verified: a DMARC aggregate report row (msgauth/dmarc_report.hpp)
};

// The reply code at the start of `reply` (200..599), or 0 if it does not start with one.
int reply_code(std::string_view reply);

}  // namespace ehlo::observe
