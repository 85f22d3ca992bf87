#include "smtp/text.hpp"

#include "smtp/utf8.hpp"

namespace ehlo::smtp {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Code points that are well-formed but must not reach a terminal or a log as they are.
bool is_hidden_control(char32_t cp) {
    return (cp >= 0x80 && cp <= 0x9f) ||                            // C1 controls (CSI is 0x9b)
           cp == 0x2028 || cp == 0x2029 ||                          // line, paragraph separator
           cp == 0x061c || cp == 0x200e || cp == 0x200f ||          // bidi marks
           cp == 0xfeff ||                                          // zero-width no-break space
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);  // bidi embeddings, isolates
}

void append_byte(std::string& out, unsigned char u) {
    out += "\\x";
    out += kHex[u >> 4];
    out += kHex[u & 0xf];
}

void append_code_point(std::string& out, char32_t cp) {
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 0xf];
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (to_lower(a[i]) != to_lower(b[i])) return false;
    return true;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = to_lower(c);
    return out;
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

void append_printable(std::string& out, std::string_view s, bool escape_quotes) {
    for (std::size_t i = 0; i < s.size();) {
        const auto u = static_cast<unsigned char>(s[i]);
        if (u >= 0x80) {
            char32_t cp = 0;
            const std::size_t len = utf8_char_at(s, i, cp);
            if (len == 0) {
                append_byte(out, u);
                ++i;
            } else {
                if (is_hidden_control(cp))
                    append_code_point(out, cp);
                else
                    out.append(s.substr(i, len));
                i += len;
            }
            continue;
        }
        ++i;
        switch (u) {
            case '\\': out += "\\\\"; break;
            case '\r': out += "\\r"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '"':
                if (escape_quotes) out += '\\';
                out += '"';
                break;
            default:
                if (u < 0x20 || u == 0x7f)
                    append_byte(out, u);
                else
                    out += static_cast<char>(u);
        }
    }
}

std::string printable(std::string_view s, std::size_t max_len) {
    std::string out;
    const bool cut = s.size() > max_len;
    if (cut) s = s.substr(0, max_len);
    out.reserve(s.size() + 8);
    append_printable(out, s);
    if (cut) out += "...";
    return out;
}

bool needs_escaping(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto u = static_cast<unsigned char>(s[i]);
        if (u < 0x20 || u == 0x7f || u == '\\') return true;
        if (u < 0x80) {
            ++i;
            continue;
        }
        char32_t cp = 0;
        const std::size_t len = utf8_char_at(s, i, cp);
        if (len == 0 || is_hidden_control(cp)) return true;
        i += len;
    }
    return false;
}

std::string_view header_section(std::string_view content) {
    if (content.starts_with("\r\n")) return {};
    const std::size_t end = content.find("\r\n\r\n");
    return end == std::string_view::npos ? content : content.substr(0, end + 2);
}

}  // namespace ehlo::smtp
