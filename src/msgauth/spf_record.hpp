// SPF records (RFC 7208 4.5, 5, 6, 12) read into terms, and the macro language (RFC 7208 7).
// The whole record is checked before any of it is evaluated: a syntax error anywhere is a
// permerror (RFC 7208 4.6), never a partly evaluated policy.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "msgauth/ip.hpp"
#include "msgauth/result.hpp"

namespace ehlo::msgauth {

enum class SpfMechanism { All, Include, A, Mx, Ptr, Ip4, Ip6, Exists };

struct SpfTerm {
    Result qualifier = Result::Pass;  // '+' pass, '-' fail, '~' softfail, '?' neutral
    SpfMechanism mechanism = SpfMechanism::All;
    std::string domain_spec;          // macro-string; empty: the current domain
    IpAddress network;                // ip4, ip6
    unsigned cidr4 = 32;              // a, mx, ip4
    unsigned cidr6 = 128;             // a, mx, ip6
    std::string text;                 // as written, for the evaluation path
};

struct SpfRecord {
    std::vector<SpfTerm> terms;
    std::optional<std::string> redirect;  // domain-spec
    std::optional<std::string> exp;       // domain-spec
};

struct SpfParse {
    std::optional<SpfRecord> record;
    std::string error;
};

// RFC 7208 4.5: "v=spf1" (any case) alone or followed by a space.
bool is_spf_record(std::string_view txt);
SpfParse parse_spf_record(std::string_view txt);

// What the macros of RFC 7208 7.2 stand for.
struct SpfMacroContext {
    std::string sender;       // s: local-part@domain
    std::string local_part;   // l
    std::string sender_domain;  // o
    std::string domain;       // d: the current domain
    IpAddress ip;             // i, c, v
    std::string validated;    // p: the validated name, or "unknown"
    std::string helo;         // h
    std::string receiver = "unknown";  // r
    std::int64_t now = 0;     // t
};

// RFC 7208 7: expands `spec`. `explanation`: the letters c, r, t are allowed (7.2) and the
// result is text, not a domain. nullopt for a syntax error (a permerror).
std::optional<std::string> expand_spf_macros(std::string_view spec, const SpfMacroContext& context, bool explanation = false);

// RFC 7208 7.3: a domain longer than 253 characters loses labels from the left until it fits.
std::string truncate_domain(std::string domain);

// Does `spec` use %{p} (which needs DNS before it can be expanded)?
bool uses_validated_name(std::string_view spec);

// A macro-string as RFC 7208 7.1 writes one (also checks domain-end for domain-specs).
bool valid_macro_string(std::string_view spec, bool explanation = false);
bool valid_domain_spec(std::string_view spec);

}  // namespace ehlo::msgauth
