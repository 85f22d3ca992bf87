// What the queue knows about one recipient of a queued message. Kept in small records
// appended after the message's End record, one per change, so the message itself is never
// rewritten; the last intact record for a recipient is its state.
//
// The fields cover onward delivery with retries (attempts, when to try next, the last error)
// as well as local delivery, so the format does not change when relaying arrives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ehlo::queue {

enum class DeliveryStatus : std::uint8_t {
    Pending = 0,    // not tried yet
    Deferred = 1,   // tried, failed temporarily: try again at next_attempt_us
    Delivered = 2,  // done (final)
    Failed = 3,     // failed permanently (final; a bounce is owed)
};

struct RecipientState {
    DeliveryStatus status = DeliveryStatus::Pending;
    std::uint32_t attempts = 0;
    std::uint64_t updated_us = 0;       // unix time of this state, microseconds
    std::uint64_t next_attempt_us = 0;  // Deferred: not before this time
    std::string text;                   // Delivered: where to; Deferred/Failed: the last error
    // Who answered: the remote MTA ("mx.example [192.0.2.1]") or "maildir"; from_peer when the
    // text is that MTA's reply (a DSN's Remote-MTA), not a local error on the way to it.
    std::string peer;
    bool from_peer = false;
    // How the connection that gave `text` was protected, when there was one: "no TLS", or
    // "TLSv1.3 with cipher ... (256/256 bits), verified" (a DSN tells it beside the reply).
    std::string tls{};

    bool final() const { return status == DeliveryStatus::Delivered || status == DeliveryStatus::Failed; }
};

// Error texts come from the system and remote servers: a state record keeps a bounded part.
inline constexpr std::size_t kMaxStateText = 1000;

// A whole RecipientState record (header included). Its payload ends with a CRC-32C of the
// record before it, so a record torn by a crash is recognised and ignored.
std::string encode_state_record(std::uint32_t recipient_index, const RecipientState& state);

struct StateRecord {
    std::uint32_t recipient_index = 0;
    RecipientState state;
};
// Decodes the payload of a RecipientState record; empty if it is damaged.
std::optional<StateRecord> decode_state_record(std::string_view payload);

std::string_view to_string(DeliveryStatus status);

// One delivery attempt for one recipient, as `ehlo queue show` lists it: each state record
// is one, so the list is the same for a message in memory and for one waiting on disk.
struct AttemptRecord {
    std::uint64_t time_us = 0;
    std::size_t recipient = 0;
    std::string peer;     // the remote MTA, or "maildir"
    std::string outcome;  // delivered, deferred, failed
    std::string detail;   // the reply or the error
};
// `ehlo queue show` keeps the latest attempts of a message; a recipient retried for days
// must not grow the list without bound.
// (The whole history of every attempt is the message history's, observe/history.hpp.)
inline constexpr std::size_t kMaxAttemptRecords = 10;
AttemptRecord attempt_of(std::size_t recipient, const RecipientState& state);

}  // namespace ehlo::queue
