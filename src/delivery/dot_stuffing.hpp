// Message content as the DATA command sends it (RFC 5321 4.5.2): transparency and line ends,
// made piece by piece so that no whole message is ever held.
#pragma once

#include <string>
#include <string_view>

namespace ehlo::delivery {

// The DATA section as sent (RFC 5321 4.5.2), made piece by piece: a line that starts with "."
// gets another "." in front, every line ends in CRLF (a bare CR or LF becomes CRLF, 2.3.8), and
// CRLF "." CRLF ends it. Pieces may be cut anywhere, between a CR and its LF included.
class DotStuffer {
public:
    void feed(std::string_view piece, std::string& out);
    // The end: a CRLF if the last line had none ("." must start a line of its own), then ".".
    void finish(std::string& out);

private:
    bool line_start_ = true;
    bool after_cr_ = false;  // the last octet was a CR, already written as CRLF
};

// The whole DATA section of `content` at once.
std::string data_block(std::string_view content);

}  // namespace ehlo::delivery
