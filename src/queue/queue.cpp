// Queue: the front door. Receiving sessions get an IncomingMessage that buffers content on
// their own thread; everything that touches the disk is done by the spool thread (group
// commit) and the delivery thread.
#include "queue/queue.hpp"

#include <fcntl.h>
#include <sys/file.h>

#include <atomic>
#include <mutex>
#include <string>
#include <unordered_set>

#include "delivery/durability.hpp"
#include "delivery/file_io.hpp"
#include "queue/delivery_scheduler.hpp"
#include "queue/message_content.hpp"
#include "queue/spool_file.hpp"
#include "queue/queue_id.hpp"
#include "observe/history.hpp"
#include "queue/spool_writer.hpp"
#include "smtp/text.hpp"

namespace ehlo::queue {
namespace {

// Content is buffered per message up to this size; then it goes to the spool thread to be
// written, so a session holds at most this much however large its message is. A message
// that stays below it is delivered straight from memory after its commit.
constexpr std::size_t kSpillThreshold = 256 * 1024;
// Content handed to the spool thread and not yet written, per message, before the session
// stops reading from its client.
constexpr std::uint64_t kMaxUnwritten = 4 * kSpillThreshold;

// Spool directories hold mail: the server's alone.
constexpr unsigned kSpoolDirectoryMode = 0700;

}  // namespace

struct Queue::Impl {
    QueueOptions options;
    std::filesystem::path queue_dir, corrupt_dir;
    QueueCounters counters;
    QueueIdGenerator ids;
    DeliveryScheduler scheduler;
    SpoolWriter spool;

    std::mutex lifecycle;  // start() and stop()
    std::atomic<bool> accepting{false};
    delivery::FileDescriptor lock_file;

    Impl(QueueOptions o, Router router, delivery::RemoteTransport* remote)
        : options(std::move(o)),
          queue_dir(options.spool_dir / "queue"),
          corrupt_dir(options.spool_dir / "corrupt"),
          scheduler(options, options.sync, std::move(router), counters, remote,
                    DeliveryScheduler::Injector{[this](std::uint64_t arrival_us) { return ids.next(arrival_us); },
                                                [this](SpoolHeader header, std::string content,
                                                       std::function<void(bool)> done) {
                                                    inject(std::move(header), std::move(content), std::move(done));
                                                },
                                                [this](const QueueId& id) { return spool.receiving(id); }}),
          spool(queue_dir, options.sync, counters, ContentBudget(options.content_in_memory),
                [this](std::shared_ptr<QueuedMessage> m) { scheduler.submit(std::move(m)); }, options.min_free) {
        counters.sync_hook = options.sync_hook;
        counters.history = options.history;
        counters.metrics = options.metrics;
    }

    // A message the queue makes itself (a DSN) takes the path of a received one: written and
    // made durable by the spool thread's group commit, then handed to delivery.
    void inject(SpoolHeader header, std::string content, std::function<void(bool)> done) {
        auto message = std::make_shared<SpoolingMessage>();
        message->path = queue_dir / header.id;
        message->header = std::move(header);
        spool.commit(std::move(message), std::move(content), true, std::move(done));
    }

    // In Fsync mode each batch syncs only the queue directory, so the entries that make the
    // directories themselves reachable are synced here, once. (A syncfs covers them anyway.)
    void make_directories_durable() {
        if (options.sync != SyncMode::Fsync) return;
        for (const auto& dir : {options.spool_dir, options.spool_dir.parent_path()}) {
            std::error_code ec;
            delivery::FileDescriptor fd = delivery::open_directory(dir.empty() ? "." : dir, ec);
            if (ec) continue;
            counters.count_sync();
            if (auto sec = delivery::sync_all(fd.get())) throw std::system_error(sec, "cannot sync " + dir.string());
        }
    }

