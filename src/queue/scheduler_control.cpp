// Queue control on the delivery scheduler: list, show, flush, hold, release, remove. Called
// from any thread; the state is read and changed under the scheduler's lock, and a spool file
// is only ever appended to or unlinked under its message's file lock.
#include <algorithm>

#include "delivery/file_io.hpp"
#include "observe/log.hpp"
#include "queue/delivery_scheduler.hpp"
#include "queue/message_content.hpp"
#include "queue/message_event.hpp"
#include "queue/queue_listing.hpp"
#include "smtp/text.hpp"

namespace ehlo::queue {
namespace {

// `ehlo queue show` prints the header section; a pathological one is cut here.
constexpr std::size_t kMaxShownHeaders = 256 * 1024;

using smtp::lower;

}  // namespace

std::shared_ptr<QueuedMessage> DeliveryScheduler::find(const QueueId& id) const {
    auto it = messages_.find(id);
    return it == messages_.end() ? nullptr : it->second;
}

std::vector<MessageSummary> DeliveryScheduler::list() const {
    std::lock_guard lock(core_->mutex);
    std::vector<MessageSummary> out;
    out.reserve(messages_.size());
    for (const auto& [id, message] : messages_)
        out.push_back(summarize(message->header, message->content_size, message->recipients, message->held,
                                message->held_logged));
    return out;
}

std::optional<MessageDetail> DeliveryScheduler::show(const QueueId& id) const {
    MessageDetail detail;
    std::shared_ptr<const std::string> content;
    std::filesystem::path path;
    {
        std::lock_guard lock(core_->mutex);
        auto message = find(id);
        if (!message) return std::nullopt;
        detail.summary = summarize(message->header, message->content_size, message->recipients, message->held,
                                   message->held_logged);
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
    {
        std::lock_guard lock(core_->mutex);
        std::vector<std::shared_ptr<QueuedMessage>> chosen;
        std::string domain;
        if (id_or_domain.empty()) {
            for (const auto& [id, message] : messages_) chosen.push_back(message);
        } else if (auto message = find(id_or_domain)) {
            chosen.push_back(message);
        } else {
            domain = lower(id_or_domain);
            for (const auto& [id, m] : messages_) chosen.push_back(m);
        }
        for (const auto& message : chosen) {
            if (message->held) continue;  // flush does not release
            bool any = false;
            for (std::size_t i = 0; i < message->recipients.size(); ++i) {
                RecipientState& state = message->recipients[i];
                if (state.status != DeliveryStatus::Deferred || message->busy[i]) continue;
                if (!domain.empty() && lower(message->header.envelope.recipients[i].address.domain) != domain) continue;
                // In memory only: the record on disk keeps the back-off, which is what a
                // restart should go by.
                state.next_attempt_us = std::min(state.next_attempt_us, now);
                ++count;
                any = true;
            }
            if (any) make_ready(message);
        }
    }
    if (count > 0) core_->wake.notify_one();
    observe::info("flush", {{"target", id_or_domain.empty() ? "all" : id_or_domain}, {"recipients", count}});
    return count;
}

bool DeliveryScheduler::set_held(const QueueId& id, bool held) {
    std::shared_ptr<QueuedMessage> message;
    {
        std::lock_guard lock(core_->mutex);
        message = find(id);
        if (!message) return false;
    }
    // The file lock first, so that the records of two calls land in the order they changed
    // the state.
    std::lock_guard file_lock(message->file_mutex);
    {
        std::lock_guard lock(core_->mutex);
        if (!registered(*message)) return false;
        if (message->held == held) return true;
        message->held = held;
        if (!held) make_ready(message);
    }
    if (!held) core_->wake.notify_one();
    observe::info(held ? "hold" : "release", {{"id", id}});
    MessageEvent event;
    event.kind = held ? MessageEventKind::Held : MessageEventKind::Released;
    event.time_us = now_us();
    // Without the record the state lasts until a restart only; append_locked logs why.
    append_locked(*message, encode_message_event(event));
    return true;
}

bool DeliveryScheduler::hold(const QueueId& id) { return set_held(id, true); }

bool DeliveryScheduler::release(const QueueId& id) { return set_held(id, false); }

bool DeliveryScheduler::remove(const QueueId& id) {
    std::shared_ptr<QueuedMessage> message;
    {
        std::lock_guard lock(core_->mutex);
        message = find(id);
        if (!message) return false;
        // Out of the registry: timers skip it, outcomes still to come are dropped.
        messages_.erase(id);
    }
    std::lock_guard file_lock(message->file_mutex);
    if (message->removed) return false;  // left the queue by itself meanwhile
    message->removed = true;
    if (auto ec = delivery::remove_file(message->path)) {
        observe::error("queue-error", {{"id", id}, {"error", delivery::describe("cannot remove", message->path, ec)}});
        return false;
    }
    observe::info("removed", {{"id", id},
                              {"from", reverse_path_text(message->header.envelope)},
                              {"nrcpt", message->recipients.size()}});
    return true;
}

}  // namespace ehlo::queue
