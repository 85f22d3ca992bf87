// The two ends `ehlo tutor` talks between: a TCP connection to the server and the person's
// standard input, both read with poll(2) so that a reply that comes while the person is
// typing (a 421 after a timeout) is shown at once. Blocking I/O in a command-line program;
// every wait is bounded.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ehlo::cli {

struct Target {
    std::string host;
    std::uint16_t port = 0;
    std::string str() const;  // "127.0.0.1:2525", "[::1]:2525"
};

// "HOST", "HOST:PORT", "[IPv6]", "[IPv6]:PORT" or a bare IPv6 address; port 25 when none is
// given (SMTP's own port, where every MX listens). An error message when unreadable.
std::optional<Target> parse_target(std::string_view text, std::string& error);

class ServerLink {
public:
    ServerLink() = default;
    ServerLink(const ServerLink&) = delete;
    ServerLink& operator=(const ServerLink&) = delete;
    ~ServerLink();

    // Resolves and connects within `timeout`, trying each address in turn; an error message
    // ("connection refused") when none answers.
    std::optional<std::string> connect(const Target& target, std::chrono::milliseconds timeout);
    // All of `data`, within `timeout`; false when the connection failed.
    bool send(std::string_view data, std::chrono::milliseconds timeout);
    void close();
    int fd() const { return fd_; }

    enum class Read { Data, Closed, Timeout, Error };
    // Waits up to `timeout` for bytes, appends what came to `out`.
    Read read(std::string& out, std::chrono::milliseconds timeout);

private:
    int fd_ = -1;
};

// Lines from standard input: a terminal in canonical mode or a pipe, read(2) on fd 0 and split
// at LF (a CR before it is dropped), so that poll(2) sees exactly what is not yet taken.
class LineInput {
public:
    enum class Event { Line, End, Server };
    // The next line, or End, or Server when `server_fd` (>= 0) becomes readable first.
    Event next(std::string& line, int server_fd);
    // A whole line already typed, without waiting (after the dialog ended).
    bool ready_line(std::string& line);

private:
    bool take(std::string& line);
    bool fill();  // one read(2); false at the end of input

    std::string buffer_;
    bool end_ = false;
};

}  // namespace ehlo::cli
