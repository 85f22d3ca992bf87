// The addresses an RFC 5322 3.4 address-list names: what `sendmail -t` takes its recipients
// from (To, Cc, Bcc). Display names, comments (nested), quoted strings, groups ("team: a@x,
// b@y;" and the empty "undisclosed-recipients:;") and the obsolete route of RFC 5322 4.4 are
// understood; what is left is each addr-spec, as "local@domain".
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ehlo::smtp {

// `value` is a field's body after the colon, folded or not. nullopt when it is not an
// address-list (an unclosed quote, comment or angle bracket, a mailbox without '@'); an
// empty group gives no address.
std::optional<std::vector<std::string>> header_addresses(std::string_view value);

}  // namespace ehlo::smtp
