// Every event is one row of `events`; a few kinds also keep the summary tables current
// (messages, recipients, minutes, transcripts), in the same transaction, so that a reader
// never sees a message's state ahead of or behind its events.
//
// What a statement costs beyond its rows (opening a cursor on the table and on each of its
// indexes, closing them) was most of the writer's work with one statement per event, so a
// batch is written in fewer: the event rows kManyRows at a time, a transaction's MAIL and RCPT
// rows given their queue id before they are written (not UPDATEd after), and each recipient's
// and message's row once per batch, in its latest state.
#include "observe/history_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <unordered_map>
#include <utility>
#include <string_view>

#include "observe/history_schema.hpp"

namespace ehlo::observe {
namespace {

// Rows per statement: a batch's rows go kManyRows at a time, the rest kFewRows, then singly.
constexpr std::size_t kManyRows = 32;
constexpr std::size_t kFewRows = 8;

// One INSERT of many rows ("INSERT INTO t(...) VALUES (?1,?2),(?3,?4) ..."), prepared for
// kManyRows, kFewRows and one row: its cursors are opened and closed once for all of them.
struct RowInsert {
    RowInsert(const sqlite::Database& db, std::string_view head, int row_columns, std::string_view tail)
        : columns(row_columns),
          one(db, sql(head, row_columns, 1, tail)),
          few(db, sql(head, row_columns, kFewRows, tail)),
          many(db, sql(head, row_columns, kManyRows, tail)) {}

    static std::string sql(std::string_view head, int columns, std::size_t rows, std::string_view tail) {
        std::string text(head);
        text += " VALUES";
        for (std::size_t r = 0; r < rows; ++r) {
            text += r ? ",(" : "(";
            for (int c = 1; c <= columns; ++c) {
                if (c > 1) text += ',';
                text += '?' + std::to_string(static_cast<int>(r) * columns + c);
            }
            text += ')';
        }
        if (!tail.empty()) (text += ' ') += tail;
        return text;
    }

    bool ok() const { return one.ok() && few.ok() && many.ok(); }

    // Rows [0, count): bind(statement, base, i) binds row i's columns at base + 1, base + 2, ...
    template <class Bind>
    bool run(std::size_t count, Bind bind) {
        for (std::size_t done = 0; done < count;) {
            const std::size_t left = count - done;
            const std::size_t n = left >= kManyRows ? kManyRows : left >= kFewRows ? kFewRows : 1;
            sqlite::Statement& st = n == kManyRows ? many : n == kFewRows ? few : one;
            for (std::size_t i = 0; i < n; ++i) bind(st, static_cast<int>(i) * columns, done + i);
            if (!st.run()) return false;
            done += n;
        }
        return true;
    }

