// The lives of a few messages, as the session, queue and delivery code will record them: one
// delivered into a mailbox, one deferred by a greylisting peer, one bounced with a DSN, one
// held by an operator (from a session with a refused recipient, so its transcript is kept),
// and a relay attempt refused before any message was queued. The trace tests format these;
// tests/fixtures/history_fixture.cpp writes them into a database for `ehlo trace`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "observe/history.hpp"
#include "observe/transcript.hpp"

namespace ehlo::observe::testing {

// 2024-05-01 12:03:12.345 UTC (14:03:12.345 in Central European Summer Time).
inline constexpr std::int64_t kT0 = 1714564992345000;
inline constexpr std::int64_t kMs = 1000;
inline constexpr std::int64_t kSecond = 1000 * kMs;
// "Now" for the formatter: a minute after the first event.
inline constexpr std::int64_t kNow = kT0 + 60 * kSecond;
// The zone the golden outputs are written in; a POSIX rule, so no tzdata is needed.
inline constexpr const char* kZone = "CET-1CEST,M3.5.0,M10.5.0/3";

inline constexpr const char* kDeliveredId = "0SD3XM5K2W8G0001";
inline constexpr const char* kDeferredId = "0SD3XM6A1B2C0002";
inline constexpr const char* kBouncedId = "0SD3XM7D3E4F0003";
inline constexpr const char* kDsnId = "0SD3XM9PQ4R80004";
inline constexpr const char* kHeldId = "0SD3XMAG5H6J0005";

inline Event ev(EventKind kind, std::int64_t time_us) {
    Event e;
    e.kind = kind;
    e.time_us = time_us;
    return e;
}

// `name`: the client's confirmed name; `no_name`: why there is none.
inline void session_start(History& h, const std::string& session, std::int64_t t, const std::string& address,
                          const std::string& name, const std::string& helo, const std::string& no_name = {}) {
    Event c = ev(EventKind::Connect, t);
    c.session_id = session;
    c.remote_address = address;
    c.remote_host = name;
    c.detail = no_name;
    h.record(c);
    Event e = ev(EventKind::Helo, t + 2 * kMs);
    e.session_id = session;
    e.helo = helo;
    e.reply = "250 mail.example.com greets " + helo;
    h.record(e);
}

inline void mail_rcpt(History& h, const std::string& session, std::int64_t t, const std::string& sender,
                      const std::string& rcpt, const std::string& rcpt_reply = "250 2.1.5 Ok") {
    Event m = ev(EventKind::MailFrom, t);
    m.session_id = session;
    m.sender = sender;
    m.reply = "250 2.1.0 Ok";
    h.record(m);
    Event r = ev(EventKind::RcptTo, t + kMs);
    r.session_id = session;
    r.recipient = rcpt;
    r.reply = rcpt_reply;
    h.record(r);
}

inline void queued(History& h, const std::string& id, const std::string& session, std::int64_t t,
                   const std::string& sender, const std::vector<std::string>& rcpts, const std::string& subject) {
    Event q = ev(EventKind::Queued, t);
    q.queue_id = id;
    q.session_id = session;
    q.sender = sender;
    q.recipients = rcpts;
    q.size = 1234;
    q.reply = "250 2.0.0 Ok: queued as " + id;
    q.message_id = "<" + id + "@example.org>";
    q.header_from = sender;
    q.header_to = rcpts.empty() ? "" : rcpts.front();
    q.subject = subject;
    h.record(q);
}

inline void routed(History& h, const std::string& id, std::int64_t t, const std::string& rcpt, const std::string& hop) {
    Event r = ev(EventKind::Routed, t);
    r.queue_id = id;
    r.recipient = rcpt;
    r.next_hop = hop;
    h.record(r);
}

inline void record_delivered(History& h) {
    const std::int64_t t = kT0;
    session_start(h, "S1", t, "192.0.2.10", "client.example.org", "client.example.org");
    Event tls = ev(EventKind::Tls, t + 5 * kMs);
    tls.session_id = "S1";
    tls.tls = "TLSv1.3 TLS_AES_256_GCM_SHA384";
    h.record(tls);
    mail_rcpt(h, "S1", t + 10 * kMs, "me@example.org", "alice@example.com");
    queued(h, kDeliveredId, "S1", t + 40 * kMs, "me@example.org", {"alice@example.com"}, "Hello Alice");
    routed(h, kDeliveredId, t + 41 * kMs, "alice@example.com", "mailbox alice");
    Event d = ev(EventKind::Delivered, t + 52 * kMs);
    d.queue_id = kDeliveredId;
    d.recipient = "alice@example.com";
    d.mailbox = "var/mail/alice/new/1714564992.0SD3XM5K2W8G0001_0.mail.example.com";
    h.record(d);
    Event end = ev(EventKind::SessionEnd, t + 60 * kMs);
    end.session_id = "S1";
    end.detail = "QUIT";
    h.record(end);
}

inline void record_deferred(History& h) {
    const std::int64_t t = kT0 + 1 * kSecond;
    session_start(h, "S2", t, "198.51.100.7", "", "laptop.example.org", "PTR dsl-7.isp.example not confirmed");
    mail_rcpt(h, "S2", t + 10 * kMs, "me@example.org", "bob@example.net");
    queued(h, kDeferredId, "S2", t + 30 * kMs, "me@example.org", {"bob@example.net"}, "Lunch?");
    routed(h, kDeferredId, t + 35 * kMs, "bob@example.net", "mx example.net");
    Event a = ev(EventKind::Attempt, t + 2135 * kMs);
    a.queue_id = kDeferredId;
    a.recipient = "bob@example.net";
    a.next_hop = "mx example.net";
    a.remote_host = "mx1.example.net";
    a.remote_address = "203.0.113.25";
    a.tls = "TLSv1.3 TLS_AES_128_GCM_SHA256";
    a.reply = "250 2.1.0 Ok\n451 4.7.1 greylisted";
    a.duration_us = 2100 * kMs;
    h.record(a);
    Event d = ev(EventKind::Deferred, t + 2136 * kMs);
    d.queue_id = kDeferredId;
    d.recipient = "bob@example.net";
    d.remote_host = "mx1.example.net";
    d.reply = "451 4.7.1 greylisted";
    d.next_attempt_us = kT0 + 108 * kSecond;  // 14:05
    h.record(d);
}

inline void record_bounced(History& h) {
    const std::int64_t t = kT0 + 2 * kSecond;
    session_start(h, "S3", t, "192.0.2.10", "client.example.org", "client.example.org");
    mail_rcpt(h, "S3", t + 10 * kMs, "me@example.org", "carol@example.net");
    queued(h, kBouncedId, "S3", t + 30 * kMs, "me@example.org", {"carol@example.net"}, "Report");
    routed(h, kBouncedId, t + 35 * kMs, "carol@example.net", "mx example.net");
    const std::string refusal = "550 5.1.1 <carol@example.net>: Recipient address rejected: User unknown";
    Event a = ev(EventKind::Attempt, t + 400 * kMs);
    a.queue_id = kBouncedId;
    a.recipient = "carol@example.net";
    a.next_hop = "mx example.net";
    a.remote_host = "mx1.example.net";
    a.remote_address = "203.0.113.25";
    a.reply = refusal;
    a.duration_us = 350 * kMs;
    h.record(a);
    Event b = ev(EventKind::Bounced, t + 401 * kMs);
    b.queue_id = kBouncedId;
    b.recipient = "carol@example.net";
    b.remote_host = "mx1.example.net";
    b.reply = refusal;
    b.dsn_id = kDsnId;
    h.record(b);
    queued(h, kDsnId, "", t + 402 * kMs, "", {"me@example.org"}, "Undelivered Mail Returned to Sender");
}

// The transcript the held message's session leaves: one refused recipient makes it kept.
inline std::string held_transcript() {
    Transcript tr(TranscriptMode::Errors);
    tr.add(false, "220 mail.example.com ESMTP ehlo");
    tr.add(true, "EHLO desk.example.org");
    tr.add(false, "250-mail.example.com greets desk.example.org");
    tr.add(false, "250 PIPELINING");
    tr.add(true, "MAIL FROM:<dave@example.org>");
    tr.add(false, "250 2.1.0 Ok");
    tr.add(true, "RCPT TO:<nobody@example.com>");
    tr.add(false, "550 5.1.1 <nobody@example.com>: Recipient address rejected: mailbox unknown");
    tr.add(true, "RCPT TO:<erin@example.net>");
    tr.add(false, "250 2.1.5 Ok");
    tr.add(true, "DATA");
    tr.add(false, "354 End data with <CR><LF>.<CR><LF>");
    tr.add(false, "250 2.0.0 Ok: queued as 0SD3XMAG5H6J0005");
    tr.add(true, "QUIT");
    tr.add(false, "221 2.0.0 Bye");
    return tr.finish();
}

inline void record_held(History& h) {
    const std::int64_t t = kT0 + 3 * kSecond;
    session_start(h, "S4", t, "192.0.2.44", "desk.example.org", "desk.example.org");
    mail_rcpt(h, "S4", t + 10 * kMs, "dave@example.org", "nobody@example.com",
              "550 5.1.1 <nobody@example.com>: Recipient address rejected: mailbox unknown");
    Event r = ev(EventKind::RcptTo, t + 12 * kMs);
    r.session_id = "S4";
    r.recipient = "erin@example.net";
    r.reply = "250 2.1.5 Ok";
    h.record(r);
    queued(h, kHeldId, "S4", t + 30 * kMs, "dave@example.org", {"erin@example.net"}, "Invoice");
    routed(h, kHeldId, t + 31 * kMs, "erin@example.net", "mx example.net");
    Event held = ev(EventKind::Held, t + 20 * kSecond);
    held.queue_id = kHeldId;
    held.detail = "control socket";
    h.record(held);
    Event end = ev(EventKind::SessionEnd, t + 40 * kMs);
    end.session_id = "S4";
    end.detail = "QUIT";
    end.transcript = held_transcript();
    h.record(end);
}

inline void record_refused(History& h) {
    const std::int64_t t = kT0 + 4 * kSecond;
    Event c = ev(EventKind::Connect, t);
    c.session_id = "S5";
    c.remote_address = "203.0.113.99";
    h.record(c);
    mail_rcpt(h, "S5", t + 10 * kMs, "x@spam.example", "victim@elsewhere.example",
              "554 5.7.1 <victim@elsewhere.example>: Relay access denied");
    Event end = ev(EventKind::SessionEnd, t + 20 * kMs);
    end.session_id = "S5";
    end.detail = "the client closed the connection";
    h.record(end);
}

inline void record_all(History& h) {
    record_delivered(h);
    record_deferred(h);
    record_bounced(h);
    record_held(h);
    record_refused(h);
}

}  // namespace ehlo::observe::testing
