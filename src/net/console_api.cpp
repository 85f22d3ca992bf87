// The console's JSON API under /api/v1: the queue (list, one message, hold, release, delete,
// bounce, flush, the raw message), the history (trace, search), the overview and its event
// stream, Talk SMTP. Each page of the console is built on these, and docs/api.md shows them
// with curl.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>

#include "net/console.hpp"
#include "observe/history_query.hpp"
#include "observe/trace_format.hpp"

namespace ehlo::net {
namespace {

using nlohmann::json;

http::Response json_response(int status, const json& body) {
    http::Response r;
    r.status = status;
    r.content_type = "application/json";
    // ensure_ascii: whatever a peer put in an address or a reply travels as \u escapes.
    r.body = body.dump(1, ' ', true, json::error_handler_t::replace) + "\n";
    return r;
}

http::Response error_response(int status, const std::string& what) {
    return json_response(status, json{{"error", what}});
}

json recipients_json(const std::vector<queue::RecipientSummary>& recipients) {
    json out = json::array();
    for (const auto& r : recipients)
        out.push_back({{"address", r.address},
                       {"status", r.status},
                       {"attempts", r.attempts},
                       {"next_attempt", r.next_attempt},
                       {"last_error", r.last_error}});
    return out;
}

json message_json(const queue::MessageSummary& m) {
    json out{{"id", m.id},         {"arrival", m.arrival}, {"size", m.size},
             {"sender", m.sender}, {"held", m.held},       {"recipients", recipients_json(m.recipients)}};
    if (m.corrupt) {
        out["corrupt"] = true;
        out["damage"] = m.damage;
    }
    return out;
}

bool is_queue_id(std::string_view s) {
    if (s.empty() || s.size() > 32) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return false;
    return true;
}

// `limit` of a query: 1 to 100, `otherwise` when absent.
std::size_t limit_parameter(std::string_view query, std::size_t otherwise) {
    const std::string l = http::query_parameter(query, "limit");
    if (l.empty()) return otherwise;
    std::size_t limit = 0;
    for (char c : l) limit = c >= '0' && c <= '9' && limit < 1000 ? limit * 10 + static_cast<std::size_t>(c - '0') : 1000;
    return std::clamp<std::size_t>(limit, 1, 100);
}

std::int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

json note_json(const tutor::Note& n) {
    json out{{"kind", std::string(tutor::kind_name(n.kind))}, {"title", n.title}, {"text", n.text}, {"rfc", n.rfc}};
    if (n.line) out["line"] = *n.line;
    return out;
}

json exchange_json(const TalkExchange& x) {
    json lines = json::array();
    for (const auto& l : x.lines) lines.push_back({{"from", l.from_client ? "client" : "server"}, {"text", l.text}});
    json notes = json::array();
    for (const auto& n : x.notes) notes.push_back(note_json(n));
    return json{{"id", x.id},
                {"lines", std::move(lines)},
                {"notes", std::move(notes)},
                {"suggestion", x.suggestion ? note_json(*x.suggestion) : json(nullptr)},
                {"phase", x.phase},
                {"queue_ids", x.queue_ids},
                {"closed", x.closed}};
}

}  // namespace

// POST talk: a new dialog; POST talk/ID {"line": "..."}: one line typed; POST talk/ID/close.
http::Response Console::answer_talk(const http::Request& request, std::string_view path) {
    if (!talks_) return error_response(404, "no SMTP listener to talk to");
    // Its connection comes from loopback, a trusted network: for the machine's own users only,
    // never for a login from elsewhere (it would relay as this host, past bind_sender).
    if (open_to_network_) return error_response(403, "Talk SMTP is served by the console on loopback only");
    if (path == "talk") {
        auto x = talks_->open();
        if (!x) return error_response(503, "too many talks at once; close one or wait " +
                                               std::to_string(TalkRooms::kIdle.count()) + " minutes");
        return json_response(200, exchange_json(*x));
    }
    std::string_view rest = path.substr(5);
    const std::size_t slash = rest.find('/');
    const std::string id(rest.substr(0, slash));
    if (slash != std::string_view::npos) {
        if (rest.substr(slash + 1) != "close") return error_response(404, "talk/ID or talk/ID/close");
        talks_->close(id);
        return json_response(200, json{{"ok", true}});
    }
    const json body = json::parse(request.body, nullptr, false);
    if (!body.is_object() || !body.contains("line") || !body["line"].is_string())
        return error_response(400, "the body is {\"line\": \"what was typed\"}");
    auto x = talks_->say(id, body["line"].get<std::string>());
    if (!x) return error_response(404, "no such talk (it ended or was idle too long): start a new one");
    return json_response(200, exchange_json(*x));
}

std::string Console::stream_event(const std::string& path) {
    (void)path;  // one stream so far: /api/v1/events
    // One reading of the queue a second, however many streams there are.
    const auto now = std::chrono::steady_clock::now();
    if (last_event_.empty() || now - last_event_time_ >= std::chrono::milliseconds(900)) {
        const Overview o = overview();
        const json counts{{"pending", o.pending}, {"deferred", o.deferred}, {"held", o.held}, {"corrupt", o.corrupt}};
        last_event_ = "event: queue\ndata: " + counts.dump() + "\n\n";
        last_event_time_ = now;
    }
    return last_event_;
}

bool is_loopback_origin(std::string_view origin) {
    constexpr std::string_view scheme = "http://";
    if (!origin.starts_with(scheme)) return false;
    return is_loopback_host_header(origin.substr(scheme.size()));
}

http::Response Console::answer_api(const http::Request& request) {
    const std::string_view path = std::string_view(request.path).substr(std::string_view("/api/v1/").size());
    const bool get = request.method == "GET" || request.method == "HEAD";
    if (request.method == "POST") {
        // Cross-site request forgery: a form or an <img> on another site can neither set this
        // content type nor an Origin of ours; a script there is stopped by CORS preflight,
        // which the console never grants.
        const auto type = request.header("content-type");
        std::string media(type ? type->substr(0, type->find(';')) : std::string_view{});
        while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.pop_back();
        for (char& c : media) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        if (media != "application/json")
            return error_response(415, "actions want Content-Type: application/json");
        const auto origin = request.header("origin");
        const auto host = request.header("host");
        const bool same_origin = open_to_network_ ? origin && host && *origin == "https://" + std::string(*host)
                                                  : is_loopback_origin(origin.value_or(""));
        if (origin && !same_origin) return error_response(403, "cross-origin request refused");
    } else if (!get) {
        return error_response(405, "GET, HEAD or POST");
    }

    if (path == "queue") {
        if (!get) return error_response(405, "GET the queue; POST to queue/ID/ACTION");
        json messages = json::array();
        for (const auto& m : queue_.list()) messages.push_back(message_json(m));
        return json_response(200, json{{"messages", std::move(messages)}});
    }
    if (path == "flush") {
        if (get) return error_response(405, "POST to flush");
        const std::string target = http::query_parameter(request.query, "target");
        return json_response(200, json{{"ok", true}, {"scheduled", queue_.flush(target)}});
    }
    if (path.starts_with("queue/")) {
        std::string_view rest = path.substr(6);
        const std::size_t slash = rest.find('/');
        const std::string id(rest.substr(0, slash));
        const std::string_view action = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
        if (!is_queue_id(id)) return error_response(404, "no such message");
        if (action.empty()) {
            if (!get) return error_response(405, "GET a message; POST to queue/ID/ACTION");
            auto detail = queue_.show(id);
            if (!detail) return error_response(404, "no message " + id + " in the queue");
            json out = message_json(detail->summary);
            out["headers"] = detail->headers;
            out["attempts"] = detail->attempts;
            return json_response(200, out);
        }
        if (action == "raw") {
            // The message as spooled, to save and read: an attachment, never shown as a page.
            // Bodies are more than the loopback console shows every local user (envelopes,
            // headers): only behind its login.
            if (!open_to_network_) return error_response(403, "the whole message needs the console's login ([console] tls)");
            if (!get) return error_response(405, "GET the raw message");
            auto content = queue_.content(id);
            if (!content) return error_response(404, "no message " + id + " in the queue");
            http::Response r;
            r.content_type = "message/rfc822";
            r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + id + ".eml\"");
            r.body = std::move(*content);
            return r;
        }
        if (get) return error_response(405, "POST to act on a message");
        bool done = false;
        if (action == "hold") {
            done = queue_.hold(id);
        } else if (action == "release") {
            done = queue_.release(id);
        } else if (action == "delete") {
            done = queue_.remove(id);
        } else if (action == "bounce") {
            done = queue_.bounce(id);
            if (!done) return error_response(404, "no message " + id + " in the queue with a recipient left to return");
        } else {
            return error_response(404, "actions: hold, release, delete, bounce");
        }
        if (!done) return error_response(404, "no message " + id + " in the queue");
        return json_response(200, json{{"ok", true}, {"id", id}, {"action", std::string(action)}});
    }
    if (path == "trace") {
        if (!get) return error_response(405, "GET a trace");
        if (history_path_.empty()) return error_response(404, "the history is off ([history] enabled = false)");
        const std::string target = http::query_parameter(request.query, "q");
        if (target.empty() || target.size() > 512) return error_response(400, "q: a queue id, an address or a Message-ID");
        const std::size_t limit = limit_parameter(request.query, 20);
        auto* reader = history();
        if (!reader) return error_response(503, "the history cannot be read yet");
        http::Response r;
        r.content_type = "application/json";
        r.body = observe::traces_json(reader->find(target, 0, limit), now_us());
        return r;
    }
    if (path == "search") {
        // What the search page lists, as data.
        if (!get) return error_response(405, "GET a search");
        if (history_path_.empty()) return error_response(404, "the history is off ([history] enabled = false)");
        const std::string text = http::query_parameter(request.query, "q");
        if (text.empty() || text.size() > observe::HistoryReader::kMaxSearchText)
            return error_response(400, "q: the text to look for (an address, a subject, a queue id, a reply)");
        const std::size_t limit = limit_parameter(request.query, kSearchLimit);
        if (!history()) return error_response(503, "the history cannot be read yet");
        http::Response r;
        r.content_type = "application/json";
        r.body = observe::summaries_json(search_history(text, limit), now_us());
        return r;
    }
    if (path == "talk" || path.starts_with("talk/")) {
        if (get) return error_response(405, "POST to talk");
        return answer_talk(request, path);
    }
    if (path == "events") {
        // The overview's counts, live (HTML's server-sent events); see stream_event().
        if (!get) return error_response(405, "GET the events");
        http::Response r;
        r.content_type = "text/event-stream";
        r.stream = true;
        return r;
    }
    if (path == "overview") {
        if (!get) return error_response(405, "GET the overview");
        const Overview o = overview();
        json destinations = json::array();
        for (const auto& d : o.destinations) destinations.push_back({{"domain", d.domain}, {"ages", d.buckets}});
        json minutes = json::array();
        for (const auto& m : o.minutes)
            minutes.push_back({{"minute", m.minute_us / 1000000}, {"received", m.received}, {"delivered", m.delivered},
                               {"deferred", m.deferred}, {"bounced", m.bounced}});
        json errors = json::array();
        for (const auto& e : o.top_errors) errors.push_back({{"error", e.error}, {"count", e.count}});
        return json_response(200, json{{"queue", {{"pending", o.pending}, {"deferred", o.deferred}, {"held", o.held},
                                                  {"corrupt", o.corrupt}}},
                                       {"age_buckets", {"<5m", "<1h", "<4h", "<1d", "older"}},
                                       {"destinations", destinations},
                                       {"minutes", minutes},
                                       {"top_errors", errors}});
    }
    return error_response(404, "no such API path");
}

}  // namespace ehlo::net
