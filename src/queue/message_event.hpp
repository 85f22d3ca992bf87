// What happened to a queued message as a whole, as opposed to one recipient: an operator held
// or released it, or the outcome of some recipients was reported to the sender (a DSN queued,
// or nothing to send). Kept as small records appended after End, beside the recipients' state
// records and sealed the same way, so the message itself is never rewritten.
//
// Why reports are recorded: a Failed recipient owes its sender a bounce until one is queued.
// Recovery finds the owed ones (Failed, not covered by a Reported event) and sends them, so a
// crash between the outcome and the bounce loses no bounce; at worst, when this record itself
// is lost, the sender gets the same bounce twice.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ehlo::queue {

enum class MessageEventKind : std::uint8_t {
    Held = 1,           // no delivery attempts until Released (queue control)
    Released = 2,
    Reported = 3,       // final outcomes of `recipients` reported (or nothing was to be sent)
    DelayReported = 4,  // a "delayed" DSN was sent for `recipients` (RFC 3464 2.3.3)
    // Queue control asked for `recipients` (deferred) to be tried at once: their next attempt
    // becomes `time_us`, unless a later state record says otherwise. Recorded rather than kept
    // in memory because a message waiting on disk is not in memory to be told.
    Flushed = 5,
};

struct MessageEvent {
    MessageEventKind kind = MessageEventKind::Held;
    std::uint64_t time_us = 0;               // unix time, microseconds
    std::vector<std::uint32_t> recipients;   // Reported, DelayReported: indexes into the envelope
    std::string report_id;                   // Reported: the queue id of the DSN; empty if none
};

// A whole MessageEvent record, header and checksum included.
std::string encode_message_event(const MessageEvent& event);
// Decodes the payload of a MessageEvent record; empty if it is damaged or names a recipient
// index at or beyond `recipient_count`.
std::optional<MessageEvent> decode_message_event(std::string_view payload, std::size_t recipient_count);

}  // namespace ehlo::queue