    // One process owns a spool: two would deliver each message twice.
    void lock_spool() {
        std::error_code ec;
        auto path = options.spool_dir / "lock";
        lock_file = delivery::open_file(path, O_RDWR | O_CREAT, 0600, ec);
        if (ec) throw std::system_error(ec, "cannot open " + path.string());
        if (::flock(lock_file.get(), LOCK_EX | LOCK_NB) != 0) {
            int err = errno;
            lock_file.close();
            throw std::system_error(err, std::system_category(), "spool in use by another process: " + path.string());
        }
    }
};

// A message being received: content accumulates here, on the receiving session's thread.
class Incoming final : public IncomingMessage {
public:
    Incoming(SpoolWriter& spool, std::shared_ptr<SpoolingMessage> message)
        : spool_(spool), message_(std::move(message)) {}
    // Dropped without commit or abort: whatever was written of it goes too.
    ~Incoming() override {
        if (!finished_ && spilled_) spool_.abort(std::move(message_));
    }

    const QueueId& id() const override { return message_->header.id; }
    std::uint64_t size() const override { return size_; }
    bool backlogged() const override {
        return message_ && message_->unwritten.load(std::memory_order_relaxed) > kMaxUnwritten;
    }

    void append(std::string_view bytes) override {
        buffer_.append(bytes);
        size_ += bytes.size();
        if (buffer_.size() >= kSpillThreshold) {
            spilled_ = true;
            spool_.write_chunk(message_, std::exchange(buffer_, std::string{}));
        }
    }

    void prepend(std::string_view fields) override {
        size_ += fields.size();
        // Still all in memory: it goes in front as it is. Otherwise the spool file's Top record
        // carries it, and every reader puts it first.
        if (!spilled_)
            buffer_.insert(0, fields);
        else
            top_.insert(0, fields);
    }

    void commit(std::function<void(bool)> done) {
        finished_ = true;
        spool_.commit(std::move(message_), std::move(buffer_), !spilled_, std::move(done), std::move(top_));
    }

    void abort() {
        finished_ = true;
        if (spilled_) spool_.abort(std::move(message_));
    }

private:
    SpoolWriter& spool_;
    std::shared_ptr<SpoolingMessage> message_;
    std::string buffer_;
    std::string top_;  // prepended after the first chunk went to the spool
    std::uint64_t size_ = 0;
    bool spilled_ = false;   // chunks went to the spool thread: the file exists or will
    bool finished_ = false;  // committed or aborted
};

Queue::Queue(QueueOptions options, Router router, delivery::RemoteTransport* remote)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(router), remote)) {}

Queue::~Queue() { stop(); }

void Queue::start() {
    std::lock_guard lock(impl_->lifecycle);
    if (impl_->accepting) return;
    for (const auto& dir : {impl_->options.spool_dir, impl_->queue_dir, impl_->corrupt_dir})
        if (auto ec = delivery::make_directories(dir, kSpoolDirectoryMode))
            throw std::system_error(ec, "cannot create " + dir.string());
    impl_->lock_spool();
    try {
        impl_->make_directories_durable();
        // Messages are written straight into queue/ (a torn one is recognised by its missing
        // End record), so there is no temporary area to clean: the scheduler takes up what a
        // previous run left, as far as its bounds allow, before its thread starts.
        impl_->scheduler.start();
        impl_->spool.start();
    } catch (...) {
        impl_->scheduler.stop();
        impl_->lock_file.close();
        throw;
    }
    impl_->accepting = true;
}

void Queue::stop() {
    std::lock_guard lock(impl_->lifecycle);
    impl_->accepting = false;
    // The spool first: its last commits hand their messages to the scheduler, which then
    // delivers what is ready before it stops.
    impl_->spool.stop();
    impl_->scheduler.stop();
    impl_->lock_file.close();
}

namespace {

// A client that names a recipient twice in one transaction gets one copy (RFC 5321 3.3 lets
// the server deliver one): the first mention, with its DSN parameters, stands. The domain is
// compared without case (RFC 5321 2.4), the local part as given.
std::vector<smtp::Recipient> without_repeats(const std::vector<smtp::Recipient>& recipients) {
    std::vector<smtp::Recipient> out;
    out.reserve(recipients.size());
    std::unordered_set<std::string> seen;
    for (const smtp::Recipient& r : recipients)
        if (seen.insert(r.address.local_part + '@' + smtp::lower(r.address.domain)).second) out.push_back(r);
    return out;
}

}  // namespace

