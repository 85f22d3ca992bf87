// The delivery scheduler's own types, shared by its source files (delivery_scheduler.cpp,
// scheduler_remote.cpp, scheduler_reports.cpp, scheduler_disk.cpp, scheduler_control.cpp); not
// for anyone else.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "delivery/remote_transport.hpp"
#include "delivery/retry.hpp"
#include "queue/delivery_scheduler.hpp"
#include "queue/outcome_text.hpp"
#include "queue/recipient_state.hpp"

namespace ehlo::queue {

// disk_due_us_ when no message set aside is known to be due ever.
inline constexpr std::uint64_t kNeverDue = ~std::uint64_t{0};
// The modification time a held message's file is given: far enough ahead (the year 2200) never
// to be due, near enough for every file system to store it. A release sets it to now.
inline constexpr std::uint64_t kHeldDue = 7258118400ull * 1000000ull;
// A recipient returned to its sender by queue control (`ehlo queue bounce`): failed, in our
// words, no peer's reply; the DSN says so.
inline void mark_returned(RecipientState& state, std::uint64_t now_us) {
    state.status = DeliveryStatus::Failed;
    state.text = std::string(kBouncedByOperator);
    state.updated_us = now_us;
    state.next_attempt_us = 0;
    state.peer.clear();
    state.from_peer = false;
    state.tls.clear();
}

// A message that waits longer than this for its next attempt leaves the active set.
inline constexpr std::uint64_t kInMemoryWaitUs = 30ull * 1000000ull;

// A file's modification time set to when it is due (scheduler_disk.cpp).
std::error_code set_message_due(const std::filesystem::path& path, std::uint64_t due_us);

// The queue keeps unix microseconds; delivery::RetryPolicy works in whole seconds.
inline delivery::TimePoint time_point_of(std::uint64_t unix_us) {
    return std::chrono::floor<std::chrono::seconds>(
        std::chrono::sys_time<std::chrono::microseconds>(std::chrono::microseconds(unix_us)));
}

inline std::uint64_t unix_us_of(delivery::TimePoint t) {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
}

inline std::uint64_t microseconds_of(std::chrono::milliseconds d) {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

// One recipient's outcome of one attempt, before it is applied to the recipient's state.
struct DeliveryScheduler::Result {
    // NotTried: left for later (the queue is stopping); the state stays as it was.
    enum class Kind { Delivered, Deferred, Failed, NotTried } kind = Kind::Deferred;
    std::size_t recipient = 0;
    std::string text;        // RecipientState::text (outcome_text.hpp)
    std::string peer;        // who was tried: "maildir", the remote MTA; empty when we decided
    bool from_peer = false;  // the reply is the remote MTA's own (a DSN names it as Remote-MTA)
    bool local = false;      // a local failure: tried again after retry_delay, not by back-off
    double seconds = 0;      // how long the attempt took (a wait for a connection included)
    // A remote attempt made on a connection: how it was protected ("no TLS", or the TLS
    // protocol, cipher and whether the certificate verified), for the history.
    std::optional<std::string> tls;
    // For the history of a remote attempt: where it was routed, the host and address it
    // reached, and the peer's reply as it came (`text` may carry an outcome_text.hpp prefix).
    std::string next_hop;
    std::string host;
    std::string address;
    std::string reply;

    static Result local_failure(std::size_t recipient, std::string error, std::string peer = {}) {
        Result r;
        r.kind = Kind::Deferred;
        r.recipient = recipient;
        r.text = std::move(error);
        r.peer = std::move(peer);
        r.local = true;
        return r;
    }
};

// A routing decision in the history's words: "mailbox /var/mail/alice", "mx example.net",
// "route smarthost.example:587", "lmtp 127.0.0.1:24" (RemoteTarget::key() for the rest).
inline std::string next_hop_of(const delivery::RemoteTarget& target) {
    if (target.lmtp) return "lmtp " + target.key().substr(5);  // past "lmtp:"
    if (target.host) return "route " + target.key();
    return "mx " + target.key();
}

// One message's share of a delivery pass.
struct DeliveryScheduler::Pass {
    std::shared_ptr<QueuedMessage> message;
    std::vector<std::size_t> due;                 // the recipients attempted
    std::shared_ptr<const std::string> content;   // when still in memory
    std::vector<std::pair<std::size_t, delivery::RemoteTarget>> remote;
    std::vector<Result> results;                  // known by the end of the pass
};

}  // namespace ehlo::queue
