#include "smtp/utf8.hpp"

namespace ehlo::smtp {

std::size_t utf8_char_at(std::string_view s, std::size_t i, char32_t& code_point) {
    const std::size_t n = s.size();
    if (i >= n) return 0;
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    auto tail = [&](std::size_t k) { return k < n && (byte(k) & 0xC0) == 0x80; };
    const unsigned char b = byte(i);
    if (b < 0x80) {
        code_point = b;
        return 1;
    }
    // RFC 3629 section 4, UTF8-2 / UTF8-3 / UTF8-4: the second octet's range excludes
    // overlong forms (E0, F0), surrogates (ED) and code points above U+10FFFF (F4).
    if (b >= 0xC2 && b <= 0xDF) {
        if (!tail(i + 1)) return 0;
        code_point = (char32_t{b} & 0x1F) << 6 | (char32_t{byte(i + 1)} & 0x3F);
        return 2;
    }
    if (b >= 0xE0 && b <= 0xEF) {
        if (i + 1 >= n) return 0;
        const unsigned char b1 = byte(i + 1);
        const unsigned char lo = b == 0xE0 ? 0xA0 : 0x80;
        const unsigned char hi = b == 0xED ? 0x9F : 0xBF;
        if (b1 < lo || b1 > hi || !tail(i + 2)) return 0;
        code_point = (char32_t{b} & 0x0F) << 12 | (char32_t{b1} & 0x3F) << 6 | (char32_t{byte(i + 2)} & 0x3F);
        return 3;
    }
    if (b >= 0xF0 && b <= 0xF4) {
        if (i + 1 >= n) return 0;
        const unsigned char b1 = byte(i + 1);
        const unsigned char lo = b == 0xF0 ? 0x90 : 0x80;
        const unsigned char hi = b == 0xF4 ? 0x8F : 0xBF;
        if (b1 < lo || b1 > hi || !tail(i + 2) || !tail(i + 3)) return 0;
        code_point = (char32_t{b} & 0x07) << 18 | (char32_t{b1} & 0x3F) << 12 | (char32_t{byte(i + 2)} & 0x3F) << 6 |
                     (char32_t{byte(i + 3)} & 0x3F);
        return 4;
    }
    return 0;  // C0, C1, F5..FF never occur; 80..BF cannot start a character
}

bool is_well_formed_utf8(std::string_view s) {
    char32_t cp = 0;
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t len = utf8_char_at(s, i, cp);
        if (len == 0) return false;
        i += len;
    }
    return true;
}

}  // namespace ehlo::smtp
