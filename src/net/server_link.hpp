// A blocking TCP connection to an SMTP server for the tutor's two faces: `ehlo tutor` in a
// terminal and the console's "Talk SMTP" page. Every wait is bounded; the caller polls.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ehlo::net {

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

}  // namespace ehlo::net
