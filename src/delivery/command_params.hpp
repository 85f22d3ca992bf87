// What goes into the MAIL and RCPT lines the SMTP client sends: a check that a value cannot
// break out of its line, and the RFC 3461 parameters in their wire form.
#pragma once

#include <string>
#include <string_view>

namespace ehlo::delivery {

// No CR, LF or other control octet: one would end the line early and let the rest act as a
// command of its own.
bool safe_in_command(std::string_view s);
// xtext (RFC 3461 4).
std::string xtext(std::string_view s);
// " ORCPT=type;xtext" from the envelope's decoded "type;address" (RFC 3461 4.2); empty when the
// type is not an atom.
std::string orcpt_param(std::string_view orcpt);
// " NOTIFY=..." from smtp::notify bits (RFC 3461 4.1); empty for none.
std::string notify_param(unsigned notify);

}  // namespace ehlo::delivery
