// IP addresses, CIDR networks and listen addresses as the configuration writes them. Shared by
// the loader (which reports a bad one with its line) and by policy (which matches clients).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace ehlo::config {

// A Unix socket path must fit sockaddr_un::sun_path (108 octets on Linux, with its NUL).
inline constexpr std::size_t kMaxSocketPath = 107;

struct IpAddress {
    enum class Family { V4, V6 } family = Family::V4;
    std::array<std::uint8_t, 16> bytes{};  // network order; V4 uses the first 4

    std::size_t bits() const { return family == Family::V4 ? 32 : 128; }
    std::string str() const;  // canonical text (inet_ntop)
    bool operator==(const IpAddress&) const = default;
};

// A textual IPv4 or IPv6 address (inet_pton: no brackets, no zone, no port). An IPv4-mapped
// IPv6 address ("::ffff:192.0.2.1") is the IPv4 address it maps: a dual-stack socket reports
// IPv4 clients that way, and a trusted IPv4 network must still match them.
std::optional<IpAddress> parse_ip_address(std::string_view text);

struct Network {
    IpAddress base;          // host bits are zero
    unsigned prefix = 0;     // 0..32 or 0..128
    bool contains(const IpAddress& address) const;
    bool operator==(const Network&) const = default;
};

template <typename T>
struct Parsed {
    std::optional<T> value;
    std::string error;  // why not, when value is empty
};

// "192.0.2.0/24", "2001:db8::/32"; a bare address is /32 or /128. Host bits set after the
// prefix are an error rather than silently masked: "10.0.0.1/8" is more likely a typo than
// a wish to trust all of 10/8. An IPv4-mapped IPv6 network of prefix >= 96 is the IPv4
// network it maps, so that it matches what parse_ip_address makes of mapped clients.
Parsed<Network> parse_network(std::string_view cidr);

// "127.0.0.1:2525" or "[::1]:2525": an address literal, not a host name (listening must not
// depend on name resolution), and a port 1..65535.
Parsed<ListenAddress> parse_listen_address(std::string_view text);

// "unix:/run/dovecot/lmtp", "127.0.0.1:24", "[::1]:24", "lmtp.example.net:24": where a
// domain's mail is handed over by LMTP (RFC 2033). A port is required, and not 25.
Parsed<LmtpTarget> parse_lmtp_target(std::string_view text);

}  // namespace ehlo::config
