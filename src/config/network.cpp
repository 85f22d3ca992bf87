// Address and network parsing on top of inet_pton(3), which accepts only the strict textual
// forms (no octal or short IPv4 like "127.1", which inet_aton would take).
#include "config/network.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "smtp/address.hpp"
#include "smtp/text.hpp"

namespace ehlo::config {

namespace {

// A value from the file inside an error message: quoted, control octets made visible (an error
// is one printable line; a TOML string may hold tabs and more).
std::string quoted(std::string_view text) { return "'" + smtp::printable(text, text.size()) + "'"; }

// Bits beyond the largest prefix, and a port, are at most this many decimal digits.
constexpr std::size_t kMaxPrefixDigits = 3;
constexpr std::size_t kMaxPortDigits = 5;
constexpr unsigned long kMaxPort = 65535;
// RFC 2033 5: LMTP must not be offered on port 25, where a client would take it for SMTP.
constexpr unsigned long kSmtpPort = 25;
constexpr std::string_view kUnixPrefix = "unix:";

constexpr std::array<std::uint8_t, 12> kV4MappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// A decimal number without sign or leading zeros ("0" itself is fine), of at most max_digits.
std::optional<unsigned long> parse_decimal(std::string_view s, std::size_t max_digits) {
    if (s.empty() || s.size() > max_digits) return std::nullopt;
    if (s.size() > 1 && s.front() == '0') return std::nullopt;
    unsigned long n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<unsigned long>(c - '0');
    }
    return n;
}

// inet_pton needs a NUL-terminated string; an embedded NUL (TOML allows "\u0000") would
// otherwise cut the text short and let trailing garbage through.
bool pton(int family, std::string_view text, void* out) {
    if (text.find('\0') != std::string_view::npos) return false;
    const std::string copy(text);
    return inet_pton(family, copy.c_str(), out) == 1;
}

bool is_v4_mapped(const IpAddress& a) {
    return a.family == IpAddress::Family::V6 && std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), a.bytes.begin());
}

IpAddress unmap_v4(const IpAddress& a) {
    IpAddress v4;
    v4.family = IpAddress::Family::V4;
    std::copy_n(a.bytes.begin() + kV4MappedPrefix.size(), 4, v4.bytes.begin());
    return v4;
}

std::optional<IpAddress> parse_exact(std::string_view text) {
    IpAddress a;
    if (pton(AF_INET, text, a.bytes.data())) {
        a.family = IpAddress::Family::V4;
        return a;
    }
    if (pton(AF_INET6, text, a.bytes.data())) {
        a.family = IpAddress::Family::V6;
        return a;
    }
    return std::nullopt;
}

// True when every bit of `a` from bit `prefix` on is zero.
bool host_bits_zero(const IpAddress& a, unsigned prefix) {
    for (std::size_t bit = prefix; bit < a.bits(); ++bit) {
        if (a.bytes[bit / 8] & (0x80u >> (bit % 8))) return false;
    }
    return true;
}

IpAddress masked(IpAddress a, unsigned prefix) {
    for (std::size_t bit = prefix; bit < a.bits(); ++bit) {
        a.bytes[bit / 8] = static_cast<std::uint8_t>(a.bytes[bit / 8] & ~(0x80u >> (bit % 8)));
    }
    return a;
}

}  // namespace

std::string IpAddress::str() const {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family == Family::V4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
    return buf;
}

std::optional<IpAddress> parse_ip_address(std::string_view text) {
    auto a = parse_exact(text);
    if (a && is_v4_mapped(*a)) return unmap_v4(*a);
    return a;
}

bool Network::contains(const IpAddress& address) const {
    if (address.family != base.family) return false;
    return masked(address, prefix) == base;
}

