#include "msgauth/dkim_signature.hpp"

#include <algorithm>
#include <limits>
#include <map>

#include "msgauth/dns.hpp"
#include "msgauth/tag_list.hpp"

namespace ehlo::msgauth {

namespace {

// RFC 6376 3.5: t= and x= are at most 12 digits ("1*12DIGIT"), l= at most 76.
constexpr std::size_t kMaxTimeDigits = 12;
constexpr std::size_t kMaxLengthDigits = 76;

SignatureParse error(std::string why) { return SignatureParse{std::nullopt, std::move(why)}; }

template <typename T>
std::optional<T> number(std::string_view text, std::size_t max_digits) {
    if (text.empty() || text.size() > max_digits) return std::nullopt;
    T value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        const T digit = static_cast<T>(c - '0');
        if (value > (std::numeric_limits<T>::max() - digit) / 10) return std::nullopt;
        value = static_cast<T>(value * 10 + digit);
    }
    return value;
}

std::optional<Canon> canon_of(std::string_view word) {
    if (word == "simple") return Canon::Simple;
    if (word == "relaxed") return Canon::Relaxed;
    return std::nullopt;
}

}  // namespace

SignatureParse parse_dkim_signature(std::string_view field_value) {
    std::string why;
    const auto tags = parse_tag_list(field_value, &why);
    if (!tags) return error("malformed signature: " + why);
    const auto get = [&](const char* name) -> const std::string* {
        const Tag* t = tags->find(name);
        return t ? &t->value : nullptr;
    };
    for (const char* required : {"v", "a", "b", "bh", "d", "h", "s"})
        if (!get(required)) return error(std::string("signature has no ") + required + "= tag");
    if (*get("v") != "1") return error("unknown signature version v=" + *get("v"));

    DkimSignature s;
    s.algorithm = lower(*get("a"));
    if (s.algorithm == "rsa-sha256") {
        s.key_type = KeyType::Rsa;
        s.hash = HashAlg::Sha256;
    } else if (s.algorithm == "ed25519-sha256") {  // RFC 8463 3
        s.key_type = KeyType::Ed25519;
        s.hash = HashAlg::Sha256;
    } else if (s.algorithm == "rsa-sha1") {
        s.key_type = KeyType::Rsa;
        s.hash = HashAlg::Sha1;
    } else {
        return error("unknown algorithm a=" + s.algorithm);
    }
    s.b_text = without_whitespace(*get("b"));
    auto b = base64_decode(s.b_text);
    if (!b || b->empty()) return error("b= is not base64");
    s.b = std::move(*b);
    auto bh = base64_decode(*get("bh"));
    if (!bh || bh->empty()) return error("bh= is not base64");
    s.bh = std::move(*bh);

    if (const std::string* c = get("c")) {
        const std::string text = lower(without_whitespace(*c));
        const std::size_t slash = text.find('/');
        const auto header = canon_of(text.substr(0, slash));
        const auto body = slash == std::string::npos ? std::optional<Canon>(Canon::Simple) : canon_of(text.substr(slash + 1));
        if (!header || !body) return error("unknown canonicalization c=" + text);
        s.header_canon = *header;
        s.body_canon = *body;
    }
    s.domain = normal_dns_name(*get("d"));
    if (!is_query_name(s.domain)) return error("d= is not a domain");
    s.selector = lower(*get("s"));
    if (!is_query_name(s.selector + "._domainkey." + s.domain)) return error("s= is not a selector");

    std::string h = without_whitespace(*get("h"));
    bool from_signed = false;
    for (std::size_t at = 0; at <= h.size();) {
        const std::size_t colon = std::min(h.find(':', at), h.size());
        std::string name = lower(std::string_view(h).substr(at, colon - at));
        if (name.empty()) return error("empty name in h=");
        from_signed = from_signed || name == "from";
        s.headers.push_back(std::move(name));
        at = colon + 1;
    }
    if (!from_signed) return error("From is not signed (RFC 6376 5.4)");

    if (const std::string* i = get("i")) {
        s.identity = *i;
        const std::size_t at = i->rfind('@');
        if (at == std::string::npos) return error("i= has no '@'");
        const std::string i_domain = normal_dns_name(std::string_view(*i).substr(at + 1));
        const bool within = i_domain == s.domain ||
                            (i_domain.size() > s.domain.size() &&
                             i_domain.compare(i_domain.size() - s.domain.size(), s.domain.size(), s.domain) == 0 &&
                             i_domain[i_domain.size() - s.domain.size() - 1] == '.');
        if (!within) return error("i= is not within d= (RFC 6376 3.5)");
    } else {
        s.identity = "@" + s.domain;
    }
    if (const std::string* l = get("l")) {
        s.length = number<std::uint64_t>(*l, kMaxLengthDigits);
        if (!s.length) return error("l= is not a number");
    }
    if (const std::string* q = get("q")) {
        if (lower(without_whitespace(*q)).find("dns/txt") == std::string::npos) return error("q= has no dns/txt");
    }
    if (const std::string* t = get("t")) {
        s.timestamp = number<std::int64_t>(*t, kMaxTimeDigits);
        if (!s.timestamp) return error("t= is not a time");
    }
    if (const std::string* x = get("x")) {
        s.expiration = number<std::int64_t>(*x, kMaxTimeDigits);
        if (!s.expiration) return error("x= is not a time");
        if (s.timestamp && *s.expiration < *s.timestamp) return error("x= is before t= (RFC 6376 3.5)");
    }
    return SignatureParse{std::move(s), {}};
}

std::string without_tag_value(std::string_view raw_field, std::string_view tag) {
    const std::size_t colon = raw_field.find(':');
    if (colon == std::string_view::npos) return std::string(raw_field);
    const auto tags = parse_tag_list(raw_field.substr(colon + 1));
    if (!tags) return std::string(raw_field);
    for (const Tag& t : tags->tags) {
        if (t.name != tag) continue;
        std::string out(raw_field.substr(0, colon + 1 + t.value_begin));
        out += raw_field.substr(colon + 1 + t.value_end);
        return out;
    }
    return std::string(raw_field);
}

std::string signed_header_data(Canon canon, const std::vector<HeaderField>& fields, const std::vector<std::string>& names,
                               std::string_view signature_field_without_b, const HeaderField* skip) {
    std::string data;
    std::map<std::string, std::size_t> used;  // per name: how many occurrences from the bottom are taken
    for (const std::string& name : names) {
        std::size_t& taken = used[name];
        std::size_t seen = 0;
        for (auto it = fields.rbegin(); it != fields.rend(); ++it) {
            if (&*it == skip || !it->is(name)) continue;
            if (seen++ == taken) {
                data += canonicalize_header(canon, *it);
                break;
            }
        }
        ++taken;
    }
    std::string last = canonicalize_header(canon, signature_field_without_b);
    last.resize(last.size() - 2);  // RFC 6376 3.7: without the trailing CRLF
    data += last;
    return data;
}

std::string fold_base64(std::string_view text, std::size_t first_width, std::size_t width) {
    std::string out;
    std::size_t at = 0;
    std::size_t line = first_width;
    while (at < text.size()) {
        if (at > 0) out += "\r\n\t";
        out += text.substr(at, line);
        at += line;
        line = width;
    }
    return out;
}

}  // namespace ehlo::msgauth
