// Command-line framing (RFC 5321 2.3.8, 4.1.1): a command ends at CRLF and nowhere else.
#pragma once

#include <cstddef>
#include <string_view>

namespace ehlo::smtp {

// Cuts command lines out of the session's input buffer. The result does not depend on how the
// bytes were split across receive() calls: a line is too long as soon as more than
// max_line - 2 octets of it are known to precede its CRLF, whether or not more has arrived.
class LineReader {
public:
    enum class Kind {
        NeedMore,  // no complete line yet
        Line,      // `text` is the line without its CRLF (it may still hold a bare CR or NUL)
        TooLong,   // over the limit: `text` is its start; the rest up to CRLF is discarded
        BareLf,    // a LF without CR ended `text`: not a line; discarded up to that LF
    };
    struct Event {
        Kind kind = Kind::NeedMore;
        std::string_view text;
    };

    explicit LineReader(std::size_t max_line_with_crlf) : max_content_(max_line_with_crlf - 2) {}

    // The next event from in[pos...]; advances `pos` past what it used or discarded.
    Event next(std::string_view in, std::size_t& pos);

    // Within an over-long line, waiting for its CRLF.
    bool discarding() const { return discarding_; }

private:
    std::size_t max_content_;
    bool discarding_ = false;
};

}  // namespace ehlo::smtp
