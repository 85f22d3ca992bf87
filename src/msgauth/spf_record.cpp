#include "msgauth/spf_record.hpp"

#include "msgauth/message.hpp"

namespace ehlo::msgauth {

namespace {

SpfParse error(std::string why) { return SpfParse{std::nullopt, std::move(why)}; }

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 7208 12: ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT), likewise ip6 with up to 3 digits.
std::optional<unsigned> cidr_length(std::string_view digits, unsigned max) {
    if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
    unsigned value = 0;
    for (char c : digits) {
        if (!is_digit(c)) return std::nullopt;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value > max) return std::nullopt;
    return value;
}

// Splits a trailing dual-cidr-length ("/24", "//64", "/24//64") off `arg`.
bool split_dual_cidr(std::string& arg, SpfTerm& term) {
    const std::size_t dd = arg.rfind("//");
    if (dd != std::string::npos && arg.find('/', dd + 2) == std::string::npos) {
        const auto v6 = cidr_length(std::string_view(arg).substr(dd + 2), 128);
        if (!v6) return false;
        term.cidr6 = *v6;
        arg.resize(dd);
    }
    const std::size_t slash = arg.rfind('/');
    if (slash != std::string::npos) {
        const std::string_view digits = std::string_view(arg).substr(slash + 1);
        bool all_digits = !digits.empty();
        for (char c : digits) all_digits = all_digits && is_digit(c);
        if (all_digits) {
            const auto v4 = cidr_length(digits, 32);
            if (!v4) return false;
            term.cidr4 = *v4;
            arg.resize(slash);
        }
    }
    return true;
}

std::optional<SpfMechanism> mechanism_of(std::string_view name) {
    const std::string n = lower(name);
    if (n == "all") return SpfMechanism::All;
    if (n == "include") return SpfMechanism::Include;
    if (n == "a") return SpfMechanism::A;
    if (n == "mx") return SpfMechanism::Mx;
    if (n == "ptr") return SpfMechanism::Ptr;
    if (n == "ip4") return SpfMechanism::Ip4;
    if (n == "ip6") return SpfMechanism::Ip6;
    if (n == "exists") return SpfMechanism::Exists;
    return std::nullopt;
}

}  // namespace

bool is_spf_record(std::string_view txt) {
    constexpr std::string_view kVersion = "v=spf1";
    return txt.size() >= kVersion.size() && iequals(txt.substr(0, kVersion.size()), kVersion) &&
           (txt.size() == kVersion.size() || txt[kVersion.size()] == ' ');
}

SpfParse parse_spf_record(std::string_view txt) {
    if (!is_spf_record(txt)) return error("not an SPF record");
    SpfRecord record;
    std::size_t at = 6;
    while (at < txt.size()) {
        if (txt[at] == ' ') {
            ++at;
            continue;
        }
        const std::size_t end = std::min(txt.find(' ', at), txt.size());
        const std::string text(txt.substr(at, end - at));
        at = end;

        // RFC 7208 12: modifier = name "=" macro-string; name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
        std::size_t n = 0;
        if (is_alpha(text[0])) {
            n = 1;
            while (n < text.size() && (is_alpha(text[n]) || is_digit(text[n]) || text[n] == '-' || text[n] == '_' || text[n] == '.')) ++n;
        }
        if (n > 0 && n < text.size() && text[n] == '=') {
            const std::string name = lower(std::string_view(text).substr(0, n));
            const std::string value = text.substr(n + 1);
            if (name == "redirect" || name == "exp") {
                // RFC 7208 6: each at most once
                if ((name == "redirect" && record.redirect) || (name == "exp" && record.exp))
                    return error(name + "= appears twice (RFC 7208 6)");
                if (!valid_domain_spec(value)) return error("invalid domain in " + text);
                (name == "redirect" ? record.redirect : record.exp) = value;
            } else if (!valid_macro_string(value)) {
                return error("invalid macro in " + text);  // RFC 7208 6: unknown modifiers are ignored, but must parse
            }
            continue;
        }

        SpfTerm term;
        term.text = text;
        std::string_view rest = text;
        switch (rest.front()) {
            case '+': term.qualifier = Result::Pass; rest.remove_prefix(1); break;
            case '-': term.qualifier = Result::Fail; rest.remove_prefix(1); break;
            case '~': term.qualifier = Result::SoftFail; rest.remove_prefix(1); break;
            case '?': term.qualifier = Result::Neutral; rest.remove_prefix(1); break;
            default: break;
        }
        std::size_t name_end = 0;
        while (name_end < rest.size() && (is_alpha(rest[name_end]) || is_digit(rest[name_end]))) ++name_end;
        const auto mechanism = mechanism_of(rest.substr(0, name_end));
        if (!mechanism) return error("unknown mechanism " + text + " (RFC 7208 5)");
        term.mechanism = *mechanism;
        std::string arg(rest.substr(name_end));
        const bool has_colon = !arg.empty() && arg[0] == ':';
        if (!arg.empty() && !has_colon && arg[0] != '/') return error("malformed mechanism " + text);
        switch (term.mechanism) {
            case SpfMechanism::All:
                if (!arg.empty()) return error("all takes no argument");
                break;
            case SpfMechanism::Include:
            case SpfMechanism::Exists:
                if (!has_colon || !valid_domain_spec(arg.substr(1))) return error("invalid domain in " + text);
                term.domain_spec = arg.substr(1);
                break;
            case SpfMechanism::Ptr:
                if (has_colon && !valid_domain_spec(arg.substr(1))) return error("invalid domain in " + text);
                if (!has_colon && !arg.empty()) return error("ptr takes no CIDR length");
                if (has_colon) term.domain_spec = arg.substr(1);
                break;
            case SpfMechanism::A:
            case SpfMechanism::Mx:
                if (!split_dual_cidr(arg, term)) return error("invalid CIDR length in " + text);
                if (has_colon) {
                    if (!valid_domain_spec(arg.substr(1))) return error("invalid domain in " + text);
                    term.domain_spec = arg.substr(1);
                } else if (!arg.empty()) {
                    return error("malformed mechanism " + text);
                }
                break;
            case SpfMechanism::Ip4:
            case SpfMechanism::Ip6: {
                if (!has_colon) return error(text + " needs an address");
                const bool v6 = term.mechanism == SpfMechanism::Ip6;
                std::string network = arg.substr(1);
                const std::size_t slash = network.find('/');
                if (slash != std::string::npos) {
                    const auto length = cidr_length(std::string_view(network).substr(slash + 1), v6 ? 128 : 32);
                    if (!length) return error("invalid CIDR length in " + text);
                    (v6 ? term.cidr6 : term.cidr4) = *length;
                    network.resize(slash);
                }
                const auto ip = parse_ip(network);
                // ip4 wants dotted-quad; ip6 an IPv6 address (a mapped IPv4 one reads as IPv4: refused)
                if (!ip || ip->v6 != v6 || (!v6 && network.find(':') != std::string::npos))
                    return error("invalid address in " + text);
                term.network = *ip;
                break;
            }
        }
        record.terms.push_back(std::move(term));
    }
    return SpfParse{std::move(record), {}};
}

}  // namespace ehlo::msgauth
