// Walks the text once, decoding UTF-8 by the table of well-formed sequences in RFC 3629
// section 4, so that a byte is either part of a whole, valid character or escaped alone.
#include "observe/terminal_safe.hpp"

#include <cstdint>

namespace ehlo::observe {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void escape_byte(std::string& out, unsigned char c) {
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
}

void escape_code_point(std::string& out, std::uint32_t cp) {
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 0xf];
}

// Characters that are valid UTF-8 and still must not reach a terminal as they are.
bool hostile_code_point(std::uint32_t cp) {
    if (cp >= 0x80 && cp <= 0x9f) return true;      // C1 controls
    if (cp == 0x2028 || cp == 0x2029) return true;  // line and paragraph separators
    if (cp == 0x061c || cp == 0x200e || cp == 0x200f) return true;    // bidi marks
    if (cp >= 0x202a && cp <= 0x202e) return true;  // bidi embeddings and overrides
    if (cp >= 0x2066 && cp <= 0x2069) return true;  // bidi isolates
    return false;
}

bool continuation(unsigned char c) { return (c & 0xc0) == 0x80; }

// Length of the well-formed UTF-8 sequence starting at s[i] and its code point; 0 if the
// bytes there are not one (RFC 3629 section 4's table of well-formed sequences).
std::size_t decode(std::string_view s, std::size_t i, std::uint32_t& cp) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    const std::size_t left = s.size() - i;
    auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    if (b0 >= 0xc2 && b0 <= 0xdf) {
        if (left < 2 || !continuation(at(1))) return 0;
        cp = ((b0 & 0x1fu) << 6) | (at(1) & 0x3fu);
        return 2;
    }
    if (b0 >= 0xe0 && b0 <= 0xef) {
        if (left < 3 || !continuation(at(1)) || !continuation(at(2))) return 0;
        if (b0 == 0xe0 && at(1) < 0xa0) return 0;   // overlong
        if (b0 == 0xed && at(1) > 0x9f) return 0;   // UTF-16 surrogates
        cp = ((b0 & 0x0fu) << 12) | ((at(1) & 0x3fu) << 6) | (at(2) & 0x3fu);
        return 3;
    }
    if (b0 >= 0xf0 && b0 <= 0xf4) {
        if (left < 4 || !continuation(at(1)) || !continuation(at(2)) || !continuation(at(3))) return 0;
        if (b0 == 0xf0 && at(1) < 0x90) return 0;   // overlong
        if (b0 == 0xf4 && at(1) > 0x8f) return 0;   // beyond U+10FFFF
        cp = ((b0 & 0x07u) << 18) | ((at(1) & 0x3fu) << 12) | ((at(2) & 0x3fu) << 6) | (at(3) & 0x3fu);
        return 4;
    }
    return 0;  // a continuation byte on its own, C0/C1 lead bytes (overlong), F5..FF
}

}  // namespace

std::string terminal_safe(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            switch (c) {
                case '\\': out += "\\\\"; break;
                case '\t': out += "\\t"; break;
                case '\n': out += "\\n"; break;
                case '\r': out += "\\r"; break;
                default:
                    if (c < 0x20 || c == 0x7f) escape_byte(out, c);
                    else out += static_cast<char>(c);
            }
            ++i;
            continue;
        }
        std::uint32_t cp = 0;
        const std::size_t n = decode(text, i, cp);
        if (n == 0) {
            escape_byte(out, c);
            ++i;
        } else if (hostile_code_point(cp)) {
            escape_code_point(out, cp);
            i += n;
        } else {
            out.append(text.substr(i, n));
            i += n;
        }
    }
    return out;
}

}  // namespace ehlo::observe
