// What the sender is told about their message: one DSN (RFC 3464) per message and delivery
// pass, listing every recipient whose outcome is due to be reported: failed ones (a bounce),
// delivered ones whose NOTIFY asked for SUCCESS (RFC 3461 4.1), and delayed ones once
// delay_warning has passed. Built with delivery::build_dsn, which honours RET, ENVID, ORCPT and
// NOTIFY; queued like any other message by the caller.
//
// A message from the null reverse-path is never answered (RFC 5321 4.5.5). Its failures go to
// the configured failure notice address instead, as a report from <> (so a failure of the
// notice itself is only logged: nothing ever bounces in a circle).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/dsn.hpp"
#include "delivery/retry.hpp"
#include "queue/recipient_state.hpp"
#include "queue/spool_file.hpp"

namespace ehlo::queue {

// The session names of the messages the queue makes itself (kept in their Reception record,
// so that they are still recognised after a restart).
inline constexpr std::string_view kDsnSession = "dsn";
inline constexpr std::string_view kFailureNoticeSession = "failure-notice";

// What the queue knows of a message when it reports on it (a copy: the delivery thread
// builds the report without holding the queue's lock).
struct ReportFacts {
    SpoolHeader header;
    std::uint64_t content_size = 0;
    std::vector<RecipientState> recipients;
    std::vector<std::string> remote_mta;  // per recipient, when known
};

// The recipients owed a report now, by kind.
struct OwedReports {
    std::vector<std::uint32_t> failed, delivered, delayed;
    bool empty() const { return failed.empty() && delivered.empty() && delayed.empty(); }
};

// A final outcome not yet reported that needs a report, or a decision not to send one: every
// failure (even one whose NOTIFY says NEVER: the decision is recorded too), and a delivery
// whose NOTIFY asked for SUCCESS.
bool final_report_owed(const smtp::Envelope& envelope, std::size_t index, const RecipientState& state, bool reported);

// A deferred recipient owed a "delayed" DSN: configured, due (delivery::delay_warning_due),
// not sent yet, a sender to send it to, and NOTIFY asks for it (by default it does).
bool delay_report_owed(const SpoolHeader& header, std::size_t index, const RecipientState& state,
                       bool delay_reported, const delivery::RetryPolicy& policy, delivery::TimePoint now);

struct NotificationOptions {
    std::string hostname;                 // Reporting-MTA, MAILER-DAEMON@<it>
    std::string null_sender_failures_to;  // see QueueOptions; empty: only log
    delivery::RetryPolicy retry;          // for Will-Retry-Until
    std::uint64_t now_us = 0;
    std::string report_id;                // the queue id the DSN will have (its Message-ID)
    std::string boundary;                 // MIME boundary; random_boundary() in production
};

struct Notification {
    std::optional<delivery::Dsn> dsn;  // the message to queue; none when nothing is to be sent
    bool failure_notice = false;       // it goes to null_sender_failures_to, not to the sender
    std::string suppressed;            // failures reported to nobody, and why (for the log)
};

// The report for `owed`. `content` is the whole message when `whole` (asked for by RET=FULL
// when something failed, see wants_whole_content), else its header section.
Notification build_notification(const ReportFacts& facts, const OwedReports& owed, std::string_view content,
                                bool whole, const NotificationOptions& options);

// Whether build_notification wants the whole content: RET=FULL, a failure to report, and a
// message no larger than delivery::kMaxReturnedContent.
bool wants_whole_content(const ReportFacts& facts, const OwedReports& owed);

// The failure notice address as a mailbox: "local@domain", or a bare "postmaster".
std::optional<smtp::Mailbox> failure_notice_mailbox(std::string_view address);

// 32 random hexadecimal digits.
std::string random_boundary();

}  // namespace ehlo::queue
