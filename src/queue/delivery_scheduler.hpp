// The delivery thread: takes queued messages as they become ready (just committed, found by
// recovery, due for a retry, flushed or released), and in one pass per message attempts every
// recipient that is due:
//
//  - local recipients are delivered in a batch through the Maildir deliverer;
//  - remote recipients go to the RemoteTransport, one job per next hop, the content shared by
//    all jobs; their outcomes come back on a transport thread and are moved to this thread;
//  - each outcome is recorded in the message's spool file (a state record after End), a
//    temporary failure with its next attempt by the back-off (delivery::RetryPolicy);
//  - when the pass is complete, the sender is told what they are owed (notification.hpp) by a
//    DSN queued like any other message, and a message whose recipients are all done and
//    reported is unlinked; otherwise it waits for its earliest next attempt.
//
// A "delivered" record needs no sync of its own: if it is lost in a crash, the recipient is
// tried again, and the Maildir file name, the same on every attempt, shows it is already
// there (a remote recipient may get it twice: the lesser harm, RFC 5321 6.1).
//
// Memory: the thread holds a bounded set of messages (QueueOptions::active_messages and
// active_recipients, as Postfix's active queue); the rest wait on disk. A message waiting for a
// retry more than a little while, or while others need the room, or held, leaves the set: its
// file's modification time is set to when it is due again (far in the future when held), and
// a look through the queue directory (scheduler_disk.cpp) takes due files up again, oldest
// first, as room allows. So the memory of the queue depends on those bounds, never on how many
// messages are queued, and a backlog larger than memory is delivered like any other.
//
// Queue control (list, show, flush, hold, release, remove) works on the same state from any
// thread, under the scheduler's lock; for a message on disk the work is done on the delivery
// thread, which alone takes files up and sets them aside.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "delivery/maildir_deliverer.hpp"
#include "delivery/remote_transport.hpp"
#include "delivery/retry.hpp"
#include "queue/notification.hpp"
#include "queue/queue.hpp"
#include "queue/queued_message.hpp"

namespace ehlo::queue {

// Something for the delivery thread that happened elsewhere: a remote delivery reported, or a
// DSN was committed (or not).
struct SchedulerEvent {
    enum class Kind { RemoteDone, ReportQueued, Control } kind = Kind::RemoteDone;
    std::function<void()> work;           // Control: queue control for messages on disk
    std::shared_ptr<QueuedMessage> message;
    std::vector<std::size_t> recipients;  // RemoteDone: the job's recipients
    delivery::RemoteOutcome outcome;      // RemoteDone
    double seconds = 0;                   // RemoteDone: from the hand-over to the outcome
    std::string next_hop;                 // RemoteDone: where the job was routed (next_hop_of)
    bool committed = false;               // ReportQueued: the DSN is durable
    OwedReports reported;                 // ReportQueued: what it reports
    std::string report_id, report_to;     // ReportQueued: the DSN's queue id and recipient
};

// The part of the scheduler that transport callbacks and commit callbacks reach. It is shared
// with them, so that a callback that comes after stop(), or after the queue is gone, finds it
// still there and is simply dropped.
struct SchedulerCore {
    std::mutex mutex;
    std::condition_variable wake;
    std::vector<SchedulerEvent> events;
    std::uint64_t run = 0;  // counts start()s: events of an earlier run are dropped
    bool open = false;

    void post(std::uint64_t from_run, SchedulerEvent event);
};

class DeliveryScheduler {
public:
    // How the scheduler queues a message it makes itself (a DSN): through the spool writer's
    // commit, like a received message, so it is as durable as any other.
    struct Injector {
        std::function<QueueId(std::uint64_t arrival_us)> new_id;
        // `done(ok)` runs on the spool thread, or at once on the caller's when it is stopped.
        std::function<void(SpoolHeader header, std::string content, std::function<void(bool)> done)> commit;
        // The spool writer is writing this id: its file is neither to be taken up nor deleted.
        std::function<bool(const QueueId& id)> receiving;
    };

    DeliveryScheduler(const QueueOptions& options, delivery::SyncMode sync, Router router, QueueCounters& counters,
                      delivery::RemoteTransport* remote, Injector injector);
    ~DeliveryScheduler();

    // Takes up what waits in the spool (deleting torn files, quarantining damaged ones) as far
    // as the bounds allow, then starts the thread; the rest is taken up as room comes.
    void start();
    // Delivers what is ready now, waits up to remote_stop_grace for remote deliveries in
    // progress, then joins the thread. Retries not yet due stay on disk.
    void stop();

    // A message to deliver (any thread): just committed. Left on disk (and taken up later)
    // when the bounds are reached.
    void submit(std::shared_ptr<QueuedMessage> message);

    // Queue control (any thread); see Queue.
    std::vector<MessageSummary> list() const;
    std::optional<MessageDetail> show(const QueueId& id) const;
    std::size_t flush(const std::string& id_or_domain);
    bool hold(const QueueId& id);
    bool release(const QueueId& id);
    bool remove(const QueueId& id);
    // Every recipient not yet done (nor being tried now) fails at once: the sender is sent a
    // DSN, and the message leaves once it is. False when the id is not queued or nothing of it
    // is left to return.
    bool bounce(const QueueId& id);

    // The time now, by the configured clock (unix microseconds).
    std::uint64_t now_us() const;

private:
    using Batch = std::vector<std::shared_ptr<QueuedMessage>>;
    struct Pass;
    struct Result;

