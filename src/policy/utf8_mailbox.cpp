// Strict UTF-8 decoding and the Punycode encoder of RFC 3492 6.3.
#include "policy/utf8_mailbox.hpp"

#include <cstdint>
#include <vector>

namespace ehlo::policy {

namespace {

constexpr std::string_view kAcePrefix = "xn--";

// RFC 3492 5: Punycode parameters.
constexpr std::uint32_t kBase = 36, kTmin = 1, kTmax = 26, kSkew = 38, kDamp = 700;
constexpr std::uint32_t kInitialBias = 72, kInitialN = 0x80;
constexpr char kDelimiter = '-';

bool is_name_ascii(std::uint32_t c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

// Decodes UTF-8, refusing every ill-formed sequence (RFC 3629 4): an overlong "\xc0\xaf" must
// not be a way to spell '/'.
std::optional<std::vector<std::uint32_t>> decode_utf8(std::string_view s) {
    std::vector<std::uint32_t> out;
    for (std::size_t i = 0; i < s.size();) {
        const auto b0 = static_cast<unsigned char>(s[i]);
        std::size_t len;
        std::uint32_t cp, min;
        if (b0 < 0x80) {
            len = 1, cp = b0, min = 0;
        } else if ((b0 & 0xe0) == 0xc0) {
            len = 2, cp = b0 & 0x1fu, min = 0x80;
        } else if ((b0 & 0xf0) == 0xe0) {
            len = 3, cp = b0 & 0x0fu, min = 0x800;
        } else if ((b0 & 0xf8) == 0xf0) {
            len = 4, cp = b0 & 0x07u, min = 0x10000;
        } else {
            return std::nullopt;
        }
        if (i + len > s.size()) return std::nullopt;
        for (std::size_t k = 1; k < len; ++k) {
            const auto b = static_cast<unsigned char>(s[i + k]);
            if ((b & 0xc0) != 0x80) return std::nullopt;
            cp = (cp << 6) | (b & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return std::nullopt;
        if (cp >= 0x80 && cp <= 0x9f) return std::nullopt;  // C1 controls
        out.push_back(cp);
        i += len;
    }
    return out;
}

char encode_digit(std::uint32_t d) { return static_cast<char>(d < 26 ? 'a' + d : '0' + (d - 26)); }

std::uint32_t adapt(std::uint32_t delta, std::uint32_t points, bool first) {
    delta = first ? delta / kDamp : delta / 2;
    delta += delta / points;
    std::uint32_t k = 0;
    while (delta > ((kBase - kTmin) * kTmax) / 2) {
        delta /= kBase - kTmin;
        k += kBase;
    }
    return k + (kBase - kTmin + 1) * delta / (delta + kSkew);
}

}  // namespace

std::optional<std::string> utf8_mailbox_name(std::string_view local_part) {
    auto decoded = decode_utf8(local_part);
    if (!decoded) return std::nullopt;
    const auto& input = *decoded;

    std::string out(kAcePrefix);
    std::uint32_t basic = 0;
    for (std::uint32_t c : input) {
        if (c < 0x80) {
            if (!is_name_ascii(c)) return std::nullopt;
            out += static_cast<char>(c);
            ++basic;
        }
    }
    if (basic == input.size()) return std::nullopt;  // nothing to encode: not a UTF-8 name
    if (basic > 0) out += kDelimiter;

    // The input is at most a local part (RFC 5321 4.5.3.1.1: 64 octets, checked by the
    // caller's parser), so delta cannot overflow 32 bits; the check keeps that true anyway.
    constexpr std::uint32_t kMax = UINT32_MAX;
    std::uint32_t n = kInitialN, delta = 0, bias = kInitialBias, handled = basic;
    while (handled < input.size()) {
        std::uint32_t m = kMax;
        for (std::uint32_t c : input) {
            if (c >= n && c < m) m = c;
        }
        if (m - n > (kMax - delta) / (handled + 1)) return std::nullopt;
        delta += (m - n) * (handled + 1);
        n = m;
        for (std::uint32_t c : input) {
            if (c < n && ++delta == 0) return std::nullopt;
            if (c != n) continue;
            std::uint32_t q = delta;
            for (std::uint32_t k = kBase;; k += kBase) {
                const std::uint32_t t = k <= bias ? kTmin : k >= bias + kTmax ? kTmax : k - bias;
                if (q < t) break;
                out += encode_digit(t + (q - t) % (kBase - t));
                q = (q - t) / (kBase - t);
            }
            out += encode_digit(q);
            bias = adapt(delta, handled + 1, handled == basic);
            delta = 0;
            ++handled;
        }
        ++delta;
        ++n;
    }
    return out;
}

}  // namespace ehlo::policy
