// The delivery scheduler's part of a message's history (ehlo trace): each routing decision,
// each attempt's outcome, each failure once its sender has been told, with the DSN's queue
// id, and each message a flush made due. The attempts themselves are recorded where their outcome is applied (apply()).
// History::record() only queues: nothing here waits.
#include "observe/history.hpp"
#include "queue/scheduler_pass.hpp"

namespace ehlo::queue {

void DeliveryScheduler::record_routed(const QueueId& id, const std::string& recipient, std::string next_hop) const {
    if (!counters_.history) return;
    observe::Event event;
    event.kind = observe::EventKind::Routed;
    event.queue_id = id;
    event.recipient = recipient;
    event.next_hop = std::move(next_hop);
    counters_.history->record(std::move(event));
}

// A failure for good is not recorded here but by record_reported(), once the DSN that tells
// its sender is queued, so that the event names that DSN.
void DeliveryScheduler::record_outcome(const QueueId& id, const std::string& recipient, const RecipientState& state,
                                       const Result& result) const {
    if (!counters_.history) return;
    observe::Event event;
    event.time_us = static_cast<std::int64_t>(state.updated_us);
    event.queue_id = id;
    event.recipient = recipient;
    const bool local = result.peer == "maildir";
    if (!local) event.remote_host = result.peer;
    const std::string& peer_reply = result.reply.empty() ? result.text : result.reply;
    if (state.status == DeliveryStatus::Delivered) {
        event.kind = observe::EventKind::Delivered;
        if (local)
            event.mailbox = result.text;
        else
            event.reply = peer_reply;  // the peer's "queued as"
    } else if (state.status == DeliveryStatus::Deferred) {
        event.kind = observe::EventKind::Deferred;
        if (result.from_peer)
            event.reply = peer_reply;
        else
            event.detail = result.text;
        event.next_attempt_us = static_cast<std::int64_t>(state.next_attempt_us);
    } else {
        return;
    }
    counters_.history->record(std::move(event));
}

void DeliveryScheduler::record_reported(const QueuedMessage& message, const OwedReports& reported,
                                        const std::string& dsn_id) const {
    if (!counters_.history) return;
    const auto& recipients = message.header.envelope.recipients;
    for (std::uint32_t i : reported.failed) {
        if (i >= recipients.size() || i >= message.recipients.size()) continue;
        const RecipientState& state = message.recipients[i];
        observe::Event event;
        event.kind = observe::EventKind::Bounced;
        event.time_us = static_cast<std::int64_t>(state.updated_us);  // when it failed
        event.queue_id = message.header.id;
        event.recipient = recipients[i].address.str();
        (state.from_peer ? event.reply : event.detail) = state.text;
        if (state.from_peer) event.remote_host = state.peer;
        event.dsn_id = dsn_id;  // empty: no DSN was sent (NOTIFY=NEVER, nobody to tell)
        counters_.history->record(std::move(event));
    }
    if (dsn_id.empty()) return;
    for (std::uint32_t i : reported.delayed) {
        if (i >= recipients.size()) continue;
        observe::Event event;
        event.kind = observe::EventKind::DelayNotified;
        event.queue_id = message.header.id;
        event.recipient = recipients[i].address.str();
        event.dsn_id = dsn_id;
        counters_.history->record(std::move(event));
    }
}

// By id, by domain or all at once: each message it made due has it in its timeline.
void DeliveryScheduler::record_flushed(const std::vector<QueueId>& ids) const {
    if (!counters_.history) return;
    for (const QueueId& id : ids) {
        observe::Event event;
        event.kind = observe::EventKind::Flushed;
        event.queue_id = id;
        event.detail = "queue control";
        counters_.history->record(std::move(event));
    }
}

}  // namespace ehlo::queue
