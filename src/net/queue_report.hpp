// How queue control shows the queue to a person: `ehlo queue list` and `show`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "queue/queue.hpp"

namespace ehlo::net {

// One line per message (id, age, size, sender, state), then one indented line per recipient
// with its state, attempts, next attempt and last error.
std::string format_queue_list(const std::vector<queue::MessageSummary>& messages, std::int64_t now);
// The envelope, every recipient's state, every attempt with the peer's reply, the headers.
std::string format_queue_detail(const queue::MessageDetail& detail, std::int64_t now);

}  // namespace ehlo::net
