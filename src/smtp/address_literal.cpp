// Address literals, RFC 5321 4.1.3: "[192.0.2.1]", "[IPv6:2001:db8::1]", "[tag:content]".
#include <cstddef>
#include <string_view>

#include "smtp/address.hpp"
#include "smtp/text.hpp"

namespace ehlo::smtp {

namespace {

// Snum = 1*3DIGIT, a value 0 through 255; IPv4-address-literal = Snum 3("." Snum).
bool is_ipv4(std::string_view s) {
    int parts = 0;
    std::size_t i = 0;
    while (true) {
        std::size_t digits = 0;
        unsigned value = 0;
        while (i < s.size() && is_digit(s[i]) && digits < 4) {
            value = value * 10 + static_cast<unsigned>(s[i] - '0');
            ++i;
            ++digits;
        }
        if (digits == 0 || digits > 3 || value > 255) return false;
        ++parts;
        if (i == s.size()) return parts == 4;
        if (s[i] != '.' || parts == 4) return false;
        ++i;
    }
}

// Counts the IPv6-hex groups of `s` ("" is none; "1:ab" is two); -1 if malformed.
int count_hex_groups(std::string_view s) {
    if (s.empty()) return 0;
    int groups = 0;
    std::size_t start = 0;
    while (true) {
        const std::size_t colon = s.find(':', start);
        const std::string_view group = s.substr(start, colon == std::string_view::npos ? s.npos : colon - start);
        if (group.empty() || group.size() > 4) return -1;  // IPv6-hex = 1*4HEXDIG
        for (char c : group)
            if (!is_hex_digit(c)) return -1;
        ++groups;
        if (colon == std::string_view::npos) return groups;
        start = colon + 1;
    }
}

// IPv6-addr = IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp. RFC 5321 is stricter than
// RFC 4291 about "::": it stands for at least two groups of zeros, so at most 6 other groups
// may be written beside it (4 when an IPv4 address ends the literal).
bool is_ipv6(std::string_view s) {
    std::string_view hex = s;
    bool v4 = false;
    const std::size_t last_colon = s.rfind(':');
    if (last_colon == std::string_view::npos) return false;
    const std::string_view tail = s.substr(last_colon + 1);
    if (tail.find('.') != std::string_view::npos) {
        if (!is_ipv4(tail)) return false;
        v4 = true;
        hex = s.substr(0, last_colon + 1);
        // The colon before the IPv4 part separates it from a group, unless it is half of "::".
        if (hex.size() < 2 || hex.substr(hex.size() - 2) != "::") hex.remove_suffix(1);
    }
    const int full = v4 ? 6 : 8;
    const int max_beside_compression = v4 ? 4 : 6;
    const std::size_t dcolon = hex.find("::");
    if (dcolon == std::string_view::npos) return count_hex_groups(hex) == full;
    if (hex.find("::", dcolon + 1) != std::string_view::npos) return false;  // one "::" only
    const int left = count_hex_groups(hex.substr(0, dcolon));
    const int right = count_hex_groups(hex.substr(dcolon + 2));
    if (left < 0 || right < 0) return false;
    return left + right <= max_beside_compression;
}

// Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig
bool is_ldh_str(std::string_view s) {
    if (s.empty() || !is_let_dig(s.back())) return false;
    for (char c : s)
        if (!is_let_dig(c) && c != '-') return false;
    return true;
}

// dcontent = %d33-90 / %d94-126: printable US-ASCII except "[", "\" and "]".
bool is_dcontent(char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u >= 33 && u <= 90) || (u >= 94 && u <= 126);
}

}  // namespace

bool is_valid_address_literal(std::string_view lit) {
    if (lit.size() < 3 || lit.front() != '[' || lit.back() != ']') return false;
    const std::string_view inner = lit.substr(1, lit.size() - 2);
    if (is_ipv4(inner)) return true;
    const std::size_t colon = inner.find(':');
    if (colon == std::string_view::npos) return false;
    const std::string_view tag = inner.substr(0, colon);
    const std::string_view content = inner.substr(colon + 1);
    if (iequals(tag, "IPv6")) return is_ipv6(content);
    // General-address-literal = Standardized-tag ":" 1*dcontent
    if (!is_ldh_str(tag) || content.empty()) return false;
    for (char c : content)
        if (!is_dcontent(c)) return false;
    return true;
}

}  // namespace ehlo::smtp
