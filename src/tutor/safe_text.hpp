// Peer text made safe to show to a person. A server's reply can carry anything: an ESC
// sequence that retitles the terminal or hides the lines above, a C1 control that some
// terminals take as CSI, U+2028 that splits a line, a bidi override that makes "5.7.1" read
// as something else, bytes that are not UTF-8 at all. The tutor shows every byte the server
// sent, so each one goes through here first.
//
// Written here rather than taken from a library: the rule is a few lines and must be exactly
// this one (escape, never drop, so that a person sees that something was there).
#pragma once

#include <string>
#include <string_view>

namespace ehlo::tutor {

// `s` with every octet and character that could act on a terminal or mislead a reader written
// as a visible escape:
// - C0 controls (TAB and ESC included), DEL and the backslash itself: "\xNN", as
//   smtp::printable() writes them, so that a server cannot forge an escape;
// - octets that are not well-formed UTF-8 (RFC 3629 4: stray continuation octets, overlong
//   forms, surrogates, beyond U+10FFFF, truncated sequences): "\xNN" each;
// - C1 controls (U+0080-U+009F), U+2028 and U+2029, the bidi controls (U+061C, U+200E,
//   U+200F, U+202A-U+202E, U+2066-U+2069) and U+FEFF: "\u{XXXX}".
// Printable ASCII and other well-formed UTF-8 pass unchanged.
std::string safe_text(std::string_view s);

}  // namespace ehlo::tutor
