#include "smtp/text.hpp"

namespace ehlo::smtp {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (to_lower(a[i]) != to_lower(b[i])) return false;
    return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

bool has_non_ascii(std::string_view s) {
    for (char c : s)
        if (is_non_ascii(c)) return true;
    return false;
}

std::string_view trim_blanks(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::string printable(std::string_view s, std::size_t max_len) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    const bool cut = s.size() > max_len;
    if (cut) s = s.substr(0, max_len);
    out.reserve(s.size() + 8);
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f || c == '\\') {
            out += "\\x";
            out += kHex[u >> 4];
            out += kHex[u & 0xf];
        } else {
            out += c;
        }
    }
    if (cut) out += "...";
    return out;
}

}  // namespace ehlo::smtp
