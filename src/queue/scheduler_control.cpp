// Queue control on the delivery scheduler: list, show, flush, hold, release, remove. Called
// from any thread. A message in the active set is read and changed under the scheduler's lock
// (its spool file only appended to or unlinked under its file lock); one on disk is read from
// its file, and changed by the delivery thread (scheduler_disk.cpp).
#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "delivery/file_io.hpp"
#include "observe/log.hpp"
#include "queue/delivery_scheduler.hpp"
#include "queue/message_content.hpp"
#include "queue/message_event.hpp"
#include "queue/outcome_text.hpp"
#include "queue/queue_id.hpp"
#include "queue/queue_listing.hpp"
#include "queue/scheduler_pass.hpp"
#include "smtp/text.hpp"

namespace ehlo::queue {

std::shared_ptr<QueuedMessage> DeliveryScheduler::find(const QueueId& id) const {
    auto it = messages_.find(id);
    return it == messages_.end() ? nullptr : it->second;
}

std::vector<MessageSummary> DeliveryScheduler::list() const {
    std::vector<MessageSummary> out;
    std::set<std::string> in_memory;
    {
        std::lock_guard lock(core_->mutex);
        for (const auto& [id, message] : messages_) {
            out.push_back(summarize(message->header, message->content_size, message->recipients, message->held));
            in_memory.insert(id);
        }
    }
    // The rest from their files, read without the lock: a message that moves between memory
    // and disk meanwhile is shown once, as either side last saw it.
    try {
        std::vector<MessageSummary> on_disk = list_spool_files(queue_dir_.parent_path(), in_memory);
        out.insert(out.end(), std::make_move_iterator(on_disk.begin()), std::make_move_iterator(on_disk.end()));
    } catch (const std::system_error& e) {
        observe::error("queue-error", {{"error", e.what()}});
    }
    std::stable_sort(out.begin(), out.end(), [](const MessageSummary& a, const MessageSummary& b) {
        return a.corrupt != b.corrupt ? b.corrupt : a.id < b.id;
    });
    return out;
}

std::optional<MessageDetail> DeliveryScheduler::show(const QueueId& id) const {
    MessageDetail detail;
    std::shared_ptr<const std::string> content;
    std::filesystem::path path;
    {
        std::lock_guard lock(core_->mutex);
        auto message = find(id);
        if (!message) {
            return show_on_disk(id);
        }
        detail.summary = summarize(message->header, message->content_size, message->recipients, message->held);
        for (const AttemptRecord& attempt : message->attempts)
            detail.attempts.push_back(describe_attempt(attempt, message->header.envelope));
        content = message->content;
        path = message->path;
    }
    if (content) {
        const std::string_view headers = smtp::header_section(*content);
        detail.headers = std::string(headers.substr(0, kMaxShownHeaders));
    } else if (read_spool_header_section(path, detail.headers, kMaxShownHeaders)) {
        detail.headers.clear();  // delivered and gone since: the summary is all there is
    }
    return detail;
}

std::size_t DeliveryScheduler::flush(const std::string& id_or_domain) {
    const std::uint64_t now = now_us();
    std::size_t count = 0;
    std::string id, domain;
    std::vector<QueueId> flushed;
    {
        std::lock_guard lock(core_->mutex);
        std::vector<std::shared_ptr<QueuedMessage>> chosen;
        if (id_or_domain.empty()) {
            for (const auto& [key, message] : messages_) chosen.push_back(message);
        } else if (auto message = find(id_or_domain)) {
            chosen.push_back(message);
            id = id_or_domain;
        } else if (is_valid_queue_id(id_or_domain)) {
            id = id_or_domain;
        } else {
            domain = smtp::lower(id_or_domain);
            for (const auto& [key, m] : messages_) chosen.push_back(m);
        }
        for (const auto& message : chosen) {
            if (message->held) continue;  // flush does not release
            bool any = false;
            for (std::size_t i = 0; i < message->recipients.size(); ++i) {
                RecipientState& state = message->recipients[i];
                if (state.status != DeliveryStatus::Deferred || message->busy[i]) continue;
                if (!domain.empty() && smtp::lower(message->header.envelope.recipients[i].address.domain) != domain) continue;
                // In memory only: the record on disk keeps the back-off, which is what a
                // restart should go by.
                state.next_attempt_us = std::min(state.next_attempt_us, now);
                ++count;
                any = true;
            }
            if (any) {
                make_ready(message);
                flushed.push_back(message->header.id);
            }
        }
    }
    record_flushed(flushed);
    // Those on disk: a Flushed record makes them due, and the thread takes them up.
    const bool in_memory_only = !id.empty() && count > 0;
    if (!in_memory_only) {
        auto on_disk = std::make_shared<std::size_t>(0);
        on_delivery_thread([this, on_disk, id, domain, now] { *on_disk = flush_on_disk(id, domain, now); });
        count += *on_disk;
    }
    core_->wake.notify_one();
    observe::info("flush", {{"target", id_or_domain.empty() ? "all" : id_or_domain}, {"recipients", count}});
    return count;
}

// Hold, release and remove run on the delivery thread, which alone takes messages up and sets
// them aside: the message stays where it was found (in memory or on disk) for the whole change.
bool DeliveryScheduler::set_held(const QueueId& id, bool held) {
    auto done = std::make_shared<bool>(false);
    const bool ran = on_delivery_thread([this, done, id, held] { *done = set_held_here(id, held); });
    return ran && *done;
}

// The message by id, in memory; or null when it is on disk only. A message in its hand-over
// from the spool writer (committed, not yet known here) is waited for, briefly: its file must
// not be changed behind the hand-over.
std::shared_ptr<QueuedMessage> DeliveryScheduler::find_settled(const QueueId& id) const {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    for (;;) {
        {
            std::lock_guard lock(core_->mutex);
            if (auto message = find(id)) return message;
        }
        if (!injector_.receiving || !injector_.receiving(id) || std::chrono::steady_clock::now() >= until) return nullptr;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

bool DeliveryScheduler::set_held_here(const QueueId& id, bool held) {
    std::shared_ptr<QueuedMessage> message = find_settled(id);
    if (!message) return set_held_on_disk(id, held);
    // The file lock first, so that the records of two calls land in the order they changed
    // the state.
    std::lock_guard file_lock(message->file_mutex);
    {
        std::lock_guard lock(core_->mutex);
        if (!registered(*message)) return false;
        if (message->held == held) return true;
        message->held = held;
        make_ready(message);  // released: delivered; held: set aside on disk
    }
    core_->wake.notify_one();
    observe::info(held ? "hold" : "release", {{"id", id}});
    MessageEvent event;
    event.kind = held ? MessageEventKind::Held : MessageEventKind::Released;
    event.time_us = now_us();
    // Without the record the state lasts until the message leaves memory; append_locked logs
    // why and writes it with the next records.
    append_locked(*message, encode_message_event(event));
    return true;
}

bool DeliveryScheduler::hold(const QueueId& id) { return set_held(id, true); }

bool DeliveryScheduler::release(const QueueId& id) { return set_held(id, false); }

bool DeliveryScheduler::remove(const QueueId& id) {
    auto done = std::make_shared<bool>(false);
    const bool ran = on_delivery_thread([this, done, id] { *done = remove_here(id); });
    return ran && *done;
}

bool DeliveryScheduler::remove_here(const QueueId& id) {
    std::shared_ptr<QueuedMessage> message = find_settled(id);
    if (!message) return remove_on_disk(id);
    std::lock_guard file_lock(message->file_mutex);
    if (message->removed) return false;  // left the queue by itself meanwhile
    if (auto ec = delivery::remove_file(message->path)) {
        observe::error("queue-error", {{"id", id}, {"error", delivery::describe("cannot remove", message->path, ec)}});
        return false;
    }
    message->removed = true;
    {
        // Out of the registry: timers skip it, outcomes still to come are dropped.
        std::lock_guard lock(core_->mutex);
        leave(*message);
    }
    observe::info("removed", {{"id", id},
                              {"from", reverse_path_text(message->header.envelope)},
                              {"nrcpt", message->recipients.size()}});
    return true;
}

bool DeliveryScheduler::bounce(const QueueId& id) {
    auto done = std::make_shared<bool>(false);
    const bool ran = on_delivery_thread([this, done, id] { *done = bounce_here(id); });
    return ran && *done;
}

// Not an attempt (no attempt count, no metric): the recipients' states change as a lifetime's
// end changes them, and settle() owes the sender the DSN (RFC 3461 4.3: failures are reported).
// A recipient being tried right now is left to its attempt, and returned if that fails to
// deliver it (QueuedMessage::returning).
bool DeliveryScheduler::bounce_here(const QueueId& id) {
    std::shared_ptr<QueuedMessage> message = find_settled(id);
    if (!message) return bounce_on_disk(id);
    std::string records;
    std::size_t bounced = 0;
    {
        // The file lock first, as for hold: the records land in the order the states changed.
        std::lock_guard file_lock(message->file_mutex);
        std::unique_lock lock(core_->mutex);
        if (!registered(*message)) return false;
        const std::uint64_t now = now_us();
        for (std::size_t i = 0; i < message->recipients.size(); ++i) {
            RecipientState& state = message->recipients[i];
            if (state.final()) continue;
            if (message->busy[i]) {
                // Its attempt decides: delivered stays delivered; anything else is returned.
                message->returning = true;
                ++bounced;
                continue;
            }
            mark_returned(state, now);
            message->remote_mta[i].clear();
            records += encode_state_record(static_cast<std::uint32_t>(i), state);
            ++bounced;
        }
        if (bounced == 0) return false;
        if (message->held) {
            // A held message is returned too; a recipient still being tried keeps it in the
            // queue, where it must not come back held after a restart.
            message->held = false;
            MessageEvent event;
            event.kind = MessageEventKind::Released;
            event.time_us = now;
            records += encode_message_event(event);
        }
        counters_.failed.fetch_add(bounced, std::memory_order_relaxed);
        lock.unlock();
        append_locked(*message, records);
    }
    observe::info("returned", {{"id", id}, {"recipients", std::to_string(bounced)}, {"by", "queue control"}});
    settle(message);
    return true;
}

}  // namespace ehlo::queue
