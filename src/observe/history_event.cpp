#include "observe/history_event.hpp"

#include <array>

namespace ehlo::observe {
namespace {

// Indexed by EventKind; these words are in databases already written, so they never change.
constexpr std::array<std::string_view, 20> kWords{
    "connect", "helo",      "tls",     "auth",     "mail",           "rcpt",     "data-refused",
    "session-end", "queued", "routed", "attempt", "deferred",       "delivered", "bounced",
    "delay-notified", "held", "released", "deleted", "flushed", "verified",
};
static_assert(kWords.size() == static_cast<std::size_t>(EventKind::Verified) + 1);

}  // namespace

std::string_view to_string(EventKind kind) { return kWords[static_cast<std::size_t>(kind)]; }

std::optional<EventKind> event_kind_from_string(std::string_view word) {
    for (std::size_t i = 0; i < kWords.size(); ++i)
        if (kWords[i] == word) return static_cast<EventKind>(i);
    return std::nullopt;
}

int reply_code(std::string_view reply) {
    if (reply.size() < 3) return 0;
    if (reply[0] < '2' || reply[0] > '5' || reply[1] < '0' || reply[1] > '9' || reply[2] < '0' || reply[2] > '9')
        return 0;
    if (reply.size() > 3 && reply[3] != ' ' && reply[3] != '-' && reply[3] != '\n') return 0;
    return (reply[0] - '0') * 100 + (reply[1] - '0') * 10 + (reply[2] - '0');
}

}  // namespace ehlo::observe
