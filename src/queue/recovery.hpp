// Recovery at start: what a previous run left in the spool, made consistent again.
//
//  - a file without a valid End record is a transaction whose 250 was never sent: deleted;
//  - a file with a valid End is ours: its recipients' states and its message events (held,
//    reported) are rebuilt from the records after End (a torn last record is cut off, so later
//    appends follow an intact one) and it is handed to delivery, marked as possibly delivered
//    already. Pending recipients are tried at once; deferred ones keep the next attempt they
//    were given, so a restart does not undo the back-off; a held message stays held;
//  - a file whose recipients are all done is deleted, unless a report (a bounce) is still
//    owed: it stays until that is queued;
//  - a file that is complete but cannot be understood is moved to spool_dir/corrupt/ for a
//    person to look at, never deleted: it was acknowledged.
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "queue/queued_message.hpp"

namespace ehlo::queue {

// Returns the messages with recipients still to deliver, oldest first.
std::vector<std::shared_ptr<QueuedMessage>> recover_spool(const std::filesystem::path& queue_dir,
                                                          const std::filesystem::path& corrupt_dir,
                                                          QueueCounters& counters);

}  // namespace ehlo::queue