Parsed<Network> parse_network(std::string_view cidr) {
    const auto slash = cidr.find('/');
    const auto address_text = cidr.substr(0, slash);
    auto address = parse_exact(address_text);
    if (!address) return {std::nullopt, quoted(address_text) + " is not an IPv4 or IPv6 address"};

    auto prefix = static_cast<unsigned long>(address->bits());
    if (slash != std::string_view::npos) {
        auto p = parse_decimal(cidr.substr(slash + 1), kMaxPrefixDigits);
        if (!p || *p > address->bits()) {
            return {std::nullopt, "prefix length must be 0 to " + std::to_string(address->bits())};
        }
        prefix = *p;
    }
    const auto bits = static_cast<unsigned>(prefix);
    if (!host_bits_zero(*address, bits)) {
        return {std::nullopt, "host bits are set after the /" + std::to_string(bits) + " prefix (did you mean '" +
                                  masked(*address, bits).str() + "/" + std::to_string(bits) + "'?)"};
    }
    constexpr unsigned kMappedBits = kV4MappedPrefix.size() * 8;
    if (is_v4_mapped(*address) && bits >= kMappedBits) return {Network{unmap_v4(*address), bits - kMappedBits}, {}};
    return {Network{*address, bits}, {}};
}

Parsed<ListenAddress> parse_listen_address(std::string_view text) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return {std::nullopt, "expected HOST:PORT, e.g. 127.0.0.1:25 or [::1]:25"};
    auto host = text.substr(0, colon);
    const auto port_text = text.substr(colon + 1);

    IpAddress scratch;
    if (!host.empty() && host.front() == '[') {
        if (host.size() < 2 || host.back() != ']') return {std::nullopt, "unbalanced '[' in IPv6 address"};
        host = host.substr(1, host.size() - 2);
        if (!pton(AF_INET6, host, scratch.bytes.data())) {
            return {std::nullopt, quoted(host) + " is not an IPv6 address"};
        }
    } else if (!pton(AF_INET, host, scratch.bytes.data())) {
        if (host.find(':') != std::string_view::npos) {
            return {std::nullopt, "an IPv6 address must be in brackets, e.g. [::1]:25"};
        }
        return {std::nullopt, quoted(host) + " is not an IPv4 address or a bracketed IPv6 address"};
    }

    auto port = parse_decimal(port_text, kMaxPortDigits);
    if (!port || *port < 1 || *port > kMaxPort) return {std::nullopt, "port must be 1 to 65535"};
    return {ListenAddress{std::string(host), static_cast<std::uint16_t>(*port)}, {}};
}

Parsed<LmtpTarget> parse_lmtp_target(std::string_view text) {
    LmtpTarget target;
    if (text.starts_with(kUnixPrefix)) {
        const auto path = text.substr(kUnixPrefix.size());
        if (path.empty()) return {std::nullopt, "expected unix:PATH, e.g. unix:/run/dovecot/lmtp"};
        if (path.size() > kMaxSocketPath) {
            return {std::nullopt, "the socket path is longer than " + std::to_string(kMaxSocketPath) + " octets"};
        }
        if (path.find('\0') != std::string_view::npos) return {std::nullopt, "the socket path holds a NUL"};
        target.kind = LmtpTarget::Kind::Unix;
        target.path = std::string(path);
        return {target, {}};
    }
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
        return {std::nullopt, "expected unix:PATH or HOST:PORT, e.g. unix:/run/dovecot/lmtp or 127.0.0.1:24"};
    }
    auto host = text.substr(0, colon);
    IpAddress scratch;
    if (!host.empty() && host.front() == '[') {
        if (host.size() < 2 || host.back() != ']') return {std::nullopt, "unbalanced '[' in IPv6 address"};
        host = host.substr(1, host.size() - 2);
        if (!pton(AF_INET6, host, scratch.bytes.data())) {
            return {std::nullopt, quoted(host) + " is not an IPv6 address"};
        }
    } else if (!pton(AF_INET, host, scratch.bytes.data()) && !smtp::is_valid_domain(host, false)) {
        if (host.find(':') != std::string_view::npos) {
            return {std::nullopt, "an IPv6 address must be in brackets, e.g. [::1]:24"};
        }
        return {std::nullopt, quoted(host) + " is not an IP address or a host name"};
    }
    auto port = parse_decimal(text.substr(colon + 1), kMaxPortDigits);
    if (!port || *port < 1 || *port > kMaxPort) return {std::nullopt, "port must be 1 to 65535"};
    if (*port == kSmtpPort) return {std::nullopt, "port 25 is SMTP's; LMTP must not use it (RFC 2033 5)"};
    target.kind = LmtpTarget::Kind::Tcp;
    target.host = std::string(host);
    target.port = static_cast<std::uint16_t>(*port);
    return {target, {}};
}

}  // namespace ehlo::config
