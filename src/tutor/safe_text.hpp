// Peer text made safe to show to a person. A server's reply can carry anything: an ESC
// sequence that retitles the terminal or hides the lines above, a C1 control that some
// terminals take as CSI, U+2028 that splits a line, a bidi override that makes "5.7.1" read
// as something else, bytes that are not UTF-8 at all. The tutor shows every byte the server
// sent, so each one goes through here first.
#pragma once

#include <string>
#include <string_view>

#include "smtp/text.hpp"

namespace ehlo::tutor {

// `s` with every octet and character that could act on a terminal or mislead a reader written
// as a visible escape: the one escaper of logs, replies and terminals, smtp::append_printable.
inline std::string safe_text(std::string_view s) { return smtp::printable(s, s.size()); }

}  // namespace ehlo::tutor
