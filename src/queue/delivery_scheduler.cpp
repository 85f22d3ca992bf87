#include "queue/delivery_scheduler.hpp"

#include <fcntl.h>

#include <cstdio>
#include <exception>

#include "delivery/file_io.hpp"
#include "delivery/maildir.hpp"
#include "observe/log.hpp"

namespace ehlo::queue {
namespace {

std::string seconds_since(std::uint64_t then_us, std::uint64_t now_us) {
    double seconds = now_us > then_us ? static_cast<double>(now_us - then_us) / 1e6 : 0.0;
    char text[32];
    std::snprintf(text, sizeof text, "%.3f", seconds);
    return text;
}

// Where each delivery job came from.
struct JobOrigin {
    std::size_t message;  // index in the batch
    std::size_t recipient;
};

}  // namespace

DeliveryScheduler::DeliveryScheduler(const QueueOptions& options, delivery::SyncMode sync, Router router,
                                     QueueCounters& counters)
    : hostname_(options.hostname),
      retry_delay_(options.retry_delay),
      router_(std::move(router)),
      counters_(counters),
      deliverer_(sync, [&counters] { counters.count_sync(); }) {}

DeliveryScheduler::~DeliveryScheduler() { stop(); }

void DeliveryScheduler::start() {
    std::lock_guard lock(mutex_);
    if (running_) return;
    running_ = true;
    stopping_ = false;
    thread_ = std::thread([this] { run(); });
}

void DeliveryScheduler::stop() {
    {
        std::lock_guard lock(mutex_);
        if (!running_) {
            ready_.clear();  // submitted by a start() that failed: they stay on disk
            return;
        }
        stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
    std::lock_guard lock(mutex_);
    running_ = false;
    ready_.clear();
    retries_.clear();
}

void DeliveryScheduler::submit(std::shared_ptr<QueuedMessage> message) {
    {
        std::lock_guard lock(mutex_);
        ready_.push_back(std::move(message));
    }
    wake_.notify_one();
}

void DeliveryScheduler::run() {
    Batch batch;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            for (;;) {
                auto now = Clock::now();
                while (!retries_.empty() && retries_.begin()->first <= now) {
                    ready_.push_back(std::move(retries_.begin()->second));
                    retries_.erase(retries_.begin());
                }
                if (!ready_.empty()) break;
                if (stopping_) return;
                if (retries_.empty())
                    wake_.wait(lock);
                else
                    wake_.wait_until(lock, retries_.begin()->first);
            }
            batch.swap(ready_);
        }
        deliver(batch);
        batch.clear();
    }
}

