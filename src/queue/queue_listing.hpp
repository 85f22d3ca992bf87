// What queue control shows of a message: built from the scheduler's state of a running queue,
// or from the spool files alone when the server is down (list_spool, declared in queue.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "queue/queue.hpp"
#include "queue/queued_message.hpp"

namespace ehlo::queue {

// `ehlo queue show` prints the header section; a pathological one is cut here.
inline constexpr std::size_t kMaxShownHeaders = 256 * 1024;

MessageSummary summarize(const SpoolHeader& header, std::uint64_t content_size,
                         const std::vector<RecipientState>& recipients, bool held);

// A quarantined file (spool_dir/corrupt/<id>): what is wrong with it. Empty if there is none.
std::optional<MessageSummary> summarize_quarantined(const std::filesystem::path& corrupt_dir, const std::string& id);

// The messages of the spool's files, oldest first, then the quarantined ones: each file read
// lightly (envelope and states; the content seeked over). Ids in `skip` (those a running
// queue shows from memory) are left out; a file being written, gone meanwhile or not
// understood is too. Throws std::system_error when the queue directory cannot be read.
std::vector<MessageSummary> list_spool_files(const std::filesystem::path& spool_dir,
                                             const std::set<std::string>& skip = {});

// "2024-05-01T12:00:00Z alice@example.com deferred mx.example [192.0.2.1]: 451 4.7.1 Try later"
std::string describe_attempt(const AttemptRecord& attempt, const smtp::Envelope& envelope);

}  // namespace ehlo::queue
