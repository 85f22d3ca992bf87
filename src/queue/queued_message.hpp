// A message the queue owns: its End record is durable. Shared between the spool thread that
// committed it (or the recovery that found it), the delivery thread, remote deliveries in
// progress and queue control.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "queue/message_content.hpp"
#include "queue/recipient_state.hpp"
#include "queue/spool_file.hpp"

namespace ehlo::observe {
class History;
class EhloMetrics;
}

namespace ehlo::queue {

struct QueuedMessage {
    SpoolHeader header;
    std::filesystem::path path;  // spool_dir/queue/<id>
    std::uint64_t content_size = 0;
    ContentFacts facts;  // learnt as the content was written or checked: no read to find them
    // Found by recovery: it may have been delivered before the crash, with the record of it
    // lost, so delivery looks for an existing copy first.
    bool recovered = false;

    // The rest is the delivery scheduler's, guarded by its lock.

    // The whole content, for a message that was never spilled to disk: its first delivery
    // attempt needs no read of the spool file. Dropped after that attempt (remote deliveries
    // in progress keep their own reference).
    std::shared_ptr<const std::string> content;
    std::vector<RecipientState> recipients;  // parallel to header.envelope.recipients
    std::vector<bool> busy;                  // in a delivery attempt right now
    std::vector<bool> reported;              // final outcome reported to the sender (message_event.hpp)
    std::vector<bool> delay_reported;        // a "delayed" DSN was sent
    std::vector<std::string> remote_mta;     // who gave the last remote reply
    std::deque<AttemptRecord> attempts;      // the latest kMaxAttemptRecords
    bool held = false;                       // by queue control: no attempts until released
    // Queue control asked to return it to its sender while some recipients were being tried:
    // those that come back from that attempt undelivered fail as returned (in memory only).
    bool returning = false;
    std::size_t jobs_in_flight = 0;          // remote deliveries not yet answered
    bool reporting = false;                  // a DSN of it is being committed
    std::uint64_t report_not_before_us = 0;  // after a failed DSN commit
    std::uint64_t wake_us = 0;               // the timer that counts; 0 = none
    bool in_ready = false;                   // waiting for the delivery thread already

    // Serialises appends to the file with its unlink, on whatever thread either happens:
    // once `removed` is set (under this lock) nothing is written to the path again.
    std::mutex file_mutex;
    bool removed = false;
    // Under file_mutex: the file's length as far as it is known to be whole, and state records
    // an append could not write (ENOSPC, EIO), written again before the next ones. An append
    // first cuts the file back to `file_length`, so the remains of a failed one never sit
    // between records and never make a restart drop the records written after them.
    std::uint64_t file_length = 0;
    std::string unwritten_records;

    // Sizes the per-recipient vectors after `recipients` is set.
    void prepare() {
        const std::size_t n = header.envelope.recipients.size();
        recipients.resize(n);
        busy.resize(n);
        reported.resize(n);
        delay_reported.resize(n);
        remote_mta.resize(n);
    }
};

// The reverse-path as logs show it: "<bob@example.org>", or "<>".
inline std::string reverse_path_text(const smtp::Envelope& envelope) {
    std::string text = "<";
    text += envelope.sender_str();
    text += '>';
    return text;
}

inline std::uint64_t to_unix_us(std::chrono::system_clock::time_point t) {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
}

inline std::uint64_t unix_time_us() { return to_unix_us(std::chrono::system_clock::now()); }

// Counters behind Queue::Stats, updated from the queue's threads.
struct QueueCounters {
    std::atomic<std::uint64_t> committed{0}, delivered{0}, deferred{0}, held{0}, recovered{0}, discarded{0},
        commit_batches{0}, syncs{0}, failed{0}, reports{0};
    std::function<void()> sync_hook;  // test seam, see QueueOptions
    observe::History* history = nullptr;  // QueueOptions::history, for the writer and the scheduler
    observe::EhloMetrics* metrics = nullptr;  // QueueOptions::metrics

    void count_sync() {
        syncs.fetch_add(1, std::memory_order_relaxed);
        if (sync_hook) sync_hook();
    }
};

}  // namespace ehlo::queue
