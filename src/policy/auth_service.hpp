// Checking passwords off the event loops: a small bounded pool of threads hashes, the answer
// comes back through a callback with the time before which it must not be given.
//
// Timing tells nothing: an unknown user is checked against a dummy argon2id hash made at start,
// like a known one, and every answer waits at least kMinAnswerTime from the request; a failure
// adds the limiter's delay. The password is wiped from memory once checked.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "policy/auth_limiter.hpp"
#include "policy/credentials.hpp"

namespace ehlo::policy {

enum class AuthResult {
    Ok,           // 235 2.7.0
    Failed,       // 535 5.7.8
    Locked,       // 421 4.7.0: too many failures from this address or for this user
    Unavailable,  // 454 4.7.0: the pool is full; try again later
};

class AuthService {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr auto kMinAnswerTime = std::chrono::milliseconds(250);

    // Called on a pool thread: post to the connection's loop, do nothing else there.
    using Answer = std::function<void(AuthResult result, Clock::time_point not_before)>;

    AuthService(Credentials& credentials, AuthLimiter::Settings limits, unsigned threads, std::size_t max_pending);
    ~AuthService();  // finishes what is queued, then joins
    AuthService(const AuthService&) = delete;
    AuthService& operator=(const AuthService&) = delete;

    void verify(std::string client_address, std::string user, std::string password, Answer answer);

    Credentials& credentials() { return credentials_; }

private:
    Credentials& credentials_;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ehlo::policy
