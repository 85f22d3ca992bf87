// Text that came from the network (replies of other servers, header fields, addresses, HELO
// names) made safe to print on a terminal or into a log line: nothing in it can move the
// cursor, change colours, set the window title, reorder the text around it or end the line.
#pragma once

#include <string>
#include <string_view>

#include "smtp/text.hpp"

namespace ehlo::observe {

// Copies `text`, escaping what a terminal would act on or what could disguise the text:
//   - C0 controls and DEL as \t, \n, \r or \xNN (so one value is always one line),
//   - C1 controls U+0080..U+009F (CSI, OSC, ... in their UTF-8 form) as \u0080..\u009f,
//   - U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR,
//   - bidirectional controls (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069),
//     the "Trojan Source" characters that show text in another order than it is,
//   - bytes that are not well-formed UTF-8 (RFC 3629: overlong forms, surrogates, beyond
//     U+10FFFF, truncated sequences) as \xNN, each byte on its own,
//   - the backslash itself as \\, so that the escaped text reads back unambiguously.
// Everything else, printable ASCII and well-formed UTF-8 alike, passes unchanged.
// One escaper serves logs, replies and terminals alike: smtp::append_printable.
inline std::string terminal_safe(std::string_view text) { return smtp::printable(text, text.size()); }

}  // namespace ehlo::observe
