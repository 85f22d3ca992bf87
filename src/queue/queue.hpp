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
#include <optional>
#include <string>
#include <vector>

#include "delivery/durability.hpp"
#include "delivery/remote_transport.hpp"
#include "smtp/envelope.hpp"

namespace ehlo::observe {
class History;
class EhloMetrics;
}

namespace ehlo::queue {

using QueueId = std::string;  // 16 characters of [0-9A-Z], sortable by arrival time

using SyncMode = delivery::SyncMode;

// Where one recipient's mail goes, decided by the caller's configuration.
struct Route {
    // Hold: no onward route; stays queued. Remote: onward by SMTP to `remote`.
    enum class Kind { Maildir, Remote, Hold } kind = Kind::Hold;
    std::filesystem::path maildir;  // for Maildir: the Maildir's top directory
    delivery::RemoteTarget remote;  // for Remote

    Route() = default;
    Route(Kind k, std::filesystem::path dir) : kind(k), maildir(std::move(dir)) {}
    explicit Route(delivery::RemoteTarget target) : kind(Kind::Remote), remote(std::move(target)) {}
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
    // Test seam for a failing disk: given the size of an append of state records, how many of
    // its bytes reach the file before the write fails with ENOSPC (the size or more: no fault).
    std::function<std::size_t(std::size_t)> state_write_fault;
    // Where each event of a message's life is recorded (ehlo trace); none when null. Its
    // record() never blocks, so the queue's threads call it as they log.
    observe::History* history = nullptr;
    // Delivery attempts, their durations and the time in queue (observe/ehlo_metrics.hpp);
    // none when null.
    observe::EhloMetrics* metrics = nullptr;
    // Content of small messages kept in memory between their 250 and their first attempt, in
    // all (content_budget.hpp); beyond it, the first attempt reads the spool file.
    std::uint64_t content_in_memory = 64u << 20;

    // Onward delivery (RFC 5321 4.5.4.1): back-off from retry_min doubling to retry_max between
    // attempts; a recipient still undelivered after `lifetime` bounces (4.4.7); an optional
    // warning (a "delayed" DSN) after `delay_warning` (0 = none).
    std::chrono::seconds retry_min{60};
    std::chrono::seconds retry_max{3600};
    std::chrono::seconds lifetime{5 * 24 * 3600};
    std::chrono::seconds delay_warning{0};
    // More Received: headers than this is a mail loop: bounce with 5.4.6 (RFC 5321 6.3).
    std::size_t max_received = 100;
    // A failure of a message from the null sender has nobody to bounce to (RFC 5321 4.5.5):
    // tell this local mailbox instead ("postmaster@example.org", or "postmaster" alone, which
    // the router knows as RFC 5321 4.1.1.3's), or only log it (empty).
    std::string null_sender_failures_to;

    // The time now. Tests give a clock of their own to run retries and lifetimes without
    // waiting; since such a clock may jump, the delivery thread then looks at it every few
    // milliseconds. Empty: the system clock.
    std::function<std::chrono::system_clock::time_point()> clock;
    // stop() waits this long for remote deliveries in progress to report. An outcome that comes
    // later is dropped: its recipients are tried again after the next start (delivered twice
    // rather than lost, RFC 5321 6.1).
    std::chrono::milliseconds remote_stop_grace = std::chrono::seconds(10);

    // The messages, and their recipients, the delivery thread holds in memory at once (as
    // Postfix's qmgr_message_active_limit and qmgr_message_recipient_limit); the rest wait on
    // disk and are taken up oldest first as room comes. What bounds the queue's memory.
    std::size_t active_messages = 10000;
    std::size_t active_recipients = 50000;

