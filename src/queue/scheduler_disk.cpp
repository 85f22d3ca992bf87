// The delivery scheduler and the messages that wait on disk. The active set is bounded
// (delivery_scheduler.hpp); a message outside it is only its spool file, whose modification
// time says when it is due (the time of its write for one never taken up, its next attempt
// for one set aside, the year 2200 for one held). Only the delivery thread takes files up and
// sets them aside, and it does the queue control of messages on disk too, so that a file is
// never taken up twice nor changed behind the back of the one who holds it.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <future>
#include <queue>

#include "delivery/file_io.hpp"
#include "observe/log.hpp"
#include "queue/message_content.hpp"
#include "queue/message_event.hpp"
#include "queue/outcome_text.hpp"
#include "queue/queue_id.hpp"
#include "queue/queue_listing.hpp"
#include "queue/recovery.hpp"
#include "queue/scheduler_pass.hpp"
#include "smtp/text.hpp"

namespace ehlo::queue {
namespace {

// Looks through the directory no more often than this, however often room comes.
constexpr auto kScanSpacing = std::chrono::milliseconds(100);
// With messages waiting on disk, room for this share of the active set is worth a look
// (a look at a large directory costs a readdir and an fstatat per file).
constexpr std::size_t kRefillShare = 8;
// ...and any room is, after this long.
constexpr auto kRefillEvery = std::chrono::seconds(1);
constexpr std::uint64_t kRefillEveryUs = 1'000'000;
// Queue control waits this long for the delivery thread.
constexpr auto kControlWait = std::chrono::seconds(20);

std::uint64_t mtime_us(const struct stat& st) {
    return static_cast<std::uint64_t>(st.st_mtim.tv_sec) * 1000000ull +
           static_cast<std::uint64_t>(st.st_mtim.tv_nsec) / 1000ull;
}

// The file's modification time set to `due_us`: when a look through the directory takes it up.
std::error_code set_due(const std::filesystem::path& path, std::uint64_t due_us) {
    timespec times[2];
    times[0].tv_sec = 0;
    times[0].tv_nsec = UTIME_OMIT;
    times[1].tv_sec = static_cast<time_t>(due_us / 1000000ull);
    times[1].tv_nsec = static_cast<long>((due_us % 1000000ull) * 1000ull);
    if (::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) return {errno, std::system_category()};
    return {};
}

}  // namespace

std::error_code set_message_due(const std::filesystem::path& path, std::uint64_t due_us) { return set_due(path, due_us); }

namespace {

// Appends records to a file nobody holds in memory, after its intact part.
std::error_code append_on_disk(const std::filesystem::path& path, std::uint64_t intact_length, const std::string& records) {
    std::error_code ec;
    delivery::FileDescriptor fd = delivery::open_file(path, O_WRONLY | O_NOFOLLOW, 0, ec);
    if (!ec) ec = delivery::truncate_to(fd.get(), intact_length);
    if (!ec) ec = delivery::write_all_at(fd.get(), records, intact_length);
    if (ec && fd) (void)delivery::truncate_to(fd.get(), intact_length);
    if (!ec) ec = fd.close();
    return ec;
}

}  // namespace

std::chrono::microseconds DeliveryScheduler::scan_spacing_left() const {
    if (!scanned_) return std::chrono::microseconds(0);
    const auto left = last_scan_ + kScanSpacing - std::chrono::steady_clock::now();
    return std::max(std::chrono::microseconds(0), std::chrono::duration_cast<std::chrono::microseconds>(left));
}

bool DeliveryScheduler::scan_wanted(std::uint64_t now) const {
    const auto steady = std::chrono::steady_clock::now();
    if (stopping_ || (scanned_ && steady < last_scan_ + kScanSpacing)) return false;
    if (disk_due_us_ != kNeverDue && now >= disk_due_us_) return true;
    if (!disk_backlog_) return false;
    const std::size_t room = active_messages_limit_ - std::min(messages_.size(), active_messages_limit_);
    return messages_.empty() || room >= std::max<std::size_t>(1, active_messages_limit_ / kRefillShare) ||
           (room > 0 && steady >= last_scan_ + kRefillEvery);
}

void DeliveryScheduler::scan_disk(std::uint64_t now) {
    std::size_t room = 0;
    bool first = false;
    {
        std::lock_guard lock(core_->mutex);
        first = !scanned_;
        scanned_ = true;
        last_scan_ = std::chrono::steady_clock::now();
        room = active_messages_limit_ - std::min(messages_.size(), active_messages_limit_);
        if (messages_.empty()) room = std::max<std::size_t>(room, 1);
        disk_due_us_ = kNeverDue;  // found again below
    }

    // The `room` oldest due files (ids sort by arrival), found in one pass with bounded memory.
    std::priority_queue<std::string> oldest;
    bool more = false;
    std::uint64_t next_due = kNeverDue;
    {
        std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(queue_dir_.c_str()), ::closedir);
        if (!dir) {
            observe::error("queue-error", {{"error", delivery::describe("cannot read", queue_dir_, {errno, std::system_category()})}});
            std::lock_guard lock(core_->mutex);
            disk_due_us_ = now + kRefillEveryUs;  // try again soon
            return;
        }
        while (const dirent* entry = ::readdir(dir.get())) {
            const std::string name = entry->d_name;
            if (name == "." || name == "..") continue;
            if (!is_valid_queue_id(name)) {
                if (first) observe::warn("spool-skipped", {{"file", (queue_dir_ / name).string()}, {"reason", "not a queue file"}});
                continue;
            }
            {
                std::lock_guard lock(core_->mutex);
                if (messages_.count(name)) continue;
            }
            if (injector_.receiving && injector_.receiving(name)) continue;
            struct stat st {};
            if (::fstatat(::dirfd(dir.get()), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
            // At start every file is looked at, whatever its time says (a clock set back or
            // forward between runs must not hide a message): held ones excepted, which a
            // release brings back.
            const std::uint64_t due = mtime_us(st);
            if (first ? due >= kHeldDue : due > now) {
                if (due < kHeldDue) next_due = std::min(next_due, due);
                continue;
            }
            if (oldest.size() < room) {
                oldest.push(name);
            } else {
                more = true;
                if (!oldest.empty() && name < oldest.top()) {
                    oldest.pop();
                    oldest.push(name);
                }
            }
        }
    }
    std::vector<std::string> names;
    names.reserve(oldest.size());
    for (; !oldest.empty(); oldest.pop()) names.push_back(oldest.top());
    std::reverse(names.begin(), names.end());

    bool entered = false;
    for (const std::string& name : names) {
        TakenUp taken = take_up_spool_file(queue_dir_ / name, corrupt_dir_, counters_);
        if (taken.outcome != TakenUp::Outcome::Queued) continue;
        const std::shared_ptr<QueuedMessage>& message = taken.message;
        {
            std::lock_guard lock(core_->mutex);
            if (messages_.count(message->header.id)) continue;  // the spool writer's hand-over came first
            if (!has_room(message->recipients.size())) {
                more = true;  // a large one: it waits for more room, its file untouched
                continue;
            }
            enter(message);
        }
        entered = true;
        std::size_t pending = std::count_if(message->recipients.begin(), message->recipients.end(),
                                            [](const RecipientState& s) { return !s.final(); });
        if (first) {
            counters_.recovered.fetch_add(1, std::memory_order_relaxed);
            observe::info("recovered", {{"id", message->header.id},
                                        {"from", reverse_path_text(message->header.envelope)},
                                        {"nrcpt", message->recipients.size()},
                                        {"pending", pending},
                                        {"held", message->held ? "yes" : "no"},
                                        {"size", message->content_size}});
        } else {
            observe::debug("taken-up", {{"id", message->header.id}, {"pending", pending}});
        }
    }
    {
        std::lock_guard lock(core_->mutex);
        disk_backlog_ = more;
        disk_due_us_ = std::min(disk_due_us_, next_due);
    }
    if (entered) core_->wake.notify_one();
}

void DeliveryScheduler::set_aside(const std::shared_ptr<QueuedMessage>& message, std::uint64_t due_us) {
    {
        std::lock_guard lock(core_->mutex);
        // An outcome still to come, or a report being queued, needs the message in memory.
        if (!registered(*message) || message->jobs_in_flight > 0 || message->reporting) return;
    }
    {
        std::lock_guard file_lock(message->file_mutex);
        if (message->removed) return;
        if (!message->unwritten_records.empty()) append_locked(*message, {});
        if (!message->unwritten_records.empty()) {
            // Its state is not all on disk: it stays, and is tried again as if it had stayed.
            std::lock_guard lock(core_->mutex);
            if (due_us != kHeldDue) schedule(message, due_us);
            return;
        }
        if (auto ec = set_due(message->path, due_us))
            observe::error("queue-error", {{"id", message->header.id}, {"error", delivery::describe("cannot set the due time of", message->path, ec)}});
        std::lock_guard lock(core_->mutex);
        // A flush or a release may have come since the decision (queue control runs on other
        // threads and changes a message in memory): then it stays, to be tried as asked. Its
        // file's later time does no harm; it is set again when the message goes to disk.
        if (message->in_ready || message->jobs_in_flight > 0 || message->reporting) return;
        for (std::size_t i = 0; due_us != kHeldDue && i < message->recipients.size(); ++i) {
            const RecipientState& state = message->recipients[i];
            if (!state.final() && !message->busy[i] && state.next_attempt_us < due_us) {
                schedule(message, state.next_attempt_us);
                return;
            }
        }
        leave(*message);
        if (due_us != kHeldDue) disk_due_us_ = std::min(disk_due_us_, due_us);
    }
}

bool DeliveryScheduler::on_delivery_thread(std::function<void()> work) const {
    if (std::this_thread::get_id() == thread_.get_id()) {
        work();
        return true;
    }
    auto done = std::make_shared<std::promise<void>>();
    std::future<void> answered = done->get_future();
    std::uint64_t run_id = 0;
    {
        std::lock_guard lock(core_->mutex);
        if (!running_ || stopping_) return false;
        run_id = core_->run;
    }
    SchedulerEvent event;
    event.kind = SchedulerEvent::Kind::Control;
    event.work = [work = std::move(work), done] {
        work();
        done->set_value();
    };
    core_->post(run_id, std::move(event));
    if (answered.wait_for(kControlWait) != std::future_status::ready) return false;
    try {
        answered.get();
    } catch (const std::future_error&) {
        return false;  // dropped: the thread stopped first
    }
    return true;
}

std::optional<MessageDetail> DeliveryScheduler::show_on_disk(const QueueId& id) const {
    if (!is_valid_queue_id(id)) return std::nullopt;
    const auto path = queue_dir_ / id;
    MessageDetail detail;
    SpoolReadResult read = read_spool_file(path, SpoolRead::Light);
    if (read.status == SpoolFileStatus::Ok) {
        if (read_spool_header_section(path, detail.headers, kMaxShownHeaders)) detail.headers.clear();
        const SpoolFileContents& c = read.contents;
        detail.summary = summarize(c.header, c.content_size, c.recipients, c.held);
        for (const AttemptRecord& attempt : c.attempts) detail.attempts.push_back(describe_attempt(attempt, c.header.envelope));
        return detail;
    }
    auto quarantined = summarize_quarantined(corrupt_dir_, id);
    if (!quarantined) return std::nullopt;
    detail.summary = std::move(*quarantined);
    return detail;
}

std::size_t DeliveryScheduler::flush_on_disk(const std::string& id, const std::string& domain, std::uint64_t now) {
    std::vector<std::string> names;
    if (!id.empty()) {
        names.push_back(id);
    } else {
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(queue_dir_, ec))
            if (is_valid_queue_id(entry.path().filename().string())) names.push_back(entry.path().filename().string());
    }
    std::size_t count = 0;
    std::vector<QueueId> flushed;
    for (const std::string& name : names) {
        {
            std::lock_guard lock(core_->mutex);
            if (messages_.count(name)) continue;  // in memory: flushed there
        }
        if (injector_.receiving && injector_.receiving(name)) continue;
        const auto path = queue_dir_ / name;
        SpoolReadResult read = read_spool_file(path, SpoolRead::Light);
        if (read.status != SpoolFileStatus::Ok || read.contents.held) continue;  // flush does not release
        const SpoolFileContents& c = read.contents;
        MessageEvent event;
        event.kind = MessageEventKind::Flushed;
        event.time_us = now;
        for (std::size_t i = 0; i < c.recipients.size(); ++i) {
            if (c.recipients[i].status != DeliveryStatus::Deferred) continue;
            if (!domain.empty() && smtp::lower(c.header.envelope.recipients[i].address.domain) != domain) continue;
            event.recipients.push_back(static_cast<std::uint32_t>(i));
        }
        if (event.recipients.empty()) continue;
        if (auto ec = append_on_disk(path, c.intact_length, encode_message_event(event))) {
            observe::error("queue-error", {{"id", name}, {"error", delivery::describe("cannot record a flush in", path, ec)}});
            continue;
        }
        (void)set_due(path, now);
        count += event.recipients.size();
        flushed.push_back(name);
    }
    record_flushed(flushed);
    std::lock_guard lock(core_->mutex);
    if (count > 0) disk_due_us_ = std::min(disk_due_us_, now);
    return count;
}

bool DeliveryScheduler::set_held_on_disk(const QueueId& id, bool held) {
    if (!is_valid_queue_id(id) || (injector_.receiving && injector_.receiving(id))) return false;
    const auto path = queue_dir_ / id;
    SpoolReadResult read = read_spool_file(path, SpoolRead::Light);
    if (read.status != SpoolFileStatus::Ok) return false;
    const std::uint64_t now = now_us();
    if (read.contents.held != held) {
        MessageEvent event;
        event.kind = held ? MessageEventKind::Held : MessageEventKind::Released;
        event.time_us = now;
        if (auto ec = append_on_disk(path, read.contents.intact_length, encode_message_event(event))) {
            observe::error("queue-error", {{"id", id}, {"error", delivery::describe("cannot record state in", path, ec)}});
            return false;
        }
        observe::info(held ? "hold" : "release", {{"id", id}});
    }
    (void)set_due(path, held ? kHeldDue : now);
    if (!held) {
        std::lock_guard lock(core_->mutex);
        disk_due_us_ = std::min(disk_due_us_, now);
    }
    return true;
}

bool DeliveryScheduler::bounce_on_disk(const QueueId& id) {
    if (!is_valid_queue_id(id) || (injector_.receiving && injector_.receiving(id))) return false;
    const auto path = queue_dir_ / id;
    SpoolReadResult read = read_spool_file(path, SpoolRead::Light);
    if (read.status != SpoolFileStatus::Ok) return false;
    const std::uint64_t now = now_us();
    std::string records;
    std::size_t bounced = 0;
    for (std::size_t i = 0; i < read.contents.recipients.size(); ++i) {
        RecipientState state = read.contents.recipients[i];
        if (state.final()) continue;
        mark_returned(state, now);
        records += encode_state_record(static_cast<std::uint32_t>(i), state);
        ++bounced;
    }
    if (bounced == 0) return false;
    if (read.contents.held) {
        MessageEvent event;
        event.kind = MessageEventKind::Released;
        event.time_us = now;
        records += encode_message_event(event);
    }
    if (auto ec = append_on_disk(path, read.contents.intact_length, records)) {
        observe::error("queue-error", {{"id", id}, {"error", delivery::describe("cannot record a bounce in", path, ec)}});
        return false;
    }
    counters_.failed.fetch_add(bounced, std::memory_order_relaxed);
    observe::info("returned", {{"id", id}, {"recipients", std::to_string(bounced)}, {"by", "queue control"}});
    // Taken up at once: settle() then owes the sender the DSN.
    (void)set_due(path, now);
    std::lock_guard lock(core_->mutex);
    disk_due_us_ = std::min(disk_due_us_, now);
    return true;
}

bool DeliveryScheduler::remove_on_disk(const QueueId& id) {
    if (!is_valid_queue_id(id) || (injector_.receiving && injector_.receiving(id))) return false;
    for (const auto& path : {queue_dir_ / id, corrupt_dir_ / id}) {
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) continue;
        SpoolReadResult read = read_spool_file(path, SpoolRead::Light);
        if (auto ec = delivery::remove_file(path)) {
            observe::error("queue-error", {{"id", id}, {"error", delivery::describe("cannot remove", path, ec)}});
            return false;
        }
        if (read.status == SpoolFileStatus::Ok)
            observe::info("removed", {{"id", id},
                                      {"from", reverse_path_text(read.contents.header.envelope)},
                                      {"nrcpt", read.contents.recipients.size()}});
        else
            observe::info("removed", {{"id", id}, {"quarantined", "yes"}});
        return true;
    }
    return false;
}

}  // namespace ehlo::queue