    void run(std::uint64_t run_id);
    void deliver(const Batch& batch);
    void start_remote(Pass& pass, std::vector<Result>& results);
    void handle(SchedulerEvent& event);
    void on_remote_done(SchedulerEvent& event);
    void on_report_queued(SchedulerEvent& event);
    // Applies outcomes to the message's states (under the lock), then appends their records.
    void record(QueuedMessage& message, const std::vector<Result>& results);
    std::string apply(QueuedMessage& message, const Result& result, std::uint64_t now);
    // The pass is over (no remote delivery outstanding): report what is owed, then unlink the
    // message or wait for its next attempt.
    void settle(const std::shared_ptr<QueuedMessage>& message);
    void send_report(const std::shared_ptr<QueuedMessage>& message, const ReportFacts& facts, const OwedReports& owed);
    void report_failed(const std::shared_ptr<QueuedMessage>& message, const std::string& error);
    void unlink(QueuedMessage& message);
    void append(QueuedMessage& message, const std::string& records);
    void append_locked(QueuedMessage& message, const std::string& records);  // file_mutex held
    // Under the lock:
    bool registered(const QueuedMessage& message) const;
    void schedule(const std::shared_ptr<QueuedMessage>& message, std::uint64_t due_us);
    void make_ready(const std::shared_ptr<QueuedMessage>& message);
    void move_due_timers(std::uint64_t now);
    std::shared_ptr<QueuedMessage> find(const QueueId& id) const;
    bool has_room(std::size_t recipients) const;
    void enter(const std::shared_ptr<QueuedMessage>& message);  // into the active set, ready
    void leave(const QueuedMessage& message);                   // out of it
    std::chrono::microseconds scan_spacing_left() const;  // under the core's mutex
    bool scan_wanted(std::uint64_t now) const;
    // Delivery thread, no lock held:
    void scan_disk(std::uint64_t now);
    void set_aside(const std::shared_ptr<QueuedMessage>& message, std::uint64_t due_us);
    bool set_held(const QueueId& id, bool held);
    // Runs `work` on the delivery thread and waits for it (queue control of messages on disk);
    // false when the thread is not running or does not answer in time.
    bool on_delivery_thread(std::function<void()> work) const;
    std::optional<MessageDetail> show_on_disk(const QueueId& id) const;
    std::size_t flush_on_disk(const std::string& id, const std::string& domain, std::uint64_t now);
    bool set_held_on_disk(const QueueId& id, bool held);
    std::shared_ptr<QueuedMessage> find_settled(const QueueId& id) const;
    bool set_held_here(const QueueId& id, bool held);  // on the delivery thread
    bool remove_here(const QueueId& id);               // on the delivery thread
    bool remove_on_disk(const QueueId& id);
    bool bounce_here(const QueueId& id);               // on the delivery thread
    bool bounce_on_disk(const QueueId& id);
    // The message's history (scheduler_history.cpp); nothing when there is none.
    void record_routed(const QueueId& id, const std::string& recipient, std::string next_hop) const;
    void record_outcome(const QueueId& id, const std::string& recipient, const RecipientState& state,
                        const Result& result) const;
    void record_reported(const QueuedMessage& message, const OwedReports& reported, const std::string& dsn_id) const;
    void record_flushed(const std::vector<QueueId>& ids) const;  // each message a flush made due

    std::filesystem::path queue_dir_, corrupt_dir_;
    std::size_t active_messages_limit_, active_recipients_limit_;
    std::string hostname_;
    std::chrono::milliseconds retry_delay_;
    delivery::RetryPolicy retry_;
    std::size_t max_received_;
    std::string null_sender_failures_to_;
    std::function<std::chrono::system_clock::time_point()> clock_;
    std::function<std::size_t(std::size_t)> state_write_fault_;  // test seam (QueueOptions)
    std::chrono::milliseconds stop_grace_;
    Router router_;
    QueueCounters& counters_;
    delivery::MaildirDeliverer deliverer_;
    delivery::RemoteTransport* remote_;
    Injector injector_;

    std::shared_ptr<SchedulerCore> core_;
    std::uint64_t run_ = 0;  // this run's number (delivery thread only)
    // Guarded by core_->mutex:
    Batch ready_;
    std::multimap<std::uint64_t, std::shared_ptr<QueuedMessage>> timers_;  // by unix microseconds
    std::map<QueueId, std::shared_ptr<QueuedMessage>> messages_;           // the active set, by id (= arrival)
    std::size_t active_recipients_ = 0;                                     // of messages_
    // Messages wait on disk for room (not taken up at start, not let in at commit, set aside
    // while others waited): a look through the directory is wanted as room comes.
    bool disk_backlog_ = true;
    std::uint64_t disk_due_us_ = 0;     // the earliest time a message set aside is due; 0 = now
    // When the directory was last looked through, by the steady clock: the spacing of the
    // looks bounds their I/O, whatever the scheduler's clock (which tests set) says.
    std::chrono::steady_clock::time_point last_scan_{};
    bool scanned_ = false;  // since start(): the first look takes up every file
    std::size_t jobs_in_flight_ = 0;
    bool running_ = false;
    bool stopping_ = false;
    std::chrono::steady_clock::time_point stop_deadline_;
    std::thread thread_;
};

}  // namespace ehlo::queue
