#include "net/console.hpp"

#include <array>

#include "net/console_assets.hpp"
#include "observe/history_query.hpp"

namespace ehlo::net {

Console::Console(queue::Queue& queue, observe::metrics::Registry& registry, observe::EhloMetrics& metrics,
                 std::string hostname, std::string history_path, std::optional<config::ListenAddress> talk_to)
    : queue_(queue),
      registry_(registry),
      metrics_(metrics),
      hostname_(std::move(hostname)),
      history_path_(std::move(history_path)) {
    if (talk_to) {
        // A listener on every address is reached on loopback.
        std::string host = talk_to->host;
        if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
        if (host == "::") host = "::1";
        talks_ = std::make_unique<TalkRooms>(host, talk_to->port, "client.example");
    }
}

Console::~Console() = default;

bool is_loopback_host_header(std::string_view host) {
    std::string_view name = host;
    if (name.starts_with('[')) {
        const auto end = name.find(']');
        if (end == std::string_view::npos) return false;
        const std::string_view rest = name.substr(end + 1);
        if (!rest.empty() && !rest.starts_with(':')) return false;
        return name.substr(1, end - 1) == "::1";
    }
    name = name.substr(0, name.find(':'));
    if (name == "localhost") return true;
    if (!name.starts_with("127.")) return false;
    int dots = 0;
    for (char c : name) {
        if (c == '.') {
            ++dots;
        } else if (c < '0' || c > '9') {
            return false;
        }
    }
    return dots == 3;
}

void Console::read_queue_gauges() {
    // What the queue holds now, counted from the scheduler's state and the spool files (as
    // `ehlo queue list`): once per scrape, on the console's thread.
    std::array<std::int64_t, 3> counts{};
    for (const auto& m : queue_.list()) {
        if (m.corrupt) continue;
        for (const auto& r : m.recipients) {
            if (r.status == "delivered" || r.status == "failed") continue;
            if (m.held || r.status == "held")
                ++counts[2];
            else if (r.status == "deferred")
                ++counts[1];
            else
                ++counts[0];
        }
    }
    metrics_.queued_recipients(observe::QueuedState::Pending).set(static_cast<double>(counts[0]));
    metrics_.queued_recipients(observe::QueuedState::Deferred).set(static_cast<double>(counts[1]));
    metrics_.queued_recipients(observe::QueuedState::Held).set(static_cast<double>(counts[2]));
}

http::Response Console::answer(const http::Request& request) {
    http::Response r;
    const auto host = request.header("host");
    if (!host || (!open_to_network_ && !is_loopback_host_header(*host))) {
        r.status = 403;
        r.body = "The console answers to loopback host names only (127.0.0.1, [::1], localhost).\n";
        return r;
    }
    if (request.path.starts_with("/api/v1/")) return answer_api(request);
    if (request.method != "GET" && request.method != "HEAD") {
        r.status = 405;
        r.headers.emplace_back("Allow", "GET, HEAD");
        r.body = "Only GET and HEAD here.\n";
        return r;
    }
    if (request.path == "/metrics") {
        read_queue_gauges();
        r.content_type = std::string(observe::metrics::Registry::kContentType);
        r.body = registry_.expose();
        return r;
    }
    if (request.path == "/") return page_overview();
    if (request.path == "/queue") return page_queue();
    if (request.path == "/message") return page_message(http::query_parameter(request.query, "id"));
    if (request.path == "/search") return page_search(http::query_parameter(request.query, "q"));
    if (request.path == "/talk") return page_talk();
    if (const auto asset = static_asset(request.path)) {
        r.content_type = asset->content_type;
        r.body = std::string(asset->body);
        return r;
    }
    r.status = 404;
    r.body = "No such page.\n";
    return r;
}

}  // namespace ehlo::net
