// A message the queue owns: its End record is durable. Shared between the spool thread that
// committed it (or the recovery that found it) and the delivery thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "queue/recipient_state.hpp"
#include "queue/spool_file.hpp"

namespace ehlo::queue {

struct QueuedMessage {
    SpoolHeader header;
    std::filesystem::path path;  // spool_dir/queue/<id>
    // The whole content, for a message that was never spilled to disk: its first delivery
    // attempt needs no read of the spool file. Dropped after that attempt.
    std::optional<std::string> content;
    std::uint64_t content_size = 0;
    std::vector<RecipientState> recipients;  // parallel to header.envelope.recipients
    std::vector<bool> held_logged;           // "held" is logged once per recipient
    // Found by recovery: it may have been delivered before the crash, with the record of it
    // lost, so delivery looks for an existing copy first.
    bool recovered = false;
};

// The reverse-path as logs show it: "<bob@example.org>", or "<>".
inline std::string reverse_path_text(const smtp::Envelope& envelope) {
    std::string text = "<";
    text += envelope.sender_str();
    text += '>';
    return text;
}

inline std::uint64_t unix_time_us() {
    auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(since_epoch).count());
}

// Counters behind Queue::Stats, updated from the queue's threads.
struct QueueCounters {
    std::atomic<std::uint64_t> committed{0}, delivered{0}, deferred{0}, held{0}, recovered{0}, discarded{0},
        commit_batches{0}, syncs{0};
    std::function<void()> sync_hook;  // test seam, see QueueOptions

    void count_sync() {
        syncs.fetch_add(1, std::memory_order_relaxed);
        if (sync_hook) sync_hook();
    }
};

}  // namespace ehlo::queue
