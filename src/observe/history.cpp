#include "observe/history.hpp"

#include <algorithm>

#include "observe/history_store.hpp"
#include "observe/log.hpp"
#include "observe/thread_name.hpp"

namespace ehlo::observe {
namespace {

using Clock = std::chrono::steady_clock;

// One producer in this many wakes the writer early, so that a burst is written in full
// batches without every record() paying for a notification.
constexpr std::uint64_t kWakeEvery = 1024;
// A batch this large means a steady load: the next wait is kBusyWaitFactor × batch_wait.
constexpr std::size_t kBusyBatch = 256;
constexpr int kBusyWaitFactor = 10;
// Drops are logged at most this often, with the counts since the last line.
constexpr auto kReportEvery = std::chrono::seconds(60);
constexpr std::int64_t kDayUs = 86'400'000'000;
// How often the log is copied into the database (and synced) at most under a light load,
// and at least under a heavy one (a power loss can take about this much of the history).
constexpr auto kLightCheckpointEvery = std::chrono::seconds(1);
constexpr auto kCheckpointEvery = std::chrono::seconds(30);

std::int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void cut(std::string& s, std::size_t max) {
    if (s.size() > max) s.resize(max);
}

// What an event costs while it waits in the queue (its strings and the Event itself).
std::uint64_t footprint(const Event& e) {
    std::uint64_t n = sizeof(Event);
    for (const std::string* s : {&e.queue_id, &e.session_id, &e.recipient, &e.sender, &e.reply, &e.remote_host,
                                 &e.remote_address, &e.helo, &e.tls, &e.auth_user, &e.next_hop, &e.mailbox, &e.dsn_id,
                                 &e.message_id, &e.header_from, &e.header_to, &e.subject, &e.detail, &e.transcript})
        n += s->size();
    for (const auto& r : e.recipients) n += sizeof(std::string) + r.size();
    return n;
}

void bound_fields(Event& e) {
    for (std::string* s : {&e.queue_id, &e.session_id, &e.recipient, &e.sender, &e.remote_host, &e.remote_address,
                           &e.helo, &e.tls, &e.auth_user, &e.next_hop, &e.mailbox, &e.dsn_id, &e.message_id,
                           &e.header_from, &e.header_to, &e.subject, &e.detail})
        cut(*s, History::kMaxField);
    cut(e.reply, History::kMaxReply);
    cut(e.transcript, History::kMaxTranscript);
    for (auto& r : e.recipients) cut(r, History::kMaxField);
}

}  // namespace

History::History(HistoryOptions options)
    : options_(std::move(options)),
      queue_(std::max<std::size_t>(options_.queue_events, 2)),
      store_(std::make_unique<HistoryStore>()) {
    options_.batch_events = std::max<std::size_t>(options_.batch_events, 1);
    options_.prune_step = std::max<std::size_t>(options_.prune_step, 1);
}

History::~History() { stop(); }

void History::start() {
    std::lock_guard lock(mutex_);
    if (thread_.joinable()) return;
    stopping_ = false;
    running_ = true;
    thread_ = std::thread([this] {
        name_this_thread("ehlo-history");
        run();
    });
}

void History::stop() {
    {
        std::lock_guard lock(mutex_);
        if (!thread_.joinable()) return;
        stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
    {
        std::lock_guard lock(mutex_);
        running_ = false;
    }
    progress_.notify_all();
}

bool History::record(Event event) {
    // A full queue is seen before any allocation: dropping must be the cheapest path, since it
    // is taken most when the process is busiest. (Racy but safe: push() below decides.)
    if (queue_.pushed() - taken_.load(std::memory_order_relaxed) >= queue_.capacity()) {
        dropped_full_.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    if (event.time_us == 0) event.time_us = now_us();
    bound_fields(event);
    const std::uint64_t bytes = footprint(event);
    if (queued_bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes > options_.queue_bytes) {
        queued_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
        dropped_full_.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    auto owned = std::make_unique<Event>(std::move(event));
    if (!queue_.push(owned)) {
        queued_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
        dropped_full_.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    // The writer also wakes by itself every batch_wait; a notification lost here only costs that.
    // Large events (transcripts) fill the byte budget long before the count: half of it wakes it too.
    if ((accepted_.fetch_add(1, std::memory_order_relaxed) + 1) % kWakeEvery == 0 || half_full())
        wake_.notify_one();
    return true;
}

void History::flush() {
    const std::uint64_t target = queue_.pushed();
    std::unique_lock lock(mutex_);
    if (!running_) return;
    flush_requested_ = true;
    wake_.notify_one();
    progress_.wait(lock, [&] { return processed_.load() >= target || !running_; });
}

HistoryStats History::stats() const {
    HistoryStats s;
    s.recorded = accepted_.load();
    s.written = written_.load();
    s.dropped_full = dropped_full_.load();
    s.dropped_failed = dropped_failed_.load();
    s.batches = batches_.load();
    s.pruned = pruned_.load();
    s.prune_steps = prune_steps_.load();
    s.database_ok = database_ok_.load();
    return s;
}

bool History::ensure_open(Clock::time_point now) {
    if (store_->is_open()) return true;
    if (now < next_open_) return false;
    next_open_ = now + options_.reopen_every;
    const std::string why = store_->open(options_.path, options_.max_bytes);
    if (!why.empty()) {
        // Logged once per failure in a row, not at every retry: report() counts the drops.
        if (database_ok_.exchange(false) || last_error_ != why)
            observe::error("history-unavailable", {{"path", options_.path}, {"error", why}});
        last_error_ = why;
        return false;
    }
    if (!last_error_.empty()) observe::info("history-available", {{"path", options_.path}});
    last_error_.clear();
    database_ok_ = true;
    return true;
}

void History::write(std::vector<std::unique_ptr<Event>>& batch) {
    const auto n = static_cast<std::uint64_t>(batch.size());
    if (!ensure_open(Clock::now())) {
        dropped_failed_ += n;
        return;
    }
    const auto outcome = store_->write(batch);
    if (outcome.error.empty()) {
        written_ += n;
        ++batches_;
        database_ok_ = true;
        return;
    }
    dropped_failed_ += n;
    database_ok_ = false;
    last_error_ = outcome.error;
    if (outcome.reopen) {
        observe::error("history-write-failed", {{"path", options_.path}, {"error", outcome.error}});
        store_->close();
    }
}

void History::prune(Clock::time_point now) {
    if (options_.retention_days == 0) return;
    if (!pruning_ && now >= next_prune_) {
        pruning_ = true;
        next_prune_ = now + options_.prune_every;
    }
    if (!pruning_) return;
    if (!store_->is_open()) {
        pruning_ = false;  // tried again at the next round
        return;
    }
    std::string why;
    const std::int64_t cutoff = now_us() - static_cast<std::int64_t>(options_.retention_days) * kDayUs;
    const std::int64_t deleted = store_->prune_step(cutoff, options_.prune_step, why);
    ++prune_steps_;
    if (deleted < 0) {
        observe::warn("history-prune-failed", {{"path", options_.path}, {"error", why}});
        pruning_ = false;
        return;
    }
    pruned_ += static_cast<std::uint64_t>(deleted);
    if (deleted == 0) pruning_ = false;  // caught up until the next round
}

void History::report(Clock::time_point now) {
    if (now < next_report_) return;
    const std::uint64_t full = dropped_full_.load(), failed = dropped_failed_.load();
    if (full == reported_full_ && failed == reported_failed_) return;
    observe::warn("history-dropped", {{"queue_full", full - reported_full_},
                                      {"write_failed", failed - reported_failed_},
                                      {"dropped_total", full + failed},
                                      {"error", last_error_.empty() ? std::string("-") : last_error_}});
    reported_full_ = full;
    reported_failed_ = failed;
    // The last report at stop comes with now = max(): no time after that (and no overflow).
    next_report_ = now > Clock::time_point::max() - kReportEvery ? Clock::time_point::max() : now + kReportEvery;
}

void History::run() {
    std::vector<std::unique_ptr<Event>> batch;
    batch.reserve(options_.batch_events);
    ensure_open(Clock::now());
    bool busy = false;
    for (;;) {
        while (batch.size() < options_.batch_events) {
            auto e = queue_.pop();
            if (!e) break;
            batch.push_back(std::move(*e));
        }
        const bool took = !batch.empty();
        busy = batch.size() >= kBusyBatch;
        if (took) {
            std::uint64_t bytes = 0;
            for (const auto& e : batch) bytes += footprint(*e);
            queued_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
            taken_ += batch.size();
            write(batch);
            {
                std::lock_guard lock(mutex_);
                processed_ += batch.size();
            }
            progress_.notify_all();
            batch.clear();
        }
        const auto now = Clock::now();
        // The log is copied whenever the writer is idle; under a light load once a second at
        // most, under a heavy one only when it is full or every kCheckpointEvery: its syncs
        // would queue in front of the spool's (HistoryStore::checkpoint).
        const bool pause = !took || now >= next_checkpoint_;
        store_->checkpoint(pause);
        if (pause) next_checkpoint_ = now + (busy ? kCheckpointEvery : kLightCheckpointEvery);
        prune(now);
        report(now);

        // Not straight on when a few more events came during the write: that turned a steady
        // load into a stream of small transactions, each rewriting the same index pages. A full
        // batch waiting ends the wait at once (the predicate).
        const bool more = queue_.pushed() > taken_.load();
        std::unique_lock lock(mutex_);
        if (stopping_ && !more) break;
        if (pruning_) continue;
        wake_.wait_for(lock, busy ? options_.batch_wait * kBusyWaitFactor : options_.batch_wait, [&] {
            return stopping_ || flush_requested_ || queue_.pushed() >= taken_.load() + options_.batch_events ||
                   half_full();
        });
        flush_requested_ = false;
    }
    report(Clock::time_point::max());
    // The console's reader in this process would keep the close from checkpointing.
    store_->checkpoint(true);
    store_->close();
}

}  // namespace ehlo::observe
