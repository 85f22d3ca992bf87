// Paths, mailboxes, local parts and domains: the grammar of RFC 5321 4.1.2, widened for UTF-8
// by RFC 6531 3.3 only when the caller allows it.
#include "smtp/address.hpp"

#include "smtp/text.hpp"
#include "smtp/utf8.hpp"

namespace ehlo::smtp {

namespace {

// RFC 1035 2.3.4: a label of the DNS holds at most 63 octets.
constexpr std::size_t kMaxLabel = 63;

// atext of RFC 5322 3.2.3, as RFC 5321 4.1.2 uses it; RFC 6531 3.3 adds UTF8-non-ascii.
bool is_atext(char c, bool allow_utf8) {
    if (is_let_dig(c)) return true;
    if (is_non_ascii(c)) return allow_utf8;
    switch (c) {
        case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
        case '-': case '/': case '=': case '?': case '^': case '_': case '`': case '{':
        case '|': case '}': case '~':
            return true;
        default:
            return false;
    }
}

// qtextSMTP = %d32-33 / %d35-91 / %d93-126 (RFC 6531 3.3 adds UTF8-non-ascii)
bool is_qtext(char c, bool allow_utf8) {
    if (is_non_ascii(c)) return allow_utf8;
    const auto u = static_cast<unsigned char>(c);
    return u == 32 || u == 33 || (u >= 35 && u <= 91) || (u >= 93 && u <= 126);
}

bool utf8_ok(std::string_view s, bool allow_utf8) {
    if (!has_non_ascii(s)) return true;
    return allow_utf8 && is_well_formed_utf8(s);
}

// sub-domain = Let-dig [Ldh-str]: letters, digits and inner hyphens; a U-label may also hold
// UTF-8 (RFC 6531 3.3), whose length the DNS limit only bounds once it is an A-label.
bool is_sub_domain(std::string_view label, bool allow_utf8) {
    if (label.empty()) return false;
    auto letdig = [&](char c) { return is_let_dig(c) || (allow_utf8 && is_non_ascii(c)); };
    if (!letdig(label.front()) || !letdig(label.back())) return false;
    for (char c : label)
        if (!letdig(c) && c != '-') return false;
    return has_non_ascii(label) || label.size() <= kMaxLabel;
}

// Domain = sub-domain *("." sub-domain), without the length limit of 4.5.3.1.2.
bool domain_grammar(std::string_view d, bool allow_utf8) {
    if (d.empty() || !utf8_ok(d, allow_utf8)) return false;
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = d.find('.', start);
        if (!is_sub_domain(d.substr(start, dot == std::string_view::npos ? d.npos : dot - start), allow_utf8))
            return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

// Local-part = Dot-string / Quoted-string, without the length limit of 4.5.3.1.1.
bool local_part_grammar(std::string_view lp, bool allow_utf8) {
    if (lp.empty() || !utf8_ok(lp, allow_utf8)) return false;
    if (lp.front() == '"') {
        // Quoted-string = DQUOTE *QcontentSMTP DQUOTE; quoted-pairSMTP = %d92 %d32-126
        if (lp.size() < 2 || lp.back() != '"') return false;
        for (std::size_t i = 1; i + 1 < lp.size(); ++i) {
            const char c = lp[i];
            if (c == '\\') {
                if (i + 2 >= lp.size()) return false;  // the closing quote cannot be escaped
                const auto next = static_cast<unsigned char>(lp[i + 1]);
                if (next < 32 || next > 126) return false;
                ++i;
            } else if (!is_qtext(c, allow_utf8)) {
                return false;
            }
        }
        return true;
    }
    // Dot-string = Atom *("." Atom): no leading, trailing or doubled dot.
    if (lp.front() == '.' || lp.back() == '.') return false;
    char prev = 0;
    for (char c : lp) {
        if (c == '.') {
            if (prev == '.') return false;
        } else if (!is_atext(c, allow_utf8)) {
            return false;
        }
        prev = c;
    }
    return true;
}

bool domain_or_literal_grammar(std::string_view d, bool allow_utf8) {
    if (!d.empty() && d.front() == '[') return is_valid_address_literal(d);
    return domain_grammar(d, allow_utf8);
}

ParsedPath failed(PathError e) {
    ParsedPath p;
    p.error = e;
    return p;
}

// Skips A-d-l ":" (a source route, RFC 5321 4.1.2 and appendix C: accepted and ignored);
// returns the position after the colon, or npos when the route is malformed.
std::size_t skip_source_route(std::string_view in, std::size_t i) {
    while (true) {
        if (i >= in.size() || in[i] != '@') return std::string_view::npos;
        const std::size_t end = in.find_first_of(",:>", i + 1);
        if (end == std::string_view::npos || in[end] == '>') return std::string_view::npos;
        if (!domain_grammar(in.substr(i + 1, end - i - 1), true)) return std::string_view::npos;
        i = end + 1;
        if (in[end] == ':') return i;
    }
}

}  // namespace

bool Mailbox::needs_smtputf8() const { return has_non_ascii(local_part) || has_non_ascii(domain); }

std::string Mailbox::unquoted_local_part() const {
    if (local_part.size() < 2 || local_part.front() != '"' || local_part.back() != '"') return local_part;
    std::string out;
    for (std::size_t i = 1; i + 1 < local_part.size(); ++i) {
        if (local_part[i] == '\\' && i + 2 < local_part.size()) ++i;
        out += local_part[i];
    }
    return out;
}

bool is_valid_domain(std::string_view d, bool allow_utf8) {
    return d.size() <= kMaxDomain && domain_grammar(d, allow_utf8);
}

bool is_valid_local_part(std::string_view lp, bool allow_utf8) {
    return lp.size() <= kMaxLocalPart && local_part_grammar(lp, allow_utf8);
}

ParsedPath parse_path(std::string_view in, bool allow_null, bool allow_utf8) {
    if (in.empty() || in.front() != '<') return failed(PathError::Syntax);
    if (allow_null && in.size() >= 2 && in[1] == '>') {
        ParsedPath p;
        p.consumed = 2;
        return p;
    }
    std::size_t i = 1;
    if (i < in.size() && in[i] == '@') {
        i = skip_source_route(in, i);
        if (i == std::string_view::npos) return failed(PathError::Syntax);
    }

    // The local part ends at the "@" after it; a quoted one may contain "@" and ">" itself.
    const std::size_t local_start = i;
    if (i < in.size() && in[i] == '"') {
        ++i;
        while (i < in.size() && in[i] != '"') i += (in[i] == '\\') ? 2 : 1;
        if (i >= in.size()) return failed(PathError::Syntax);
        ++i;
    } else {
        while (i < in.size() && in[i] != '@' && in[i] != '>') ++i;
    }
    if (i >= in.size() || in[i] != '@') return failed(PathError::Syntax);
    const std::string_view local = in.substr(local_start, i - local_start);

    const std::size_t domain_start = ++i;
    std::size_t domain_end;
    if (i < in.size() && in[i] == '[') {
        domain_end = in.find(']', i);
        if (domain_end == std::string_view::npos) return failed(PathError::Syntax);
        ++domain_end;
    } else {
        domain_end = in.find('>', i);
        if (domain_end == std::string_view::npos) return failed(PathError::Syntax);
    }
    if (domain_end >= in.size() || in[domain_end] != '>') return failed(PathError::Syntax);
    const std::string_view domain = in.substr(domain_start, domain_end - domain_start);
    const std::size_t consumed = domain_end + 1;

    if (!local_part_grammar(local, true) || !domain_or_literal_grammar(domain, true))
        return failed(PathError::Syntax);
    // RFC 5321 4.5.3.1.1-3: 64 octets of local part, 255 of domain, 256 of path with its
    // punctuation; a server may refuse more, and we do, since the spool and the relay both
    // assume them.
    if (local.size() > kMaxLocalPart || domain.size() > kMaxDomain || consumed > kMaxPath)
        return failed(PathError::TooLong);
    if (!allow_utf8 && has_non_ascii(in.substr(0, consumed))) return failed(PathError::Utf8NotAllowed);

    ParsedPath p;
    p.mailbox = Mailbox{std::string(local), std::string(domain)};
    p.consumed = consumed;
    return p;
}

ParsedPath parse_forward_path(std::string_view in, bool allow_utf8) {
    // RFC 5321 4.1.1.3: "<Postmaster>" without a domain, in any case, is a valid recipient.
    static constexpr std::string_view kPostmaster = "<Postmaster>";
    if (istarts_with(in, kPostmaster)) {
        ParsedPath p;
        p.mailbox = Mailbox{"Postmaster", ""};
        p.consumed = kPostmaster.size();
        return p;
    }
    return parse_path(in, false, allow_utf8);
}

}  // namespace ehlo::smtp
