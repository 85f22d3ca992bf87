// ASCII helpers for a protocol whose keywords are case-insensitive (RFC 5321 2.4).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ehlo::smtp {

inline bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_let_dig(char c) { return is_alpha(c) || is_digit(c); }
inline bool is_hex_digit(char c) { return is_digit(c) || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); }
inline bool is_non_ascii(char c) { return static_cast<unsigned char>(c) >= 0x80; }
inline char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b);
std::string lower(std::string_view s);  // ASCII letters only: domains and keywords
bool istarts_with(std::string_view s, std::string_view prefix);
bool has_non_ascii(std::string_view s);

// Without leading and trailing SP and HT.
std::string_view trim_blanks(std::string_view s);

// Text from the network (a command, a header, a peer's reply, an address) on its way to a log
// line, a terminal or a reply, where it must not be able to start a line of its own, move the
// cursor, reorder what a person reads, or hide what follows. Escaped: C0 controls and DEL as
// \xNN (\r, \n, \t by name), a backslash as \\, each octet of invalid UTF-8 as \xNN, and as
// \uXXXX the C1 controls, U+2028 and U+2029 (line and paragraph separators), and the
// bidirectional controls (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069) and U+FEFF,
// which hides between characters. Well-formed
// UTF-8 otherwise passes as it is. With `escape_quotes`, a double quote becomes \" too, for a
// value in quotes.
void append_printable(std::string& out, std::string_view s, bool escape_quotes = false);
// The same, cut at `max_len` octets of input (then "..."), so a 1 MB garbage line costs one
// short log line.
std::string printable(std::string_view s, std::size_t max_len = 200);
// True when append_printable() would change `s`.
bool needs_escaping(std::string_view s);

// The header section of a message in CRLF form (RFC 5322 2.1): up to and including the CRLF of
// its last field line, without the empty line that ends it. All of `content` when it has no
// empty line; nothing when it starts with one.
std::string_view header_section(std::string_view content);

}  // namespace ehlo::smtp
