// The spool thread: writes received messages into their spool files and makes them durable
// by group commit.
//
// Receiving sessions on any thread hand it work (a chunk of a large message, a commit, an
// abort) and return at once. The thread takes ALL the work waiting, writes every file, then
// makes the whole batch durable with one sync (syncfs of the spool, or fdatasync of each file
// and one fsync of the directory), and only then reports success to each committer. While it
// syncs, new work accumulates for the next batch: the busier the server, the larger the
// batches, and the cost of a sync is shared by every message in it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "delivery/durability.hpp"
#include "delivery/file_io.hpp"
#include "queue/content_budget.hpp"
#include "queue/queued_message.hpp"
#include "queue/spool_file.hpp"

namespace ehlo::queue {

// A message being received, as the spool thread sees it.
struct SpoolingMessage {
    SpoolHeader header;
    std::filesystem::path path;
    // Used on the spool thread only:
    delivery::FileDescriptor file;  // open while chunks arrive
    bool created = false;           // the file exists (unlink it if the message fails)
    std::string error;              // set once writing failed; the commit then fails
    std::uint32_t checksum = 0;     // CRC-32C of everything written so far
    std::uint64_t content_size = 0;
    std::uint64_t file_length = 0;  // octets written
    ContentFactsScanner facts;
    ContentFactsScanner top_facts;  // of the Top record
    // Chunks handed over and not yet written (any thread): the receiving side stops reading
    // from its client while this is high, so a fast client and a slow disk cannot pile up
    // memory.
    std::atomic<std::uint64_t> unwritten{0};
};

class SpoolWriter {
public:
    using CommittedHandler = std::function<void(std::shared_ptr<QueuedMessage>)>;

    // A committed message keeps its content in memory for its first attempt while `budget`
    // allows (content_budget.hpp).
    // `min_free`: the octets of free space the file system keeps (see free_space()).
    SpoolWriter(std::filesystem::path queue_dir, delivery::SyncMode mode, QueueCounters& counters,
                ContentBudget budget, CommittedHandler on_committed, std::uint64_t min_free = 0);
    ~SpoolWriter();

    // Throws std::system_error when the queue directory cannot be opened.
    void start();
    // Finishes all work handed in so far (commits get their answer), then joins the thread.
    void stop();

    // From receiving threads. A chunk is written to the file, creating it on the first one.
    void write_chunk(std::shared_ptr<SpoolingMessage> message, std::string content);
    // The rest of the content, then End; `in_memory` says the content given here is the
    // whole content (nothing was written as chunks), so delivery may use it without a read.
    // `top`: header fields to put above the content (a Top record), for a message whose
    // beginning is written already.
    void commit(std::shared_ptr<SpoolingMessage> message, std::string rest, bool in_memory,
                std::function<void(bool)> done, std::string top = {});
    void abort(std::shared_ptr<SpoolingMessage> message);

    // A file of this id is being written and not yet handed over (any thread): whoever looks
    // through the queue directory must neither take it up nor take it for a torn one.
    bool receiving(const QueueId& id) const;

    // Octets free on the spool's file system (for the server), as the spool thread last
    // measured it: after each batch and at least every kFreeSpaceInterval. Any thread; never a
    // system call, so an event loop may ask at every MAIL. Unknown (before start, or statvfs
    // failed): the maximum.
    std::uint64_t free_space() const { return free_space_.load(std::memory_order_relaxed); }
    std::uint64_t min_free() const { return min_free_; }
    static constexpr std::chrono::milliseconds kFreeSpaceInterval{500};

private:
    struct Work {
        enum class Kind { Chunk, Commit, Abort } kind;
        std::shared_ptr<SpoolingMessage> message;
        std::string content;
        bool in_memory = false;
        std::function<void(bool)> done;
        std::string top;
    };
    bool enqueue(Work work);  // false when stopped
    void run();
    void process(std::vector<Work>& batch);
    // Appends records to the file (created with its envelope first); with `end`, the End too.
    void write(SpoolingMessage& message, std::string_view content, bool end, std::string_view top = {});
    void discard(SpoolingMessage& message);
    void measure_free_space();

    std::filesystem::path queue_dir_;
    delivery::SyncMode mode_;
    QueueCounters& counters_;
    ContentBudget budget_;
    CommittedHandler on_committed_;
    delivery::FileDescriptor queue_dir_fd_;
    std::uint64_t min_free_;
    std::atomic<std::uint64_t> free_space_{UINT64_MAX};
    bool space_low_ = false;  // as last logged (spool thread)

    mutable std::mutex receiving_mutex_;
    std::unordered_set<QueueId> receiving_;  // files created and not yet committed or removed
    void forget(const QueueId& id);

    std::mutex mutex_;
    std::condition_variable wake_;
    std::vector<Work> work_;
    bool running_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace ehlo::queue
