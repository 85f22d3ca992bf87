#include "queue/recovery.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "delivery/file_io.hpp"
#include "observe/log.hpp"
#include "queue/notification.hpp"
#include "queue/queue_id.hpp"

namespace ehlo::queue {
namespace {

std::vector<std::string> list_directory(const std::filesystem::path& dir) {
    std::vector<std::string> names;
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) throw std::system_error(errno, std::system_category(), "cannot read " + dir.string());
    while (const dirent* entry = ::readdir(d.get())) {
        std::string name(entry->d_name);
        if (name != "." && name != "..") names.push_back(std::move(name));
    }
    // Queue ids sort by arrival time: the oldest message is delivered first.
    std::sort(names.begin(), names.end());
    return names;
}

std::shared_ptr<QueuedMessage> recover_file(const std::filesystem::path& path, const std::filesystem::path& corrupt_dir,
                                            QueueCounters& counters) {
    const std::string name = path.filename().string();
    SpoolReadResult read = read_spool_file(path);
    switch (read.status) {
        case SpoolFileStatus::Ok: break;
        case SpoolFileStatus::Incomplete:
            // Never acknowledged: the client was not told 250 and will send it again.
            delivery::remove_file(path);
            counters.discarded.fetch_add(1, std::memory_order_relaxed);
            observe::info("discarded", {{"id", name}, {"reason", read.detail}});
            return nullptr;
        case SpoolFileStatus::Corrupt: {
            auto target = corrupt_dir / name;
            int rc = std::rename(path.c_str(), target.c_str());
            observe::error("corrupt", {{"id", name}, {"reason", read.detail}, {"moved_to", rc == 0 ? target.string() : "(not moved)"}});
            return nullptr;
        }
        case SpoolFileStatus::UnknownVersion:
            observe::warn("spool-skipped", {{"id", name}, {"reason", read.detail}});
            return nullptr;
        case SpoolFileStatus::IoError:
            observe::error("spool-skipped", {{"id", name}, {"reason", read.detail}});
            return nullptr;
    }

    SpoolFileContents& contents = read.contents;
    if (contents.intact_length < contents.file_length &&
        ::truncate(path.c_str(), static_cast<off_t>(contents.intact_length)) != 0) {
        // Appending after a torn record would hide every later record: leave it for now.
        observe::error("spool-skipped", {{"id", name}, {"reason", "cannot cut a torn state record"}});
        return nullptr;
    }
    bool done = true;  // every recipient final, and reported where a report is owed
    for (std::size_t i = 0; i < contents.recipients.size(); ++i) {
        const RecipientState& state = contents.recipients[i];
        done = done && state.final() &&
               !final_report_owed(contents.header.envelope, i, state, contents.reported[i]);
    }
    if (done) {
        // Finished before the crash; only the unlink was lost.
        delivery::remove_file(path);
        return nullptr;
    }

    auto message = std::make_shared<QueuedMessage>();
    message->header = std::move(contents.header);
    message->path = path;
    message->content_size = contents.content_size;
    message->facts = contents.facts;
    message->recipients = std::move(contents.recipients);
    message->reported = std::move(contents.reported);
    message->delay_reported = std::move(contents.delay_reported);
    message->held = contents.held;
    message->prepare();
    message->recovered = true;
    std::size_t pending = std::count_if(message->recipients.begin(), message->recipients.end(),
                                        [](const RecipientState& s) { return !s.final(); });
    counters.recovered.fetch_add(1, std::memory_order_relaxed);
    observe::info("recovered", {{"id", message->header.id},
                                {"from", reverse_path_text(message->header.envelope)},
                                {"nrcpt", message->recipients.size()},
                                {"pending", pending},
                                {"held", message->held ? "yes" : "no"},
                                {"size", message->content_size}});
    return message;
}

}  // namespace

std::vector<std::shared_ptr<QueuedMessage>> recover_spool(const std::filesystem::path& queue_dir,
                                                          const std::filesystem::path& corrupt_dir,
                                                          QueueCounters& counters) {
    std::vector<std::shared_ptr<QueuedMessage>> pending;
    for (const std::string& name : list_directory(queue_dir)) {
        if (!is_valid_queue_id(name)) {
            observe::warn("spool-skipped", {{"file", (queue_dir / name).string()}, {"reason", "not a queue file"}});
            continue;
        }
        if (auto message = recover_file(queue_dir / name, corrupt_dir, counters)) pending.push_back(std::move(message));
    }
    return pending;
}

}  // namespace ehlo::queue
