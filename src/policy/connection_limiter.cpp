// One mutex around two counters: admit and release are a few instructions each, once per
// connection, so a lock costs nothing next to the accept(2) and TLS work around them.
#include "policy/connection_limiter.hpp"

namespace ehlo::policy {

ConnectionLimiter::ConnectionLimiter(std::size_t max_total, std::size_t max_per_client)
    : max_total_(max_total), max_per_client_(max_per_client) {}

ConnectionLimiter::Verdict ConnectionLimiter::admit(const std::string& client_address) {
    std::lock_guard lock(mutex_);
    if (max_total_ != 0 && total_ >= max_total_) return Verdict::TooManyTotal;
    // Look up before inserting: a refused client must not leave an entry behind, or a flood
    // of refused addresses would grow the map.
    auto it = per_client_.find(client_address);
    const std::size_t open = it == per_client_.end() ? 0 : it->second;
    if (max_per_client_ != 0 && open >= max_per_client_) return Verdict::TooManyFromClient;
    if (it == per_client_.end()) {
        per_client_.emplace(client_address, 1);
    } else {
        ++it->second;
    }
    ++total_;
    return Verdict::Admitted;
}

void ConnectionLimiter::release(const std::string& client_address) {
    std::lock_guard lock(mutex_);
    auto it = per_client_.find(client_address);
    // Releasing what was never admitted is a caller's bug; ignoring it keeps the counts from
    // wrapping around to a huge number that would refuse everyone.
    if (it == per_client_.end()) return;
    --total_;
    // An address with nothing open is erased, so the map holds only live clients and cannot
    // grow without bound over the life of the server.
    if (--it->second == 0) per_client_.erase(it);
}

std::size_t ConnectionLimiter::total() const {
    std::lock_guard lock(mutex_);
    return total_;
}

std::size_t ConnectionLimiter::from_client(const std::string& client_address) const {
    std::lock_guard lock(mutex_);
    auto it = per_client_.find(client_address);
    return it == per_client_.end() ? 0 : it->second;
}

std::size_t ConnectionLimiter::clients() const {
    std::lock_guard lock(mutex_);
    return per_client_.size();
}

}  // namespace ehlo::policy
