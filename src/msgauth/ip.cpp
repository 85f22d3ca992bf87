#include "msgauth/ip.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

namespace ehlo::msgauth {

std::string IpAddress::str() const {
    char text[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), text, sizeof text);
    return text;
}

std::string IpAddress::dotted() const {
    if (!v6) return str();
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < 16; ++i) {
        if (i > 0) out += '.';
        out += kHex[bytes[i] >> 4];
        out += '.';
        out += kHex[bytes[i] & 0xf];
    }
    return out;
}

std::string IpAddress::reverse_name() const {
    std::string out;
    if (!v6) {
        for (int i = 3; i >= 0; --i) out += std::to_string(bytes[static_cast<std::size_t>(i)]) + ".";
        return out + "in-addr.arpa";
    }
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; --i) {
        const auto b = bytes[static_cast<std::size_t>(i)];
        out += kHex[b & 0xf];
        out += '.';
        out += kHex[b >> 4];
        out += '.';
    }
    return out + "ip6.arpa";
}

std::optional<IpAddress> parse_ip(std::string_view text) {
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN || text.find('\0') != std::string_view::npos) return std::nullopt;
    const std::string s(text);
    IpAddress a;
    if (::inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
    if (::inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
    a.v6 = true;
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    bool mapped = true;
    for (std::size_t i = 0; i < 12; ++i) mapped = mapped && a.bytes[i] == kMapped[i];
    if (mapped) {
        IpAddress v4;
        for (std::size_t i = 0; i < 4; ++i) v4.bytes[i] = a.bytes[12 + i];
        return v4;
    }
    return a;
}

bool in_network(const IpAddress& a, const IpAddress& network, unsigned prefix) {
    if (a.v6 != network.v6 || prefix > a.bits()) return false;
    std::size_t i = 0;
    for (; prefix >= 8; prefix -= 8, ++i)
        if (a.bytes[i] != network.bytes[i]) return false;
    if (prefix == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - prefix));
    return (a.bytes[i] & mask) == (network.bytes[i] & mask);
}

}  // namespace ehlo::msgauth
