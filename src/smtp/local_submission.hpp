// A message as a local program hands it to `sendmail` (on standard input, in LF lines), made
// into what SMTP would carry: CRLF lines, the lone-dot end unless -i, the recipients of -t
// taken from To/Cc/Bcc and Bcc removed, and the From, Date and Message-ID a program left out
// added (RFC 5322 3.6: From and Date are required; Message-ID should be there), as Postfix's
// cleanup does for local mail. Sans-I/O: the caller gives the time, names and random part.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ehlo::smtp {

struct LocalInput {
    std::string content;  // CRLF lines
    bool truncated = false;  // more than the limit was given
};

// Reads what came on standard input so far (all of it: call once). `dot_ends` (no -i): a line
// of one "." ends the message, the rest is ignored. LF and bare CR line ends become CRLF.
// `limit`: content beyond it sets `truncated` (the message is refused, never cut short).
LocalInput local_input(std::string_view raw, bool dot_ends, std::size_t limit);

struct LocalHeaders {
    std::string from;          // "alice@host.example": the From to add when there is none
    std::string full_name;     // its display name (-F or the account's), may be empty
    std::string date;          // RFC 5322 date-time for a missing Date
    std::string message_id;    // "<...@host.example>" for a missing Message-ID
    bool extract_recipients = false;  // -t
};

struct LocalMessage {
    std::string content;
    std::vector<std::string> recipients;  // -t: from To, Cc, Bcc (Resent-* when any is there)
    std::string problem;                  // a recipient field that is not an address list
};

// The header section is every line up to the first empty one, or up to the first line that is
// not a field ("Name: value" or a continuation): then that line begins the body and an empty
// line is put before it.
LocalMessage complete_local_message(std::string content, const LocalHeaders& headers);

// "A. User" -> "\"A. User\"" when it needs quoting (RFC 5322 3.2.3 specials); controls removed.
std::string display_name(std::string_view name);

}  // namespace ehlo::smtp
