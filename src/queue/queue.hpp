// The queue: takes messages from receiving sessions, makes them durable before anyone says
// 250, recovers them after a crash, and hands them to delivery.
//
// Threads: the receiving side (event loops) only buffers bytes and enqueues work; all file
// I/O and every sync happens on the queue's own threads, so an event loop never blocks on the
// disk. Completion callbacks run on a queue thread: the caller moves them to its own loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "smtp/envelope.hpp"

namespace ehlo::queue {

using QueueId = std::string;  // 16 characters of [0-9A-Z], sortable by arrival time

enum class SyncMode { Syncfs, Fsync };

// Where one recipient's mail goes, decided by the caller's configuration.
struct Route {
    enum class Kind { Maildir, Hold } kind = Kind::Hold;  // Hold: no onward route yet; stays queued
    std::filesystem::path maildir;                       // for Maildir: the Maildir's top directory
};
using Router = std::function<Route(const smtp::Mailbox& recipient)>;

struct QueueOptions {
    std::filesystem::path spool_dir = "./var/spool";
    SyncMode sync = SyncMode::Syncfs;
    std::string hostname = "localhost";  // in Maildir file names
    // A delivery that failed for a local reason (disk full, permissions) is tried again after
    // this long; the recipient stays queued meanwhile.
    std::chrono::milliseconds retry_delay = std::chrono::seconds(60);
    // Called on a queue thread for every sync system call (tests count them to see batching).
    std::function<void()> sync_hook;
};

// Facts about the reception, kept with the message (for logs and later for bounces).
struct Reception {
    std::string session_id;
    std::string client_address;
    std::string helo;
};

// A message being received. Bytes are buffered; large content moves to the spool file in
// chunks on a queue thread, so memory per session stays bounded.
class IncomingMessage {
public:
    virtual ~IncomingMessage() = default;
    virtual const QueueId& id() const = 0;
    virtual void append(std::string_view bytes) = 0;
    virtual std::uint64_t size() const = 0;
};

class Queue {
public:
    Queue(QueueOptions options, Router router);
    ~Queue();  // stops if running
    Queue(const Queue&) = delete;
    Queue& operator=(const Queue&) = delete;

    // Recover the spool (delete what never got its end record, schedule what did) and start
    // the queue's threads. Throws std::system_error when the spool cannot be used.
    void start();
    // Finish pending commits and running deliveries, then join the threads.
    void stop();

    // Empty when the queue is not running (reply 451). The message must not outlive the queue.
    std::unique_ptr<IncomingMessage> begin(const smtp::Envelope& envelope, const Reception& reception);
    // Make the message durable: content, envelope, end record and directory entry synced.
    // `done(true)` only after that; `done(false)` if it could not be done (reply 451).
    // After stop(), `done(false)` is called at once, on the caller's thread.
    void commit(std::unique_ptr<IncomingMessage> message, std::function<void(bool ok)> done);
    // Forget a message being received; nothing of it remains on disk.
    void abort(std::unique_ptr<IncomingMessage> message);

    // Counters for logs, tests and metrics.
    struct Stats {
        std::uint64_t committed = 0, delivered = 0, held = 0, recovered = 0, discarded = 0;
        std::uint64_t deferred = 0;        // delivery attempts that failed and will be retried
        std::uint64_t commit_batches = 0;  // group commits: each made a whole batch durable
        std::uint64_t syncs = 0;           // sync system calls, spool and deliveries together
    };
    Stats stats() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ehlo::queue
