// The history of every message: each event of its life (the session it came in by, the
// queue's decisions, every delivery attempt with the peer's replies, its end, an operator's
// actions) kept in an SQLite database beside the spool, for `ehlo trace` and the console.
//
// record() is safe to call from any thread, event loops included, and never blocks: the event
// goes into a bounded lock-free queue (observe/bounded_queue.hpp) and a thread of the history's
// own writes the queue out in batches, one transaction per batch. The history is advisory:
// when the queue is full or the database cannot be written (disk full, read-only, damaged),
// events are dropped and counted, the log says so (at most once a minute), and mail flows on.
// Retention is applied by the same thread in small steps between batches, so a large prune
// never holds the database for long.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "observe/bounded_queue.hpp"
#include "observe/history_event.hpp"

namespace ehlo::observe {

class HistoryStore;

struct HistoryOptions {
    std::string path;                          // the database file (created if missing)
    unsigned retention_days = 7;               // a message is forgotten this long after its last event
    std::size_t queue_events = 65536;          // events waiting for the writer, at most
    std::size_t queue_bytes = 32u << 20;       // ... and their size in all, at most
    std::size_t batch_events = 4096;           // events per transaction, at most
    // The writer's wait for more when the queue is short; ten times as long after a batch of
    // 256 events or more: under a steady load fewer, larger transactions cost the writer about
    // a fifth less CPU per message (docs/performance.md), for a history a second behind.
    std::chrono::milliseconds batch_wait{100};
    std::chrono::milliseconds prune_every{60'000};
    std::size_t prune_step = 1000;             // rows per retention step
    std::uint64_t max_bytes = 0;               // database size cap (0 = none); past it, as a full disk
    std::chrono::milliseconds reopen_every{10'000};  // retry an unusable database this often
};

struct HistoryStats {
    std::uint64_t recorded = 0;        // accepted into the queue
    std::uint64_t written = 0;         // committed to the database
    std::uint64_t dropped_full = 0;    // refused: the queue was full
    std::uint64_t dropped_failed = 0;  // lost: the database could not be written
    std::uint64_t batches = 0;         // transactions committed
    std::uint64_t pruned = 0;          // rows deleted by retention
    std::uint64_t prune_steps = 0;
    bool database_ok = false;          // the last open or write succeeded
};

class History {
public:
    // Longest string field kept (longer ones are cut), so one event cannot fill the queue.
    static constexpr std::size_t kMaxField = 4096;
    static constexpr std::size_t kMaxReply = 16384;     // Event::reply: several reply lines
    static constexpr std::size_t kMaxTranscript = 1u << 20;

    explicit History(HistoryOptions options);
    ~History();  // stop()
    History(const History&) = delete;
    History& operator=(const History&) = delete;

    // Starts the writer thread; until then record() only queues. Calling it twice is harmless.
    void start();
    // Writes what is queued, then ends the writer thread.
    void stop();

    // Never blocks: false if the event was dropped (queue full). Fills in time_us if 0.
    bool record(Event event);

    // Waits until every event recorded before the call is written or dropped. For tests,
    // shutdown and tools, never for an event loop. Returns at once if the writer is not running.
    void flush();

    HistoryStats stats() const;
    const HistoryOptions& options() const { return options_; }

private:
    void run();
    bool ensure_open(std::chrono::steady_clock::time_point now);
    void write(std::vector<std::unique_ptr<Event>>& batch);
    void prune(std::chrono::steady_clock::time_point now);
    void report(std::chrono::steady_clock::time_point now);
    bool half_full() const { return queued_bytes_.load(std::memory_order_relaxed) >= options_.queue_bytes / 2; }

    HistoryOptions options_;
    BoundedQueue<std::unique_ptr<Event>> queue_;
    std::unique_ptr<HistoryStore> store_;  // the writer thread's alone

    // Hot: touched by every record().
    alignas(64) std::atomic<std::uint64_t> queued_bytes_{0};
    alignas(64) std::atomic<std::uint64_t> accepted_{0};
    alignas(64) std::atomic<std::uint64_t> dropped_full_{0};
    // The writer's, read by stats() and flush().
    alignas(64) std::atomic<std::uint64_t> taken_{0};
    std::atomic<std::uint64_t> processed_{0};  // written or dropped by the writer
    std::atomic<std::uint64_t> written_{0};
    std::atomic<std::uint64_t> dropped_failed_{0};
    std::atomic<std::uint64_t> batches_{0};
    std::atomic<std::uint64_t> pruned_{0};
    std::atomic<std::uint64_t> prune_steps_{0};
    std::atomic<bool> database_ok_{false};

    std::mutex mutex_;
    std::condition_variable wake_;      // the writer: work, flush or stop
    std::condition_variable progress_;  // flush(): the writer processed more
    bool stopping_ = false;
    bool flush_requested_ = false;
    std::thread thread_;
    std::atomic<bool> running_{false};

    // The writer's bookkeeping (its thread only).
    std::chrono::steady_clock::time_point next_open_{};
    std::chrono::steady_clock::time_point next_prune_{};
    std::chrono::steady_clock::time_point next_checkpoint_{};  // the latest time for the log's copy
    bool pruning_ = false;
    std::chrono::steady_clock::time_point next_report_{};
    std::uint64_t reported_full_ = 0, reported_failed_ = 0;
    std::string last_error_;
};

}  // namespace ehlo::observe
