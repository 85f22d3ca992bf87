#include "smtp/mail_params.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "smtp/text.hpp"

namespace ehlo::smtp {

namespace {

struct Param {
    std::string_view keyword;
    std::optional<std::string_view> value;
};

Reply syntax_error(std::string text) { return {501, "5.5.4", std::move(text)}; }
Reply not_offered(std::string_view keyword) {
    return {555, "5.5.4", "Unsupported parameter " + std::string(keyword)};
}

// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
bool is_keyword(std::string_view k) {
    if (k.empty() || !is_let_dig(k.front())) return false;
    for (char c : k)
        if (!is_let_dig(c) && c != '-') return false;
    return true;
}

// esmtp-value = 1*(%d33-60 / %d62-126): printable ASCII except "=".
bool is_value(std::string_view v) {
    if (v.empty()) return false;
    for (char c : v) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 33 || u > 126 || c == '=') return false;
    }
    return true;
}

// Splits "A=1 B" at spaces (several tolerated) into keyword and optional value.
std::optional<std::vector<Param>> split_params(std::string_view text) {
    std::vector<Param> params;
    std::size_t i = 0;
    while (i < text.size()) {
        if (text[i] == ' ') {
            ++i;
            continue;
        }
        const std::size_t end = std::min(text.find(' ', i), text.size());
        const std::string_view token = text.substr(i, end - i);
        i = end;
        const std::size_t eq = token.find('=');
        Param p{token.substr(0, eq), std::nullopt};
        if (eq != std::string_view::npos) p.value = token.substr(eq + 1);
        if (!is_keyword(p.keyword) || (p.value && !is_value(*p.value))) return std::nullopt;
        params.push_back(p);
    }
    return params;
}

// SIZE=1*20DIGIT (RFC 1870); a number beyond 64 bits is just "too big" for the caller.
std::optional<std::uint64_t> parse_size(std::string_view v) {
    if (v.empty()) return std::nullopt;
    std::uint64_t n = 0;
    for (char c : v) {
        if (!is_digit(c)) return std::nullopt;
        const auto d = static_cast<std::uint64_t>(c - '0');
        n = (n > (UINT64_MAX - d) / 10) ? UINT64_MAX : n * 10 + d;
    }
    return n;
}

// Keeps track of the keywords seen so far: a repeated one is a syntax error.
class Seen {
public:
    bool repeated(unsigned bit) {
        const bool r = (bits_ & bit) != 0;
        bits_ |= bit;
        return r;
    }

private:
    unsigned bits_ = 0;
};

std::optional<Reply> apply_mail_param(const Param& p, const ParamRules& rules, Envelope& e, Seen& seen) {
    const auto& k = p.keyword;
    if (iequals(k, "SIZE")) {
        if (seen.repeated(1)) return syntax_error("Duplicate SIZE parameter");
        const auto size = p.value ? parse_size(*p.value) : std::nullopt;
        if (!size) return syntax_error("Bad SIZE parameter");
        e.declared_size = *size;
        return std::nullopt;
    }
    if (iequals(k, "BODY")) {
        if (seen.repeated(2)) return syntax_error("Duplicate BODY parameter");
        if (p.value && iequals(*p.value, "7BIT")) {
            e.body = BodyType::SevenBit;
        } else if (p.value && iequals(*p.value, "8BITMIME")) {
            e.body = BodyType::EightBitMime;
        } else if (p.value && iequals(*p.value, "BINARYMIME")) {
            return Reply(555, "5.5.4", "BODY=BINARYMIME not supported");  // RFC 3030: not offered
        } else {
            return syntax_error("Bad BODY parameter");
        }
        return std::nullopt;
    }
    if (iequals(k, "SMTPUTF8")) {  // RFC 6531 3.4: a keyword without a value
        if (seen.repeated(4)) return syntax_error("Duplicate SMTPUTF8 parameter");
        if (p.value) return syntax_error("SMTPUTF8 takes no value");
        e.smtputf8 = true;
        return std::nullopt;
    }
    if (rules.dsn && iequals(k, "RET")) {  // RFC 3461 4.3
        if (seen.repeated(8)) return syntax_error("Duplicate RET parameter");
        if (p.value && iequals(*p.value, "FULL")) {
            e.ret = DsnRet::Full;
        } else if (p.value && iequals(*p.value, "HDRS")) {
            e.ret = DsnRet::Headers;
        } else {
            return syntax_error("Bad RET parameter");
        }
        return std::nullopt;
    }
    if (rules.dsn && iequals(k, "ENVID")) {  // RFC 3461 4.4
        if (seen.repeated(16)) return syntax_error("Duplicate ENVID parameter");
        auto id = p.value ? xtext_decode(*p.value) : std::nullopt;
        if (!id || id->empty() || id->size() > kMaxEnvid) return syntax_error("Bad ENVID parameter");
        e.envid = std::move(*id);
        return std::nullopt;
    }
    // RFC 4954 5: who submitted the message, "<>" or an xtext mailbox. Accepted and not
    // trusted: the Received header names the user who authenticated here.
    if (rules.auth && iequals(k, "AUTH")) {
        if (seen.repeated(32)) return syntax_error("Duplicate AUTH parameter");
        if (!p.value || (*p.value != "<>" && !xtext_decode(*p.value))) return syntax_error("Bad AUTH parameter");
        return std::nullopt;
    }
    return not_offered(k);
}

