// Taking a spool file up for delivery: at start, and whenever the delivery thread has room
// for messages that wait on disk (the queue holds only a bounded number in memory).
//
//  - a torn file (spool_file.hpp: the beginning of a transaction, no End) never got its 250:
//    deleted;
//  - a damaged file (an End that does not match, a length no writer writes, a malformed
//    envelope or state record) may hold an acknowledged message: moved to spool_dir/corrupt/,
//    logged at error level with the reason, shown by `ehlo queue list` as corrupt, and kept
//    until an operator deletes it;
//  - a file whose recipients are all done and reported is deleted (only its unlink was lost);
//  - any other is ours: its recipients' states and message events (held, reported, flushed)
//    are rebuilt from the records after End (a torn last record is cut off, so later appends
//    follow an intact one), and it is handed to delivery as possibly delivered already
//    (delivery looks for a copy in the Maildir first). Pending recipients are tried at once;
//    deferred ones keep the next attempt they were given, so a restart does not undo the
//    back-off; a held message stays held.
#pragma once

#include <filesystem>
#include <memory>

#include "queue/queued_message.hpp"

namespace ehlo::queue {

struct TakenUp {
    enum class Outcome {
        Queued,       // `message` is ready for delivery
        Finished,     // every recipient done and reported: removed
        Torn,         // never acknowledged: removed
        Quarantined,  // damaged: moved to corrupt/
        Skipped,      // gone meanwhile, unreadable now, or of a newer format: left as it is
    } outcome = Outcome::Skipped;
    std::shared_ptr<QueuedMessage> message;
};

// `path` is spool_dir/queue/<ID>; the caller makes sure no one is writing it.
TakenUp take_up_spool_file(const std::filesystem::path& path, const std::filesystem::path& corrupt_dir,
                           QueueCounters& counters);

// Moves a spool file that cannot be trusted into `corrupt_dir`, never overwriting one there.
void quarantine(const std::filesystem::path& path, const std::filesystem::path& corrupt_dir, const std::string& why);

}  // namespace ehlo::queue
