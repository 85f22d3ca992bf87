// Where a message is now, worked out from its recipients' latest states: the first line of
// `ehlo trace` and the state column of the console.
#include <algorithm>
#include <string_view>
#include <vector>

#include "observe/time_text.hpp"
#include "observe/trace_format.hpp"

namespace ehlo::observe {
namespace {

std::string_view first_line(std::string_view s) { return s.substr(0, s.find('\n')); }

std::string plural(std::size_t n, std::string_view one) {
    return std::to_string(n) + " " + std::string(one) + (n == 1 ? "" : "s");
}

// "var/mail/alice/new/1714567890.0SD3.host" -> "alice": the mailbox a Maildir file is in.
std::string mailbox_owner(const RecipientSummary& r) {
    std::vector<std::string_view> parts;
    std::string_view path = r.mailbox;
    for (std::size_t slash; (slash = path.find('/')) != std::string_view::npos; path.remove_prefix(slash + 1))
        if (slash > 0) parts.push_back(path.substr(0, slash));
    // parts now holds the folders; the file name is left in `path`.
    if (parts.size() >= 2) {
        const std::string_view folder = parts.back();
        if (folder == "new" || folder == "cur" || folder == "tmp") return std::string(parts[parts.size() - 2]);
    }
    return r.address.substr(0, r.address.find('@'));
}

// "mx1.example.net said 451 4.7.1 greylisted" or the local error alone.
std::string why(const RecipientSummary& r, std::string_view fallback) {
    std::string out;
    if (!r.remote_host.empty()) out = r.remote_host + " said ";
    out += r.reply.empty() ? std::string(fallback) : std::string(first_line(r.reply));
    return out;
}

std::string dsn_note(const RecipientSummary& r) {
    return r.dsn_id.empty() ? " (no DSN sent)" : " (DSN " + r.dsn_id + ")";
}

MessageStatus final_status(const MessageSummary& m) {
    std::size_t delivered = 0, bounced = 0;
    const RecipientSummary* first_bounce = nullptr;
    for (const auto& r : m.recipients) {
        if (r.state == "delivered") ++delivered;
        if (r.state == "bounced") {
            ++bounced;
            if (!first_bounce) first_bounce = &r;
        }
    }
    const std::size_t n = m.recipients.size();
    if (bounced == 0) {
        if (n > 1) return {"delivered", "delivered to all " + std::to_string(n) + " recipients"};
        const auto& r = m.recipients.front();
        if (!r.mailbox.empty()) return {"delivered", "delivered to " + mailbox_owner(r) + "'s mailbox (" + r.mailbox + ")"};
        std::string text = "delivered to " + (r.remote_host.empty() ? std::string("the next hop") : r.remote_host);
        if (!r.reply.empty()) text += ": " + std::string(first_line(r.reply));
        return {"delivered", text};
    }
    if (delivered == 0) {
        std::string text = n > 1 ? "bounced (" + std::to_string(n) + " recipients): " : "bounced: ";
        return {"bounced", text + why(*first_bounce, "failed") + dsn_note(*first_bounce)};
    }
    return {"partly-delivered", "partly delivered: " + std::to_string(delivered) + " delivered, " +
                                    std::to_string(bounced) + " bounced: " + why(*first_bounce, "failed") +
                                    dsn_note(*first_bounce)};
}

// The latest operator event of `kind` in the trace, if any.
const Event* last_of(const std::vector<Event>& events, EventKind kind) {
    for (auto it = events.rbegin(); it != events.rend(); ++it)
        if (it->kind == kind) return &*it;
    return nullptr;
}

MessageStatus refused_status(const MessageTrace& t) {
    std::string client;
    for (const auto& e : t.events)
        if (e.kind == EventKind::Connect && !e.remote_address.empty()) client = " from " + e.remote_address;
    for (const auto& e : t.events) {
        if (reply_code(e.reply) < 400) continue;
        std::string what;
        if (e.kind == EventKind::MailFrom) what = "MAIL FROM:<" + e.sender + ">";
        if (e.kind == EventKind::RcptTo) what = "RCPT TO:<" + e.recipient + ">";
        if (e.kind == EventKind::DataRefused) what = "the message";
        if (what.empty()) continue;
        return {"refused", "refused: " + std::string(first_line(e.reply)) + " (" + what + client + ")"};
    }
    return {"not-queued", "not queued: the session" + client + " sent no message after this transaction"};
}

}  // namespace

MessageStatus message_status(const MessageSummary& m, std::int64_t now_us) {
    if (m.deleted) return {"deleted", "deleted by an operator"};
    std::size_t queued = 0;
    const RecipientSummary* deferred = nullptr;
    std::size_t deferred_count = 0;
    for (const auto& r : m.recipients) {
        if (r.state == "queued") ++queued;
        if (r.state == "deferred") {
            ++deferred_count;
            // The one to be tried first says when something happens next.
            if (!deferred || (r.next_attempt_us && r.next_attempt_us < deferred->next_attempt_us)) deferred = &r;
        }
    }
    const std::size_t n = m.recipients.size();
    const std::size_t waiting = queued + deferred_count;
    if (m.held && waiting > 0) {
        std::string text = "held by an operator";
        if (n > 1) text += " (" + std::to_string(waiting) + " of " + plural(n, "recipient") + " waiting)";
        return {"held", text};
    }
    if (deferred) {
        std::string text = "deferred: " + why(*deferred, "temporary failure");
        if (deferred->next_attempt_us) text += ", next attempt " + local_clock(deferred->next_attempt_us, now_us);
        if (n > 1) text += " (" + std::to_string(deferred_count) + " of " + plural(n, "recipient") + ")";
        return {"deferred", text};
    }
    if (queued > 0 || n == 0) {
        std::string text = "queued: waiting for its first delivery attempt";
        if (n > 1) text += " (" + std::to_string(queued) + " of " + plural(n, "recipient") + ")";
        return {"queued", text};
    }
    return final_status(m);
}

MessageStatus message_status(const MessageTrace& t, std::int64_t now_us) {
    if (t.message.queue_id.empty()) return refused_status(t);
    MessageStatus s = message_status(t.message, now_us);
    auto who = [](const Event& e) { return e.detail.empty() ? std::string() : " (" + e.detail + ")"; };
    if (s.state == "deleted") {
        if (const Event* e = last_of(t.events, EventKind::Deleted))
            s.text += " at " + local_clock(e->time_us, now_us) + who(*e);
    } else if (s.state == "held") {
        if (const Event* e = last_of(t.events, EventKind::Held)) {
            const std::size_t paren = s.text.find(" (");
            const std::string since = " since " + local_clock(e->time_us, now_us) + who(*e);
            s.text.insert(paren == std::string::npos ? s.text.size() : paren, since);
        }
    }
    return s;
}

}  // namespace ehlo::observe
