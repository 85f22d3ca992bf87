#include "smtp/utf8.hpp"

#include <cstddef>

namespace ehlo::smtp {

bool is_well_formed_utf8(std::string_view s) {
    std::size_t i = 0;
    const std::size_t n = s.size();
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    auto tail = [&](std::size_t k) { return k < n && (byte(k) & 0xC0) == 0x80; };
    while (i < n) {
        const unsigned char b = byte(i);
        if (b < 0x80) {
            ++i;
            continue;
        }
        // RFC 3629 section 4, UTF8-2 / UTF8-3 / UTF8-4: the second octet's range excludes
        // overlong forms (E0, F0), surrogates (ED) and code points above U+10FFFF (F4).
        if (b >= 0xC2 && b <= 0xDF) {
            if (!tail(i + 1)) return false;
            i += 2;
        } else if (b >= 0xE0 && b <= 0xEF) {
            if (i + 1 >= n) return false;
            const unsigned char b1 = byte(i + 1);
            const unsigned char lo = b == 0xE0 ? 0xA0 : 0x80;
            const unsigned char hi = b == 0xED ? 0x9F : 0xBF;
            if (b1 < lo || b1 > hi || !tail(i + 2)) return false;
            i += 3;
        } else if (b >= 0xF0 && b <= 0xF4) {
            if (i + 1 >= n) return false;
            const unsigned char b1 = byte(i + 1);
            const unsigned char lo = b == 0xF0 ? 0x90 : 0x80;
            const unsigned char hi = b == 0xF4 ? 0x8F : 0xBF;
            if (b1 < lo || b1 > hi || !tail(i + 2) || !tail(i + 3)) return false;
            i += 4;
        } else {
            return false;  // C0, C1, F5..FF never occur; 80..BF cannot start a character
        }
    }
    return true;
}

}  // namespace ehlo::smtp
