// Every event is one INSERT into `events`; a few kinds also keep the summary tables current
// (messages, recipients, minutes, transcripts), in the same transaction, so that a reader
// never sees a message's state ahead of or behind its events.
#include "observe/history_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <string_view>

#include "observe/history_schema.hpp"

namespace ehlo::observe {

struct HistoryStore::Statements {
    explicit Statements(const sqlite::Database& db)
        : begin(db, "BEGIN IMMEDIATE"),
          commit(db, "COMMIT"),
          rollback(db, "ROLLBACK"),
          insert_event(db,
                       "INSERT INTO events(time_us, kind, queue_id, session_id, recipient, sender, reply, code, "
                       "error_key, remote_host, remote_address, helo, tls, auth_user, size, next_hop, duration_us, "
                       "next_attempt_us, mailbox, dsn_id, detail, dmarc) "
                       "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22)"),
          touch_message(db,
                        "INSERT INTO messages(queue_id, received_us, last_us) VALUES(?1, ?2, ?2) "
                        "ON CONFLICT(queue_id) DO UPDATE SET last_us = max(last_us, excluded.last_us)"),
          queued_message(db,
                         "INSERT INTO messages(queue_id, received_us, last_us, session_id, sender, size, message_id, "
                         "header_from, header_to, subject) VALUES(?1, ?2, ?10, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                         "ON CONFLICT(queue_id) DO UPDATE SET received_us = excluded.received_us, "
                         "last_us = max(last_us, excluded.last_us), "
                         "session_id = excluded.session_id, sender = excluded.sender, size = excluded.size, "
                         "message_id = excluded.message_id, header_from = excluded.header_from, "
                         "header_to = excluded.header_to, subject = excluded.subject"),
          // The MAIL and RCPT of the session's last transaction: from its last MAIL on.
          link_transaction(db,
                           "UPDATE events SET queue_id = ?1 WHERE session_id = ?2 AND queue_id IS NULL "
                           "AND kind IN ('mail', 'rcpt') AND id >= (SELECT coalesce(max(id), 0) FROM events "
                           "WHERE session_id = ?2 AND kind = 'mail')"),
          add_recipient(db,
                        "INSERT OR IGNORE INTO recipients(queue_id, recipient, state, time_us) "
                        "VALUES(?1, ?2, 'queued', ?3)"),
          set_recipient(db,
                        "INSERT INTO recipients(queue_id, recipient, state, time_us, reply, remote_host, "
                        "next_attempt_us, mailbox, dsn_id) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9) "
                        "ON CONFLICT(queue_id, recipient) DO UPDATE SET state = excluded.state, "
                        "time_us = excluded.time_us, reply = excluded.reply, remote_host = excluded.remote_host, "
                        "next_attempt_us = excluded.next_attempt_us, mailbox = excluded.mailbox, "
                        "dsn_id = excluded.dsn_id"),
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
             {&begin, &commit, &rollback, &insert_event, &touch_message, &queued_message, &link_transaction,
              &add_recipient, &set_recipient, &set_held, &set_deleted, &add_minute, &add_transcript,
              &prune_message_events, &prune_recipients, &prune_messages, &prune_unlinked, &prune_transcripts,
              &prune_minutes})
            if (!s->ok()) return false;
        return true;
    }

    sqlite::Statement begin, commit, rollback, insert_event, touch_message, queued_message, link_transaction,
        add_recipient, set_recipient, set_held, set_deleted, add_minute, add_transcript, prune_message_events,
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

