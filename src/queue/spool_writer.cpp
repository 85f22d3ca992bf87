#include "queue/spool_writer.hpp"

#include "queue/spool_record.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>

#include <cstdio>

#include "observe/header_summary.hpp"
#include "observe/history.hpp"
#include "observe/log.hpp"
#include "queue/checksum.hpp"
#include "queue/spool_record.hpp"
#include "smtp/text.hpp"
#include "observe/thread_name.hpp"

namespace ehlo::queue {
namespace {

// Spool files are mail: readable by the server only.
constexpr unsigned kSpoolFileMode = 0600;

// The message's first event in the history: the envelope, and the header fields when the
// content is still in memory (a large one was written in pieces and is not read again for this).
void record_queued(observe::History& history, const QueuedMessage& message, const std::string* content) {
    observe::Event event;
    event.time_us = static_cast<std::int64_t>(message.header.arrival_us);
    event.kind = observe::EventKind::Queued;
    event.queue_id = message.header.id;
    event.session_id = message.header.reception.session_id;
    event.remote_address = message.header.reception.client_address;
    event.helo = message.header.reception.helo;
    const auto& envelope = message.header.envelope;
    event.sender = envelope.sender ? envelope.sender->str() : std::string{};
    for (const auto& r : envelope.recipients) event.recipients.push_back(r.address.str());
    event.size = message.content_size;
    event.reply = "250 2.0.0 Ok: queued as " + message.header.id;
    if (content) {
        observe::HeaderSummary fields = observe::summarize_header_section(smtp::header_section(*content));
        event.message_id = std::move(fields.message_id);
        event.header_from = std::move(fields.from);
        event.header_to = std::move(fields.to);
        event.subject = std::move(fields.subject);
    }
    history.record(std::move(event));
}

}  // namespace

SpoolWriter::SpoolWriter(std::filesystem::path queue_dir, delivery::SyncMode mode, QueueCounters& counters,
                         ContentBudget budget, CommittedHandler on_committed, std::uint64_t min_free)
    : queue_dir_(std::move(queue_dir)),
      mode_(mode),
      counters_(counters),
      budget_(std::move(budget)),
      on_committed_(std::move(on_committed)),
      min_free_(min_free) {}

SpoolWriter::~SpoolWriter() { stop(); }

void SpoolWriter::start() {
    std::lock_guard lock(mutex_);
    if (running_) return;
    std::error_code ec;
    queue_dir_fd_ = delivery::open_directory(queue_dir_, ec);
    if (ec) throw std::system_error(ec, "cannot open " + queue_dir_.string());
    measure_free_space();
    running_ = true;
    stopping_ = false;
    thread_ = std::thread([this] {
        observe::name_this_thread("ehlo-spool");
        run();
    });
}

void SpoolWriter::stop() {
    {
        std::lock_guard lock(mutex_);
        if (!running_) return;
        stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
    std::lock_guard lock(mutex_);
    running_ = false;
    queue_dir_fd_.close();
}

bool SpoolWriter::enqueue(Work work) {
    {
        std::lock_guard lock(mutex_);
        if (!running_ || stopping_) return false;
        work_.push_back(std::move(work));
    }
    wake_.notify_one();
    return true;
}

void SpoolWriter::write_chunk(std::shared_ptr<SpoolingMessage> message, std::string content) {
    // When stopped, the chunk is dropped: the commit that must follow fails anyway.
    message->unwritten.fetch_add(content.size(), std::memory_order_relaxed);
    enqueue(Work{Work::Kind::Chunk, std::move(message), std::move(content), false, {}, {}});
}

void SpoolWriter::commit(std::shared_ptr<SpoolingMessage> message, std::string rest, bool in_memory,
                         std::function<void(bool)> done, std::string top) {
    if (!enqueue(Work{Work::Kind::Commit, std::move(message), std::move(rest), in_memory, done, std::move(top)})) {
        if (done) done(false);
    }
}

void SpoolWriter::abort(std::shared_ptr<SpoolingMessage> message) {
    // When stopped, a file begun stays without End and recovery deletes it.
    enqueue(Work{Work::Kind::Abort, std::move(message), {}, false, {}, {}});
}

void SpoolWriter::run() {
    std::vector<Work> batch;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            // Idle, the thread still looks at the free space now and then: space also comes
            // back (or goes) by what others do on the file system.
            if (!wake_.wait_for(lock, kFreeSpaceInterval, [this] { return !work_.empty() || stopping_; })) {
                lock.unlock();
                measure_free_space();
                continue;
            }
            if (work_.empty()) return;  // stopping, and everything handed in is done
            batch.swap(work_);
        }
        process(batch);
        batch.clear();
        measure_free_space();
    }
}

void SpoolWriter::measure_free_space() {
    struct statvfs st {};
    if (::fstatvfs(queue_dir_fd_.get(), &st) != 0) {
        free_space_.store(UINT64_MAX, std::memory_order_relaxed);  // unknown: the commit will tell
        return;
    }
    const std::uint64_t free = static_cast<std::uint64_t>(st.f_bavail) * static_cast<std::uint64_t>(st.f_frsize);
    free_space_.store(free, std::memory_order_relaxed);
    const bool low = free < min_free_;
    if (low == space_low_) return;
    space_low_ = low;
    if (low)
        observe::warn("spool-space-low", {{"dir", queue_dir_.string()}, {"free", free}, {"min_free", min_free_},
                                          {"note", "MAIL gets 452 4.3.1 until space returns"}});
    else
        observe::info("spool-space-ok", {{"dir", queue_dir_.string()}, {"free", free}, {"min_free", min_free_}});
}

