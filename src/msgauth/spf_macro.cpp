// RFC 7208 7: the macro language of SPF domain-specs and explanations.
#include <algorithm>
#include <vector>

#include "msgauth/message.hpp"
#include "msgauth/spf_record.hpp"

namespace ehlo::msgauth {

namespace {

constexpr std::size_t kMaxDomain = 253;  // RFC 7208 7.3, RFC 1035 2.3.4

bool is_delimiter(char c) { return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' || c == '_' || c == '='; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }

bool is_letter(char c, bool explanation) {
    switch (c | 0x20) {
        case 's': case 'l': case 'o': case 'd': case 'i': case 'p': case 'h': case 'v': return true;
        case 'c': case 'r': case 't': return explanation;  // RFC 7208 7.2: only in exp= text
        default: return false;
    }
}

// One "%{...}" at text[at] (at points at '%'); the end index past '}' or npos.
std::size_t macro_end(std::string_view text, std::size_t at, bool explanation) {
    if (at + 1 >= text.size()) return std::string_view::npos;
    const char next = text[at + 1];
    if (next == '%' || next == '_' || next == '-') return at + 2;
    if (next != '{' || at + 2 >= text.size() || !is_letter(text[at + 2], explanation)) return std::string_view::npos;
    std::size_t i = at + 3;
    while (i < text.size() && is_digit(text[i])) ++i;
    if (i < text.size() && (text[i] == 'r' || text[i] == 'R')) ++i;
    while (i < text.size() && is_delimiter(text[i])) ++i;
    if (i >= text.size() || text[i] != '}') return std::string_view::npos;
    return i + 1;
}

// RFC 7208 7.1 toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool is_toplabel(std::string_view label) {
    if (label.empty() || !is_alnum(label.front()) || !is_alnum(label.back())) return false;
    bool alpha = false, hyphen = false;
    for (char c : label) {
        if (c == '-')
            hyphen = true;
        else if (is_alpha(c))
            alpha = true;
        else if (!is_digit(c))
            return false;
    }
    return alpha || hyphen;
}

std::string url_escape(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        // RFC 3986 2.3 unreserved characters stay
        if (is_alnum(static_cast<char>(c)) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
        }
    }
    return out;
}

std::string letter_value(char letter, const SpfMacroContext& c) {
    switch (letter | 0x20) {
        case 's': return c.sender;
        case 'l': return c.local_part;
        case 'o': return c.sender_domain;
        case 'd': return c.domain;
        case 'i': return c.ip.dotted();
        case 'p': return c.validated.empty() ? "unknown" : c.validated;
        case 'v': return c.ip.v6 ? "ip6" : "in-addr";
        case 'h': return c.helo;
        case 'c': return c.ip.str();
        case 'r': return c.receiver;
        case 't': return std::to_string(c.now);
    }
    return {};
}

}  // namespace

bool valid_macro_string(std::string_view spec, bool explanation) {
    for (std::size_t i = 0; i < spec.size();) {
        const char c = spec[i];
        if (c == '%') {
            const std::size_t end = macro_end(spec, i, explanation);
            if (end == std::string_view::npos) return false;
            i = end;
            continue;
        }
        // macro-literal = %x21-24 / %x26-7E; explanations also allow SP (RFC 7208 7.1)
        if (!((c >= 0x21 && c <= 0x7e) || (explanation && c == ' '))) return false;
        ++i;
    }
    return true;
}

bool valid_domain_spec(std::string_view spec) {
    if (spec.empty() || !valid_macro_string(spec)) return false;
    // domain-end = ( "." toplabel [ "." ] ) / macro-expand
    if (spec.back() == '}') {
        const std::size_t open = spec.rfind("%{");
        if (open != std::string_view::npos && macro_end(spec, open, false) == spec.size()) return true;
    }
    std::string_view s = spec;
    if (s.back() == '.') s.remove_suffix(1);
    const std::size_t dot = s.rfind('.');
    if (dot == std::string_view::npos) return false;
    return is_toplabel(s.substr(dot + 1));
}

bool uses_validated_name(std::string_view spec) {
    for (std::size_t i = 0; i + 2 < spec.size(); ++i)
        if (spec[i] == '%' && spec[i + 1] == '{' && (spec[i + 2] | 0x20) == 'p') return true;
    return false;
}

std::string truncate_domain(std::string domain) {
    while (domain.size() > kMaxDomain) {
        const std::size_t dot = domain.find('.');
        if (dot == std::string::npos) return {};
        domain.erase(0, dot + 1);
    }
    return domain;
}

std::optional<std::string> expand_spf_macros(std::string_view spec, const SpfMacroContext& context, bool explanation) {
    if (!valid_macro_string(spec, explanation)) return std::nullopt;
    std::string out;
    for (std::size_t i = 0; i < spec.size();) {
        if (spec[i] != '%') {
            out += spec[i++];
            continue;
        }
        const char next = spec[i + 1];
        if (next == '%' || next == '_' || next == '-') {
            out += next == '%' ? "%" : next == '_' ? " " : "%20";
            i += 2;
            continue;
        }
        const std::size_t end = macro_end(spec, i, explanation);
        const char letter = spec[i + 2];
        std::size_t j = i + 3;
        std::size_t keep = 0;
        bool any_digits = false;
        while (is_digit(spec[j])) {
            any_digits = true;
            keep = std::min<std::size_t>(keep * 10 + static_cast<std::size_t>(spec[j] - '0'), 1000);
            ++j;
        }
        if (any_digits && keep == 0) return std::nullopt;  // RFC 7208 7.1: zero parts is not allowed
        bool reverse = false;
        if (spec[j] == 'r' || spec[j] == 'R') {
            reverse = true;
            ++j;
        }
        std::string delimiters(spec.substr(j, end - 1 - j));
        if (delimiters.empty()) delimiters = ".";

        // RFC 7208 7.3: split on the delimiters, reverse, keep the rightmost parts, join with '.'.
        const std::string value = letter_value(letter, context);
        std::vector<std::string> parts(1);
        for (char c : value) {
            if (delimiters.find(c) != std::string::npos)
                parts.emplace_back();
            else
                parts.back() += c;
        }
        if (reverse) std::reverse(parts.begin(), parts.end());
        if (any_digits && keep < parts.size()) parts.erase(parts.begin(), parts.end() - static_cast<std::ptrdiff_t>(keep));
        std::string joined;
        for (std::size_t k = 0; k < parts.size(); ++k) {
            if (k > 0) joined += '.';
            joined += parts[k];
        }
        out += (letter >= 'A' && letter <= 'Z') ? url_escape(joined) : joined;
        i = end;
    }
    return explanation ? out : truncate_domain(std::move(out));
}

}  // namespace ehlo::msgauth
