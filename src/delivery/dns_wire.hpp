// The few pieces of DNS wire format the resolver reads (MX, A and AAAA rdata), and the names it
// is willing to ask about. DNS answers come from the network: every length is checked against
// the bytes actually there, and anything malformed is refused rather than repaired.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "delivery/mx.hpp"

namespace ehlo::delivery::dns {

constexpr std::size_t kMaxLabel = 63;      // octets in one label (RFC 1035 2.3.4)
constexpr std::size_t kMaxNameWire = 255;  // octets in a whole name on the wire (RFC 1035 2.3.4)
constexpr std::size_t kMaxNameText = 253;  // the same as text: no length octets, no root label

// MX rdata (RFC 1035 3.3.9): a 16-bit preference, then the exchange host as a name filling the
// rest of the rdata exactly. The name must be uncompressed (libunbound hands MX rdata over
// decompressed; a pointer here could only point outside the rdata) and a host name as
// is_host_name() has it, or the root "." (a null MX, RFC 7505), returned as host ".".
std::optional<MxRecord> parse_mx(std::span<const unsigned char> rdata);

// A rdata (RFC 1035 3.4.1): exactly 4 octets, returned as "192.0.2.1".
std::optional<std::string> parse_a(std::span<const unsigned char> rdata);

// AAAA rdata (RFC 3596 2.2): exactly 16 octets, returned in the RFC 5952 form "2001:db8::1".
std::optional<std::string> parse_aaaa(std::span<const unsigned char> rdata);

// TXT rdata (RFC 1035 3.3.14): one or more <character-string>s, each a length octet and that
// many octets, filling the rdata exactly; returned joined, as RFC 7208 3.3 and RFC 6376
// 3.6.2.2 read them.
std::optional<std::string> parse_txt(std::span<const unsigned char> rdata);

// A name filling the rdata exactly (PTR, RFC 1035 3.3.12), uncompressed, in text form without
// the trailing dot. Labels may hold any octet but '.', NUL and non-printable ones, refused.
std::optional<std::string> parse_name(std::span<const unsigned char> rdata);

// A domain as RFC 5321 4.1.2 writes one (Domain = sub-domain *("." sub-domain); a sub-domain
// starts and ends with a letter or digit, hyphens between), with an optional trailing ".",
// at most kMaxLabel octets a label and kMaxNameText in all.
bool is_host_name(std::string_view name);

}  // namespace ehlo::delivery::dns
