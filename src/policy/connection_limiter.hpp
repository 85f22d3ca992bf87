// Counts open connections in all and per client address, shared by every event loop.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace ehlo::policy {

class ConnectionLimiter {
public:
    ConnectionLimiter(std::size_t max_total, std::size_t max_per_client);  // 0 = no limit

    enum class Verdict { Admitted, TooManyTotal, TooManyFromClient };
    // Counts the connection when admitted; each admitted one must be released exactly once.
    Verdict admit(const std::string& client_address);
    void release(const std::string& client_address);
    std::size_t total() const;
    std::size_t from_client(const std::string& client_address) const;  // open from one address
    std::size_t clients() const;  // addresses with at least one open connection

private:
    std::size_t max_total_, max_per_client_;
    mutable std::mutex mutex_;
    std::size_t total_ = 0;
    std::unordered_map<std::string, std::size_t> per_client_;
};

}  // namespace ehlo::policy
