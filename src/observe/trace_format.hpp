// A message's life told to a person: where it is now and why, in one sentence, and the
// timeline of its events. `ehlo trace` prints these; the console shows the same words.
//
// Text from the network (replies, header fields, addresses, HELO names) goes through
// terminal_safe() in the text form; the JSON form carries it as data, every non-ASCII
// character escaped, so that neither form can act on a terminal.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "observe/history_query.hpp"

namespace ehlo::observe {

struct MessageStatus {
    // "queued", "deferred", "held", "delivered", "bounced", "partly-delivered", "deleted",
    // "refused" (before a message was queued), "not-queued"
    std::string state;
    // In words, e.g. "deferred: mx1.example.net said 451 4.7.1 greylisted, next attempt 14:05".
    // Raw text: escape it before printing.
    std::string text;
};

// From the summary alone (the console's lists); `now_us` decides how times are written.
MessageStatus message_status(const MessageSummary& message, std::int64_t now_us);
// From the whole trace: also says when an operator acted, and why a transaction was refused.
MessageStatus message_status(const MessageTrace& trace, std::int64_t now_us);

// The text timeline of each trace, separated by blank lines; "" for none.
std::string format_traces(const std::vector<MessageTrace>& traces, std::int64_t now_us);
// The same as one JSON document: {"messages": [...]}, pure ASCII.
std::string traces_json(const std::vector<MessageTrace>& traces, std::int64_t now_us);
// The messages alone, as a search finds them: each one's fields as in traces_json(), without
// its events and transcript.
std::string summaries_json(const std::vector<MessageSummary>& messages, std::int64_t now_us);

}  // namespace ehlo::observe
