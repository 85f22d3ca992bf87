// The history database's tables and indexes, in one place for its writer and its readers
// (internal to observe/).
//
//   events       one row per Event, the columns named as Event's fields; `code` is the reply
//                code, `error_key` the reply (or local error) of a refusal or failure with its
//                <addresses> blanked, for "top errors"
//   messages     one row per queue id: envelope, header fields for search, held/deleted, and
//                `last_us`, the time of its latest event (retention counts from there)
//   recipients   one row per (queue id, recipient): its latest state and why
//   minutes      counts per minute (received, delivered, deferred, bounced) for a live view
//                that reads 60 rows instead of an hour of events
//   transcripts  one row per session whose transcript was kept
//
// Each query has its index: by queue id, by session, by sender and recipient address (case
// blind), by Message-ID, by time for retention, and the errors by time.
//
// What the writer pays for an index is what decides which exist. An index whose keys arrive
// in order (queue ids, session ids and times all grow) is an append at its right edge; one
// keyed by address takes a random leaf page per insert, several times the cost of the row
// itself. So addresses are indexed once per message (its sender, each recipient) and, in
// `events`, only in refusals (code >= 400), which is what finds a transaction refused before
// any message was queued. An accepted MAIL or RCPT event is found through its message.
#pragma once

#include <string>

namespace ehlo::observe::sqlite {
class Database;
}

namespace ehlo::observe::history_schema {

// PRAGMA user_version of the layout this code writes and reads.
inline constexpr int kVersion = 3;

// Creates what is missing and sets WAL mode; "" on success. Version 1 (before DMARC report
// rows) and 2 (a session index over all its events) are brought to 3 in place; a database
// of another version is refused (the history is advisory: an operator moves it away rather
// than have it migrated).
std::string create(sqlite::Database& db);

// "" if `db` holds a history this code can read.
std::string check(sqlite::Database& db);

}  // namespace ehlo::observe::history_schema