    int columns;
    sqlite::Statement one, few, many;
};

}  // namespace

struct HistoryStore::Statements {
    explicit Statements(const sqlite::Database& db)
        : begin(db, "BEGIN IMMEDIATE"),
          commit(db, "COMMIT"),
          rollback(db, "ROLLBACK"),
          insert_events(db,
                        "INSERT INTO events(time_us, kind, queue_id, session_id, recipient, sender, reply, code, "
                        "error_key, remote_host, remote_address, helo, tls, auth_user, size, next_hop, duration_us, "
                        "next_attempt_us, mailbox, dsn_id, detail, dmarc)",
                        22, ""),
          touch_message(db,
                        "INSERT INTO messages(queue_id, received_us, last_us) VALUES(?1, ?2, ?2) "
                        "ON CONFLICT(queue_id) DO UPDATE SET last_us = max(last_us, excluded.last_us)"),
          queued_messages(db,
                          "INSERT INTO messages(queue_id, received_us, last_us, session_id, sender, size, message_id, "
                          "header_from, header_to, subject)",
                          10,
                          "ON CONFLICT(queue_id) DO UPDATE SET received_us = excluded.received_us, "
                          "last_us = max(last_us, excluded.last_us), "
                          "session_id = excluded.session_id, sender = excluded.sender, size = excluded.size, "
                          "message_id = excluded.message_id, header_from = excluded.header_from, "
                          "header_to = excluded.header_to, subject = excluded.subject"),
          // The MAIL and RCPT of the session's last transaction: from its last MAIL on.
          link_transaction(db,
                           "UPDATE events SET queue_id = ?1 WHERE session_id = ?2 AND queue_id IS NULL "
                           "AND kind IN ('mail', 'rcpt') AND id >= (SELECT coalesce(max(id), 0) FROM events "
                           "WHERE session_id = ?2 AND queue_id IS NULL AND kind = 'mail')"),
          // A recipient only queued leaves a row that is there as it was (a replayed Queued).
          set_recipients(db,
                         "INSERT INTO recipients(queue_id, recipient, state, time_us, reply, remote_host, "
                         "next_attempt_us, mailbox, dsn_id)",
                         9,
                         "ON CONFLICT(queue_id, recipient) DO UPDATE SET state = excluded.state, "
                         "time_us = excluded.time_us, reply = excluded.reply, remote_host = excluded.remote_host, "
                         "next_attempt_us = excluded.next_attempt_us, mailbox = excluded.mailbox, "
                         "dsn_id = excluded.dsn_id WHERE excluded.state <> 'queued'"),
          set_held(db,
                   "INSERT INTO messages(queue_id, received_us, last_us, held) VALUES(?1, ?3, ?3, ?2) "
                   "ON CONFLICT(queue_id) DO UPDATE SET held = excluded.held"),
          set_deleted(db,
                      "INSERT INTO messages(queue_id, received_us, last_us, deleted) VALUES(?1, ?2, ?2, 1) "
                      "ON CONFLICT(queue_id) DO UPDATE SET deleted = 1, held = 0"),
          add_minute(db,
                     "INSERT INTO minutes(minute, received, delivered, deferred, bounced) VALUES(?1,?2,?3,?4,?5) "
                     "ON CONFLICT(minute) DO UPDATE SET received = received + excluded.received, "
                     "delivered = delivered + excluded.delivered, deferred = deferred + excluded.deferred, "
                     "bounced = bounced + excluded.bounced"),
          add_transcript(db, "INSERT OR REPLACE INTO transcripts(session_id, time_us, text) VALUES(?1, ?2, ?3)"),
          // Retention. A message goes with all its events once its latest event is old; the
          // events no message owns (sessions, refused transactions) go by their own time.
          prune_message_events(db,
                               "DELETE FROM events WHERE queue_id IN "
                               "(SELECT queue_id FROM messages WHERE last_us < ?1 ORDER BY last_us LIMIT ?2)"),
          prune_recipients(db,
                           "DELETE FROM recipients WHERE queue_id IN "
                           "(SELECT queue_id FROM messages WHERE last_us < ?1 ORDER BY last_us LIMIT ?2)"),
          prune_messages(db,
                         "DELETE FROM messages WHERE queue_id IN "
                         "(SELECT queue_id FROM messages WHERE last_us < ?1 ORDER BY last_us LIMIT ?2)"),
          // In id order, which is time order: the oldest rows are at the table's start.
          prune_unlinked(db,
                         "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE queue_id IS NULL "
                         "AND time_us < ?1 ORDER BY id LIMIT ?2)"),
          prune_transcripts(db,
                            "DELETE FROM transcripts WHERE session_id IN (SELECT session_id FROM transcripts "
                            "WHERE time_us < ?1 ORDER BY time_us LIMIT ?2)"),
          prune_minutes(db, "DELETE FROM minutes WHERE minute < ?1") {}

    bool ok() const {
        for (const sqlite::Statement* s :
             {&begin, &commit, &rollback, &touch_message, &link_transaction, &set_held, &set_deleted, &add_minute, &add_transcript,
              &prune_message_events, &prune_recipients, &prune_messages, &prune_unlinked, &prune_transcripts,
              &prune_minutes})
            if (!s->ok()) return false;
        return insert_events.ok() && queued_messages.ok() && set_recipients.ok();
    }

