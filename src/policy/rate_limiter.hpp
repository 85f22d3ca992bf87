// Events per client in a fixed one-minute window (new connections, messages, recipients), as
// Postfix's anvil counts them. No clock of its own: the caller passes `now`, so tests drive time.
// Memory is bounded: at most `max_tracked` clients are remembered; a new one beyond that pushes
// out the client whose window began earliest (an expired one first, since windows are kept in
// the order they began). Forgetting a client only ever lets it send more, never less.
// Thread-safe: one mutex, held for a hash look-up per event, shared by every event loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ehlo::policy {

// Whom a rate limit counts for a textual client address: an IPv4 address itself (also when
// written IPv4-mapped), an IPv6 client by its /64 ("2001:db8:1:2::/64"), since one host is
// usually given a whole /64 and could otherwise step past any limit by changing address.
std::string rate_limit_key(std::string_view client_address);

class RateLimiter {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::size_t kDefaultMaxTracked = 100000;

    // `limit` events per `window` and client; 0 = no limit.
    explicit RateLimiter(std::size_t limit, Clock::duration window = std::chrono::minutes(1),
                         std::size_t max_tracked = kDefaultMaxTracked);

    // Counts one event of `client` at `now`; false when the client is already at its limit in
    // the current window (a refused event is not counted).
    bool hit(const std::string& client, Clock::time_point now);
    std::size_t tracked() const;  // clients remembered

private:
    struct Entry {
        Clock::time_point start;
        std::size_t count = 0;
        std::list<std::string>::iterator order;
    };
    std::size_t limit_;
    Clock::duration window_;
    std::size_t max_tracked_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
    std::list<std::string> by_start_;  // keys, earliest window start first
};

}  // namespace ehlo::policy
