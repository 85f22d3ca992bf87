#include "net/server_link.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ehlo::net {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

bool parse_port(std::string_view s, std::uint16_t& port) {
    if (s.empty() || s.size() > 5) return false;
    unsigned n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        n = n * 10 + static_cast<unsigned>(c - '0');
    }
    if (n == 0 || n > 65535) return false;
    port = static_cast<std::uint16_t>(n);
    return true;
}

}  // namespace

std::string Target::str() const {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<Target> parse_target(std::string_view text, std::string& error) {
    Target t;
    t.port = 25;
    std::string_view port;
    if (!text.empty() && text.front() == '[') {
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos || (close + 1 < text.size() && text[close + 1] != ':')) {
            error = "an IPv6 address goes in brackets: [::1]:2525";
            return std::nullopt;
        }
        t.host = std::string(text.substr(1, close - 1));
        if (close + 1 < text.size()) port = text.substr(close + 2);
        if (close + 1 < text.size() && port.empty()) port = "-";
    } else if (text.find(':') != text.rfind(':')) {
        t.host = std::string(text);  // a bare IPv6 address: no port
    } else {
        const std::size_t colon = text.find(':');
        t.host = std::string(text.substr(0, colon));
        if (colon != std::string_view::npos) port = text.substr(colon + 1);
        if (colon != std::string_view::npos && port.empty()) port = "-";
    }
    if (t.host.empty()) {
        error = "no host in \"" + std::string(text) + "\"";
        return std::nullopt;
    }
    if (!port.empty() && !parse_port(port, t.port)) {
        error = "the port must be a number from 1 to 65535";
        return std::nullopt;
    }
    return t;
}

ServerLink::~ServerLink() { close(); }

void ServerLink::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

std::optional<std::string> ServerLink::connect(const Target& target, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(target.port);
    if (const int rc = ::getaddrinfo(target.host.c_str(), port.c_str(), &hints, &found); rc != 0)
        return std::string("cannot resolve ") + target.host + ": " + ::gai_strerror(rc);
    std::string error = "no address";
    for (addrinfo* ai = found; ai; ai = ai->ai_next) {
        const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            error = std::strerror(errno);
            continue;
        }
        int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            pollfd p{fd, POLLOUT, 0};
            rc = ::poll(&p, 1, remaining_ms(deadline));
            if (rc == 0) {
                error = "no answer within " + std::to_string(timeout.count() / 1000) + " s";
                rc = -1;
            } else if (rc > 0) {
                int so_error = 0;
                socklen_t len = sizeof so_error;
                ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
                rc = so_error == 0 ? 0 : -1;
                if (so_error != 0) error = std::strerror(so_error);
            } else {
                error = std::strerror(errno);
            }
        } else if (rc != 0) {
            error = std::strerror(errno);
        }
        if (rc == 0) {
            fd_ = fd;
            ::freeaddrinfo(found);
            return std::nullopt;
        }
        ::close(fd);
        if (Clock::now() >= deadline) break;
    }
    ::freeaddrinfo(found);
    return error;
}

bool ServerLink::send(std::string_view data, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!data.empty()) {
        const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n > 0) {
            data.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p{fd_, POLLOUT, 0};
            if (::poll(&p, 1, remaining_ms(deadline)) <= 0) return false;
            continue;
        }
        return false;
    }
    return true;
}

ServerLink::Read ServerLink::read(std::string& out, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (true) {
        pollfd p{fd_, POLLIN, 0};
        const int rc = ::poll(&p, 1, remaining_ms(deadline));
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) return Read::Error;
        if (rc == 0) return Read::Timeout;
        char buf[4096];
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n > 0) {
            out.append(buf, static_cast<std::size_t>(n));
            return Read::Data;
        }
        if (n == 0) return Read::Closed;
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
        return errno == ECONNRESET ? Read::Closed : Read::Error;
    }
}

}  // namespace ehlo::net
