// The network side of the receiving server: listeners, one event loop per core, one
// coroutine per connection, idle timeouts and connection limits. Asio stays inside server.cpp.
#pragma once

#include <memory>

#include "config/config.hpp"
#include "policy/policy.hpp"
#include "queue/queue.hpp"

namespace ehlo::net {

class Server {
public:
    // Binds every listen address (throws std::system_error naming the address if it cannot).
    Server(const config::Config& config, const policy::Policy& policy, queue::Queue& queue);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Serves until SIGINT or SIGTERM (or stop()), then closes the listeners, says 421 4.3.2 to
    // every open session, waits briefly for messages being committed, and returns.
    void run();
    // Thread-safe; makes run() return.
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ehlo::net
