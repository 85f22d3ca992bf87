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
bool istarts_with(std::string_view s, std::string_view prefix);
bool has_non_ascii(std::string_view s);

// Without leading and trailing SP and HT.
std::string_view trim_blanks(std::string_view s);

// A version of client input that is safe to log: control octets as \xNN, cut at `max_len`
// octets (then "..."), so a 1 MB garbage line costs one short log line.
std::string printable(std::string_view s, std::size_t max_len = 200);

}  // namespace ehlo::smtp