bool HistoryStore::write_one(const Event& e) {
    auto& s = *st_;
    const int code = reply_code(e.reply);
    const std::string key = error_key(e);
    // Views, not copies: the event and `key` outlive the statement's run.
    auto& ins = s.insert_event;
    ins.bind(1, e.time_us).bind_view(2, to_string(e.kind)).bind_view(3, e.queue_id).bind_view(4, e.session_id);
    ins.bind_view(5, e.recipient).bind_view(6, e.sender).bind_view(7, e.reply);
    if (code) ins.bind(8, code);
    ins.bind_view(9, key).bind_view(10, e.remote_host).bind_view(11, e.remote_address).bind_view(12, e.helo);
    ins.bind_view(13, e.tls).bind_view(14, e.auth_user);
    if (e.size) ins.bind(15, static_cast<std::int64_t>(e.size));
    ins.bind_view(16, e.next_hop);
    if (e.duration_us) ins.bind(17, e.duration_us);
    if (e.next_attempt_us) ins.bind(18, e.next_attempt_us);
    ins.bind_view(19, e.mailbox).bind_view(20, e.dsn_id).bind_view(21, e.detail);
    ins.bind_view(22, e.dmarc);
    if (!ins.run()) return false;


    auto set_recipient = [&](std::string_view state, std::string_view reply) {
        auto& st = s.set_recipient;
        st.bind(1, e.queue_id).bind(2, e.recipient).bind(3, state).bind(4, e.time_us).bind(5, reply, true);
        st.bind(6, e.remote_host, true).bind(8, e.mailbox, true).bind(9, e.dsn_id, true);
        if (e.next_attempt_us) st.bind(7, e.next_attempt_us);
        return st.run();
    };
    const std::string_view why = e.reply.empty() ? std::string_view(e.detail) : std::string_view(e.reply);
    const bool per_recipient = !e.queue_id.empty() && !e.recipient.empty();
    switch (e.kind) {
        case EventKind::Queued:
            // The messages row is written at the end of the batch (write()), with its latest time.
            if (e.queue_id.empty()) return true;
            for (const auto& r : e.recipients)
                if (!s.add_recipient.bind(1, e.queue_id).bind(2, r).bind(3, e.time_us).run()) return false;
            if (!e.session_id.empty() && !s.link_transaction.bind(1, e.queue_id).bind(2, e.session_id).run())
                return false;
            return true;
        case EventKind::Routed:
            return true;  // the recipient's row came with the Queued event; routing is no state
        case EventKind::Deferred:
            return !per_recipient || set_recipient("deferred", why);
        case EventKind::Delivered:
            return !per_recipient || set_recipient("delivered", e.reply);
        case EventKind::Bounced:
            return !per_recipient || set_recipient("bounced", why);
        case EventKind::Held:
        case EventKind::Released:
            return e.queue_id.empty() ||
                   s.set_held.bind(1, e.queue_id).bind(2, e.kind == EventKind::Held ? 1 : 0).bind(3, e.time_us).run();
        case EventKind::Deleted:
            return e.queue_id.empty() || s.set_deleted.bind(1, e.queue_id).bind(2, e.time_us).run();
        case EventKind::SessionEnd:
            if (e.transcript.empty() || e.session_id.empty()) return true;
            return s.add_transcript.bind(1, e.session_id).bind(2, e.time_us).bind(3, e.transcript).run();
        default:
            return true;
    }
}

HistoryStore::Outcome HistoryStore::write(const std::vector<std::unique_ptr<Event>>& batch) {
    if (!st_) return {"database not open", true};
    if (!st_->begin.run()) return failed();
    std::map<std::int64_t, MinuteCounts> minutes;
    // A message's latest event, once per batch: moving its messages_by_last entry once, not
    // at each of its events.
    struct Latest {
        std::int64_t time_us = 0;
        const Event* queued = nullptr;  // the message's Queued event, if in this batch
    };
    std::map<std::string_view, Latest> latest;
    for (const auto& e : batch) {
        if (!write_one(*e)) return failed();
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
    for (const auto& [minute, m] : minutes) {
        if (m.received + m.delivered + m.deferred + m.bounced == 0) continue;
        if (!st_->add_minute.bind(1, minute).bind(2, m.received).bind(3, m.delivered).bind(4, m.deferred).bind(5, m.bounced).run())
            return failed();
    }
    for (const auto& [queue_id, l] : latest) {
        if (const Event* q = l.queued) {
            if (!st_->queued_message.bind(1, q->queue_id)
                     .bind(2, q->time_us)
                     .bind(3, q->session_id, true)
                     .bind(4, q->sender)
                     .bind(5, static_cast<std::int64_t>(q->size))
                     .bind(6, q->message_id, true)
                     .bind(7, q->header_from, true)
                     .bind(8, q->header_to, true)
                     .bind(9, q->subject, true)
                     .bind(10, l.time_us)
                     .run())
                return failed();
        } else if (!st_->touch_message.bind(1, queue_id).bind(2, l.time_us).run()) {
            return failed();
        }
    }
    if (!st_->commit.run()) return failed();
    return {};
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
