#include "queue/delivery_scheduler.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cstdio>
#include <exception>

#include "delivery/file_io.hpp"
#include "delivery/maildir.hpp"
#include "observe/ehlo_metrics.hpp"
#include "observe/history.hpp"
#include "observe/log.hpp"
#include "queue/outcome_text.hpp"
#include "queue/scheduler_pass.hpp"
#include "smtp/text.hpp"
#include "observe/thread_name.hpp"

namespace ehlo::queue {
namespace {

// A clock of the caller's may jump (QueueOptions::clock): the delivery thread looks at it this
// often while a retry is pending.
constexpr auto kClockPoll = std::chrono::milliseconds(5);
// The system clock may be set too: no sleep lasts longer than this, so a retry is not missed
// by more.
constexpr auto kLongestSleep = std::chrono::seconds(60);
// While messages wait on disk for room, the thread looks this often whether there is some.
constexpr auto kBacklogPoll = std::chrono::milliseconds(100);

std::string seconds_since(std::uint64_t then_us, std::uint64_t now_us) {
    double seconds = now_us > then_us ? static_cast<double>(now_us - then_us) / 1e6 : 0.0;
    char text[32];
    std::snprintf(text, sizeof text, "%.3f", seconds);
    return text;
}

}  // namespace

void SchedulerCore::post(std::uint64_t from_run, SchedulerEvent event) {
    {
        std::lock_guard lock(mutex);
        if (!open || from_run != run) return;  // stopped, or an earlier run's: dropped
        events.push_back(std::move(event));
    }
    wake.notify_one();
}

DeliveryScheduler::DeliveryScheduler(const QueueOptions& options, delivery::SyncMode sync, Router router,
                                     QueueCounters& counters, delivery::RemoteTransport* remote, Injector injector)
    : queue_dir_(options.spool_dir / "queue"),
      corrupt_dir_(options.spool_dir / "corrupt"),
      active_messages_limit_(std::max<std::size_t>(options.active_messages, 1)),
      active_recipients_limit_(std::max<std::size_t>(options.active_recipients, 1)),
      hostname_(options.hostname),
      retry_delay_(options.retry_delay),
      max_received_(options.max_received),
      null_sender_failures_to_(options.null_sender_failures_to),
      clock_(options.clock),
      state_write_fault_(options.state_write_fault),
      stop_grace_(options.remote_stop_grace),
      router_(std::move(router)),
      counters_(counters),
      deliverer_(sync, [&counters] { counters.count_sync(); }),
      remote_(remote),
      injector_(std::move(injector)),
      core_(std::make_shared<SchedulerCore>()) {
    retry_.first_backoff = options.retry_min;
    retry_.max_backoff = options.retry_max;
    retry_.lifetime = options.lifetime;
    if (options.delay_warning.count() > 0) retry_.delay_warning = options.delay_warning;
}

DeliveryScheduler::~DeliveryScheduler() { stop(); }

std::uint64_t DeliveryScheduler::now_us() const { return clock_ ? to_unix_us(clock_()) : unix_time_us(); }

void DeliveryScheduler::start() {
    {
        std::lock_guard lock(core_->mutex);
        if (running_) return;
        disk_backlog_ = true;
        disk_due_us_ = 0;
        scanned_ = false;  // the first look takes up every file
    }
    // What a previous run left: taken up before the thread starts, so that the first pass
    // delivers it as one batch (one look through each Maildir, one pair of syncs).
    scan_disk(now_us());
    std::lock_guard lock(core_->mutex);
    running_ = true;
    stopping_ = false;
    core_->open = true;
    ++core_->run;
    thread_ = std::thread([this, run_id = core_->run] {
        observe::name_this_thread("ehlo-delivery");
        run(run_id);
    });
}

void DeliveryScheduler::stop() {
    {
        std::lock_guard lock(core_->mutex);
        if (!running_) {
            // Taken up by a start() that failed: they stay on disk.
            ready_.clear();
            messages_.clear();
            active_recipients_ = 0;
            timers_.clear();
            return;
        }
        stopping_ = true;
        stop_deadline_ = std::chrono::steady_clock::now() + stop_grace_;
    }
    core_->wake.notify_all();
    thread_.join();
    std::lock_guard lock(core_->mutex);
    running_ = false;
    core_->open = false;  // outcomes still to come are dropped: those recipients stay on disk
    core_->events.clear();
    ready_.clear();
    timers_.clear();
    messages_.clear();
    active_recipients_ = 0;
    jobs_in_flight_ = 0;
}

void DeliveryScheduler::submit(std::shared_ptr<QueuedMessage> message) {
    {
        std::lock_guard lock(core_->mutex);
        // A look through the directory may have found the file first: one is enough.
        if (messages_.count(message->header.id)) return;
        message->prepare();
        if (!has_room(message->recipients.size())) {
            // It waits on disk, as the messages before it do, and is taken up in its turn: due
            // now by the scheduler's clock (which tests set), not only by the file system's.
            disk_backlog_ = true;
            (void)set_message_due(message->path, now_us());
            return;
        }
        enter(message);
    }
    core_->wake.notify_one();
}

bool DeliveryScheduler::has_room(std::size_t recipients) const {
    if (messages_.empty()) return true;  // however large, a message gets its turn
    return messages_.size() < active_messages_limit_ && active_recipients_ + recipients <= active_recipients_limit_;
}

void DeliveryScheduler::enter(const std::shared_ptr<QueuedMessage>& message) {
    messages_[message->header.id] = message;
    active_recipients_ += message->recipients.size();
    make_ready(message);
}

void DeliveryScheduler::leave(const QueuedMessage& message) {
    auto it = messages_.find(message.header.id);
    if (it == messages_.end() || it->second.get() != &message) return;
    active_recipients_ -= message.recipients.size();
    messages_.erase(it);
}

bool DeliveryScheduler::registered(const QueuedMessage& message) const {
    auto it = messages_.find(message.header.id);
    return it != messages_.end() && it->second.get() == &message;
}

void DeliveryScheduler::make_ready(const std::shared_ptr<QueuedMessage>& message) {
    if (message->in_ready) return;
    message->in_ready = true;
    ready_.push_back(message);
}

void DeliveryScheduler::schedule(const std::shared_ptr<QueuedMessage>& message, std::uint64_t due_us) {
    // An earlier timer stays: it finds nothing due and schedules again. A later one is left
    // in the map but no longer matches wake_us, so it is skipped when it comes.
    if (message->wake_us != 0 && message->wake_us <= due_us) return;
    message->wake_us = due_us;
    timers_.emplace(due_us, message);
}

void DeliveryScheduler::move_due_timers(std::uint64_t now) {
    while (!timers_.empty() && timers_.begin()->first <= now) {
        auto node = timers_.extract(timers_.begin());
        const std::shared_ptr<QueuedMessage>& message = node.mapped();
        if (message->wake_us != node.key() || !registered(*message)) continue;
        message->wake_us = 0;
        make_ready(message);
    }
}

void DeliveryScheduler::run(std::uint64_t run_id) {
    run_ = run_id;
    for (;;) {
        Batch batch;
        std::vector<SchedulerEvent> events;
        bool scan = false;
        {
            std::unique_lock lock(core_->mutex);
            for (;;) {
                const std::uint64_t now = now_us();
                if (!stopping_) move_due_timers(now);
                scan = scan_wanted(now);
                if (!ready_.empty() || !core_->events.empty() || scan) break;
                if (stopping_) {
                    if (jobs_in_flight_ == 0 || std::chrono::steady_clock::now() >= stop_deadline_) return;
                    core_->wake.wait_until(lock, stop_deadline_);
                } else if (timers_.empty() && disk_due_us_ == kNeverDue && !disk_backlog_) {
                    core_->wake.wait(lock);
                } else {
                    std::chrono::microseconds sleep = kLongestSleep;
                    if (!timers_.empty()) sleep = std::min(sleep, std::chrono::microseconds(timers_.begin()->first - now));
                    // A look through the directory comes no sooner than its spacing allows.
                    const std::chrono::microseconds spacing = scan_spacing_left();
                    if (disk_due_us_ != kNeverDue)
                        sleep = std::min(sleep, std::max(spacing, std::chrono::microseconds(disk_due_us_ > now ? disk_due_us_ - now : 0)));
                    if (disk_backlog_) sleep = std::min<std::chrono::microseconds>(sleep, std::max<std::chrono::microseconds>(spacing, kBacklogPoll));
                    if (clock_) sleep = std::min<std::chrono::microseconds>(sleep, kClockPoll);
                    core_->wake.wait_for(lock, sleep);
                }
            }
            batch.swap(ready_);
            events.swap(core_->events);
            for (const auto& message : batch) message->in_ready = false;
        }
        for (SchedulerEvent& event : events) handle(event);
        if (scan) scan_disk(now_us());
        if (!batch.empty()) deliver(batch);
    }
}

void DeliveryScheduler::handle(SchedulerEvent& event) {
    switch (event.kind) {
        case SchedulerEvent::Kind::RemoteDone: on_remote_done(event); break;
        case SchedulerEvent::Kind::ReportQueued: on_report_queued(event); break;
        case SchedulerEvent::Kind::Control: event.work(); break;
    }
}

void DeliveryScheduler::deliver(const Batch& batch) {
    const std::uint64_t now = now_us();
    std::vector<Pass> passes;
    std::vector<std::shared_ptr<QueuedMessage>> held;
    bool stopping = false;
    {
        std::lock_guard lock(core_->mutex);
        stopping = stopping_;
        for (const auto& message : batch) {
            if (!registered(*message)) continue;
            if (message->held) {
                // It may wait for long: on disk, where a release finds it.
                held.push_back(message);
                continue;
            }
            Pass pass;
            pass.message = message;
            for (std::size_t i = 0; i < message->recipients.size(); ++i) {
                const RecipientState& state = message->recipients[i];
                if (state.final() || message->busy[i]) continue;
                if (state.status == DeliveryStatus::Deferred && state.next_attempt_us > now) continue;
                message->busy[i] = true;
                pass.due.push_back(i);
            }
            // Later attempts read the spool file, so memory stays bounded.
            pass.content = std::exchange(message->content, nullptr);
            passes.push_back(std::move(pass));
        }
    }

    for (const auto& message : held) set_aside(message, kHeldDue);

    // Route every due recipient (outside the lock: the router is the caller's code). Remote
    // deliveries start first, so that they run while the Maildir batch is being synced.
    std::vector<std::unique_ptr<delivery::ContentSource>> sources(passes.size());
    std::vector<delivery::MaildirJob> jobs;
    std::vector<std::pair<std::size_t, std::size_t>> origins;  // (pass, recipient) of each job
    for (std::size_t p = 0; p < passes.size(); ++p) {
        Pass& pass = passes[p];
        const QueuedMessage& message = *pass.message;
        const auto& envelope = message.header.envelope;
        for (std::size_t i : pass.due) {
            Route route;
            try {
                route = router_(envelope.recipients[i].address);
            } catch (const std::exception& e) {
                pass.results.push_back(Result::local_failure(i, std::string("no route: ") + e.what()));
                continue;
            }
            if (counters_.history && route.kind == Route::Kind::Maildir)
                record_routed(message.header.id, envelope.recipients[i].address.str(), "mailbox " + route.maildir.string());
            else if (counters_.history && route.kind == Route::Kind::Remote && remote_ && !stopping)
                record_routed(message.header.id, envelope.recipients[i].address.str(), next_hop_of(route.remote));
            if (route.kind == Route::Kind::Remote && remote_) {
                if (stopping) {
                    // A transaction begun now would only hold up the stop: the recipient
                    // keeps its state on disk and is tried after the next start.
                    Result later;
                    later.kind = Result::Kind::NotTried;
                    later.recipient = i;
                    pass.results.push_back(std::move(later));
                } else {
                    pass.remote.emplace_back(i, std::move(route.remote));
                }
                continue;
            }
            if (route.kind != Route::Kind::Maildir) {
                // No route (the mailbox was removed, the catch-all turned off while the mail
                // waited) or no transport to carry it onward: a deferral like any other, so it
                // is tried again with back-off, flushed on request, and bounced when its
                // lifetime ends (RFC 3463 X.4.4: unable to route).
                Result unrouted;
                unrouted.kind = Result::Kind::Deferred;
                unrouted.recipient = i;
                unrouted.text = smtp::Reply(451, "4.4.4", "No route to deliver to <" +
                                                              smtp::printable(envelope.recipients[i].address.str()) + ">")
                                    .one_line();
                pass.results.push_back(std::move(unrouted));
                continue;
            }
            if (!sources[p]) {
                if (pass.content)
                    sources[p] = std::make_unique<delivery::MemoryContent>(*pass.content);
                else
                    sources[p] = std::make_unique<SpoolContent>(message.path);
            }
            delivery::MaildirJob job;
            job.maildir = route.maildir;
            job.file_name = delivery::maildir_file_name(static_cast<std::int64_t>(message.header.arrival_us / 1000000),
                                                        message.header.id, i, hostname_);
            job.return_path = envelope.sender_str();
            job.content = sources[p].get();
            // An earlier copy may be anywhere in the Maildir: after a crash, and also after an
            // attempt that failed once its file was in new/ (the rename's sync), since the mail
            // reader may have moved that copy to cur/ meanwhile. Read outside the lock: the
            // recipient is busy, so only this pass writes its state.
            job.scan_existing = message.recovered || message.recipients[i].attempts > 0;
            jobs.push_back(std::move(job));
            origins.emplace_back(p, i);
        }
        if (!pass.remote.empty()) start_remote(pass, pass.results);
    }

    if (!jobs.empty()) {
        const auto started = std::chrono::steady_clock::now();
        std::vector<delivery::MaildirResult> results = deliverer_.deliver(jobs);
        // One batch, one sync: each of its attempts took the whole of it.
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        for (std::size_t k = 0; k < results.size(); ++k) {
            const auto [p, i] = origins[k];
            const delivery::MaildirResult& result = results[k];
            if (!result.ok()) {
                passes[p].results.push_back(Result::local_failure(i, result.error, "maildir"));
                passes[p].results.back().seconds = seconds;
                continue;
            }
            Result delivered;
            delivered.seconds = seconds;
            delivered.kind = Result::Kind::Delivered;
            delivered.recipient = i;
            delivered.text = result.file.string();
            delivered.peer = "maildir";
            passes[p].results.push_back(std::move(delivered));
        }
    }

    for (Pass& pass : passes) {
        record(*pass.message, pass.results);
        settle(pass.message);
    }
}

void DeliveryScheduler::record(QueuedMessage& message, const std::vector<Result>& results) {
    if (results.empty()) return;
    const std::uint64_t now = now_us();
    std::string records;
    {
        std::lock_guard lock(core_->mutex);
        for (const Result& result : results) records += apply(message, result, now);
    }
    if (!records.empty()) append(message, records);
}

namespace {

// One attempt for the metrics: by transport and outcome, and its time in queue once final.
void count_attempt(observe::EhloMetrics& metrics, std::uint64_t arrival_us, bool local, DeliveryStatus status,
                   double seconds, std::uint64_t now) {
    observe::AttemptOutcome outcome = observe::AttemptOutcome::Deferred;
    if (status == DeliveryStatus::Delivered) outcome = observe::AttemptOutcome::Delivered;
    if (status == DeliveryStatus::Failed) outcome = observe::AttemptOutcome::Failed;
    metrics.delivery_attempt(local ? observe::Transport::Local : observe::Transport::Smtp, outcome, seconds);
    if (outcome != observe::AttemptOutcome::Deferred && now >= arrival_us)
        metrics.queue_duration.observe(static_cast<double>(now - arrival_us) / 1e6);
}

}  // namespace

std::string DeliveryScheduler::apply(QueuedMessage& message, const Result& result, std::uint64_t now) {
    const std::size_t i = result.recipient;
    message.busy[i] = false;
    const std::string to = message.header.envelope.recipients[i].address.str();
    const std::string& id = message.header.id;
    if (result.kind == Result::Kind::NotTried) return {};

    RecipientState& state = message.recipients[i];
    state.attempts += 1;
    state.updated_us = now;
    state.next_attempt_us = 0;
    state.text = result.text;
    state.peer = result.peer;
    state.from_peer = result.from_peer;
    state.tls = result.tls.value_or(std::string());
    message.remote_mta[i] = result.from_peer ? result.peer : std::string{};
    std::string outcome;
    switch (result.kind) {
        case Result::Kind::Delivered:
            state.status = DeliveryStatus::Delivered;
            outcome = "delivered";
            counters_.delivered.fetch_add(1, std::memory_order_relaxed);
            if (result.peer == "maildir")
                observe::info("delivered", {{"id", id}, {"to", to}, {"mailbox", state.text}, {"dsn", "2.0.0"},
                                            {"delay", seconds_since(message.header.arrival_us, now)}});
            else
                observe::info("delivered", {{"id", id}, {"to", to}, {"relay", result.peer}, {"reply", result.text},
                                            {"delay", seconds_since(message.header.arrival_us, now)}});
            break;
        case Result::Kind::Failed:
            state.status = DeliveryStatus::Failed;
            outcome = "failed";
            counters_.failed.fetch_add(1, std::memory_order_relaxed);
            observe::info("failed", {{"id", id}, {"to", to}, {"relay", result.peer}, {"reply", result.text}});
            break;
        case Result::Kind::Deferred: {
            if (message.returning) {
                // Queue control returned the message while this attempt ran (bounce_here).
                mark_returned(state, now);
                message.remote_mta[i].clear();
                outcome = "failed";
                counters_.failed.fetch_add(1, std::memory_order_relaxed);
                observe::info("returned", {{"id", id}, {"to", to}, {"by", "queue control"}, {"after", result.text}});
                break;
            }
            // Local failures (disk, permissions) come back after retry_delay; remote ones back
            // off (RFC 5321 4.5.4.1). Either way the lifetime ends it (RFC 3463 4.4.7).
            bool give_up = false;
            std::uint64_t next = 0;
            if (result.local) {
                give_up = now >= message.header.arrival_us + static_cast<std::uint64_t>(
                                                                  std::chrono::microseconds(retry_.lifetime).count());
                next = now + microseconds_of(retry_delay_);
            } else {
                const auto now_s = time_point_of(now);
                auto decision =
                    delivery::after_failure(retry_, time_point_of(message.header.arrival_us), state.attempts, now_s);
                give_up = decision.kind == delivery::RetryDecision::Kind::GiveUp;
                // The policy counts in whole seconds; the wait it gives is added to the precise
                // time, so a retry is never early (RFC 5321 4.5.4.1) nor a second late.
                const std::uint64_t wait = decision.when > now_s ? unix_us_of(decision.when) - unix_us_of(now_s) : 0;
                next = now + wait;
            }
            if (give_up) {
                state.status = DeliveryStatus::Failed;
                state.text = std::string(kExpiredPrefix) + result.text;
                outcome = "expired";
                counters_.failed.fetch_add(1, std::memory_order_relaxed);
                observe::info("expired", {{"id", id}, {"to", to}, {"attempts", state.attempts}, {"error", result.text},
                                          {"dsn", delivery::kExpiredStatus}});
                break;
            }
            state.status = DeliveryStatus::Deferred;
            state.next_attempt_us = next;
            outcome = "deferred";
            counters_.deferred.fetch_add(1, std::memory_order_relaxed);
            if (result.local)
                observe::error("delivery-error", {{"id", id}, {"to", to}, {"attempts", state.attempts}, {"error", state.text}});
            else
                observe::info("deferred", {{"id", id}, {"to", to}, {"relay", result.peer}, {"attempts", state.attempts},
                                           {"reply", state.text}, {"next", seconds_since(now, next)}});
            break;
        }
        case Result::Kind::NotTried: break;
    }
    if (counters_.metrics && !outcome.empty())
        count_attempt(*counters_.metrics, message.header.arrival_us, result.peer == "maildir", state.status,
                      result.seconds, now);
    if (counters_.history && !outcome.empty() && result.tls) {
        // The attempt itself, on a connection: the peer, its protection, its duration, its reply.
        observe::Event attempt;
        attempt.kind = observe::EventKind::Attempt;
        attempt.time_us = static_cast<std::int64_t>(now);
        attempt.queue_id = id;
        attempt.recipient = to;
        attempt.next_hop = result.next_hop;
        attempt.remote_host = result.host.empty() ? result.peer : result.host;
        attempt.remote_address = result.address;
        attempt.tls = *result.tls;
        attempt.duration_us = static_cast<std::int64_t>(result.seconds * 1e6);
        if (result.from_peer)
            attempt.reply = result.reply.empty() ? result.text : result.reply;
        else
            attempt.detail = result.text;
        counters_.history->record(std::move(attempt));
    }
    if (counters_.history && !outcome.empty()) record_outcome(id, to, state, result);
    message.attempts.push_back({now, i, result.peer, outcome, result.text});
    if (message.attempts.size() > kMaxAttemptRecords) message.attempts.pop_front();
    return encode_state_record(static_cast<std::uint32_t>(i), state);
}

void DeliveryScheduler::append(QueuedMessage& message, const std::string& records) {
    if (records.empty()) return;
    std::lock_guard lock(message.file_mutex);
    append_locked(message, records);
}

void DeliveryScheduler::append_locked(QueuedMessage& message, const std::string& records) {
    if (message.removed) return;
    message.unwritten_records += records;
    const std::string& pending = message.unwritten_records;
    std::error_code ec;
    delivery::FileDescriptor fd = delivery::open_file(message.path, O_WRONLY | O_NOFOLLOW, 0, ec);
    // A failed append may have left part of its records behind: cut them off first, so that the
    // records written now follow an intact one (recovery trusts nothing after a damaged record).
    if (!ec) ec = delivery::truncate_to(fd.get(), message.file_length);
    if (!ec) {
        const std::size_t reaching = state_write_fault_ ? state_write_fault_(pending.size()) : pending.size();
        if (reaching < pending.size()) {
            (void)delivery::write_all_at(fd.get(), std::string_view(pending).substr(0, reaching), message.file_length);
            ec = std::make_error_code(std::errc::no_space_on_device);
        } else {
            ec = delivery::write_all_at(fd.get(), pending, message.file_length);
        }
    }
    if (ec && fd) (void)delivery::truncate_to(fd.get(), message.file_length);
    if (!ec) ec = fd.close();
    if (ec) {
        // Kept in memory and written with the next records: a restart before then costs at
        // most a repeated attempt or report, never a lost message.
        observe::error("queue-error", {{"id", message.header.id},
                                       {"error", delivery::describe("cannot record state in", message.path, ec)},
                                       {"pending_octets", pending.size()}});
        return;
    }
    message.file_length += pending.size();
    message.unwritten_records.clear();
}

void DeliveryScheduler::unlink(QueuedMessage& message) {
    std::lock_guard lock(message.file_mutex);
    if (message.removed) return;
    message.removed = true;
    if (auto ec = delivery::remove_file(message.path))
        observe::error("queue-error", {{"id", message.header.id}, {"error", delivery::describe("cannot remove", message.path, ec)}});
}

}  // namespace ehlo::queue
