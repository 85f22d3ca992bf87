// Well-formed UTF-8 (RFC 3629 section 4), the only non-ASCII that SMTPUTF8 admits (RFC 6531 3.3).
#pragma once

#include <cstddef>
#include <string_view>

namespace ehlo::smtp {

// The length of the well-formed UTF-8 character that starts at s[i] (1 for ASCII), or 0 when
// none does there: no overlong forms, no surrogates, nothing above U+10FFFF, no truncated
// sequence. With a length, `code_point` is the character's value.
std::size_t utf8_char_at(std::string_view s, std::size_t i, char32_t& code_point);

// True when `s` is a sequence of well-formed UTF-8 characters. Plain ASCII is well-formed.
bool is_well_formed_utf8(std::string_view s);

}  // namespace ehlo::smtp
