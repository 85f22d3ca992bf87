#include "observe/history_schema.hpp"

#include <sqlite3.h>

#include "observe/sqlite.hpp"

namespace ehlo::observe::history_schema {
namespace {

constexpr const char* kTables = R"sql(
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    time_us INTEGER NOT NULL,
    kind TEXT NOT NULL,
    queue_id TEXT,
    session_id TEXT,
    recipient TEXT COLLATE NOCASE,
    sender TEXT COLLATE NOCASE,
    reply TEXT,
    code INTEGER,
    error_key TEXT,
    remote_host TEXT,
    remote_address TEXT,
    helo TEXT,
    tls TEXT,
    auth_user TEXT,
    size INTEGER,
    next_hop TEXT,
    duration_us INTEGER,
    next_attempt_us INTEGER,
    mailbox TEXT,
    dsn_id TEXT,
    detail TEXT,
    dmarc TEXT
);
CREATE INDEX IF NOT EXISTS events_by_queue_id ON events(queue_id) WHERE queue_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_by_session ON events(session_id) WHERE session_id IS NOT NULL AND queue_id IS NULL;
CREATE INDEX IF NOT EXISTS events_refused_by_recipient ON events(recipient) WHERE code >= 400 AND recipient IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_refused_by_sender ON events(sender) WHERE code >= 400 AND sender IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_errors_by_time ON events(time_us, error_key) WHERE error_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_dmarc_by_time ON events(time_us) WHERE dmarc IS NOT NULL;

CREATE TABLE IF NOT EXISTS messages (
    queue_id TEXT PRIMARY KEY,
    received_us INTEGER NOT NULL,
    last_us INTEGER NOT NULL,
    session_id TEXT,
    sender TEXT COLLATE NOCASE,
    size INTEGER,
    message_id TEXT,
    header_from TEXT,
    header_to TEXT,
    subject TEXT,
    held INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_by_received ON messages(received_us);
CREATE INDEX IF NOT EXISTS messages_by_last ON messages(last_us);
CREATE INDEX IF NOT EXISTS messages_by_sender ON messages(sender) WHERE sender IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_by_message_id ON messages(message_id) WHERE message_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS recipients (
    queue_id TEXT NOT NULL,
    recipient TEXT NOT NULL COLLATE NOCASE,
    state TEXT NOT NULL,
    time_us INTEGER NOT NULL,
    reply TEXT,
    remote_host TEXT,
    next_attempt_us INTEGER,
    mailbox TEXT,
    dsn_id TEXT,
    UNIQUE (queue_id, recipient)
);
CREATE INDEX IF NOT EXISTS recipients_by_address ON recipients(recipient);

CREATE TABLE IF NOT EXISTS minutes (
    minute INTEGER PRIMARY KEY,
    received INTEGER NOT NULL DEFAULT 0,
    delivered INTEGER NOT NULL DEFAULT 0,
    deferred INTEGER NOT NULL DEFAULT 0,
    bounced INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS transcripts (
    session_id TEXT PRIMARY KEY,
    time_us INTEGER NOT NULL,
    text TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS transcripts_by_time ON transcripts(time_us);
)sql";

int user_version(sqlite::Database& db) {
    sqlite::Statement q(db, "PRAGMA user_version");
    if (!q.ok() || q.step() != SQLITE_ROW) return -1;
    return static_cast<int>(q.integer(0));
}

}  // namespace

std::string create(sqlite::Database& db) {
    // WAL: the readers (ehlo trace, the console) never wait for the writer nor it for them.
    // synchronous=NORMAL: a commit issues no sync; the log is synced when the writer copies it
    // into the database (HistoryStore::checkpoint). Where the history shares the spool's
    // filesystem, the spool's syncfs(2) writes the log's pages out too. A crash of the
    // process loses nothing; a power loss can lose up to about 30 s of the history, never
    // its consistency. A sync per commit (FULL) cost the benchmark's delivered rate about
    // 7 %: every 250 waits for the spool's sync, and the history's queued in front of it
    // (docs/performance.md). journal_size_limit: above the log's cap with its frame headers,
    // so that a log reused from its start is not cut back and grown again each time.
    // cache_size: the writer appends at the right edge of most of its tables and indexes; a
    // few MiB of pages hold them.
    if (auto e = db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                         "PRAGMA journal_size_limit = 41943040; PRAGMA cache_size = -4096;");
        !e.empty())
        return e;
    int version = user_version(db);
    if (version < 0) return db.error();
    if (version == 1) {
        // Version 2 adds the DMARC report rows of `verified` events.
        if (auto e = db.exec("BEGIN; ALTER TABLE events ADD COLUMN dmarc TEXT; "
                             "CREATE INDEX IF NOT EXISTS events_dmarc_by_time ON events(time_us) WHERE dmarc IS NOT NULL; "
                             "PRAGMA user_version = 2; COMMIT;");
            !e.empty()) {
            db.exec("ROLLBACK");
            return e;
        }
        version = 2;
    }
    if (version == 2) {
        // Version 3: a session's events are looked up only while no message owns them.
        if (auto e = db.exec("BEGIN; DROP INDEX IF EXISTS events_by_session; "
                             "CREATE INDEX events_by_session ON events(session_id) "
                             "WHERE session_id IS NOT NULL AND queue_id IS NULL; "
                             "PRAGMA user_version = 3; COMMIT;");
            !e.empty()) {
            db.exec("ROLLBACK");
            return e;
        }
        version = kVersion;
    }
    if (version != 0 && version != kVersion)
        return "the history database has layout version " + std::to_string(version) + ", this ehlo writes " +
               std::to_string(kVersion);
    if (auto e = db.exec(std::string("BEGIN;") + kTables + "PRAGMA user_version = " + std::to_string(kVersion) +
                         "; COMMIT;");
        !e.empty()) {
        db.exec("ROLLBACK");
        return e;
    }
    return {};
}

std::string check(sqlite::Database& db) {
    const int version = user_version(db);
    if (version < 0) return db.error();
    if (version == 0) return "not an ehlo history database (no tables)";
    if (version != kVersion)
        return "the history database has layout version " + std::to_string(version) + ", this ehlo reads " +
               std::to_string(kVersion);
    return {};
}

}  // namespace ehlo::observe::history_schema
