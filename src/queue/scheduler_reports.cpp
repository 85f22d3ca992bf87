// Reports on the delivery scheduler: when a message's pass is over, what its sender is owed
// (notification.hpp) is queued as a message of its own, recorded as a message event once
// durable; then the message is unlinked, or waits for its next attempt.
#include <algorithm>

#include "delivery/file_io.hpp"
#include "observe/log.hpp"
#include "queue/message_content.hpp"
#include "queue/message_event.hpp"
#include "queue/scheduler_pass.hpp"

namespace ehlo::queue {
namespace {

// A DSN quotes the header section of the message (RFC 3462 / 6522 3); beyond this it is cut.
constexpr std::size_t kMaxReportedHeaders = 1u << 20;

}  // namespace

void DeliveryScheduler::settle(const std::shared_ptr<QueuedMessage>& message) {
    const std::uint64_t now = now_us();
    ReportFacts facts;
    OwedReports owed;
    bool finished = false;
    std::optional<std::uint64_t> aside;  // set aside on disk, due then
    {
        std::lock_guard lock(core_->mutex);
        if (!registered(*message) || message->jobs_in_flight > 0 || message->reporting) return;
        const smtp::Envelope& envelope = message->header.envelope;
        bool all_final = true;
        std::optional<std::uint64_t> next;
        auto wake_at = [&next](std::uint64_t t) { next = next ? std::min(*next, t) : t; };
        for (std::size_t i = 0; i < message->recipients.size(); ++i) {
            const RecipientState& state = message->recipients[i];
            const auto index = static_cast<std::uint32_t>(i);
            all_final = all_final && state.final();
            if (final_report_owed(envelope, i, state, message->reported[i]))
                (state.status == DeliveryStatus::Failed ? owed.failed : owed.delivered).push_back(index);
            else if (delay_report_owed(message->header, i, state, message->delay_reported[i], retry_, time_point_of(now)))
                owed.delayed.push_back(index);
            if (state.status == DeliveryStatus::Deferred && !message->busy[i]) wake_at(state.next_attempt_us);
        }
        if (!owed.empty() && now < message->report_not_before_us) {
            wake_at(message->report_not_before_us);  // the last try to queue a report failed
            owed = {};
            all_final = false;
        }
        if (!owed.empty()) {
            message->reporting = true;
            facts.header = message->header;
            facts.content_size = message->content_size;
            facts.recipients = message->recipients;
            facts.remote_mta = message->remote_mta;
        } else if (all_final) {
            leave(*message);
            finished = true;
        } else if (next) {
            // A long wait, or others waiting on disk for the room: it waits on disk itself.
            if (*next > now + kInMemoryWaitUs || disk_backlog_)
                aside = *next;
            else
                schedule(message, *next);
        }
    }
    if (aside) {
        set_aside(message, *aside);
    } else if (!owed.empty()) {
        send_report(message, facts, owed);
    } else if (finished) {
        // Every recipient is done and reported: the message leaves the queue. Should this
        // unlink be lost in a crash, recovery finds them done (or their Maildir files).
        unlink(*message);
    }
}

void DeliveryScheduler::send_report(const std::shared_ptr<QueuedMessage>& message, const ReportFacts& facts,
                                    const OwedReports& owed) {
    const std::uint64_t now = now_us();
    const bool whole = wants_whole_content(facts, owed);
    std::string content;
    std::error_code ec = whole ? read_spool_text(message->path, content)
                               : read_spool_header_section(message->path, content, kMaxReportedHeaders);
    if (ec) {
        report_failed(message, delivery::describe("cannot read", message->path, ec));
        return;
    }
    NotificationOptions options;
    options.hostname = hostname_;
    options.null_sender_failures_to = null_sender_failures_to_;
    options.retry = retry_;
    options.now_us = now;
    options.report_id = injector_.new_id(now);
    options.boundary = random_boundary();
    Notification notification = build_notification(facts, owed, content, whole, options);

    if (!notification.dsn) {
        // Nothing to send (NOTIFY=NEVER, or a failure of mail from <> with nobody to tell):
        // the decision is recorded like a report, so that it is made once.
        if (!notification.suppressed.empty())
            observe::info("bounce-suppressed", {{"id", facts.header.id},
                                                {"from", reverse_path_text(facts.header.envelope)},
                                                {"failed", owed.failed.size()},
                                                {"reason", notification.suppressed}});
        SchedulerEvent event;
        event.kind = SchedulerEvent::Kind::ReportQueued;
        event.message = message;
        event.committed = true;
        event.reported = owed;
        on_report_queued(event);
        return;
    }

    SpoolHeader header;
    header.id = options.report_id;
    header.arrival_us = now;
    header.envelope = notification.dsn->envelope;
    header.reception.session_id = notification.failure_notice ? kFailureNoticeSession : kDsnSession;
    header.reception.helo = hostname_;
    std::string to = header.envelope.recipients.front().address.str();
    injector_.commit(std::move(header), std::move(notification.dsn->content),
                     [core = core_, run = run_, message, owed, id = options.report_id, to](bool ok) {
                         SchedulerEvent event;
                         event.kind = SchedulerEvent::Kind::ReportQueued;
                         event.message = message;
                         event.committed = ok;
                         event.reported = owed;
                         event.report_id = id;
                         event.report_to = to;
                         core->post(run, std::move(event));
                     });
}

void DeliveryScheduler::report_failed(const std::shared_ptr<QueuedMessage>& message, const std::string& error) {
    observe::error("report-error", {{"id", message->header.id}, {"error", error}});
    {
        std::lock_guard lock(core_->mutex);
        message->reporting = false;
        message->report_not_before_us = now_us() + microseconds_of(retry_delay_);
    }
    settle(message);
}

void DeliveryScheduler::on_report_queued(SchedulerEvent& event) {
    const std::shared_ptr<QueuedMessage>& message = event.message;
    if (!event.committed) {
        report_failed(message, "the report could not be queued");
        return;
    }
    const OwedReports& reported = event.reported;
    std::vector<std::uint32_t> final_outcomes = reported.failed;
    final_outcomes.insert(final_outcomes.end(), reported.delivered.begin(), reported.delivered.end());
    std::sort(final_outcomes.begin(), final_outcomes.end());
    const std::uint64_t now = now_us();
    std::string records;
    if (!final_outcomes.empty())
        records += encode_message_event({MessageEventKind::Reported, now, final_outcomes, event.report_id});
    if (!reported.delayed.empty())
        records += encode_message_event({MessageEventKind::DelayReported, now, reported.delayed, event.report_id});
    append(*message, records);
    {
        std::lock_guard lock(core_->mutex);
        message->reporting = false;
        for (std::uint32_t i : final_outcomes) message->reported[i] = true;
        for (std::uint32_t i : reported.delayed) message->delay_reported[i] = true;
    }
    record_reported(*message, reported, event.report_id);
    if (!event.report_id.empty()) {
        counters_.reports.fetch_add(1, std::memory_order_relaxed);
        if (!reported.failed.empty())
            observe::info("bounced", {{"id", message->header.id}, {"dsn_id", event.report_id}, {"to", event.report_to},
                                      {"failed", reported.failed.size()}});
        else
            observe::info("dsn-queued", {{"id", message->header.id}, {"dsn_id", event.report_id}, {"to", event.report_to},
                                         {"delivered", reported.delivered.size()}, {"delayed", reported.delayed.size()}});
    }
    settle(message);
}

}  // namespace ehlo::queue
