// The console's pages: HTML written here, on the console thread, from the queue and the
// history; a little JavaScript (console_assets.cpp) filters, acts through the API and keeps
// the overview live. No build step, nothing loaded from elsewhere (the CSP says 'self').
#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <map>

#include "net/console.hpp"
#include "observe/history_query.hpp"
#include "observe/trace_format.hpp"

namespace ehlo::net {
namespace {

using http::html_escape;

std::int64_t now_seconds() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::string age_text(std::int64_t seconds) {
    if (seconds < 60) return std::to_string(std::max<std::int64_t>(seconds, 0)) + " s";
    if (seconds < 3600) return std::to_string(seconds / 60) + " min";
    if (seconds < 86400) return std::to_string(seconds / 3600) + " h";
    return std::to_string(seconds / 86400) + " d";
}

std::string utc_text(std::int64_t unix_seconds) {
    char buf[32];
    const std::time_t t = unix_seconds;
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

std::string domain_of(const std::string& address) {
    const auto at = address.rfind('@');
    return at == std::string::npos ? address : address.substr(at + 1);
}

// The age spread of waiting recipients, as Postfix's qshape: under 5 min, 1 h, 4 h, 1 day, more.
constexpr std::array<std::int64_t, 4> kAgeLimits{300, 3600, 4 * 3600, 86400};
constexpr std::array<const char*, 5> kAgeNames{"&lt; 5 min", "&lt; 1 h", "&lt; 4 h", "&lt; 1 d", "older"};

std::size_t age_bucket(std::int64_t age) {
    std::size_t b = 0;
    while (b < kAgeLimits.size() && age >= kAgeLimits[b]) ++b;
    return b;
}

}  // namespace

std::string Console::layout(const std::string& title, const std::string& current, const std::string& body) const {
    std::string nav;
    for (const auto& [href, name] : std::array<std::pair<const char*, const char*>, 5>{
             {{"/", "Overview"}, {"/queue", "Queue"}, {"/search", "Search"}, {"/talk", "Talk SMTP"}, {"/metrics", "Metrics"}}}) {
        nav += std::string("<a href=\"") + href + "\"" + (current == href ? " class=\"current\"" : "") + ">" + name + "</a>";
    }
    return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width\">"
           "<title>" + html_escape(title) + " · ehlo on " + html_escape(hostname_) + "</title>"
           "<link rel=\"stylesheet\" href=\"/static/console.css\">"
           "<link rel=\"icon\" href=\"/static/icon.svg\" type=\"image/svg+xml\">"
           "<script src=\"/static/console.js\" defer></script></head>\n"
           "<body><header><strong>ehlo</strong> on " + html_escape(hostname_) + "<nav>" + nav + "</nav></header>\n<main>" +
           body + "</main></body></html>\n";
}

Console::Overview Console::overview() {
    Overview o;
    const std::int64_t now = now_seconds();
    std::map<std::string, std::array<std::uint64_t, 5>> by_domain;
    for (const auto& m : queue_.list()) {
        if (m.corrupt) {
            ++o.corrupt;
            continue;
        }
        for (const auto& r : m.recipients) {
            if (r.status == "delivered" || r.status == "failed") continue;
            if (m.held || r.status == "held")
                ++o.held;
            else if (r.status == "deferred")
                ++o.deferred;
            else
                ++o.pending;
            ++by_domain[domain_of(r.address)][age_bucket(now - m.arrival)];
        }
    }
    for (auto& [domain, buckets] : by_domain) o.destinations.push_back({domain, buckets});
    std::sort(o.destinations.begin(), o.destinations.end(), [](const auto& a, const auto& b) {
        std::uint64_t ta = 0, tb = 0;
        for (auto n : a.buckets) ta += n;
        for (auto n : b.buckets) tb += n;
        return ta != tb ? ta > tb : a.domain < b.domain;
    });
    if (o.destinations.size() > 50) o.destinations.resize(50);
    if (auto* h = history()) {
        const std::int64_t now_us = now * 1000000;
        o.minutes = h->per_minute(now_us - 29 * 60 * 1000000LL, now_us);
        o.top_errors = h->top_errors(now_us - 86400LL * 1000000, 10);
    }
    return o;
}

http::Response Console::page_overview() {
    const Overview o = overview();
    std::string b = "<h1>Overview</h1>\n<section class=\"cards\">";
    for (const auto& [id, name, n] : std::array<std::tuple<const char*, const char*, std::uint64_t>, 3>{
             {{"pending", "pending", o.pending}, {"deferred", "deferred", o.deferred}, {"held", "held", o.held}}})
        b += std::string("<div class=\"card\"><span class=\"n\" data-live=\"") + id + "\">" + std::to_string(n) +
             "</span> " + name + "</div>";
    b += "</section>\n<p class=\"note\" data-live-note>Updated live.</p>\n";
    b += "<h2>Queue by destination and age</h2>\n<table id=\"shape\"><thead><tr><th>destination</th><th>total</th>";
    for (const char* a : kAgeNames) b += std::string("<th>") + a + "</th>";
    b += "</tr></thead><tbody>";
    if (o.destinations.empty()) b += "<tr><td colspan=\"7\">The queue is empty.</td></tr>";
    for (const auto& d : o.destinations) {
        std::uint64_t total = 0;
        for (auto n : d.buckets) total += n;
        b += "<tr><td>" + html_escape(d.domain) + "</td><td>" + std::to_string(total) + "</td>";
        for (auto n : d.buckets) b += "<td>" + std::to_string(n) + "</td>";
        b += "</tr>";
    }
    b += "</tbody></table>\n";
    if (!history_path_.empty()) {
        b += "<h2>The last 30 minutes</h2>\n<table id=\"minutes\"><thead><tr><th>minute (UTC)</th><th>received</th>"
             "<th>delivered</th><th>deferred</th><th>bounced</th></tr></thead><tbody>";
        for (auto it = o.minutes.rbegin(); it != o.minutes.rend(); ++it) {
            if (!it->received && !it->delivered && !it->deferred && !it->bounced) continue;
            b += "<tr><td>" + utc_text(it->minute_us / 1000000).substr(11, 5) + "</td><td>" + std::to_string(it->received) +
                 "</td><td>" + std::to_string(it->delivered) + "</td><td>" + std::to_string(it->deferred) + "</td><td>" +
                 std::to_string(it->bounced) + "</td></tr>";
        }
        b += "</tbody></table>\n<h2>Top errors, 24 hours</h2>\n<table id=\"errors\"><thead><tr><th>count</th><th>reply</th>"
             "</tr></thead><tbody>";
        if (o.top_errors.empty()) b += "<tr><td colspan=\"2\">None.</td></tr>";
        for (const auto& e : o.top_errors)
            b += "<tr><td>" + std::to_string(e.count) + "</td><td>" + html_escape(e.error) + "</td></tr>";
        b += "</tbody></table>\n";
    }
    http::Response r;
    r.content_type = "text/html; charset=utf-8";
    r.body = layout("Overview", "/", b);
    return r;
}

http::Response Console::page_queue() {
    const std::int64_t now = now_seconds();
    std::string b =
        "<h1>Queue</h1>\n<form id=\"filters\" class=\"filters\">"
        "<label>state <select name=\"state\"><option value=\"\">any</option><option>pending</option>"
        "<option>deferred</option><option>held</option></select></label>"
        "<label>destination <input name=\"destination\" placeholder=\"example.net\"></label>"
        "<label>sender <input name=\"sender\"></label><label>recipient <input name=\"recipient\"></label>"
        "<label>older than (min) <input name=\"age\" type=\"number\" min=\"0\"></label>"
        "<button type=\"button\" data-flush=\"\">Flush all</button></form>\n"
        "<p class=\"status\" id=\"status\" role=\"status\"></p>\n"
        "<table id=\"queue\"><thead><tr><th>id</th><th>age</th><th>sender</th><th>recipients</th><th>state</th>"
        "<th>actions</th></tr></thead><tbody>";
    std::size_t rows = 0;
    for (const auto& m : queue_.list()) {
        std::string state = m.corrupt ? "corrupt" : m.held ? "held" : "pending";
        std::string recipients, destinations;
        for (const auto& r : m.recipients) {
            if (!m.held && r.status == "deferred") state = "deferred";
            recipients += "<div>" + html_escape(r.address) + " <span class=\"st\">" + html_escape(r.status) + "</span>" +
                          (r.last_error.empty() ? "" : "<div class=\"err\">" + html_escape(r.last_error) + "</div>") + "</div>";
            destinations += domain_of(r.address) + " ";
        }
        const std::string id = html_escape(m.id);
        b += "<tr data-id=\"" + id + "\" data-state=\"" + state + "\" data-sender=\"" + html_escape(m.sender) +
             "\" data-destinations=\"" + html_escape(destinations) + "\" data-age=\"" + std::to_string(now - m.arrival) +
             "\"><td><a href=\"/message?id=" + id + "\">" + id + "</a></td><td>" + age_text(now - m.arrival) +
             "</td><td>" + (m.sender.empty() ? "&lt;&gt;" : html_escape(m.sender)) + "</td><td>" + recipients +
             "</td><td>" + state + "</td><td>";
        if (!m.corrupt) {
            b += m.held ? "<button data-action=\"release\">Release</button>" : "<button data-action=\"hold\">Hold</button>";
            b += "<button data-action=\"flush\">Flush</button><button data-action=\"bounce\" class=\"danger\">Bounce</button>"
                 "<button data-action=\"delete\" class=\"danger\">Delete</button>";
        }
        b += "</td></tr>";
        if (++rows == 1000) break;  // a page, not the whole spool; filters and the API do the rest
    }
    if (rows == 0) b += "<tr class=\"empty\"><td colspan=\"6\">The queue is empty.</td></tr>";
    b += "</tbody></table>\n";
    http::Response r;
    r.content_type = "text/html; charset=utf-8";
    r.body = layout("Queue", "/queue", b);
    return r;
}

http::Response Console::page_message(const std::string& id) {
    std::string b = "<h1>Message " + html_escape(id) + "</h1>\n";
    bool found = false;
    if (auto detail = queue_.show(id)) {
        found = true;
        const auto& m = detail->summary;
        b += "<p>In the queue since " + utc_text(m.arrival) + " UTC, " + std::to_string(m.size) + " octets, from " +
             (m.sender.empty() ? "&lt;&gt;" : html_escape(m.sender)) + (m.held ? ", <strong>held</strong>" : "") + ".</p>\n";
        b += "<table><thead><tr><th>recipient</th><th>state</th><th>attempts</th><th>last reply</th></tr></thead><tbody>";
        for (const auto& r : m.recipients)
            b += "<tr><td>" + html_escape(r.address) + "</td><td>" + html_escape(r.status) + "</td><td>" +
                 std::to_string(r.attempts) + "</td><td>" + html_escape(r.last_error) + "</td></tr>";
        b += "</tbody></table>\n<h2>Header</h2>\n<pre id=\"headers\">" + html_escape(detail->headers) + "</pre>\n";
        if (open_to_network_)
            b += "<p><a id=\"raw\" href=\"/api/v1/queue/" + html_escape(id) + "/raw\" download>Download the whole message</a> "
                 "(as spooled, " + std::to_string(m.size) + " octets)</p>\n";
        if (!detail->attempts.empty()) {
            b += "<h2>Attempts</h2>\n<ul>";
            for (const auto& a : detail->attempts) b += "<li>" + html_escape(a) + "</li>";
            b += "</ul>\n";
        }
    }
    if (auto* h = history()) {
        if (auto trace = h->message(id)) {
            found = true;
            const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                    std::chrono::system_clock::now().time_since_epoch()).count();
            b += "<h2>Its life</h2>\n<pre id=\"timeline\">" + html_escape(observe::format_traces({*trace}, now_us)) + "</pre>\n";
        }
    }
    http::Response r;
    r.content_type = "text/html; charset=utf-8";
    if (!found) {
        r.status = 404;
        b += "<p>No message with this id in the queue or in the history.</p>\n";
    }
    r.body = layout("Message " + id, "", b);
    return r;
}

// The walkthrough's applet, made real: the page holds one SMTP connection to this ehlo (through
// /api/v1/talk) and shows the dialog, the tutor's notes and the next step (console.js).
http::Response Console::page_talk() {
    std::string b =
        "<h1>Talk SMTP</h1>\n"
        "<p class=\"note\">Type the SMTP dialog yourself, one command a line, against this ehlo: a real connection to "
        "its own listener. Each reply is explained (its class, its enhanced code, the RFC), the classic mistakes are "
        "caught, and the next step is suggested. When something doesn't work, knowing what doesn't work is half the "
        "solution.</p>\n";
    if (!talks_) {
        b += "<p>This ehlo has no SMTP listener to talk to.</p>\n";
    } else if (open_to_network_) {
        b += "<p>Talk SMTP is served by the console on loopback only: its connection would come from this host, a "
             "trusted network. Use <code>ehlo tutor</code> on the machine, or your own mail client.</p>\n";
    } else {
        b += "<div class=\"talk\"><div><div id=\"dialog\" aria-live=\"polite\"></div>"
             "<form id=\"talk-form\" autocomplete=\"off\"><input id=\"talk-line\" name=\"line\" size=\"60\" "
             "maxlength=\"1000\" aria-label=\"line to send\" disabled> <button id=\"talk-send\" disabled>Send</button> "
             "<button type=\"button\" id=\"talk-new\">New connection</button></form>"
             "<div id=\"suggestion\"></div><div id=\"talk-result\"></div></div>"
             "<div id=\"notes\"></div></div>\n";
    }
    http::Response r;
    r.content_type = "text/html; charset=utf-8";
    r.body = layout("Talk SMTP", "/talk", b);
    return r;
}

http::Response Console::page_search(const std::string& text) {
    std::string b = "<h1>Search</h1>\n<form class=\"filters\" action=\"/search\"><input name=\"q\" value=\"" +
                    html_escape(text) +
                    "\" placeholder=\"an address, a subject, a queue id, a reply\" size=\"40\"><button>Search</button></form>\n";
    if (history_path_.empty()) {
        b += "<p>The history is off ([history] enabled = false).</p>\n";
    } else if (!text.empty()) {
        const auto found = search_history(text, kSearchLimit);
        b += "<table id=\"results\"><thead><tr><th>received (UTC)</th><th>id</th><th>from</th><th>to</th><th>subject</th>"
             "</tr></thead><tbody>";
        if (found.empty()) b += "<tr><td colspan=\"5\">Nothing found.</td></tr>";
        for (const auto& m : found) {
            std::string to;
            for (const auto& r : m.recipients) to += html_escape(r.address) + " (" + html_escape(r.state) + ") ";
            b += "<tr><td>" + utc_text(m.received_us / 1000000) + "</td><td><a href=\"/message?id=" +
                 html_escape(m.queue_id) + "\">" + html_escape(m.queue_id) + "</a></td><td>" + html_escape(m.sender) +
                 "</td><td>" + to + "</td><td>" + html_escape(m.subject) + "</td></tr>";
        }
        b += "</tbody></table>\n";
    }
    http::Response r;
    r.content_type = "text/html; charset=utf-8";
    r.body = layout("Search", "/search", b);
    return r;
}

observe::HistoryReader* Console::history() {
    if (history_path_.empty()) return nullptr;
    if (!history_) {
        auto reader = std::make_unique<observe::HistoryReader>();
        if (!reader->open(history_path_).empty()) return nullptr;  // not written yet: next time
        history_ = std::move(reader);
    }
    return history_.get();
}

std::vector<observe::MessageSummary> Console::search_history(const std::string& text, std::size_t limit) {
    auto* h = history();
    if (!h || text.empty()) return {};
    return h->search(text, 0, limit);
}

}  // namespace ehlo::net
