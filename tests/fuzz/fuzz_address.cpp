// Fuzz target for the path grammar of MAIL FROM and RCPT TO (src/smtp/address.hpp, RFC 5321
// 4.1.2, RFC 6531 3.3): arbitrary text after "MAIL FROM:" or "RCPT TO:" must never crash the
// parser, and whatever it accepts must be an address the rest of the server can rely on.
//
// Each input is parsed as a reverse-path and a forward-path, with and without SMTPUTF8. The run
// fails (abort) when an accepted path
//   - is not "<" ... ">" at the start of the input, or claims more octets than it has;
//   - breaks the limits of RFC 5321 4.5.3.1 (64 octets of local part, 255 of domain, 256 of path);
//   - holds a control octet, a bare CR or LF (the raw material of command injection), or
//     non-ASCII without SMTPUTF8;
//   - fails the grammar checks the other modules use (is_valid_local_part, is_valid_domain,
//     is_valid_address_literal);
//   - does not round-trip: "<" + Mailbox::str() + ">" parses to the same mailbox;
//   - depends on what follows it (the parameters after the path), or on the flags in a way the
//     RFCs do not allow (SMTPUTF8 only widens, the null path is only for a reverse-path).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "smtp/address.hpp"
#include "smtp/text.hpp"
#include "smtp/utf8.hpp"

namespace {

using namespace ehlo::smtp;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_address: %s\n", what);
    std::abort();
}

bool has_control(std::string_view s) {
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) return true;
    }
    return false;
}

bool same(const ParsedPath& a, const ParsedPath& b) {
    return a.mailbox == b.mailbox && a.error == b.error && a.consumed == b.consumed;
}

enum class Kind { Reverse, Forward };

ParsedPath parse(std::string_view in, Kind kind, bool utf8) {
    return kind == Kind::Reverse ? parse_path(in, true, utf8) : parse_forward_path(in, utf8);
}

void check_accepted(std::string_view in, Kind kind, bool utf8, const ParsedPath& p) {
    if (p.error) fail("a path with both a mailbox and an error");
    if (p.consumed < 2 || p.consumed > in.size()) fail("consumed outside the input");
    if (in.front() != '<' || in[p.consumed - 1] != '>') fail("accepted path not in angle brackets");
    if (p.consumed > kMaxPath) fail("path longer than 256 octets (RFC 5321 4.5.3.1.3)");

    if (!p.mailbox) {
        // Only the null reverse-path "<>" has no mailbox.
        if (kind != Kind::Reverse || p.consumed != 2) fail("an empty mailbox other than <>");
        return;
    }
    const Mailbox& m = *p.mailbox;
    if (m.local_part.size() > kMaxLocalPart) fail("local part longer than 64 octets (RFC 5321 4.5.3.1.1)");
    if (m.domain.size() > kMaxDomain) fail("domain longer than 255 octets (RFC 5321 4.5.3.1.2)");
    if (has_control(m.local_part) || has_control(m.domain)) fail("control octet in an accepted address");
    if (!utf8 && m.needs_smtputf8()) fail("non-ASCII address accepted without SMTPUTF8 (RFC 6531 3.2)");
    if (m.needs_smtputf8() != (has_non_ascii(m.local_part) || has_non_ascii(m.domain))) fail("needs_smtputf8 wrong");
    if (has_non_ascii(m.str()) && !is_well_formed_utf8(m.str())) fail("ill-formed UTF-8 accepted");

    if (m.domain.empty()) {
        // RFC 5321 4.1.1.3: only <Postmaster>, and only as a recipient.
        if (kind != Kind::Forward || m.local_part != "Postmaster") fail("a mailbox without a domain other than <Postmaster>");
    } else {
        if (!is_valid_local_part(m.local_part, utf8)) fail("accepted local part fails is_valid_local_part");
        if (m.is_address_literal()) {
            if (!is_valid_address_literal(m.domain)) fail("accepted literal fails is_valid_address_literal");
        } else if (!is_valid_domain(m.domain, utf8)) {
            fail("accepted domain fails is_valid_domain");
        }
    }
    const std::string unquoted = m.unquoted_local_part();
    if (unquoted.size() > m.local_part.size()) fail("unquoting made the local part longer");
    if (m.local_part.front() != '"' && unquoted != m.local_part) fail("unquoting changed a dot-string");

    // Round trip: the mailbox as the server writes it (Received, the spool, the relay's MAIL
    // and RCPT) reads back as the same mailbox.
    const std::string written = "<" + m.str() + ">";
    const ParsedPath again = parse(written, kind, utf8);
    if (!again.mailbox || *again.mailbox != m || again.consumed != written.size()) fail("accepted mailbox does not round-trip");
}

void check(std::string_view in, Kind kind) {
    const ParsedPath ascii = parse(in, kind, false);
    const ParsedPath wide = parse(in, kind, true);
    for (const auto* p : {&ascii, &wide}) {
        const bool utf8 = p == &wide;
        if (p->error) {
            if (p->mailbox || p->consumed != 0) fail("a refused path with a mailbox or a length");
            if (*p->error == PathError::Utf8NotAllowed && utf8) fail("Utf8NotAllowed with SMTPUTF8 allowed");
        } else {
            check_accepted(in, kind, utf8, *p);
        }
        // The path ends at its ">": the parameters after it cannot change what it is.
        if (!p->error) {
            const std::string_view path = in.substr(0, p->consumed);
            if (!same(parse(path, kind, utf8), *p)) fail("the result depends on what follows the path");
            const std::string with_params = std::string(path) + " SIZE=1000 BODY=8BITMIME";
            if (!same(parse(with_params, kind, utf8), *p)) fail("parameters after the path change it");
        }
    }
    // SMTPUTF8 only widens the grammar (RFC 6531 3.3): what is accepted without it is accepted
    // the same with it; refused only for UTF-8, it is accepted with it.
    if (!ascii.error && !same(ascii, wide)) fail("SMTPUTF8 changed an accepted ASCII path");
    if (ascii.error == PathError::Utf8NotAllowed && wide.error) fail("refused for UTF-8, yet refused with SMTPUTF8 too");
    if (ascii.error && !wide.error && !(wide.mailbox && wide.mailbox->needs_smtputf8()) &&
        *ascii.error != PathError::Utf8NotAllowed)
        fail("an ASCII path accepted only with SMTPUTF8");

    if (kind == Kind::Forward) {
        // A forward-path is a reverse-path without "<>", plus <Postmaster>.
        const ParsedPath reverse = parse_path(in, false, true);
        if (!reverse.error && !same(reverse, wide) && !(wide.mailbox && wide.mailbox->domain.empty()))
            fail("a forward-path read differently from the same reverse-path");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    check(in, Kind::Reverse);
    check(in, Kind::Forward);
    // The grammar pieces on their own, as the configuration and the policy call them.
    for (bool utf8 : {false, true}) {
        if (is_valid_domain(in, utf8) && (in.size() > kMaxDomain || has_control(in) || in.empty()))
            fail("is_valid_domain accepted an impossible domain");
        if (is_valid_local_part(in, utf8) && (in.size() > kMaxLocalPart || has_control(in) || in.empty()))
            fail("is_valid_local_part accepted an impossible local part");
        if (!utf8 && (is_valid_domain(in, false) || is_valid_local_part(in, false)) && has_non_ascii(in))
            fail("non-ASCII name accepted without SMTPUTF8");
    }
    if (is_valid_address_literal(in) && (has_control(in) || in.size() < 3 || in.front() != '[' || in.back() != ']'))
        fail("is_valid_address_literal accepted a non-literal");
    return 0;
}
