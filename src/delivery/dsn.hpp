// Delivery status notifications (RFC 3464): the message that tells a sender what became of
// their mail, as a multipart/report (RFC 6522) with report-type=delivery-status.
//
// Built from facts the caller supplies (the envelope, the content, one line of outcome per
// recipient, dates, a MIME boundary), so the same input always gives the same bytes.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/envelope.hpp"
#include "smtp/reply.hpp"

namespace ehlo::delivery {

// RFC 3464 2.3.3.
enum class DsnAction { Failed, Delayed, Delivered, Relayed, Expanded };

// How a connection in plaintext is described (DsnRecipient::tls, the recipient's state record).
inline constexpr std::string_view kNoTls = "no TLS";

struct DsnRecipient {
    std::size_t index = 0;  // into Envelope::recipients
    DsnAction action = DsnAction::Failed;
    std::string status;                     // RFC 3463 "5.1.1"; empty: status_of(*diagnostic)
    std::string remote_mta;                 // the host whose reply decided it; empty when ours
    std::optional<smtp::Reply> diagnostic;  // that reply (Diagnostic-Code: smtp; ...)
    // How the connection to remote_mta was protected (kNoTls, "TLSv1.3 with cipher ...,
    // verified"); empty: unknown. Told in the part people read: Diagnostic-Code is the reply alone.
    std::string tls{};
    // Without a reply: our own words for why ("returned to the sender by the postmaster", a
    // local error), for the part people read; no Diagnostic-Code pretends it was SMTP's.
    std::string reason;
    std::string last_attempt_date;          // RFC 5322 date-time; empty: left out
    std::string will_retry_until;           // for Delayed; empty: left out
};

struct DsnContext {
    std::string reporting_mta;  // our host name: Reporting-MTA, MAILER-DAEMON@<it>
    std::string arrival_date;   // RFC 5322 date-time the message arrived; empty: left out
    std::string date;           // RFC 5322 date-time for the Date header
    std::string boundary;       // MIME boundary: random in production (at most 60 characters)
    std::string message_id;     // "<id@host>" for Message-ID; empty: left out
};

struct Dsn {
    smtp::Envelope envelope;  // null reverse-path (RFC 5321 4.5.5), the original sender as recipient
    std::string content;      // the whole message, CRLF line endings
};

// Returned content is capped: a "failed" DSN carries the whole message only when RET=FULL asked
// for it (RFC 3461 4.3) and it is no larger than this; otherwise its header section.
inline constexpr std::size_t kMaxReturnedContent = 10u << 20;

// RFC 5321 4.5.5: no notification goes to the null reverse-path; that is what
// keeps two servers from bouncing bounces at each other forever.
bool should_bounce(const smtp::Envelope& envelope);

// Whether the recipient's NOTIFY (RFC 3461 4.1) asks for a DSN with this action. NEVER: none;
// SUCCESS: delivered, relayed, expanded; FAILURE: failed; DELAY: delayed. Without NOTIFY the
// default is FAILURE,DELAY (4.1 leaves DELAY to the MTA's choice).
bool notify_wants(const smtp::Recipient& recipient, DsnAction action);

// The RFC 3463 status a reply stands for: its enhanced code, else "2.0.0", "4.0.0" or "5.0.0"
// by its class.
std::string status_of(const smtp::Reply& reply);

// The DSN for `recipients` (outcomes of recipients of `envelope`, whose content is `content`),
// or nothing when none is to be sent: a null sender, or no recipient whose NOTIFY asks for one.
// The returned part is the whole message (message/rfc822) for RET=FULL when a recipient failed,
// else the header section (text/rfc822-headers): RFC 3461 4.3 wants no full copy in DSNs that
// report no failure, and without RET the choice is ours; headers suffice to recognise the
// message. When the sender or a recipient needs SMTPUTF8, the RFC 6533 types are used
// (message/global-delivery-status, utf-8 address type) and the DSN needs SMTPUTF8 itself.
// Throws std::out_of_range for a recipient index outside the envelope (a caller's mistake).
std::optional<Dsn> build_dsn(const smtp::Envelope& envelope, std::string_view content,
                             const std::vector<DsnRecipient>& recipients, const DsnContext& context);

}  // namespace ehlo::delivery
