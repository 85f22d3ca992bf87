// Well-formed UTF-8 (RFC 3629 section 4), the only non-ASCII that SMTPUTF8 admits (RFC 6531 3.3).
#pragma once

#include <string_view>

namespace ehlo::smtp {

// True when `s` is a sequence of well-formed UTF-8 characters: no overlong forms, no
// surrogates, nothing above U+10FFFF, no truncated sequence. Plain ASCII is well-formed.
bool is_well_formed_utf8(std::string_view s);

}  // namespace ehlo::smtp
