#include "policy/rate_limiter.hpp"

#include "config/network.hpp"

namespace ehlo::policy {

std::string rate_limit_key(std::string_view client_address) {
    auto ip = config::parse_ip_address(client_address);
    if (!ip) return std::string(client_address);
    if (ip->family == config::IpAddress::Family::V4) return ip->str();
    for (std::size_t i = 8; i < ip->bytes.size(); ++i) ip->bytes[i] = 0;
    return ip->str() + "/64";
}

RateLimiter::RateLimiter(std::size_t limit, Clock::duration window, std::size_t max_tracked)
    : limit_(limit), window_(window), max_tracked_(max_tracked == 0 ? 1 : max_tracked) {}

bool RateLimiter::hit(const std::string& client, Clock::time_point now) {
    if (limit_ == 0) return true;
    std::lock_guard lock(mutex_);
    auto it = entries_.find(client);
    if (it == entries_.end()) {
        // The earliest window goes first: with windows kept in the order they began, it is the
        // front of the list, so a flood of new addresses costs O(1) each.
        if (entries_.size() >= max_tracked_) {
            entries_.erase(by_start_.front());
            by_start_.pop_front();
        }
        by_start_.push_back(client);
        entries_.emplace(client, Entry{now, 1, std::prev(by_start_.end())});
        return true;
    }
    Entry& e = it->second;
    if (now - e.start >= window_) {
        // A new window: the entry moves to the back, keeping the list in start order.
        e.start = now;
        e.count = 0;
        by_start_.splice(by_start_.end(), by_start_, e.order);
    }
    if (e.count >= limit_) return false;
    ++e.count;
    return true;
}

std::size_t RateLimiter::tracked() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

}  // namespace ehlo::policy
