// What queue control shows of a message: built from the scheduler's state of a running queue,
// or from the spool files alone when the server is down (list_spool, declared in queue.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "queue/queue.hpp"
#include "queue/queued_message.hpp"

namespace ehlo::queue {

// `unrouted` (may be empty): recipients held for want of a route, shown as "held".
MessageSummary summarize(const SpoolHeader& header, std::uint64_t content_size,
                         const std::vector<RecipientState>& recipients, bool held, const std::vector<bool>& unrouted);

// "2024-05-01T12:00:00Z alice@example.com deferred mx.example [192.0.2.1]: 451 4.7.1 Try later"
std::string describe_attempt(const AttemptRecord& attempt, const smtp::Envelope& envelope);

}  // namespace ehlo::queue
