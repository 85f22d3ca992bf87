// The web console over HTTP/1.1: what each path answers (Console: a request in, a response
// out, no sockets) and the listener that serves it on a thread of its own (ConsoleServer),
// away from the SMTP event loops: a scrape or a page never delays a session.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>
#include <string>

#include "config/config.hpp"
#include "net/console_talk.hpp"
#include "http/request.hpp"
#include "observe/ehlo_metrics.hpp"
#include "observe/history_query.hpp"
#include "observe/metrics.hpp"
#include "policy/auth_limiter.hpp"
#include "queue/queue.hpp"


namespace ehlo::policy {
class AuthService;
}

namespace ehlo::net {

class TlsContexts;

class Console {
public:
    // All must outlive the console. `history_path`: the history database the trace API
    // reads; empty when the history is off.
    // `talk_to`: the listener the "Talk SMTP" page connects to (ehlo's own); none: no page.
    Console(queue::Queue& queue, observe::metrics::Registry& registry, observe::EhloMetrics& metrics, std::string hostname,
            std::string history_path = {}, std::optional<config::ListenAddress> talk_to = std::nullopt);
    ~Console();

    // GET or HEAD of "/" (an index) and "/metrics" (the Prometheus text format, the queue's
    // gauges read from the queue first), and the JSON API under /api/v1/ (docs/api.md),
    // whose actions are POSTs with Content-Type application/json and, if any, a loopback
    // Origin. A Host that is not a loopback name gets 403 (a page on another site must not
    // reach the console through DNS rebinding), another method 405, another path 404.
    // One caller at a time (the console thread).
    http::Response answer(const http::Request& request);
    // An answer that waits on something else (Talk SMTP: an SMTP server's replies): the
    // listener makes it on its slow lane. Such answers run there one at a time, never beside
    // another slow one; every other answer runs on the listener's own thread.
    static bool is_slow(const http::Request& request) { return request.path.starts_with("/api/v1/talk"); }

    // Open to the network behind TLS and a login (ConsoleServer checks it before answer()):
    // any Host is answered, and an action's Origin must be "https://" and the request's Host.
    void open_to_network() { open_to_network_ = true; }

    // What the overview shows (and /api/v1/overview gives): waiting recipients by state, by
    // destination and age (as Postfix's qshape), the last 30 minutes, the top errors.
    struct Destination {
        std::string domain;
        std::array<std::uint64_t, 5> buckets{};  // < 5 min, < 1 h, < 4 h, < 1 d, older
    };
    struct Overview {
        std::uint64_t pending = 0, deferred = 0, held = 0, corrupt = 0;
        std::vector<Destination> destinations;  // the 50 largest
        std::vector<observe::MinuteCount> minutes;
        std::vector<observe::ErrorCount> top_errors;
    };
    Overview overview();
    // The next server-sent event of a stream answer() began (its path): "data: {...}\n\n".
    std::string stream_event(const std::string& path);

private:
    void read_queue_gauges();
    http::Response answer_api(const http::Request& request);
    std::string layout(const std::string& title, const std::string& current, const std::string& body) const;
    http::Response page_overview();
    http::Response page_queue();
    http::Response page_message(const std::string& id);
    http::Response page_search(const std::string& text);
    http::Response page_talk();
    http::Response answer_talk(const http::Request& request, std::string_view path);
    // The history's reader, opened at first use; null when the history is off or unreadable.
    observe::HistoryReader* history();
    // What a search of the history finds (the search page and /api/v1/search): messages whose
    // addresses, header fields, queue id or replies contain `text`, newest first, at most
    // `limit`; none while the history is off or not written yet.
    std::vector<observe::MessageSummary> search_history(const std::string& text, std::size_t limit);
    static constexpr std::size_t kSearchLimit = 100;  // what the page shows, and the API's default

    queue::Queue& queue_;
    observe::metrics::Registry& registry_;
    observe::EhloMetrics& metrics_;
    std::string hostname_;
    std::string history_path_;
    std::unique_ptr<observe::HistoryReader> history_;  // opened at the first trace
    std::unique_ptr<TalkRooms> talks_;                 // "Talk SMTP"; null without a listener
    bool open_to_network_ = false;
    std::string last_event_;  // what the event streams were sent last, and when
    std::chrono::steady_clock::time_point last_event_time_;
};

// Whether a Host header names this machine's loopback: "127.0.0.1:8025", "localhost", "[::1]:80".
bool is_loopback_host_header(std::string_view host);
// Whether an Origin header is one of ours: "http://" and a loopback host.
bool is_loopback_origin(std::string_view origin);

// Who may use a console open to the network ([console] tls): a user of [auth] users_file (HTTP
// Basic, checked by the AuthService) or the holder of the token (Authorization: Bearer).
struct ConsoleLogin {
    std::string token;
    policy::AuthService* users = nullptr;
    // For token guesses, as [auth] counts password guesses (max_failures, lockout, delay).
    policy::AuthLimiter::Settings limits;
    bool required() const { return !token.empty() || users != nullptr; }
};

class ConsoleServer {
public:
    // Binds `where` (throws std::system_error naming it) and serves `console` until destroyed:
    // over TLS with `tls`'s certificates when given, asking for `login` when it is required.
    ConsoleServer(const config::ListenAddress& where, Console& console, TlsContexts* tls = nullptr,
                  ConsoleLogin login = {});
    ~ConsoleServer();
    ConsoleServer(const ConsoleServer&) = delete;
    ConsoleServer& operator=(const ConsoleServer&) = delete;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ehlo::net
