// The header section of a message as message authentication reads it (RFC 5322 2.2): fields
// in their order, each kept byte for byte (DKIM's simple canonicalization needs the original
// text), and where the body starts. Content is CRLF text as SMTP carries it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ehlo::msgauth {

struct HeaderField {
    std::string name;  // as written, before the colon, without trailing whitespace
    std::string raw;   // the whole field, folded lines included, without the final CRLF

    // The text after the colon, as written (folding included).
    std::string_view value() const;
    bool is(std::string_view other) const;  // case-insensitive name comparison
};

struct ParsedMessage {
    std::vector<HeaderField> fields;
    std::size_t body_offset = 0;  // past the empty line; content.size() when there is no body
};

// RFC 5322 2.2: the header section up to the first empty line. A line that is neither a field
// (name ":" ...) nor a continuation (starts with SP or HTAB) ends the header section: the rest
// is body, as DKIM verifiers commonly treat it. At most `max_fields` fields are kept; beyond
// that nullopt (a hostile message must not make us canonicalize without bound).
constexpr std::size_t kMaxHeaderFields = 1000;
std::optional<ParsedMessage> parse_message(std::string_view content, std::size_t max_fields = kMaxHeaderFields);

// Lower-case ASCII copy.
std::string lower(std::string_view text);
bool iequals(std::string_view a, std::string_view b);

// For files written with LF line ends (the operator commands read them): LF -> CRLF, CRLF kept.
std::string to_crlf(std::string_view text);

// Text from outside (DNS records, header fields) made safe for a log line or a terminal:
// bytes outside printable ASCII become "\xNN", and at most `max` bytes are kept.
std::string printable(std::string_view text, std::size_t max = 512);

// Removes leading and trailing whitespace (SP, HTAB, CR, LF).
std::string_view trim(std::string_view text);

}  // namespace ehlo::msgauth
