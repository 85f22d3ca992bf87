#include "queue/recovery.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "delivery/file_io.hpp"
#include "observe/log.hpp"
#include "queue/notification.hpp"

namespace ehlo::queue {

void quarantine(const std::filesystem::path& path, const std::filesystem::path& corrupt_dir, const std::string& why) {
    const std::string name = path.filename().string();
    const auto target = corrupt_dir / name;
    // renameat2(RENAME_NOREPLACE): a file of the same name already in quarantine stays too.
    int rc = ::renameat2(AT_FDCWD, path.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE);
    const int err = rc == 0 ? 0 : errno;
    observe::error("corrupt", {{"id", name},
                               {"reason", why},
                               {"moved_to", rc == 0 ? target.string() : "(not moved: " + std::error_code(err, std::system_category()).message() + ")"},
                               {"note", "kept for a person to look at: ehlo queue show, ehlo queue delete"}});
}

TakenUp take_up_spool_file(const std::filesystem::path& path, const std::filesystem::path& corrupt_dir,
                           QueueCounters& counters) {
    const std::string name = path.filename().string();
    SpoolReadResult read = read_spool_file(path);
    TakenUp taken;
    switch (read.status) {
        case SpoolFileStatus::Ok: break;
        case SpoolFileStatus::Torn:
            // Never acknowledged: the client was not told 250 and will send it again.
            delivery::remove_file(path);
            counters.discarded.fetch_add(1, std::memory_order_relaxed);
            observe::info("discarded", {{"id", name}, {"reason", read.detail}});
            taken.outcome = TakenUp::Outcome::Torn;
            return taken;
        case SpoolFileStatus::Damaged:
            quarantine(path, corrupt_dir, read.detail);
            taken.outcome = TakenUp::Outcome::Quarantined;
            return taken;
        case SpoolFileStatus::UnknownVersion:
            observe::warn("spool-skipped", {{"id", name}, {"reason", read.detail}});
            return taken;
        case SpoolFileStatus::IoError:
            if (read.detail.find("No such file") == std::string::npos)
                observe::error("spool-skipped", {{"id", name}, {"reason", read.detail}});
            return taken;
    }

    SpoolFileContents& contents = read.contents;
    if (contents.intact_length < contents.file_length &&
        ::truncate(path.c_str(), static_cast<off_t>(contents.intact_length)) != 0) {
        // Appending after a torn record would hide every later record: leave it for now.
        observe::error("spool-skipped", {{"id", name}, {"reason", "cannot cut a torn state record"}});
        return taken;
    }
    bool done = true;  // every recipient final, and reported where a report is owed
    for (std::size_t i = 0; i < contents.recipients.size(); ++i) {
        const RecipientState& state = contents.recipients[i];
        done = done && state.final() &&
               !final_report_owed(contents.header.envelope, i, state, contents.reported[i]);
    }
    if (done) {
        // Finished before; only the unlink was lost.
        delivery::remove_file(path);
        taken.outcome = TakenUp::Outcome::Finished;
        return taken;
    }

    auto message = std::make_shared<QueuedMessage>();
    message->header = std::move(contents.header);
    message->path = path;
    message->content_size = contents.content_size;
    message->facts = contents.facts;
    message->file_length = contents.intact_length;
    message->recipients = std::move(contents.recipients);
    message->reported = std::move(contents.reported);
    message->delay_reported = std::move(contents.delay_reported);
    message->held = contents.held;
    message->attempts = std::move(contents.attempts);
    message->prepare();
    for (std::size_t i = 0; i < message->recipients.size(); ++i)
        if (message->recipients[i].from_peer) message->remote_mta[i] = message->recipients[i].peer;
    message->recovered = true;
    taken.outcome = TakenUp::Outcome::Queued;
    taken.message = std::move(message);
    return taken;
}

}  // namespace ehlo::queue