void DeliveryScheduler::deliver(const Batch& batch) {
    std::vector<std::unique_ptr<delivery::ContentSource>> sources;
    std::vector<delivery::MaildirJob> jobs;
    std::vector<JobOrigin> origins;
    std::vector<std::string> records(batch.size());

    auto defer = [&](QueuedMessage& message, std::size_t index, std::string error, std::string& out) {
        RecipientState& state = message.recipients[index];
        state.status = DeliveryStatus::Deferred;
        state.attempts += 1;
        state.updated_us = unix_time_us();
        state.next_attempt_us =
            state.updated_us + static_cast<std::uint64_t>(std::chrono::microseconds(retry_delay_).count());
        state.text = std::move(error);
        out += encode_state_record(static_cast<std::uint32_t>(index), state);
        counters_.deferred.fetch_add(1, std::memory_order_relaxed);
        observe::error("delivery-error", {{"id", message.header.id},
                                          {"to", message.header.envelope.recipients[index].address.str()},
                                          {"attempts", state.attempts},
                                          {"error", state.text}});
    };

    for (std::size_t m = 0; m < batch.size(); ++m) {
        QueuedMessage& message = *batch[m];
        const auto& envelope = message.header.envelope;
        if (message.content)
            sources.push_back(std::make_unique<delivery::MemoryContent>(*message.content));
        else
            sources.push_back(std::make_unique<SpoolContent>(message.path));
        for (std::size_t i = 0; i < message.recipients.size(); ++i) {
            if (message.recipients[i].final()) continue;
            Route route;
            try {
                route = router_(envelope.recipients[i].address);
            } catch (const std::exception& e) {
                defer(message, i, std::string("no route: ") + e.what(), records[m]);
                continue;
            }
            if (route.kind == Route::Kind::Hold) {
                if (!message.held_logged[i]) {
                    message.held_logged[i] = true;
                    counters_.held.fetch_add(1, std::memory_order_relaxed);
                    observe::info("held", {{"id", message.header.id}, {"to", envelope.recipients[i].address.str()}});
                }
                continue;
            }
            delivery::MaildirJob job;
            job.maildir = route.maildir;
            job.file_name = delivery::maildir_file_name(static_cast<std::int64_t>(message.header.arrival_us / 1000000),
                                                        message.header.id, i, hostname_);
            job.return_path = envelope.sender_str();
            job.content = sources.back().get();
            job.scan_existing = message.recovered;
            jobs.push_back(std::move(job));
            origins.push_back({m, i});
        }
    }

    std::vector<delivery::MaildirResult> results;
    if (!jobs.empty()) results = deliverer_.deliver(jobs);

    const std::uint64_t done_us = unix_time_us();
    for (std::size_t k = 0; k < results.size(); ++k) {
        const std::size_t m = origins[k].message;
        QueuedMessage& message = *batch[m];
        const std::size_t index = origins[k].recipient;
        const delivery::MaildirResult& result = results[k];
        if (!result.ok()) {
            defer(message, index, result.error, records[m]);
            continue;
        }
        RecipientState& state = message.recipients[index];
        state.status = DeliveryStatus::Delivered;
        state.attempts += 1;
        state.updated_us = done_us;
        state.next_attempt_us = 0;
        state.text = result.file.string();
        records[m] += encode_state_record(static_cast<std::uint32_t>(index), state);
        counters_.delivered.fetch_add(1, std::memory_order_relaxed);
        observe::info("delivered", {{"id", message.header.id},
                                    {"to", message.header.envelope.recipients[index].address.str()},
                                    {"mailbox", state.text},
                                    {"dsn", "2.0.0"},
                                    {"delay", seconds_since(message.header.arrival_us, done_us)}});
    }

    for (std::size_t m = 0; m < batch.size(); ++m) finish(*batch[m], records[m], batch[m]);
}

void DeliveryScheduler::finish(QueuedMessage& message, const std::string& records,
                               std::shared_ptr<QueuedMessage> keep) {
    message.content.reset();  // later attempts read the spool file; memory stays bounded
    bool all_final = true, retry = false;
    for (const auto& state : message.recipients) {
        all_final = all_final && state.final();
        retry = retry || state.status == DeliveryStatus::Deferred;
    }
    if (all_final) {
        // Every recipient is done: the message leaves the queue. Should this unlink be lost
        // in a crash, recovery finds the recipients done (or their Maildir files) and unlinks.
        if (auto ec = delivery::remove_file(message.path))
            observe::error("queue-error", {{"id", message.header.id}, {"error", delivery::describe("cannot remove", message.path, ec)}});
        return;
    }
    if (!records.empty()) {
        std::error_code ec;
        delivery::FileDescriptor fd = delivery::open_file(message.path, O_WRONLY | O_APPEND | O_NOFOLLOW, 0, ec);
        if (!ec) ec = delivery::write_all(fd.get(), records);
        if (!ec) ec = fd.close();
        // Losing these records costs at most a repeated attempt, never a lost or double delivery.
        if (ec)
            observe::error("queue-error", {{"id", message.header.id}, {"error", delivery::describe("cannot record state in", message.path, ec)}});
    }
    if (retry) {
        std::lock_guard lock(mutex_);
        retries_.emplace(Clock::now() + retry_delay_, std::move(keep));
    }
}

}  // namespace ehlo::queue