    sqlite::Statement begin, commit, rollback;
    RowInsert insert_events;
    sqlite::Statement touch_message;
    RowInsert queued_messages;
    sqlite::Statement link_transaction;
    RowInsert set_recipients;
    sqlite::Statement set_held, set_deleted, add_minute, add_transcript, prune_message_events,
        prune_recipients, prune_messages, prune_unlinked, prune_transcripts, prune_minutes;
};

namespace {

constexpr std::int64_t kMinuteUs = 60'000'000;

struct MinuteCounts {
    std::int64_t received = 0, delivered = 0, deferred = 0, bounced = 0;
};

bool is_refusal_kind(EventKind k) {
    switch (k) {
        case EventKind::Helo:
        case EventKind::Auth:
        case EventKind::MailFrom:
        case EventKind::RcptTo:
        case EventKind::DataRefused:
        case EventKind::Deferred:
        case EventKind::Bounced:
            return true;
        default:
            return false;
    }
}

std::string_view first_line(std::string_view s) { return s.substr(0, s.find('\n')); }

}  // namespace

std::string error_key(const Event& e) {
    if (!is_refusal_kind(e.kind)) return {};
    std::string_view text;
    if (reply_code(e.reply) >= 400) {
        text = first_line(e.reply);
    } else if (e.reply.empty() && (e.kind == EventKind::Deferred || e.kind == EventKind::Bounced)) {
        text = first_line(e.detail);  // a local error: no reply to show
    }
    std::string key;
    bool inside = false;
    for (char c : text) {
        if (c == '<') {
            inside = true;
            key += "<...>";
        } else if (c == '>' && inside) {
            inside = false;
        } else if (!inside) {
            key += c;
        }
    }
    return key;
}

HistoryStore::HistoryStore() = default;
HistoryStore::~HistoryStore() { close(); }

std::string HistoryStore::open(const std::string& path, std::uint64_t max_bytes) {
    close();
    if (auto e = db_.open(path, false); !e.empty()) return e;
    // Past busy_timeout a write fails and its batch is dropped: another process holding the
    // database must not stall the writer for long.
    sqlite3_busy_timeout(db_.handle(), 1000);
    if (auto e = history_schema::create(db_); !e.empty()) {
        close();
        return e;
    }
    if (max_bytes > 0) {
        const std::uint64_t pages = std::max<std::uint64_t>(max_bytes / 4096, 16);
        if (auto e = db_.exec("PRAGMA max_page_count = " + std::to_string(pages)); !e.empty()) {
            close();
            return e;
        }
    }
    // The writer checkpoints by itself (checkpoint()), not at every 1000 pages of log.
    if (auto e = db_.exec("PRAGMA wal_autocheckpoint = 0"); !e.empty()) {
        close();
        return e;
    }
    // A log left by the schema's creation or an earlier run counts as not copied yet.
    int left = 0, left_copied = 0;
    sqlite3_wal_checkpoint_v2(db_.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &left, &left_copied);
    wal_frames_ = 0;
    copied_frames_ = 0;
    sqlite3_wal_hook(
        db_.handle(),
        [](void* self, sqlite3*, const char*, int frames) {
            auto& store = *static_cast<HistoryStore*>(self);
            // Fewer frames than before: the log started again from its beginning.
            if (frames < store.wal_frames_) store.copied_frames_ = 0;
            store.wal_frames_ = frames;
            return SQLITE_OK;
        },
        this);
    st_ = std::make_unique<Statements>(db_);
    if (!st_->ok()) {
        std::string e = db_.error();
        close();
        return e;
    }
    return {};
}

void HistoryStore::close() {
    st_.reset();
    db_.close();
}

HistoryStore::Outcome HistoryStore::failed() {
    Outcome out{db_.error(), false};
    const int code = db_.error_code();
    st_->rollback.run();
    // Full, busy or locked: the next batch may fare better on the same connection. Anything
    // else (I/O error, damage, the file gone) is worth a fresh open.
    out.reopen = code != SQLITE_FULL && code != SQLITE_BUSY && code != SQLITE_LOCKED && code != SQLITE_CONSTRAINT;
    return out;
}

namespace {

// SQLite's NOCASE, which recipients(queue_id, recipient) is unique by: ASCII letters only.
struct NoCaseHash {
    std::size_t operator()(const std::pair<std::string_view, std::string_view>& k) const {
        std::size_t h = std::hash<std::string_view>{}(k.first);
        for (char c : k.second) h = h * 131 + static_cast<unsigned char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
        return h;
    }
};
struct NoCaseEqual {
    bool operator()(const std::pair<std::string_view, std::string_view>& a,
                    const std::pair<std::string_view, std::string_view>& b) const {
        if (a.first != b.first || a.second.size() != b.second.size()) return false;
        for (std::size_t i = 0; i < a.second.size(); ++i) {
            const char x = a.second[i], y = b.second[i];
            if ((x >= 'A' && x <= 'Z' ? x + 32 : x) != (y >= 'A' && y <= 'Z' ? y + 32 : y)) return false;
        }
        return true;
    }
};

}  // namespace

// What one batch writes, gathered before it is written. Every view is into the batch's events.
struct HistoryStore::Batch {
    struct Row {
        const Event* event;
        std::string_view queue_id;  // the event's, or its message's once the transaction is queued
        std::string error_key;
    };
    std::vector<Row> rows;
    std::size_t written = 0;  // rows[0, written) are in the table
    // Per session, the rows of its open transaction in this batch: its MAIL (if the
    // transaction began in this batch), then its RCPTs.
    struct Transaction {
        bool began_here = false;
        std::vector<std::size_t> rows;
    };
    std::unordered_map<std::string_view, Transaction> open;
    // A recipient's row as the batch leaves it: queued, or the latest state an event gave it.
    struct Recipient {
        std::string_view queue_id, recipient;
        std::int64_t queued_us = 0;
        const Event* last = nullptr;  // the latest Deferred, Delivered or Bounced
        std::string_view state;
    };
    std::vector<Recipient> recipients;  // in the order first seen, which is the table's rowid order
    std::unordered_map<std::pair<std::string_view, std::string_view>, std::size_t, NoCaseHash, NoCaseEqual> recipient_at;

