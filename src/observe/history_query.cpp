// Each query reads inside one read transaction, so a trace put together from several SELECTs
// is one consistent snapshot even while batches are committed meanwhile.
#include "observe/history_query.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <set>

#include "observe/history_schema.hpp"
#include "observe/sqlite.hpp"

namespace ehlo::observe {
namespace {

constexpr std::int64_t kMinuteUs = 60'000'000;
// A per-minute view longer than this is a mistake (a week of minutes is 10080 rows).
constexpr std::int64_t kMaxMinutes = 7 * 24 * 60;

#define EVENT_COLUMNS                                                                                     \
    "id, time_us, kind, queue_id, session_id, recipient, sender, reply, remote_host, remote_address, "   \
    "helo, tls, auth_user, size, next_hop, duration_us, next_attempt_us, mailbox, dsn_id, detail"
#define MESSAGE_COLUMNS                                                                                   \
    "queue_id, received_us, last_us, session_id, sender, size, message_id, header_from, header_to, "      \
    "subject, held, deleted"

Event event_of(const sqlite::Statement& s) {
    Event e;
    e.time_us = s.integer(1);
    e.kind = event_kind_from_string(s.text(2)).value_or(EventKind::Connect);
    e.queue_id = s.text(3);
    e.session_id = s.text(4);
    e.recipient = s.text(5);
    e.sender = s.text(6);
    e.reply = s.text(7);
    e.remote_host = s.text(8);
    e.remote_address = s.text(9);
    e.helo = s.text(10);
    e.tls = s.text(11);
    e.auth_user = s.text(12);
    e.size = static_cast<std::uint64_t>(s.integer(13));
    e.next_hop = s.text(14);
    e.duration_us = s.integer(15);
    e.next_attempt_us = s.integer(16);
    e.mailbox = s.text(17);
    e.dsn_id = s.text(18);
    e.detail = s.text(19);
    return e;
}

MessageSummary message_of(const sqlite::Statement& s) {
    MessageSummary m;
    m.queue_id = s.text(0);
    m.received_us = s.integer(1);
    m.last_us = s.integer(2);
    m.session_id = s.text(3);
    m.sender = s.text(4);
    m.size = static_cast<std::uint64_t>(s.integer(5));
    m.message_id = s.text(6);
    m.header_from = s.text(7);
    m.header_to = s.text(8);
    m.subject = s.text(9);
    m.held = s.integer(10) != 0;
    m.deleted = s.integer(11) != 0;
    return m;
}

std::string_view strip_brackets(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
    return s;
}

std::int64_t sql_limit(std::size_t limit) {
    return static_cast<std::int64_t>(std::min<std::size_t>(limit, 1u << 30));
}

}  // namespace

std::string like_pattern(std::string_view text) {
    std::string out = "%";
    for (char c : text) {
        if (c == '%' || c == '_' || c == '\\') out += '\\';
        out += c;
    }
    out += '%';
    return out;
}

struct HistoryReader::Queries {
    explicit Queries(const sqlite::Database& db)
        : begin(db, "BEGIN"),
          end(db, "COMMIT"),
          message(db, "SELECT " MESSAGE_COLUMNS " FROM messages WHERE queue_id = ?1"),
          recipients(db,
                     "SELECT recipient, state, time_us, reply, remote_host, next_attempt_us, mailbox, dsn_id "
                     "FROM recipients WHERE queue_id = ?1 ORDER BY rowid"),
          message_events(db, "SELECT " EVENT_COLUMNS " FROM events WHERE queue_id = ?1 ORDER BY time_us, id"),
          session_events(db,
                         "SELECT " EVENT_COLUMNS " FROM events WHERE session_id = ?1 AND queue_id IS NULL "
                         "AND kind IN ('connect', 'helo', 'tls', 'auth', 'session-end') ORDER BY time_us, id"),
          refused_events(db,
                         "SELECT " EVENT_COLUMNS " FROM events WHERE session_id = ?1 AND queue_id IS NULL "
                         "ORDER BY time_us, id"),
          transcript(db, "SELECT text FROM transcripts WHERE session_id = ?1"),
          by_address(db,
                     "SELECT queue_id, received_us FROM messages WHERE sender = ?1 AND last_us >= ?2 "
                     "UNION SELECT m.queue_id, m.received_us FROM recipients r JOIN messages m USING (queue_id) "
                     "WHERE r.recipient = ?1 AND m.last_us >= ?2 "
                     // A recipient refused in the transaction that queued the message.
                     "UNION SELECT m.queue_id, m.received_us FROM events e JOIN messages m USING (queue_id) "
                     "WHERE e.recipient = ?1 AND e.code >= 400 AND m.last_us >= ?2 ORDER BY 2 DESC LIMIT ?3"),
          // Sessions where the address was refused (as recipient or sender) outside a message.
          refused_sessions(db,
                           "SELECT session_id, max(time_us) AS t FROM ("
                           "SELECT session_id, time_us FROM events WHERE recipient = ?1 AND code >= 400 "
                           "AND queue_id IS NULL AND session_id IS NOT NULL AND time_us >= ?2 UNION ALL "
                           "SELECT session_id, time_us FROM events WHERE sender = ?1 AND code >= 400 "
                           "AND queue_id IS NULL AND session_id IS NOT NULL AND time_us >= ?2) "
                           "GROUP BY session_id ORDER BY t DESC LIMIT ?3"),
          by_message_id(db,
                        "SELECT queue_id FROM messages WHERE message_id IN (?1, ?2) AND last_us >= ?3 "
                        "ORDER BY received_us DESC LIMIT ?4"),
          recent(db, "SELECT " MESSAGE_COLUMNS " FROM messages WHERE received_us < ?1 ORDER BY received_us DESC "
                     "LIMIT ?2"),
          minutes(db,
                  "SELECT minute, received, delivered, deferred, bounced FROM minutes "
                  "WHERE minute >= ?1 AND minute <= ?2 ORDER BY minute"),
          top_errors(db,
                     "SELECT error_key, count(*) AS n, max(time_us) AS t FROM events WHERE error_key IS NOT NULL "
                     "AND time_us >= ?1 GROUP BY error_key ORDER BY n DESC, t DESC LIMIT ?2"),
          search(db,
                 "SELECT " MESSAGE_COLUMNS " FROM messages m WHERE m.last_us >= ?2 AND ("
                 "m.queue_id LIKE ?1 ESCAPE '\\' OR m.sender LIKE ?1 ESCAPE '\\' OR "
                 "m.header_from LIKE ?1 ESCAPE '\\' OR m.header_to LIKE ?1 ESCAPE '\\' OR "
                 "m.subject LIKE ?1 ESCAPE '\\' OR m.message_id LIKE ?1 ESCAPE '\\' OR "
                 "EXISTS (SELECT 1 FROM recipients r WHERE r.queue_id = m.queue_id AND "
                 "(r.recipient LIKE ?1 ESCAPE '\\' OR r.reply LIKE ?1 ESCAPE '\\'))) "
                 "ORDER BY m.received_us DESC LIMIT ?3"),
          dmarc_rows(db, "SELECT dmarc FROM events WHERE dmarc IS NOT NULL AND time_us >= ?1 AND time_us < ?2 "
                         "ORDER BY time_us, id") {}

