#include "tutor/safe_text.hpp"

#include <cstdint>

namespace ehlo::tutor {

namespace {

constexpr char kHex[] = "0123456789abcdef";

void hex_octet(std::string& out, unsigned char u) {
    out += "\\x";
    out += kHex[u >> 4];
    out += kHex[u & 0xf];
}

void code_point(std::string& out, std::uint32_t cp) {
    out += "\\u{";
    for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 0xf];
    out += '}';
}

bool is_dangerous(std::uint32_t cp) {
    return (cp >= 0x80 && cp <= 0x9f)                      // C1 controls
           || cp == 0x2028 || cp == 0x2029                 // line and paragraph separator
           || cp == 0x061c || cp == 0x200e || cp == 0x200f  // ALM, LRM, RLM
           || (cp >= 0x202a && cp <= 0x202e)               // LRE RLE PDF LRO RLO
           || (cp >= 0x2066 && cp <= 0x2069)               // LRI RLI FSI PDI
           || cp == 0xfeff;                                // zero-width no-break space
}

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629 4) and its code point; 0 when the
// octets there are not one.
std::size_t decode(std::string_view s, std::size_t i, std::uint32_t& cp) {
    const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char b0 = at(i);
    std::size_t n;
    std::uint32_t min;
    if (b0 >= 0xc2 && b0 <= 0xdf) {
        n = 2, min = 0x80, cp = b0 & 0x1f;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
        n = 3, min = 0x800, cp = b0 & 0x0f;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
        n = 4, min = 0x10000, cp = b0 & 0x07;
    } else {
        return 0;
    }
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if ((at(i + k) & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (at(i + k) & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

}  // namespace

std::string safe_text(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        const auto u = static_cast<unsigned char>(s[i]);
        if (u < 0x80) {
            if (u < 0x20 || u == 0x7f || u == '\\')
                hex_octet(out, u);
            else
                out += s[i];
            ++i;
            continue;
        }
        std::uint32_t cp = 0;
        const std::size_t n = decode(s, i, cp);
        if (n == 0) {
            hex_octet(out, u);
            ++i;
        } else {
            if (is_dangerous(cp))
                code_point(out, cp);
            else
                out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

}  // namespace ehlo::tutor
