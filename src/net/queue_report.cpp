#include "net/queue_report.hpp"

// Everything here that came from the network (addresses, a peer's reply, header fields) goes
// through shown() on its way to a terminal: escaped, so that it cannot move the cursor, clear
// the screen, reorder the text or start a line of its own.
#include <ctime>

#include "smtp/text.hpp"

namespace ehlo::net {
namespace {

std::string shown(std::string_view s) { return smtp::printable(s, s.size()); }

// The header section line by line: each line escaped, CRLF shown as a line end.
std::string shown_headers(std::string_view headers) {
    std::string out;
    while (!headers.empty()) {
        const std::size_t eol = headers.find("\r\n");
        const std::string_view line = headers.substr(0, eol);
        out += shown(line);
        out += '\n';
        headers.remove_prefix(eol == std::string_view::npos ? headers.size() : eol + 2);
    }
    return out;
}

std::string age(std::int64_t seconds) {
    if (seconds < 0) seconds = 0;
    if (seconds < 120) return std::to_string(seconds) + "s";
    if (seconds < 7200) return std::to_string(seconds / 60) + "m";
    if (seconds < 172800) return std::to_string(seconds / 3600) + "h";
    return std::to_string(seconds / 86400) + "d";
}

std::string utc(std::int64_t t) {
    if (t <= 0) return "-";
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string message_state(const queue::MessageSummary& m) {
    if (m.corrupt) return "corrupt";
    if (m.held) return "held";
    bool deferred = false;
    for (const auto& r : m.recipients) {
        if (r.status == "pending") return "active";
        if (r.status == "deferred") deferred = true;
    }
    return deferred ? "deferred" : "done";
}

void recipient_lines(std::string& out, const queue::MessageSummary& m, std::int64_t now) {
    for (const auto& r : m.recipients) {
        out += "    " + shown(r.address) + "  " + r.status + "  attempts=" + std::to_string(r.attempts);
        if (r.next_attempt > 0) out += "  next=" + utc(r.next_attempt) + " (in " + age(r.next_attempt - now) + ")";
        if (!r.last_error.empty()) out += "  last=\"" + shown(r.last_error) + "\"";
        out += "\n";
    }
}

}  // namespace

std::string format_queue_list(const std::vector<queue::MessageSummary>& messages, std::int64_t now) {
    std::string out;
    for (const auto& m : messages) {
        out += m.id + "  " + age(now - m.arrival) + "  " + std::to_string(m.size) + "  <" + shown(m.sender) + ">  " +
               message_state(m) + "\n";
        if (m.corrupt) out += "    damage: " + shown(m.damage) + "  (kept in spool/corrupt; `ehlo queue delete " + m.id + "` removes it)\n";
        recipient_lines(out, m, now);
    }
    out += std::to_string(messages.size()) + (messages.size() == 1 ? " message\n" : " messages\n");
    return out;
}

std::string format_queue_detail(const queue::MessageDetail& d, std::int64_t now) {
    const auto& m = d.summary;
    std::string out;
    out += "id: " + m.id + "\n";
    out += "arrival: " + utc(m.arrival) + " (" + age(now - m.arrival) + " ago)\n";
    out += "size: " + std::to_string(m.size) + "\n";
    out += "sender: <" + shown(m.sender) + ">\n";
    out += "state: " + message_state(m) + "\n";
    if (m.corrupt) out += "damage: " + shown(m.damage) + "\n";
    out += "recipients:\n";
    recipient_lines(out, m, now);
    out += "attempts:\n";
    for (const auto& a : d.attempts) out += "    " + shown(a) + "\n";
    out += "headers:\n" + shown_headers(d.headers);
    return out;
}

}  // namespace ehlo::net