    bool ok() const {
        for (const sqlite::Statement* s : {&begin, &end, &message, &recipients, &message_events, &session_events,
                                           &refused_events, &transcript, &by_address, &refused_sessions,
                                           &by_message_id, &recent, &minutes, &top_errors, &search, &dmarc_rows})
            if (!s->ok()) return false;
        return true;
    }

    sqlite::Statement begin, end, message, recipients, message_events, session_events, refused_events, transcript,
        by_address, refused_sessions, by_message_id, recent, minutes, top_errors, search, dmarc_rows;
};

namespace {

// A read transaction for the length of one query; ended however the query leaves.
class Snapshot {
public:
    Snapshot(sqlite::Statement& begin, sqlite::Statement& end) : end_(end) { ok_ = begin.run(); }
    ~Snapshot() { end_.run(); }
    bool ok() const { return ok_; }

private:
    sqlite::Statement& end_;
    bool ok_ = false;
};

// Steps a statement through its rows, calling `row` for each; false on an error.
template <typename F>
bool each_row(sqlite::Statement& s, F&& row) {
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) row(s);
    s.reset();
    return rc == SQLITE_DONE;
}

}  // namespace

HistoryReader::HistoryReader() : db_(std::make_unique<sqlite::Database>()) {}
HistoryReader::~HistoryReader() {
    q_.reset();
    db_.reset();
}

