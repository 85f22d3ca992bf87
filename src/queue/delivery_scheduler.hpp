// The delivery thread: takes queued messages as they become ready (just committed, found by
// recovery, or due for a retry), delivers a whole batch at once through the Maildir
// deliverer, and records each recipient's outcome in the message's spool file.
//
// A "delivered" record needs no sync of its own: if it is lost in a crash, the recipient is
// tried again, and the Maildir file name, the same on every attempt, shows it is already
// there. A message whose recipients are all done is unlinked.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "delivery/maildir_deliverer.hpp"
#include "queue/queue.hpp"
#include "queue/queued_message.hpp"

namespace ehlo::queue {

class DeliveryScheduler {
public:
    DeliveryScheduler(const QueueOptions& options, delivery::SyncMode sync, Router router, QueueCounters& counters);
    ~DeliveryScheduler();

    void start();
    // Delivers what is ready now, then joins the thread. Retries not yet due stay on disk.
    void stop();

    // A message to deliver now (any thread).
    void submit(std::shared_ptr<QueuedMessage> message);

private:
    using Clock = std::chrono::steady_clock;
    using Batch = std::vector<std::shared_ptr<QueuedMessage>>;

    void run();
    void deliver(const Batch& batch);
    // Writes the batch's new states to the messages' files and schedules what remains.
    void finish(QueuedMessage& message, const std::string& records, std::shared_ptr<QueuedMessage> keep);

    std::string hostname_;
    std::chrono::milliseconds retry_delay_;
    Router router_;
    QueueCounters& counters_;
    delivery::MaildirDeliverer deliverer_;

    std::mutex mutex_;
    std::condition_variable wake_;
    Batch ready_;
    std::multimap<Clock::time_point, std::shared_ptr<QueuedMessage>> retries_;
    bool running_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace ehlo::queue
