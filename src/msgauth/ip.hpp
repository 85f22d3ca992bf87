// IP addresses as SPF compares them (RFC 7208 5.6): parsed from text, matched against CIDR
// networks, and turned into the names of their PTR records (RFC 1035 3.5, RFC 3596 2.5).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ehlo::msgauth {

struct IpAddress {
    bool v6 = false;
    std::array<std::uint8_t, 16> bytes{};  // network order; IPv4 uses the first 4

    unsigned bits() const { return v6 ? 128 : 32; }
    std::string str() const;     // canonical text: "192.0.2.1", "2001:db8::1" (RFC 5952)
    std::string dotted() const;  // the SPF %{i}: IPv4 as is, IPv6 as 32 dot-separated nibbles (RFC 7208 7.3)
    std::string reverse_name() const;  // "1.2.0.192.in-addr.arpa", nibbles ".ip6.arpa"
    bool operator==(const IpAddress&) const = default;
};

// inet_pton text. An IPv4-mapped IPv6 address ("::ffff:192.0.2.1") is the IPv4 address: a
// dual-stack listener reports IPv4 clients that way, and SPF's ip4 and a must still match.
std::optional<IpAddress> parse_ip(std::string_view text);

// The first `prefix` bits of `a` and `network` agree; false across families.
bool in_network(const IpAddress& a, const IpAddress& network, unsigned prefix);

}  // namespace ehlo::msgauth