void SpoolWriter::write(SpoolingMessage& message, std::string_view content, bool end, std::string_view top) {
    if (!message.error.empty()) return;
    std::string out;
    if (!message.created) {
        {
            // Known as being received before the file exists, so that a look through the
            // queue directory never mistakes it for a file torn by a crash.
            std::lock_guard lock(receiving_mutex_);
            receiving_.insert(message.header.id);
        }
        // O_EXCL: an id is never reused, and if the clock went back across a restart the
        // collision is refused here rather than overwriting a queued message.
        std::error_code ec;
        message.file = delivery::open_file(message.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, kSpoolFileMode, ec);
        if (ec) {
            message.error = delivery::describe("cannot create", message.path, ec);
            return;
        }
        message.created = true;
        out = encode_spool_head(message.header);
    }
    append_content_records(out, content);
    message.content_size += content.size();
    message.facts.feed(content);
    if (!top.empty()) {
        append_record(out, RecordType::Top, top);
        message.content_size += top.size();
        message.top_facts.feed(top);
    }
    message.checksum = crc32c(out, message.checksum);
    if (end) out += encode_end_record(message.content_size, message.checksum);
    if (auto ec = delivery::write_all(message.file.get(), out))
        message.error = delivery::describe("cannot write", message.path, ec);
    else
        message.file_length += out.size();
}

void SpoolWriter::discard(SpoolingMessage& message) {
    message.file.close();
    if (message.created) delivery::remove_file(message.path);
    message.created = false;
    forget(message.header.id);
}

void SpoolWriter::forget(const QueueId& id) {
    std::lock_guard lock(receiving_mutex_);
    receiving_.erase(id);
}

bool SpoolWriter::receiving(const QueueId& id) const {
    std::lock_guard lock(receiving_mutex_);
    return receiving_.count(id) > 0;
}

void SpoolWriter::process(std::vector<Work>& batch) {
    std::vector<Work*> commits;
    for (Work& work : batch) {
        SpoolingMessage& message = *work.message;
        switch (work.kind) {
            case Work::Kind::Chunk:
                write(message, work.content, false);
                message.unwritten.fetch_sub(work.content.size(), std::memory_order_relaxed);
                break;
            case Work::Kind::Abort: discard(message); break;
            case Work::Kind::Commit:
                write(message, work.content, true, work.top);
                if (message.error.empty() && mode_ == delivery::SyncMode::Fsync) {
                    counters_.count_sync();
                    if (auto ec = delivery::sync_data(message.file.get()))
                        message.error = delivery::describe("cannot sync", message.path, ec);
                }
                // Closing before the sync is fine: syncfs covers closed files, and in Fsync
                // mode the data was synced just above.
                if (auto ec = message.file.close(); ec && message.error.empty())
                    message.error = delivery::describe("cannot close", message.path, ec);
                commits.push_back(&work);
                break;
        }
    }
    if (commits.empty()) return;

    // One sync for the whole batch. syncfs covers the files' data and their directory
    // entries; in Fsync mode each file's data is synced above and the directory here.
    std::string sync_error;
    counters_.count_sync();
    counters_.commit_batches.fetch_add(1, std::memory_order_relaxed);
    std::error_code ec = mode_ == delivery::SyncMode::Syncfs ? delivery::sync_filesystem(queue_dir_fd_.get())
                                                              : delivery::sync_all(queue_dir_fd_.get());
    if (ec) sync_error = delivery::describe("cannot sync", queue_dir_, ec);

    // Every client of the batch has its 250 before any message is logged or handed to
    // delivery: neither is what the 250 waits for.
    std::vector<std::shared_ptr<QueuedMessage>> committed;
    committed.reserve(commits.size());
    for (Work* work : commits) {
        SpoolingMessage& message = *work->message;
        const std::string& error = message.error.empty() ? sync_error : message.error;
        if (!error.empty()) {
            // Not durable, so not ours: the client is told 451 and will send it again.
            observe::error("queue-error", {{"id", message.header.id}, {"error", error}});
            discard(message);
            if (work->done) work->done(false);
            continue;
        }
        auto queued = std::make_shared<QueuedMessage>();
        queued->header = std::move(message.header);
        queued->path = message.path;
        queued->content_size = message.content_size;
        queued->file_length = message.file_length;
        queued->facts = with_top(message.facts.facts(), message.top_facts.facts());
        if (work->in_memory) queued->content = budget_.keep(std::move(work->content));
        queued->prepare();
        counters_.committed.fetch_add(1, std::memory_order_relaxed);
        // Recorded before the client can know it is queued: what the session says next (its
        // QUIT, its next MAIL) comes after this in the history, which links the transaction's
        // MAIL and RCPT to the message by that order.
        if (counters_.history) record_queued(*counters_.history, *queued, queued->content.get());
        if (work->done) work->done(true);
        committed.push_back(std::move(queued));
    }
    for (auto& queued : committed) {
        observe::info("queued", {{"id", queued->header.id},
                                 {"from", reverse_path_text(queued->header.envelope)},
                                 {"nrcpt", queued->recipients.size()},
                                 {"size", queued->content_size},
                                 {"session", queued->header.reception.session_id}});
        const QueueId id = queued->header.id;
        on_committed_(std::move(queued));
        forget(id);  // after the hand-over: the scheduler knows it, or finds a whole file
    }
}

}  // namespace ehlo::queue