std::string HistoryReader::open(const std::string& path) {
    std::lock_guard lock(mutex_);
    q_.reset();
    if (auto e = db_->open(path, true); !e.empty()) return e;
    sqlite3_busy_timeout(db_->handle(), 2000);
    if (auto e = history_schema::check(*db_); !e.empty()) {
        db_->close();
        return e;
    }
    q_ = std::make_unique<Queries>(*db_);
    if (!q_->ok()) {
        std::string e = db_->error();
        q_.reset();
        db_->close();
        return e;
    }
    return {};
}

void HistoryReader::fail() { throw HistoryError("history: " + db_->error()); }

std::vector<RecipientSummary> HistoryReader::recipients(std::string_view queue_id) {
    std::vector<RecipientSummary> out;
    q_->recipients.bind(1, queue_id);
    const bool ok = each_row(q_->recipients, [&](const sqlite::Statement& s) {
        RecipientSummary r;
        r.address = s.text(0);
        r.state = s.text(1);
        r.time_us = s.integer(2);
        r.reply = s.text(3);
        r.remote_host = s.text(4);
        r.next_attempt_us = s.integer(5);
        r.mailbox = s.text(6);
        r.dsn_id = s.text(7);
        out.push_back(std::move(r));
    });
    if (!ok) fail();
    return out;
}

std::optional<MessageSummary> HistoryReader::summary(std::string_view queue_id) {
    std::optional<MessageSummary> m;
    q_->message.bind(1, queue_id);
    if (!each_row(q_->message, [&](const sqlite::Statement& s) { m = message_of(s); })) fail();
    if (m) m->recipients = recipients(m->queue_id);
    return m;
}

MessageTrace HistoryReader::trace_of(MessageSummary message) {
    MessageTrace t;
    t.message = std::move(message);
    auto add = [&](const sqlite::Statement& s) { t.events.push_back(event_of(s)); };
    if (!t.message.session_id.empty()) {
        q_->session_events.bind(1, t.message.session_id);
        if (!each_row(q_->session_events, add)) fail();
    }
    q_->message_events.bind(1, t.message.queue_id);
    if (!each_row(q_->message_events, add)) fail();
    std::stable_sort(t.events.begin(), t.events.end(),
                     [](const Event& a, const Event& b) { return a.time_us < b.time_us; });
    if (!t.message.session_id.empty()) {
        q_->transcript.bind(1, t.message.session_id);
        if (!each_row(q_->transcript, [&](const sqlite::Statement& s) { t.transcript = s.text(0); })) fail();
    }
    return t;
}

std::vector<MessageTrace> HistoryReader::traces_of(const std::vector<std::string>& queue_ids) {
    std::vector<MessageTrace> out;
    for (const auto& id : queue_ids)
        if (auto m = summary(id)) out.push_back(trace_of(std::move(*m)));
    return out;
}

