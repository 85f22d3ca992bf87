// Command-line framing (RFC 5321 2.3.8, 4.1.1): a command ends at CRLF and nowhere else.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ehlo::smtp {

// Cuts command lines out of the session's input buffer. The result does not depend on how the
// bytes were split across receive() calls: a line is too long as soon as more than its limit
// less 2 octets of it are known to precede its CRLF, whether or not more has arrived.
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

    explicit LineReader(std::size_t max_line_with_crlf) : base_(max_line_with_crlf - 2) {}

    // Lines that start with `prefix` (compared case-insensitively, e.g. "MAIL ") may be up to
    // `max_line_with_crlf` long: the service extensions raise the limit for their parameters.
    // The prefix must be shorter than the base limit, so that it is known by the time it matters.
    void extend(std::string_view prefix, std::size_t max_line_with_crlf);

    // The next event from in[pos...]; advances `pos` past what it used or discarded.
    Event next(std::string_view in, std::size_t& pos);

    // Within an over-long line, waiting for its CRLF.
    bool discarding() const { return discarding_; }

private:
    // The limit (without CRLF) of the line that starts `line`, of which more than the base
    // limit is known.
    std::size_t limit_for(std::string_view line) const;

    struct Extension {
        std::string prefix;
        std::size_t max_content;
    };
    std::size_t base_;
    std::vector<Extension> extensions_;
    bool discarding_ = false;
};

}  // namespace ehlo::smtp
