// The DATA content framing of RFC 5321 4.1.1.4 and dot transparency of 4.5.2.
//
// The content ends at <CRLF>.<CRLF> and at nothing else: not at <LF>.<LF>, <CR>.<CR>,
// <LF>.<CRLF>, <CRLF>.<LF> or <CRLF>.<CR>, the endings that other servers have accepted and
// that let one message hide a second transaction inside it ("SMTP smuggling",
// CVE-2023-51764 and its kin). A line starts only after CRLF, so only there is a dot special.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ehlo::smtp {

class DataReader {
public:
    // Starts a message: the DATA command's CRLF has just been read, so a line begins.
    void reset() { state_ = State::LineStart; }

    // Reads content from `in` until the end marker or the end of `in`. Appends the content,
    // dot-unstuffed and without the final ".", to `out`; bare CR and bare LF are passed on
    // as they came (the caller refuses such a message). Returns the octets consumed.
    std::size_t feed(std::string_view in, std::string& out);

    // The end marker has been read.
    bool done() const { return state_ == State::Done; }

private:
    enum class State {
        LineStart,  // after CRLF
        Dot,        // "." at the start of a line
        DotCr,      // ".\r" at the start of a line: the end marker if LF follows
        InLine,
        InLineCr,   // a CR inside a line, emitted already; CRLF if LF follows
        Done,
    };
    State state_ = State::LineStart;
};

}  // namespace ehlo::smtp
