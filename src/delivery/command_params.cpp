#include "delivery/command_params.hpp"

#include "smtp/envelope.hpp"

namespace ehlo::delivery {

// An address or parameter about to go into a command line: a CR, LF or other control octet
// would end the line early and let the rest act as a command of its own. The SMTP core never
// accepts such addresses; this guards the spool's content all the same.
bool safe_in_command(std::string_view s) {
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) return false;
    }
    return true;
}

// xtext (RFC 3461 4): printable ASCII except "+" and "=" as is, every other octet as "+HH".
std::string xtext(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 33 && u <= 126 && c != '+' && c != '=') {
            out += c;
        } else {
            out += '+';
            out += hex[u >> 4];
            out += hex[u & 0xF];
        }
    }
    return out;
}

namespace {

bool is_atom_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

}  // namespace

// ORCPT=addr-type ";" xtext (RFC 3461 4.2). The envelope keeps it decoded as "type;address";
// an ORCPT without a usable type is not passed on.
std::string orcpt_param(std::string_view orcpt) {
    const std::size_t semi = orcpt.find(';');
    if (semi == std::string_view::npos || semi == 0) return {};
    const std::string_view type = orcpt.substr(0, semi);
    for (char c : type)
        if (!is_atom_char(c)) return {};
    return " ORCPT=" + std::string(type) + ";" + xtext(orcpt.substr(semi + 1));
}

// NOTIFY="NEVER" / 1#("SUCCESS" / "FAILURE" / "DELAY") (RFC 3461 4.1).
std::string notify_param(unsigned notify) {
    if (notify == 0) return {};
    if (notify & smtp::notify::Never) return " NOTIFY=NEVER";
    std::string list;
    auto add = [&](unsigned bit, const char* word) {
        if (!(notify & bit)) return;
        if (!list.empty()) list += ',';
        list += word;
    };
    add(smtp::notify::Success, "SUCCESS");
    add(smtp::notify::Failure, "FAILURE");
    add(smtp::notify::Delay, "DELAY");
    return list.empty() ? std::string{} : " NOTIFY=" + list;
}

}  // namespace ehlo::delivery
