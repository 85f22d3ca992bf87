// An SMTP reply: a three-digit code, an RFC 3463 enhanced status code and text.
#pragma once

#include <string>
#include <vector>

namespace ehlo::smtp {

struct Reply {
    int code = 250;
    std::string enhanced;            // "2.1.0"; empty for replies that carry none (220, 221 may)
    std::vector<std::string> lines;  // one entry per reply line; never contains CR or LF

    Reply() = default;
    Reply(int c, std::string enh, std::string text) : code(c), enhanced(std::move(enh)), lines{std::move(text)} {}

    bool positive() const { return code >= 200 && code < 400; }
    bool transient() const { return code >= 400 && code < 500; }
    bool permanent() const { return code >= 500; }

    // The reply as sent on the wire, every line ending in CRLF (RFC 5321 4.2.1 multiline form).
    // Enhanced codes are written only when `enhanced_codes` is set (RFC 2034: once advertised).
    std::string wire(bool enhanced_codes) const;
    // The reply on one line, for logs, spool state and DSN Diagnostic-Code: "451 4.4.1 text".
    std::string one_line() const;
};

}  // namespace ehlo::smtp