// NOTIFY="NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" )   (RFC 3461 4.1)
std::optional<unsigned> parse_notify(std::string_view v) {
    unsigned bits = 0;
    std::size_t start = 0;
    while (true) {
        const std::size_t comma = std::min(v.find(',', start), v.size());
        const std::string_view item = v.substr(start, comma - start);
        if (iequals(item, "NEVER")) {
            bits |= notify::Never;
        } else if (iequals(item, "SUCCESS")) {
            bits |= notify::Success;
        } else if (iequals(item, "FAILURE")) {
            bits |= notify::Failure;
        } else if (iequals(item, "DELAY")) {
            bits |= notify::Delay;
        } else {
            return std::nullopt;
        }
        if (comma == v.size()) break;
        start = comma + 1;
    }
    if ((bits & notify::Never) && bits != notify::Never) return std::nullopt;  // NEVER stands alone
    return bits;
}

// ORCPT=addr-type ";" xtext, addr-type an atom such as "rfc822" (RFC 3461 4.2)
std::optional<std::string> parse_orcpt(std::string_view v) {
    if (v.size() > kMaxOrcpt) return std::nullopt;
    const std::size_t semi = v.find(';');
    if (semi == std::string_view::npos || semi == 0) return std::nullopt;
    const std::string_view type = v.substr(0, semi);
    for (char c : type)
        if (!is_let_dig(c) && c != '-') return std::nullopt;
    auto address = xtext_decode(v.substr(semi + 1));
    if (!address || address->empty()) return std::nullopt;
    return std::string(type) + ";" + *address;
}

std::optional<Reply> apply_rcpt_param(const Param& p, const ParamRules& rules, Recipient& r, Seen& seen) {
    if (rules.dsn && iequals(p.keyword, "NOTIFY")) {
        if (seen.repeated(1)) return syntax_error("Duplicate NOTIFY parameter");
        auto bits = p.value ? parse_notify(*p.value) : std::nullopt;
        if (!bits) return syntax_error("Bad NOTIFY parameter");
        r.notify = *bits;
        return std::nullopt;
    }
    if (rules.dsn && iequals(p.keyword, "ORCPT")) {
        if (seen.repeated(2)) return syntax_error("Duplicate ORCPT parameter");
        auto orcpt = p.value ? parse_orcpt(*p.value) : std::nullopt;
        if (!orcpt) return syntax_error("Bad ORCPT parameter");
        r.orcpt = std::move(*orcpt);
        return std::nullopt;
    }
    return not_offered(p.keyword);
}

template <typename Target, typename Apply>
std::optional<Reply> apply_all(std::string_view text, const ParamRules& rules, Target& target, Apply apply) {
    if (text.find_first_not_of(' ') == std::string_view::npos) return std::nullopt;
    // RFC 5321 4.1.1.11: a client that said HELO has been offered no extension at all.
    if (!rules.esmtp) return Reply(555, "5.5.4", "Parameters not supported after HELO");
    const auto params = split_params(text);
    if (!params) return syntax_error("Bad parameter syntax");
    Seen seen;
    for (const Param& p : *params)
        if (auto refusal = apply(p, rules, target, seen)) return refusal;
    return std::nullopt;
}

}  // namespace

std::optional<Reply> apply_mail_params(std::string_view params, const ParamRules& rules, Envelope& envelope) {
    return apply_all(params, rules, envelope, apply_mail_param);
}

std::optional<Reply> apply_rcpt_params(std::string_view params, const ParamRules& rules, Recipient& recipient) {
    return apply_all(params, rules, recipient, apply_rcpt_param);
}

std::optional<std::string> xtext_decode(std::string_view xtext) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;  // RFC 3461 4: upper-case hex only
    };
    std::string out;
    for (std::size_t i = 0; i < xtext.size(); ++i) {
        const char c = xtext[i];
        const auto u = static_cast<unsigned char>(c);
        if (c == '+') {
            if (i + 2 >= xtext.size()) return std::nullopt;
            const int hi = hex(xtext[i + 1]);
            const int lo = hex(xtext[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            const int value = hi * 16 + lo;
            if (value < 0x20 || value > 0x7e) return std::nullopt;
            out += static_cast<char>(value);
            i += 2;
        } else if (u >= 33 && u <= 126 && c != '=') {
            out += c;
        } else {
            return std::nullopt;
        }
    }
    return out;
}

}  // namespace ehlo::smtp
