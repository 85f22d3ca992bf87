#include "smtp/sasl.hpp"

#include <array>

namespace ehlo::smtp {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
// RFC 4616 2: each of the three is at most 255 octets.
constexpr std::size_t kMaxPlainField = 255;

int value_of(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
        unsigned v = 0;
        for (std::size_t k = 0; k < 3; ++k) v = (v << 8) | (k < n ? static_cast<unsigned char>(bytes[i + k]) : 0u);
        for (std::size_t k = 0; k < 4; ++k) out += k <= n ? kAlphabet[(v >> (18 - 6 * k)) & 63] : '=';
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        std::array<int, 4> v{};
        int pad = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            const char c = text[i + k];
            if (c == '=' && last && k >= 2) {
                ++pad;
                v[k] = 0;
                continue;
            }
            if (pad || (v[k] = value_of(c)) < 0) return std::nullopt;  // '=' only at the very end
        }
        const unsigned bits = (unsigned(v[0]) << 18) | (unsigned(v[1]) << 12) | (unsigned(v[2]) << 6) | unsigned(v[3]);
        // Canonical: the bits the padding drops must be zero (RFC 4648 3.5).
        if ((pad == 1 && (bits & 0xff)) || (pad == 2 && (bits & 0xffff))) return std::nullopt;
        out += static_cast<char>((bits >> 16) & 0xff);
        if (pad < 2) out += static_cast<char>((bits >> 8) & 0xff);
        if (pad < 1) out += static_cast<char>(bits & 0xff);
    }
    return out;
}

std::optional<PlainCredentials> parse_plain(std::string_view m) {
    const std::size_t a = m.find('\0');
    if (a == std::string_view::npos) return std::nullopt;
    const std::size_t b = m.find('\0', a + 1);
    if (b == std::string_view::npos || m.find('\0', b + 1) != std::string_view::npos) return std::nullopt;
    PlainCredentials c{std::string(m.substr(0, a)), std::string(m.substr(a + 1, b - a - 1)), std::string(m.substr(b + 1))};
    if (c.authcid.empty() || c.password.empty() || c.authzid.size() > kMaxPlainField ||
        c.authcid.size() > kMaxPlainField || c.password.size() > kMaxPlainField) {
        wipe(c.password);
        return std::nullopt;
    }
    return c;
}

void wipe(std::string& secret) {
    volatile char* p = secret.data();
    for (std::size_t i = 0; i < secret.size(); ++i) p[i] = 0;
    secret.clear();
}

}  // namespace ehlo::smtp