    Recipient& recipient(std::string_view queue_id, std::string_view address) {
        auto [it, added] = recipient_at.try_emplace({queue_id, address}, recipients.size());
        if (added) recipients.push_back(Recipient{queue_id, address, 0, nullptr, {}});
        return recipients[it->second];
    }
};

namespace {

void bind_row(sqlite::Statement& st, int base, const Event& e, std::string_view queue_id, std::string_view key) {
    // Views, not copies: the batch's events and rows outlive the statement's run. What is
    // empty stays NULL, as every parameter is after a run (reset() clears them).
    auto text = [&](int column, std::string_view v) {
        if (!v.empty()) st.bind_view(base + column, v);
    };
    auto number = [&](int column, std::int64_t v) {
        if (v) st.bind(base + column, v);
    };
    st.bind(base + 1, e.time_us);  // NOT NULL
    text(2, to_string(e.kind));
    text(3, queue_id);
    text(4, e.session_id);
    text(5, e.recipient);
    text(6, e.sender);
    text(7, e.reply);
    number(8, reply_code(e.reply));
    text(9, key);
    text(10, e.remote_host);
    text(11, e.remote_address);
    text(12, e.helo);
    text(13, e.tls);
    text(14, e.auth_user);
    number(15, static_cast<std::int64_t>(e.size));
    text(16, e.next_hop);
    number(17, e.duration_us);
    number(18, e.next_attempt_us);
    text(19, e.mailbox);
    text(20, e.dsn_id);
    text(21, e.detail);
    text(22, e.dmarc);
}

}  // namespace

bool HistoryStore::insert_rows(Batch& b) {
    const bool ok = st_->insert_events.run(b.rows.size() - b.written, [&](sqlite::Statement& st, int base, std::size_t i) {
        const Batch::Row& r = b.rows[b.written + i];
        bind_row(st, base, *r.event, r.queue_id, r.error_key);
    });
    if (ok) b.written = b.rows.size();
    return ok;
}

bool HistoryStore::add(Batch& b, const Event& e) {
    auto& s = *st_;
    b.rows.push_back({&e, e.queue_id, error_key(e)});
    const std::size_t row = b.rows.size() - 1;
    auto set_state = [&](std::string_view state) {
        if (e.queue_id.empty() || e.recipient.empty()) return true;
        auto& r = b.recipient(e.queue_id, e.recipient);
        r.last = &e;
        r.state = state;
        return true;
    };
    switch (e.kind) {
        case EventKind::MailFrom:
            if (!e.session_id.empty()) b.open[e.session_id] = {true, {row}};
            return true;
        case EventKind::RcptTo:
            if (!e.session_id.empty()) b.open[e.session_id].rows.push_back(row);
            return true;
        case EventKind::Queued: {
            // The messages row is written at the end of the batch (write()), with its latest time.
            if (e.queue_id.empty()) return true;
            for (const auto& r : e.recipients) {
                auto& rec = b.recipient(e.queue_id, r);
                if (rec.queued_us == 0) rec.queued_us = e.time_us;
            }
            if (e.session_id.empty()) return true;
            // The MAIL and RCPT of the session's last transaction belong to the message: those
            // of this batch get its queue id before they are written; if the transaction began
            // in an earlier batch, its first rows are in the table already.
            bool began_here = false;
            if (auto it = b.open.find(e.session_id); it != b.open.end()) {
                for (const std::size_t i : it->second.rows) b.rows[i].queue_id = e.queue_id;
                began_here = it->second.began_here;
                b.open.erase(it);
            }
            return began_here || s.link_transaction.bind(1, e.queue_id).bind(2, e.session_id).run();
        }
        case EventKind::Deferred:
            return set_state("deferred");
        case EventKind::Delivered:
            return set_state("delivered");
        case EventKind::Bounced:
            return set_state("bounced");
        case EventKind::Held:
        case EventKind::Released:
            return e.queue_id.empty() ||
                   s.set_held.bind(1, e.queue_id).bind(2, e.kind == EventKind::Held ? 1 : 0).bind(3, e.time_us).run();
        case EventKind::Deleted:
            return e.queue_id.empty() || s.set_deleted.bind(1, e.queue_id).bind(2, e.time_us).run();
        case EventKind::SessionEnd:
            // The session's open transaction stays: its Queued may come after the session's
            // end, from the spool's thread.
            if (e.transcript.empty() || e.session_id.empty()) return true;
            return s.add_transcript.bind(1, e.session_id).bind(2, e.time_us).bind(3, e.transcript).run();
        default:
            return true;  // Routed: the recipient's row came with the Queued event; routing is no state
    }
}

bool HistoryStore::write_recipients(const Batch& b) {
    return st_->set_recipients.run(b.recipients.size(), [&](sqlite::Statement& st, int base, std::size_t i) {
        const Batch::Recipient& r = b.recipients[i];
        st.bind_view(base + 1, r.queue_id).bind(base + 2, r.recipient);  // the column is NOT NULL
        if (!r.last) {
            st.bind_view(base + 3, "queued").bind(base + 4, r.queued_us);
            return;
        }
        const Event& e = *r.last;
        // Delivered keeps the peer's reply only; a failure says why, by reply or local error.
        const std::string_view reply =
            e.kind == EventKind::Delivered || !e.reply.empty() ? std::string_view(e.reply) : std::string_view(e.detail);
        st.bind_view(base + 3, r.state).bind(base + 4, e.time_us).bind_view(base + 5, reply);
        st.bind_view(base + 6, e.remote_host).bind_view(base + 8, e.mailbox).bind_view(base + 9, e.dsn_id);
        if (e.next_attempt_us) st.bind(base + 7, e.next_attempt_us);
    });
}

HistoryStore::Outcome HistoryStore::write(const std::vector<std::unique_ptr<Event>>& batch) {
    if (!st_) return {"database not open", true};
    if (!st_->begin.run()) return failed();
    Batch b;
    b.rows.reserve(batch.size());  // never moved: the statements bind views of the rows' keys
    std::map<std::int64_t, MinuteCounts> minutes;
    // A message's latest event, once per batch: moving its messages_by_last entry once, not
    // at each of its events.
    struct Latest {
        std::int64_t time_us = 0;
        const Event* queued = nullptr;  // the message's Queued event, if in this batch
    };
    std::map<std::string_view, Latest> latest;
    for (const auto& e : batch) {
        if (!add(b, *e)) return failed();
        if (!e->queue_id.empty()) {
            auto& l = latest[e->queue_id];
            l.time_us = std::max(l.time_us, e->time_us);
            if (e->kind == EventKind::Queued) l.queued = e.get();
        }
        auto& m = minutes[e->time_us / kMinuteUs];
        if (e->kind == EventKind::Queued) ++m.received;
        if (e->kind == EventKind::Delivered) ++m.delivered;
        if (e->kind == EventKind::Deferred) ++m.deferred;
        if (e->kind == EventKind::Bounced) ++m.bounced;
    }
    if (!insert_rows(b) || !write_recipients(b)) return failed();
    for (const auto& [minute, m] : minutes) {
        if (m.received + m.delivered + m.deferred + m.bounced == 0) continue;
        if (!st_->add_minute.bind(1, minute).bind(2, m.received).bind(3, m.delivered).bind(4, m.deferred).bind(5, m.bounced).run())
            return failed();
    }
    std::vector<std::pair<const Event*, std::int64_t>> queued;  // a Queued event, its message's latest time
    for (const auto& [queue_id, l] : latest) {
        if (l.queued) {
            queued.emplace_back(l.queued, l.time_us);
        } else if (!st_->touch_message.bind_view(1, queue_id).bind(2, l.time_us).run()) {
            return failed();
        }
    }
    const bool ok = st_->queued_messages.run(queued.size(), [&](sqlite::Statement& st, int base, std::size_t i) {
        const Event& q = *queued[i].first;
        st.bind_view(base + 1, q.queue_id).bind(base + 2, q.time_us).bind(base + 3, queued[i].second);
        st.bind_view(base + 4, q.session_id).bind(base + 5, q.sender).bind(base + 6, static_cast<std::int64_t>(q.size));
        st.bind_view(base + 7, q.message_id).bind_view(base + 8, q.header_from).bind_view(base + 9, q.header_to);
        st.bind_view(base + 10, q.subject);
    });
    if (!ok) return failed();
    if (!st_->commit.run()) return failed();
    return {};
}

void HistoryStore::checkpoint(bool idle, int cap) {
    const int pending = wal_frames();
    if (!st_ || pending <= 0 || (!idle && pending < cap)) return;
    int log = 0, copied = 0;
    // PASSIVE: a reader in the middle of a long query is not waited for; what it holds back
    // is copied at a later call. The log starts again from its beginning at the next commit
    // once all of it is in the database and no reader is in it.
    if (sqlite3_wal_checkpoint_v2(db_.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied) != SQLITE_OK) return;
    if (log >= 0 && copied >= 0) {
        wal_frames_ = log;
        copied_frames_ = std::min(copied, log);
    }
}

std::int64_t HistoryStore::prune_step(std::int64_t cutoff_us, std::size_t step, std::string& error) {
    if (!st_) {
        error = "database not open";
        return -1;
    }
    auto& s = *st_;
    const auto n = static_cast<std::int64_t>(step);
    // Messages in smaller groups: each takes all its events with it.
    const std::int64_t messages = std::max<std::int64_t>(n / 10, 1);
    std::int64_t deleted = 0;
    auto run = [&](sqlite::Statement& st, std::int64_t limit) {
        if (!st.bind(1, cutoff_us).bind(2, limit).run()) return false;
        deleted += db_.changes();
        return true;
    };
    bool ok = s.begin.run() && run(s.prune_message_events, messages) && run(s.prune_recipients, messages) &&
              run(s.prune_messages, messages) && run(s.prune_unlinked, n) && run(s.prune_transcripts, n);
    if (ok) {
        ok = s.prune_minutes.bind(1, cutoff_us / kMinuteUs).run();
        deleted += db_.changes();
    }
    if (!ok || !s.commit.run()) {
        error = db_.error();
        s.rollback.run();
        return -1;
    }
    return deleted;
}

}  // namespace ehlo::observe
