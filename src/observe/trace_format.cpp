// The text form of `ehlo trace`: a first line that says where the message is and why, the
// envelope and header fields, then one line per event in local time, and the session's
// transcript when one was kept. Every piece of text that came from outside is escaped here,
// at the last step before the terminal.
#include "observe/trace_format.hpp"

#include <algorithm>
#include <string_view>

#include "observe/terminal_safe.hpp"
#include "observe/time_text.hpp"

namespace ehlo::observe {
namespace {

constexpr std::size_t kKindWidth = 15;   // the widest kind, "delay-notified", and a space
constexpr std::size_t kFieldWidth = 16;  // "  header from: "

std::string angle(std::string_view address) { return "<" + std::string(address) + ">"; }

// The description of one event, raw (escaped by the caller line by line). Lines after the
// first are a multi-line reply's further lines.
std::string describe(const Event& e, std::int64_t now_us) {
    std::string out;
    auto with_reply = [&](std::string_view lead) {
        out = lead;
        if (!e.reply.empty()) out += (lead.empty() ? "" : ": ") + e.reply;
        return out;
    };
    const std::string_view why = e.reply.empty() ? std::string_view(e.detail) : std::string_view(e.reply);
    switch (e.kind) {
        case EventKind::Connect:
            // As a Received header names it: the name only when forward DNS confirmed it.
            out = "from ";
            if (!e.remote_host.empty()) out += e.remote_host + " ";
            out += e.remote_address.empty() ? "a client" : "[" + e.remote_address + "]";
            if (e.remote_host.empty() && !e.detail.empty()) out += " (no name: " + e.detail + ")";
            if (!e.session_id.empty()) out += ", session " + e.session_id;
            return out;
        case EventKind::Helo:
            return reply_code(e.reply) >= 400 ? with_reply(e.helo) : e.helo;
        case EventKind::Tls:
            out = e.tls;
            if (!e.remote_host.empty()) out += " with " + e.remote_host;
            return out;
        case EventKind::Auth:
            return with_reply(e.auth_user.empty() ? std::string() : "as " + e.auth_user);
        case EventKind::MailFrom:
            return with_reply("MAIL FROM:" + angle(e.sender) + (e.detail.empty() ? "" : " " + e.detail));
        case EventKind::RcptTo:
            return with_reply("RCPT TO:" + angle(e.recipient));
        case EventKind::DataRefused:
            return with_reply("");
        case EventKind::SessionEnd:
            return e.detail.empty() ? "the session ended" : e.detail;
        case EventKind::Queued: {
            out = "from " + angle(e.sender) + ", " + std::to_string(e.size) + " octets";
            if (!e.recipients.empty()) out += ", " + std::to_string(e.recipients.size()) + " recipient(s)";
            if (!e.reply.empty()) out += ": " + e.reply;
            return out;
        }
        case EventKind::Routed:
            return angle(e.recipient) + " via " + e.next_hop;
        case EventKind::Attempt: {
            out = angle(e.recipient) + " to " + (e.remote_host.empty() ? e.next_hop : e.remote_host);
            if (!e.remote_address.empty()) out += " [" + e.remote_address + "]";
            if (!e.tls.empty()) out += ", " + e.tls;
            out += ", " + duration_text(e.duration_us);
            if (!e.reply.empty()) out += ": " + e.reply;
            else if (!e.detail.empty()) out += ": " + e.detail;
            return out;
        }
        case EventKind::Deferred:
            out = angle(e.recipient) + ": " + std::string(why);
            if (e.next_attempt_us) out += "; next attempt " + local_clock(e.next_attempt_us, now_us);
            return out;
        case EventKind::Delivered:
            if (!e.mailbox.empty()) return angle(e.recipient) + " into " + e.mailbox;
            out = angle(e.recipient) + " to " + (e.remote_host.empty() ? std::string("the next hop") : e.remote_host);
            if (!e.reply.empty()) out += ": " + e.reply;
            return out;
        case EventKind::Bounced:
            out = angle(e.recipient) + ": " + std::string(why);
            out += e.dsn_id.empty() ? "; no DSN sent" : "; DSN " + e.dsn_id;
            return out;
        case EventKind::DelayNotified:
            return angle(e.recipient) + ": \"delayed\" DSN " + e.dsn_id;
        case EventKind::Held:
        case EventKind::Released:
        case EventKind::Deleted:
        case EventKind::Flushed:
            return e.detail.empty() ? "by an operator" : "by " + e.detail;
        case EventKind::Verified:
            return e.detail;
    }
    return out;
}

// Appends `text` escaped, its first line after `lead` and the others under it.
void add_lines(std::string& out, std::string_view lead, std::string_view text, std::size_t indent) {
    bool first = true;
    for (;;) {
        const std::size_t nl = text.find('\n');
        out += first ? std::string(lead) : std::string(indent, ' ');
        out += terminal_safe(text.substr(0, nl));
        out += '\n';
        first = false;
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }
}

void add_field(std::string& out, std::string_view name, std::string_view value) {
    if (value.empty()) return;
    std::string lead = "  " + std::string(name) + ":";
    lead.resize(std::max<std::size_t>(lead.size() + 1, kFieldWidth), ' ');
    add_lines(out, lead, value, kFieldWidth);
}

void format_one(std::string& out, const MessageTrace& t, std::int64_t now_us) {
    const MessageSummary& m = t.message;
    const MessageStatus status = message_status(t, now_us);
    const std::string head = m.queue_id.empty() ? "(no queue id, session " + m.session_id + ")" : m.queue_id;
    out += terminal_safe(head) + "  " + terminal_safe(status.text) + "\n";

    if (!m.queue_id.empty()) {
        add_field(out, "from", angle(m.sender));
        std::string to;
        for (const auto& r : m.recipients) {
            if (!to.empty()) to += ", ";
            to += angle(r.address);
            if (m.recipients.size() > 1) to += " " + r.state;
        }
        add_field(out, "to", to);
        if (m.size) add_field(out, "size", std::to_string(m.size) + " octets");
        add_field(out, "message-id", m.message_id);
        add_field(out, "header from", m.header_from);
        add_field(out, "header to", m.header_to);
        add_field(out, "subject", m.subject);
    }

    for (const auto& e : t.events) {
        std::string lead = "  " + local_timestamp(e.time_us) + "  " + std::string(to_string(e.kind));
        const std::size_t indent = lead.size() - to_string(e.kind).size() + kKindWidth;
        lead.resize(indent, ' ');
        add_lines(out, lead, describe(e, now_us), indent);
    }
    if (!t.transcript.empty()) {
        out += "  transcript of session " + terminal_safe(m.session_id) + ":\n";
        add_lines(out, "    ", t.transcript, 4);
    }
}

}  // namespace

std::string format_traces(const std::vector<MessageTrace>& traces, std::int64_t now_us) {
    std::string out;
    for (const auto& t : traces) {
        if (!out.empty()) out += '\n';
        format_one(out, t, now_us);
    }
    return out;
}

}  // namespace ehlo::observe
