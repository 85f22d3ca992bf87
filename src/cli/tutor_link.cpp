#include "cli/tutor_link.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace ehlo::cli {

namespace {

// Standard input is read in pieces of this size; a "line" without LF ends here, so that a
// megabyte pasted without newlines cannot grow the buffer without bound.
constexpr std::size_t kReadChunk = 4096;
constexpr std::size_t kMaxInputLine = 64 * 1024;

}  // namespace

bool LineInput::take(std::string& line) {
    std::size_t lf = buffer_.find('\n');
    if (lf == std::string::npos) {
        if (buffer_.size() >= kMaxInputLine || (end_ && !buffer_.empty())) {
            lf = std::min(buffer_.size(), kMaxInputLine);
            line = buffer_.substr(0, lf);
            buffer_.erase(0, lf);
            return true;
        }
        return false;
    }
    line = buffer_.substr(0, lf);
    buffer_.erase(0, lf + 1);
    // A terminal sends LF; a file written elsewhere may end its lines with CRLF.
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return true;
}

bool LineInput::fill() {
    char buf[kReadChunk];
    while (true) {
        const ssize_t n = ::read(0, buf, sizeof buf);
        if (n > 0) {
            buffer_.append(buf, static_cast<std::size_t>(n));
            return true;
        }
        if (n < 0 && errno == EINTR) continue;
        end_ = true;
        return false;
    }
}

LineInput::Event LineInput::next(std::string& line, int server_fd) {
    while (true) {
        if (take(line)) return Event::Line;
        if (end_) return Event::End;
        pollfd p[2] = {{0, POLLIN, 0}, {server_fd, POLLIN, 0}};
        const int rc = ::poll(p, server_fd >= 0 ? 2 : 1, -1);
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) return Event::End;
        if (server_fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) return Event::Server;
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) fill();
    }
}

bool LineInput::ready_line(std::string& line) {
    if (take(line)) return true;
    if (end_) return false;
    pollfd p{0, POLLIN, 0};
    if (::poll(&p, 1, 50) > 0 && (p.revents & POLLIN)) fill();
    return take(line);
}

}  // namespace ehlo::cli
