// Reading the history: everything `ehlo trace` and the console show, on a connection of its
// own. SQLite's WAL mode lets these reads run while the writer thread (or the daemon, for a
// reader in another process) writes: a reader sees the last committed batch and never waits.
//
// A HistoryReader may be shared by threads (one query at a time, under its lock) or each
// thread may open its own. A query that fails (the file damaged or gone) throws HistoryError:
// that is not a condition a peer can cause.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "observe/history_event.hpp"

namespace ehlo::observe {

namespace sqlite {
class Database;
}

class HistoryError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct RecipientSummary {
    std::string address;
    std::string state;                 // "queued", "deferred", "delivered", "bounced"
    std::int64_t time_us = 0;          // of that state
    std::string reply;                 // the reply (or local error) that decided it
    std::string remote_host;           // who said it, when a peer did
    std::int64_t next_attempt_us = 0;  // deferred
    std::string mailbox;               // delivered into a local mailbox: the file
    std::string dsn_id;                // bounced: the DSN's queue id

    bool final() const { return state == "delivered" || state == "bounced"; }
};

struct MessageSummary {
    std::string queue_id;
    std::int64_t received_us = 0;
    std::int64_t last_us = 0;  // the latest event
    std::string session_id;
    std::string sender;        // "" = the null sender <>
    std::uint64_t size = 0;
    std::string message_id, header_from, header_to, subject;
    bool held = false;
    bool deleted = false;
    std::vector<RecipientSummary> recipients;
};

// The whole life of one message. A transaction refused before any message was queued (a
// refused RCPT, say) is a trace too, with an empty queue id and only its session's events.
struct MessageTrace {
    MessageSummary message;
    std::vector<Event> events;  // in time order: the session it came in by, then its own
    std::string transcript;     // of that session, if one was kept
};

struct MinuteCount {
    std::int64_t minute_us = 0;  // start of the minute, unix microseconds
    std::uint64_t received = 0;  // messages queued
    std::uint64_t delivered = 0, deferred = 0, bounced = 0;  // recipients
};

struct ErrorCount {
    std::string error;           // the reply, <addresses> left out ("550 5.1.1 <...>: unknown user")
    std::uint64_t count = 0;
    std::int64_t last_us = 0;
};

class HistoryReader {
public:
    HistoryReader();
    ~HistoryReader();
    HistoryReader(const HistoryReader&) = delete;
    HistoryReader& operator=(const HistoryReader&) = delete;

    // Opens an existing history read-only; "" on success, else why not.
    std::string open(const std::string& path);

    // Traces are limited to `limit`, the newest; each is returned in time order.
    std::optional<MessageTrace> message(std::string_view queue_id);
    std::vector<MessageTrace> by_address(std::string_view address, std::int64_t since_us, std::size_t limit);
    std::vector<MessageTrace> by_message_id(std::string_view message_id, std::int64_t since_us, std::size_t limit);
    // A queue id, an address or a Message-ID, whichever `target` is found as.
    std::vector<MessageTrace> find(std::string_view target, std::int64_t since_us, std::size_t limit);

    // For the console. Newest first.
    std::vector<MessageSummary> recent(std::size_t limit, std::int64_t before_us = 0);
    // One entry per minute from since to until (both inclusive), zeros where nothing happened.
    std::vector<MinuteCount> per_minute(std::int64_t since_us, std::int64_t until_us);
    std::vector<ErrorCount> top_errors(std::int64_t since_us, std::size_t limit);
    // The DMARC report rows recorded from since_us up to (not including) until_us, in order.
    std::vector<std::string> dmarc_rows(std::int64_t since_us, std::int64_t until_us);
    // Messages whose addresses, header fields, queue id or recipients' replies contain `text`
    // (ASCII case blind, no wildcards). A LIKE scan, newest first, stopping at `limit`; at most
    // kMaxSearchText octets of `text` are looked for (a LIKE pattern costs its length per row).
    static constexpr std::size_t kMaxSearchText = 256;
    std::vector<MessageSummary> search(std::string_view text, std::int64_t since_us, std::size_t limit);

private:
    struct Queries;
    std::optional<MessageSummary> summary(std::string_view queue_id);
    std::vector<RecipientSummary> recipients(std::string_view queue_id);
    MessageTrace trace_of(MessageSummary message);
    std::vector<MessageTrace> traces_of(const std::vector<std::string>& queue_ids);
    std::vector<MessageTrace> refused(std::string_view address, std::int64_t since_us, std::size_t limit);
    [[noreturn]] void fail();

    std::mutex mutex_;
    std::unique_ptr<sqlite::Database> db_;
    std::unique_ptr<Queries> q_;
};

// "%text%" for LIKE ... ESCAPE '\', with %, _ and \ in `text` taken literally.
std::string like_pattern(std::string_view text);

}  // namespace ehlo::observe
