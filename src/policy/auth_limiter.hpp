// Password guessing (RFC 4954 15 asks servers to resist it): failed AUTH attempts are counted
// per client address and per user name; each failure delays its own answer a little more, and
// past max_failures within the lockout time the address or the user is locked out for that
// long (the session gets 421 4.7.0). Memory is bounded: at most kMaxTracked entries are kept.
// Thread-safe; no clock of its own (the caller passes `now`).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string_view>

namespace ehlo::policy {

class AuthLimiter {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::size_t kMaxTracked = 100000;

    struct Settings {
        std::size_t max_failures = 5;                     // per address or user, within `lockout`
        std::chrono::seconds lockout{300};
        std::chrono::milliseconds delay_per_failure{1000};  // the n-th failure waits n times this
        std::chrono::milliseconds max_delay{5000};
    };

    explicit AuthLimiter(Settings settings);
    ~AuthLimiter();

    // The address or the user is locked out now.
    bool locked(std::string_view address, std::string_view user, Clock::time_point now) const;
    // A failed attempt; returns how much longer its answer waits.
    std::chrono::milliseconds failed(std::string_view address, std::string_view user, Clock::time_point now);
    // A success forgets the user's failures (not the address's: one good password among many
    // guesses from an address does not clear the guesses).
    void succeeded(std::string_view user);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ehlo::policy