std::unique_ptr<IncomingMessage> Queue::begin(const smtp::Envelope& envelope, const Reception& reception) {
    if (!impl_->accepting) return nullptr;
    auto message = std::make_shared<SpoolingMessage>();
    message->header.arrival_us = impl_->scheduler.now_us();
    message->header.id = impl_->ids.next(message->header.arrival_us);
    message->header.envelope = envelope;
    message->header.envelope.recipients = without_repeats(envelope.recipients);
    message->header.reception = reception;
    message->path = impl_->queue_dir / message->header.id;
    return std::make_unique<Incoming>(impl_->spool, std::move(message));
}

void Queue::commit(std::unique_ptr<IncomingMessage> message, std::function<void(bool ok)> done) {
    auto* incoming = dynamic_cast<Incoming*>(message.get());
    if (!incoming) {
        if (done) done(false);
        return;
    }
    incoming->commit(std::move(done));
}

void Queue::abort(std::unique_ptr<IncomingMessage> message) {
    if (auto* incoming = dynamic_cast<Incoming*>(message.get())) incoming->abort();
}

std::vector<MessageSummary> Queue::list() const { return impl_->scheduler.list(); }

std::optional<MessageDetail> Queue::show(const QueueId& id) const { return impl_->scheduler.show(id); }

namespace {

// An operator's action, for the message's history.
void record_control(observe::History* history, observe::EventKind kind, const std::string& id, std::string detail) {
    if (!history) return;
    observe::Event event;
    event.kind = kind;
    event.queue_id = id;
    event.detail = std::move(detail);
    history->record(std::move(event));
}

}  // namespace

std::size_t Queue::flush(const std::string& id_or_domain) {
    // The history gets each message flushed from the scheduler, which knows which they are.
    return impl_->scheduler.flush(id_or_domain);
}

bool Queue::hold(const QueueId& id) {
    const bool done = impl_->scheduler.hold(id);
    if (done) record_control(impl_->counters.history, observe::EventKind::Held, id, "queue control");
    return done;
}

bool Queue::release(const QueueId& id) {
    const bool done = impl_->scheduler.release(id);
    if (done) record_control(impl_->counters.history, observe::EventKind::Released, id, "queue control");
    return done;
}

bool Queue::remove(const QueueId& id) {
    const bool done = impl_->scheduler.remove(id);
    if (done) record_control(impl_->counters.history, observe::EventKind::Deleted, id, "queue control");
    return done;
}

bool Queue::bounce(const QueueId& id) {
    // The history gets each recipient's return from the scheduler, as it gets failures.
    return impl_->scheduler.bounce(id);
}

std::optional<std::string> Queue::content(const QueueId& id) const {
    if (!is_valid_queue_id(id)) return std::nullopt;
    const auto path = impl_->queue_dir / id;
    // Only a file whose End is there: one being received is nobody's to read yet.
    if (read_spool_file(path, SpoolRead::Light).status != SpoolFileStatus::Ok) return std::nullopt;
    std::string text;
    if (read_spool_text(path, text)) return std::nullopt;
    return text;
}

Queue::Storage Queue::storage() const {
    Storage s;
    s.free = impl_->spool.free_space();
    s.min_free = impl_->spool.min_free();
    return s;
}

Queue::Stats Queue::stats() const {
    const QueueCounters& c = impl_->counters;
    Stats s;
    s.committed = c.committed.load();
    s.delivered = c.delivered.load();
    s.held = c.held.load();
    s.recovered = c.recovered.load();
    s.discarded = c.discarded.load();
    s.deferred = c.deferred.load();
    s.failed = c.failed.load();
    s.reports = c.reports.load();
    s.commit_batches = c.commit_batches.load();
    s.syncs = c.syncs.load();
    return s;
}

}  // namespace ehlo::queue
