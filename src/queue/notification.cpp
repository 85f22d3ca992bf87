#include "queue/notification.hpp"

#include <random>

#include "queue/outcome_text.hpp"
#include "smtp/received.hpp"

namespace ehlo::queue {
namespace {

std::string date_of(std::uint64_t unix_us) { return smtp::rfc5322_date(static_cast<std::int64_t>(unix_us / 1000000), 0); }

std::string mta_of(const ReportFacts& facts, std::size_t index) {
    return index < facts.remote_mta.size() ? facts.remote_mta[index] : std::string{};
}

// The remote MTA whose reply this is, and how the connection to it was protected.
void from_remote(delivery::DsnRecipient& r, const ReportFacts& facts, std::size_t index) {
    r.remote_mta = mta_of(facts, index);
    if (!r.remote_mta.empty()) r.tls = facts.recipients[index].tls;
}

delivery::DsnRecipient failed_entry(const ReportFacts& facts, std::uint32_t index) {
    const RecipientState& state = facts.recipients[index];
    delivery::DsnRecipient r;
    r.index = index;
    r.action = delivery::DsnAction::Failed;
    std::string_view text = state.text;
    if (text.starts_with(kExpiredPrefix)) {
        text.remove_prefix(kExpiredPrefix.size());
        r.status = delivery::kExpiredStatus;
    }
    r.diagnostic = parse_reply_text(text);
    if (r.diagnostic)
        from_remote(r, facts, index);
    else
        r.reason = std::string(text);
    if (state.attempts > 0) r.last_attempt_date = date_of(state.updated_us);
    return r;
}

delivery::DsnRecipient delivered_entry(const ReportFacts& facts, std::uint32_t index) {
    const RecipientState& state = facts.recipients[index];
    delivery::DsnRecipient r;
    r.index = index;
    r.status = "2.0.0";
    std::string_view text = state.text;
    if (text.starts_with(kRelayedPrefix)) {
        // Passed on to an MTA that may not report delivery itself (RFC 3461 4.1, 5.2).
        text.remove_prefix(kRelayedPrefix.size());
        r.action = delivery::DsnAction::Relayed;
        r.diagnostic = parse_reply_text(text);
        from_remote(r, facts, index);
    } else {
        r.action = delivery::DsnAction::Delivered;
    }
    r.last_attempt_date = date_of(state.updated_us);
    return r;
}

delivery::DsnRecipient delayed_entry(const ReportFacts& facts, std::uint32_t index, const NotificationOptions& options) {
    const RecipientState& state = facts.recipients[index];
    delivery::DsnRecipient r;
    r.index = index;
    r.action = delivery::DsnAction::Delayed;
    r.diagnostic = parse_reply_text(state.text);
    if (r.diagnostic) from_remote(r, facts, index);
    if (!r.diagnostic || r.diagnostic->code / 100 != 4) r.status = "4.0.0";
    if (state.attempts > 0) r.last_attempt_date = date_of(state.updated_us);
    const auto arrival = std::chrono::floor<std::chrono::seconds>(
        std::chrono::sys_time<std::chrono::microseconds>(std::chrono::microseconds(facts.header.arrival_us)));
    r.will_retry_until = smtp::rfc5322_date(
        static_cast<std::int64_t>(delivery::expires_at(options.retry, arrival).time_since_epoch().count()), 0);
    return r;
}

}  // namespace

bool final_report_owed(const smtp::Envelope& envelope, std::size_t index, const RecipientState& state, bool reported) {
    if (reported) return false;
    if (state.status == DeliveryStatus::Failed) return true;
    if (state.status == DeliveryStatus::Delivered && state.text.starts_with(kPassedOnPrefix)) return false;
    return state.status == DeliveryStatus::Delivered && delivery::should_bounce(envelope) &&
           delivery::notify_wants(envelope.recipients[index], delivery::DsnAction::Delivered);
}

bool delay_report_owed(const SpoolHeader& header, std::size_t index, const RecipientState& state,
                       bool delay_reported, const delivery::RetryPolicy& policy, delivery::TimePoint now) {
    if (state.status != DeliveryStatus::Deferred || delay_reported || !delivery::should_bounce(header.envelope) ||
        !delivery::notify_wants(header.envelope.recipients[index], delivery::DsnAction::Delayed))
        return false;
    const auto arrival = std::chrono::floor<std::chrono::seconds>(
        std::chrono::sys_time<std::chrono::microseconds>(std::chrono::microseconds(header.arrival_us)));
    return delivery::delay_warning_due(policy, arrival, now, false);
}

bool wants_whole_content(const ReportFacts& facts, const OwedReports& owed) {
    return !owed.failed.empty() && delivery::should_bounce(facts.header.envelope) &&
           facts.header.envelope.ret == smtp::DsnRet::Full && facts.content_size <= delivery::kMaxReturnedContent;
}

std::optional<smtp::Mailbox> failure_notice_mailbox(std::string_view address) {
    if (address.empty()) return std::nullopt;
    const std::size_t at = address.rfind('@');
    if (at == std::string_view::npos) return smtp::Mailbox{std::string(address), ""};
    if (at == 0 || at + 1 == address.size()) return std::nullopt;
    return smtp::Mailbox{std::string(address.substr(0, at)), std::string(address.substr(at + 1))};
}

Notification build_notification(const ReportFacts& facts, const OwedReports& owed, std::string_view content,
                                bool whole, const NotificationOptions& options) {
    Notification out;
    delivery::DsnContext context;
    context.reporting_mta = options.hostname;
    context.arrival_date = date_of(facts.header.arrival_us);
    context.date = date_of(options.now_us);
    context.boundary = options.boundary;
    if (!options.report_id.empty()) context.message_id = "<" + options.report_id + "@" + options.hostname + ">";

    std::vector<delivery::DsnRecipient> entries;
    for (std::uint32_t i : owed.failed) entries.push_back(failed_entry(facts, i));

    smtp::Envelope envelope = facts.header.envelope;
    if (!whole) envelope.ret = smtp::DsnRet::Headers;  // `content` is the header section only

    if (!delivery::should_bounce(facts.header.envelope)) {
        // RFC 5321 4.5.5: nothing goes back to <>. Only failures are reported, to a mailbox
        // of ours, and never about a failure notice (that would be a notice about a notice).
        if (owed.failed.empty()) return out;
        const auto to = failure_notice_mailbox(options.null_sender_failures_to);
        if (facts.header.reception.session_id == kFailureNoticeSession) {
            out.suppressed = "failure notice undeliverable";
        } else if (!to) {
            out.suppressed = "null sender";
        } else {
            envelope.sender = *to;
            envelope.ret = smtp::DsnRet::Headers;
            for (auto& rcpt : envelope.recipients) rcpt.notify = 0;  // the notice is about all failures
            out.dsn = delivery::build_dsn(envelope, content, entries, context);
            out.failure_notice = out.dsn.has_value();
        }
        return out;
    }

    for (std::uint32_t i : owed.delivered) entries.push_back(delivered_entry(facts, i));
    for (std::uint32_t i : owed.delayed) entries.push_back(delayed_entry(facts, i, options));
    out.dsn = delivery::build_dsn(envelope, content, entries, context);
    if (!out.dsn && !owed.failed.empty()) out.suppressed = "NOTIFY=NEVER";
    return out;
}

std::string random_boundary() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string b;
    for (int i = 0; i < 2; ++i) {
        std::uint64_t v = rng();
        for (int k = 0; k < 16; ++k, v >>= 4) b += kHex[v & 0xf];
    }
    return b;
}

}  // namespace ehlo::queue
