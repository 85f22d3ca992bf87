#include "delivery/dns_wire.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>

namespace ehlo::delivery::dns {

namespace {

bool is_let_dig(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// RFC 5321 4.1.2: sub-domain = Let-dig [Ldh-str]; Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig
bool is_sub_domain(std::string_view label) {
    if (label.empty() || label.size() > kMaxLabel) return false;
    if (!is_let_dig(label.front()) || !is_let_dig(label.back())) return false;
    for (char c : label)
        if (!is_let_dig(c) && c != '-') return false;
    return true;
}

std::optional<std::string> address_text(int family, const unsigned char* bytes) {
    std::array<char, INET6_ADDRSTRLEN> text{};
    if (!::inet_ntop(family, bytes, text.data(), static_cast<socklen_t>(text.size()))) return std::nullopt;
    return std::string(text.data());
}

}  // namespace

bool is_host_name(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty() || name.size() > kMaxNameText) return false;
    while (true) {
        const std::size_t dot = name.find('.');
        if (!is_sub_domain(name.substr(0, dot))) return false;
        if (dot == std::string_view::npos) return true;
        name.remove_prefix(dot + 1);
    }
}

std::optional<MxRecord> parse_mx(std::span<const unsigned char> rdata) {
    if (rdata.size() < 3) return std::nullopt;  // preference and at least the root label
    MxRecord record;
    record.preference = static_cast<std::uint16_t>((rdata[0] << 8) | rdata[1]);
    const std::span<const unsigned char> name = rdata.subspan(2);
    if (name.size() > kMaxNameWire) return std::nullopt;

    std::string host;
    std::size_t at = 0;
    while (true) {
        if (at >= name.size()) return std::nullopt;  // ran out before the root label
        const std::size_t length = name[at++];
        if (length == 0) break;
        // 0xC0 marks a compression pointer and 0x40/0x80 reserved label types (RFC 1035 4.1.4,
        // RFC 6891 5): all over kMaxLabel, all refused.
        if (length > kMaxLabel || length > name.size() - at) return std::nullopt;
        const std::string_view label(reinterpret_cast<const char*>(name.data() + at), length);
        // Checked label by label: a '.' inside a label would read as two labels once joined.
        if (!is_sub_domain(label)) return std::nullopt;
        if (!host.empty()) host += '.';
        host += label;
        at += length;
    }
    if (at != name.size()) return std::nullopt;  // bytes after the name: not an MX record

    if (host.empty()) {
        record.host = ".";  // RFC 7505: the null MX
        return record;
    }
    record.host = std::move(host);
    return record;
}

std::optional<std::string> parse_a(std::span<const unsigned char> rdata) {
    if (rdata.size() != 4) return std::nullopt;
    return address_text(AF_INET, rdata.data());
}

std::optional<std::string> parse_aaaa(std::span<const unsigned char> rdata) {
    if (rdata.size() != 16) return std::nullopt;
    return address_text(AF_INET6, rdata.data());
}

std::optional<std::string> parse_txt(std::span<const unsigned char> rdata) {
    if (rdata.empty()) return std::nullopt;
    std::string out;
    std::size_t at = 0;
    while (at < rdata.size()) {
        const std::size_t length = rdata[at++];
        if (length > rdata.size() - at) return std::nullopt;
        out.append(reinterpret_cast<const char*>(rdata.data() + at), length);
        at += length;
    }
    return out;
}

std::optional<std::string> parse_name(std::span<const unsigned char> rdata) {
    if (rdata.empty() || rdata.size() > kMaxNameWire) return std::nullopt;
    std::string name;
    std::size_t at = 0;
    while (true) {
        if (at >= rdata.size()) return std::nullopt;
        const std::size_t length = rdata[at++];
        if (length == 0) break;
        if (length > kMaxLabel || length > rdata.size() - at) return std::nullopt;
        for (std::size_t i = 0; i < length; ++i) {
            const unsigned char c = rdata[at + i];
            if (c <= ' ' || c > '~' || c == '.' || c == '\\') return std::nullopt;
        }
        if (!name.empty()) name += '.';
        name.append(reinterpret_cast<const char*>(rdata.data() + at), length);
        at += length;
    }
    if (at != rdata.size() || name.empty()) return std::nullopt;
    return name;
}

}  // namespace ehlo::delivery::dns
