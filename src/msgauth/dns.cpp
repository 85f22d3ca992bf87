#include "msgauth/dns.hpp"

namespace ehlo::msgauth {

const char* dns_type_name(DnsType type) {
    switch (type) {
        case DnsType::A: return "A";
        case DnsType::Ptr: return "PTR";
        case DnsType::Mx: return "MX";
        case DnsType::Txt: return "TXT";
        case DnsType::Aaaa: return "AAAA";
    }
    return "?";
}

const char* dns_status_name(DnsStatus status) {
    switch (status) {
        case DnsStatus::Ok: return "ok";
        case DnsStatus::NxDomain: return "nxdomain";
        case DnsStatus::NoData: return "nodata";
        case DnsStatus::TempError: return "temperror";
    }
    return "?";
}

std::string normal_dns_name(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    std::string out(name);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

bool is_query_name(std::string_view name) {
    constexpr std::size_t kMaxLabel = 63;     // RFC 1035 2.3.4
    constexpr std::size_t kMaxName = 253;     // 255 octets on the wire
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty() || name.size() > kMaxName) return false;
    std::size_t label = 0;
    for (char c : name) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        if (c <= ' ' || c > '~' || c == '\\') return false;
        if (++label > kMaxLabel) return false;
    }
    return label > 0;
}

}  // namespace ehlo::msgauth
