// The queue control socket: `ehlo queue ...` talks to the running daemon through it.
//
// A Unix socket with mode 0600 in the spool (only the server's user may connect), or 0660 and
// of a configured group whose members may too. One request
// line per connection ("list", "show ID", "flush [ID|DOMAIN]", "hold ID", "release ID",
// "delete ID", "bounce ID", "reload"); the answer is "ok" or "error: TEXT" on the first line, then the report, then
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

// A Unix socket served on a thread of its own, one request line per connection: its answer is
// written and the connection closed. Requests are rare and short (5 s each at most), so they are
// served in turn. The socket gets `mode` (and `group`) before it takes its name.
class RequestSocket {
public:
    using Answer = std::function<std::string(const std::string& request)>;
    // Binds (replacing a stale socket) and starts serving; logs each request as `log_event`.
    // Throws std::system_error.
    RequestSocket(std::filesystem::path socket_path, unsigned mode, std::optional<unsigned> group, Answer answer,
                  std::string log_event);
    ~RequestSocket();  // stops serving and removes the socket
    RequestSocket(const RequestSocket&) = delete;
    RequestSocket& operator=(const RequestSocket&) = delete;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

class ControlServer {
public:
    // "reload" (`ehlo reload`, as SIGHUP): reads certificates and credentials again and returns
    // nothing on success, else why the old ones stay. Called on the control thread.
    using Reload = std::function<std::optional<std::string>()>;

    // Binds the socket (replacing a stale one) and starts serving; `group`, when given, may
    // use it too. Throws std::system_error.
    ControlServer(std::filesystem::path socket_path, queue::Queue& queue, Reload reload = {},
                  std::optional<unsigned> group = std::nullopt);

private:
    RequestSocket socket_;
};

// Client side: sends one request, returns the answer; empty when nobody listens.
std::optional<std::string> control_request(const std::filesystem::path& socket_path, const std::string& request);

}  // namespace ehlo::net
