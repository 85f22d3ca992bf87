// The header fields the history keeps of each message, for search and for the trace's first
// lines: Message-ID, From, To, Subject, unfolded and cut to a bounded length. Read from the
// header section as it came in; nothing here interprets addresses or encoded words.
#pragma once

#include <string>
#include <string_view>

namespace ehlo::observe {

struct HeaderSummary {
    std::string message_id, from, to, subject;
};

// At most this many octets of each value are kept.
inline constexpr std::size_t kMaxSummaryField = 998;

// `header_section`: the content up to its empty line (smtp::header_section), CRLF or LF lines.
// The first occurrence of each field counts.
HeaderSummary summarize_header_section(std::string_view header_section);

}  // namespace ehlo::observe