std::optional<MessageTrace> HistoryReader::message(std::string_view queue_id) {
    std::lock_guard lock(mutex_);
    if (!q_) throw HistoryError("history: not open");
    Snapshot snap(q_->begin, q_->end);
    if (!snap.ok()) fail();
    auto m = summary(queue_id);
    if (!m) return std::nullopt;
    return trace_of(std::move(*m));
}

// The transactions of sessions in which `address` was refused (or left) before any message was
// queued: one trace per session, with that session's events that belong to no message.
std::vector<MessageTrace> HistoryReader::refused(std::string_view address, std::int64_t since_us, std::size_t limit) {
    std::vector<std::string> sessions;
    q_->refused_sessions.bind(1, address).bind(2, since_us).bind(3, sql_limit(limit));
    if (!each_row(q_->refused_sessions, [&](const sqlite::Statement& s) { sessions.push_back(s.text(0)); })) fail();
    std::vector<MessageTrace> out;
    for (const auto& session : sessions) {
        MessageTrace t;
        t.message.session_id = session;
        q_->refused_events.bind(1, session);
        if (!each_row(q_->refused_events, [&](const sqlite::Statement& s) { t.events.push_back(event_of(s)); }))
            fail();
        q_->transcript.bind(1, session);
        if (!each_row(q_->transcript, [&](const sqlite::Statement& s) { t.transcript = s.text(0); })) fail();
        if (!t.events.empty()) t.message.received_us = t.events.front().time_us;
        for (const auto& e : t.events) {
            t.message.last_us = std::max(t.message.last_us, e.time_us);
            if (e.kind == EventKind::MailFrom) t.message.sender = e.sender;
        }
        out.push_back(std::move(t));
    }
    return out;
}

std::vector<MessageTrace> HistoryReader::by_address(std::string_view address, std::int64_t since_us,
                                                    std::size_t limit) {
    std::lock_guard lock(mutex_);
    if (!q_) throw HistoryError("history: not open");
    Snapshot snap(q_->begin, q_->end);
    if (!snap.ok()) fail();
    const std::string_view bare = strip_brackets(address);
    std::vector<std::string> ids;
    q_->by_address.bind(1, bare).bind(2, since_us).bind(3, sql_limit(limit));
    if (!each_row(q_->by_address, [&](const sqlite::Statement& s) { ids.push_back(s.text(0)); })) fail();
    auto out = traces_of(ids);
    auto refusals = refused(bare, since_us, limit);
    out.insert(out.end(), std::make_move_iterator(refusals.begin()), std::make_move_iterator(refusals.end()));
    // The newest `limit`, shown oldest first.
    std::sort(out.begin(), out.end(),
              [](const MessageTrace& a, const MessageTrace& b) { return a.message.received_us > b.message.received_us; });
    if (out.size() > limit) out.resize(limit);
    std::reverse(out.begin(), out.end());
    return out;
}

std::vector<MessageTrace> HistoryReader::by_message_id(std::string_view message_id, std::int64_t since_us,
                                                       std::size_t limit) {
    std::lock_guard lock(mutex_);
    if (!q_) throw HistoryError("history: not open");
    Snapshot snap(q_->begin, q_->end);
    if (!snap.ok()) fail();
    const std::string bare(strip_brackets(message_id));
    std::vector<std::string> ids;
    q_->by_message_id.bind(1, "<" + bare + ">").bind(2, bare).bind(3, since_us).bind(4, sql_limit(limit));
    if (!each_row(q_->by_message_id, [&](const sqlite::Statement& s) { ids.push_back(s.text(0)); })) fail();
    std::reverse(ids.begin(), ids.end());
    return traces_of(ids);
}

std::vector<MessageTrace> HistoryReader::find(std::string_view target, std::int64_t since_us, std::size_t limit) {
    if (auto m = message(strip_brackets(target)); m && m->message.last_us >= since_us) return {std::move(*m)};
    auto out = by_address(target, since_us, limit);
    std::set<std::string> seen;
    for (const auto& t : out)
        if (!t.message.queue_id.empty()) seen.insert(t.message.queue_id);
    for (auto& t : by_message_id(target, since_us, limit))
        if (!seen.count(t.message.queue_id)) out.push_back(std::move(t));
    if (out.size() > limit) out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(limit));
    return out;
}