    // Free space the spool's file system keeps (octets): see Queue::storage().
    std::uint64_t min_free = 0;
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
    // Header fields (CRLF-terminated) to go above everything appended or prepended so far,
    // decided once the content is in (verdicts, signatures). Before commit only.
    virtual void prepend(std::string_view fields) = 0;
    virtual std::uint64_t size() const = 0;
    // Too much of it waits to be written: stop reading from the client until this clears.
    virtual bool backlogged() const { return false; }
};

// What `ehlo queue list` and `show` print (queue control).
struct RecipientSummary {
    std::string address;
    std::string status;        // pending, deferred, delivered, failed, held
    std::uint32_t attempts = 0;
    std::int64_t next_attempt = 0;  // unix seconds; 0 = none
    std::string last_error;
};
struct MessageSummary {
    QueueId id;
    std::int64_t arrival = 0;  // unix seconds
    std::uint64_t size = 0;
    std::string sender;        // "" = null sender
    // The reception's session id; "maildrop:NAME" for a message picked up from the maildrop.
    std::string session;
    bool held = false;
    // Quarantined (spool_dir/corrupt/): a file that cannot be trusted, kept for a person;
    // `damage` says what is wrong with it. Nothing is delivered from it.
    bool corrupt = false;
    std::string damage;
    std::vector<RecipientSummary> recipients;
};
struct MessageDetail {
    MessageSummary summary;
    std::string headers;                 // the content's header section, as spooled
    std::vector<std::string> attempts;   // every delivery attempt: time, recipient, peer, reply
};

// The spool's messages as its files tell them, oldest first, for `ehlo queue list` when the
// server is not running. Reads only: never writes, never takes the spool's lock, and skips a
// file being written or one it cannot understand. Throws std::system_error when the queue
// directory cannot be read.
std::vector<MessageSummary> list_spool(const std::filesystem::path& spool_dir);
// The reception session ids of the spool's messages that start with `prefix`, read as
// list_spool reads (the server down); only the matches are kept in memory.
std::vector<std::string> spool_sessions_with_prefix(const std::filesystem::path& spool_dir, std::string_view prefix);

class Queue {
public:
    // `remote` (may be null: then Remote routes are held) carries mail onward; it must outlive
    // the queue's stop().
    Queue(QueueOptions options, Router router, delivery::RemoteTransport* remote = nullptr);
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

    // Queue control (any thread). Each returns false / empty when the id is not queued.
    std::vector<MessageSummary> list() const;
    std::optional<MessageDetail> show(const QueueId& id) const;
    // Try deferred recipients now: all, one message, or those of one recipient domain.
    std::size_t flush(const std::string& id_or_domain = {});
    bool hold(const QueueId& id);     // no delivery attempts until released (kept across restarts)
    bool release(const QueueId& id);
    bool remove(const QueueId& id);   // delete without a bounce
    // Return to the sender now: each recipient not yet done fails ("returned to the sender by
    // the postmaster") and the sender gets a DSN; false also when nothing is left to return.
    bool bounce(const QueueId& id);
    // The whole content of a queued message as spooled (our Received header first), for a
    // person to read (the console's download); empty when the id is not queued or not whole.
    std::optional<std::string> content(const QueueId& id) const;

    // The spool's free space as the spool thread last measured it (no system call: any thread,
    // an event loop too). `low()`: below the reserve, take no new mail (452 4.3.1); `room()`:
    // what a new message may take, for a SIZE= declared at MAIL (RFC 1870 6.1).
    struct Storage {
        std::uint64_t free = UINT64_MAX;
        std::uint64_t min_free = 0;
        bool low() const { return free < min_free; }
        std::uint64_t room() const { return free > min_free ? free - min_free : 0; }
    };
    Storage storage() const;

    // Counters for logs, tests and metrics.
    struct Stats {
        std::uint64_t committed = 0, delivered = 0, held = 0, recovered = 0, discarded = 0;
        std::uint64_t deferred = 0;        // delivery attempts that failed and will be retried
        std::uint64_t failed = 0;          // recipients that failed for good (a bounce is owed)
        std::uint64_t reports = 0;         // DSNs and failure notices queued
        std::uint64_t commit_batches = 0;  // group commits: each made a whole batch durable
        std::uint64_t syncs = 0;           // sync system calls, spool and deliveries together
    };
    Stats stats() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ehlo::queue
