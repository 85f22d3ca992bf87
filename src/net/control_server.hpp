// The queue control socket: `ehlo queue ...` talks to the running daemon through it.
//
// A Unix socket with mode 0600 in the spool (only the server's user may connect), or 0660 and
// of a configured group whose members may too. One request
// line per connection ("list", "show ID", "flush [ID|DOMAIN]", "hold ID", "release ID",
// "delete ID", "reload"); the answer is "ok" or "error: TEXT" on the first line, then the report, then
// the server closes. Requests are rare, so one thread serves them in turn, off the event loops.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "queue/queue.hpp"

namespace ehlo::net {

// The whole answer to one request line (exposed for tests).
std::string answer_control_request(queue::Queue& queue, const std::string& request);

class ControlServer {
public:
    // "reload" (`ehlo reload`, as SIGHUP): reads certificates and credentials again and returns
    // nothing on success, else why the old ones stay. Called on the control thread.
    using Reload = std::function<std::optional<std::string>()>;

    // Binds the socket (replacing a stale one) and starts serving; `group`, when given, may
    // use it too. Throws std::system_error.
    ControlServer(std::filesystem::path socket_path, queue::Queue& queue, Reload reload = {},
                  std::optional<unsigned> group = std::nullopt);
    ~ControlServer();  // stops serving and removes the socket
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Client side: sends one request, returns the answer; empty when nobody listens.
std::optional<std::string> control_request(const std::filesystem::path& socket_path, const std::string& request);

}  // namespace ehlo::net
