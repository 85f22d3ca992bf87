// Mailboxes and paths as RFC 5321 4.1.2 defines them (and RFC 6531 for UTF-8).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ehlo::smtp {

// RFC 5321 4.5.3.1: size limits of the parts of a path.
inline constexpr std::size_t kMaxLocalPart = 64;
inline constexpr std::size_t kMaxDomain = 255;
inline constexpr std::size_t kMaxPath = 256;

struct Mailbox {
    std::string local_part;  // as received: a Dot-string, or a Quoted-string with its quotes
    std::string domain;      // a Domain, or an address literal with its brackets ("[192.0.2.1]")

    bool operator==(const Mailbox&) const = default;

    // "local@domain"; "Postmaster" alone for the domain-less <Postmaster> (RFC 5321 4.1.1.3).
    std::string str() const { return domain.empty() ? local_part : local_part + "@" + domain; }
    bool needs_smtputf8() const;  // any octet >= 0x80 in local part or domain
    bool is_address_literal() const { return !domain.empty() && domain.front() == '['; }
    // The local part with quoting removed (for matching mailbox names), e.g. "\"a b\"" -> "a b".
    std::string unquoted_local_part() const;
};

enum class PathError {
    Syntax,          // not a Path per 4.1.2
    TooLong,         // a limit of 4.5.3.1 exceeded
    Utf8NotAllowed,  // non-ASCII without SMTPUTF8 (RFC 6531 3.2)
};

struct ParsedPath {
    std::optional<Mailbox> mailbox;   // empty for the null reverse-path "<>"
    std::optional<PathError> error;   // set when parsing failed
    std::size_t consumed = 0;         // octets of input used, including the angle brackets
};

// Parses a Path ("<" [ A-d-l ":" ] Mailbox ">") at the start of `in`. A source route is accepted
// and ignored (4.1.2). `allow_null` accepts "<>" (a reverse-path); `allow_utf8` accepts UTF-8.
ParsedPath parse_path(std::string_view in, bool allow_null, bool allow_utf8);

// A Forward-path of RCPT: parse_path(in, false, allow_utf8), and also "<Postmaster>" in any
// case without a domain (RFC 5321 4.1.1.3), as Mailbox{"Postmaster", ""}.
ParsedPath parse_forward_path(std::string_view in, bool allow_utf8);

// Grammar pieces, exposed for tests and for the other modules that check names.
bool is_valid_domain(std::string_view d, bool allow_utf8);          // Domain (sub-domains)
bool is_valid_address_literal(std::string_view lit);                // "[...]" incl. IPv6:
bool is_valid_local_part(std::string_view lp, bool allow_utf8);     // Dot-string / Quoted-string

}  // namespace ehlo::smtp