std::vector<MessageSummary> HistoryReader::recent(std::size_t limit, std::int64_t before_us) {
    std::lock_guard lock(mutex_);
    if (!q_) throw HistoryError("history: not open");
    Snapshot snap(q_->begin, q_->end);
    if (!snap.ok()) fail();
    std::vector<MessageSummary> out;
    q_->recent.bind(1, before_us > 0 ? before_us : INT64_MAX).bind(2, sql_limit(limit));
    if (!each_row(q_->recent, [&](const sqlite::Statement& s) { out.push_back(message_of(s)); })) fail();
    for (auto& m : out) m.recipients = recipients(m.queue_id);
    return out;
}

std::vector<MinuteCount> HistoryReader::per_minute(std::int64_t since_us, std::int64_t until_us) {
    std::lock_guard lock(mutex_);
    if (!q_) throw HistoryError("history: not open");
    const std::int64_t first = since_us / kMinuteUs;
    const std::int64_t last = std::min(until_us / kMinuteUs, first + kMaxMinutes - 1);
    std::vector<MinuteCount> out;
    if (last < first) return out;
    for (std::int64_t m = first; m <= last; ++m) out.push_back(MinuteCount{m * kMinuteUs, 0, 0, 0, 0});
    q_->minutes.bind(1, first).bind(2, last);
    const bool ok = each_row(q_->minutes, [&](const sqlite::Statement& s) {
        auto& c = out[static_cast<std::size_t>(s.integer(0) - first)];
        c.received = static_cast<std::uint64_t>(s.integer(1));
        c.delivered = static_cast<std::uint64_t>(s.integer(2));
        c.deferred = static_cast<std::uint64_t>(s.integer(3));
        c.bounced = static_cast<std::uint64_t>(s.integer(4));
    });
    if (!ok) fail();
    return out;
}

std::vector<std::string> HistoryReader::dmarc_rows(std::int64_t since_us, std::int64_t until_us) {
    std::lock_guard lock(mutex_);
    if (!q_) throw HistoryError("history: not open");
    std::vector<std::string> out;
    q_->dmarc_rows.bind(1, since_us).bind(2, until_us);
    if (!each_row(q_->dmarc_rows, [&](const sqlite::Statement& s) { out.push_back(s.text(0)); })) fail();
    return out;
}

std::vector<ErrorCount> HistoryReader::top_errors(std::int64_t since_us, std::size_t limit) {
    std::lock_guard lock(mutex_);
    if (!q_) throw HistoryError("history: not open");
    std::vector<ErrorCount> out;
    q_->top_errors.bind(1, since_us).bind(2, sql_limit(limit));
    const bool ok = each_row(q_->top_errors, [&](const sqlite::Statement& s) {
        out.push_back(ErrorCount{s.text(0), static_cast<std::uint64_t>(s.integer(1)), s.integer(2)});
    });
    if (!ok) fail();
    return out;
}

std::vector<MessageSummary> HistoryReader::search(std::string_view text, std::int64_t since_us, std::size_t limit) {
    std::lock_guard lock(mutex_);
    if (!q_) throw HistoryError("history: not open");
    if (text.empty()) return {};
    Snapshot snap(q_->begin, q_->end);
    if (!snap.ok()) fail();
    std::vector<MessageSummary> out;
    q_->search.bind(1, like_pattern(text.substr(0, kMaxSearchText))).bind(2, since_us).bind(3, sql_limit(limit));
    if (!each_row(q_->search, [&](const sqlite::Statement& s) { out.push_back(message_of(s)); })) fail();
    for (auto& m : out) m.recipients = recipients(m.queue_id);
    return out;
}

}  // namespace ehlo::observe
