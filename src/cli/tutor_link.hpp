// The person's end of `ehlo tutor`: standard input, read with poll(2) beside the server's
// connection (net/server_link.hpp) so that a reply that comes while the person is typing (a
// 421 after a timeout) is shown at once. Blocking I/O in a command-line program.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "net/server_link.hpp"

namespace ehlo::cli {

using net::parse_target;
using net::ServerLink;
using net::Target;

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
