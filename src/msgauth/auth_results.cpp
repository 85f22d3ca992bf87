#include "msgauth/auth_results.hpp"

namespace ehlo::msgauth {

namespace {

// RFC 2045 5.1 tspecials, plus SP and controls, are not token characters. '@' is: RFC 8601
// 2.2 allows a bare addr-spec as pvalue, and local@domain is what consumers expect there.
bool is_token_char(char c) {
    if (c <= ' ' || c >= 0x7f) return false;
    switch (c) {
        case '(': case ')': case '<': case '>': case ',': case ';': case ':': case '\\': case '"': case '/':
        case '[': case ']': case '?': case '=': return false;
        default: return true;
    }
}

std::string comment(std::string_view text) {
    std::string out = "(";
    for (unsigned char c : text) {
        if (c < 0x20 || c == 0x7f) continue;
        if (c == '(' || c == ')' || c == '\\') out += '\\';
        out += static_cast<char>(c);
    }
    return out + ")";
}

void add(std::string& field, const std::string& entry) { field += ";\r\n\t" + entry; }

}  // namespace

std::string pvalue(std::string_view text) {
    bool token = !text.empty();
    for (char c : text) token = token && is_token_char(c);
    if (token) return std::string(text);
    std::string out = "\"";
    for (unsigned char c : text) {
        if (c < 0x20 || c == 0x7f) continue;
        if (c == '"' || c == '\\') out += '\\';
        out += static_cast<char>(c);
    }
    return out + "\"";
}

std::string authentication_results_field(const AuthResultsInput& in) {
    std::string field = "Authentication-Results: " + pvalue(in.authserv_id);
    bool any = false;
    if (in.auth_user) {
        add(field, "auth=pass smtp.auth=" + pvalue(*in.auth_user));
        any = true;
    }
    if (in.spf) {
        const SpfVerdict& s = *in.spf;
        std::string e = std::string("spf=") + result_name(s.result);
        if (!s.problem.empty()) e += " " + comment(s.problem);
        e += s.identity == "helo" ? " smtp.helo=" + pvalue(s.domain) : " smtp.mailfrom=" + pvalue(s.sender);
        add(field, e);
        any = true;
    }
    if (in.dkim_checked) {
        if (in.dkim.empty()) add(field, "dkim=none");
        for (const DkimVerdict& d : in.dkim) {
            std::string e = std::string("dkim=") + result_name(d.result) + " " + comment(d.reason);
            if (!d.domain.empty()) e += " header.d=" + pvalue(d.domain);
            if (!d.selector.empty()) e += " header.s=" + pvalue(d.selector);
            if (!d.b.empty()) e += " header.b=" + pvalue(d.b.substr(0, 8));  // RFC 6008 4: a prefix, 8 characters
            if (!d.algorithm.empty()) e += " header.a=" + pvalue(d.algorithm);
            add(field, e);
        }
        any = true;
    }
    if (in.dmarc) {
        const DmarcVerdict& d = *in.dmarc;
        std::string e = std::string("dmarc=") + result_name(d.result);
        if (d.record) e += std::string(" ") + comment(std::string("p=") + dmarc_policy_name(d.requested) + " dis=" + dmarc_policy_name(d.policy));
        e += " header.from=" + pvalue(d.from_domain);
        add(field, e);
        any = true;
    }
    if (in.arc) {
        add(field, std::string("arc=") + result_name(*in.arc));
        any = true;
    }
    if (!any) field += "; none";  // RFC 8601 2.2: no-result
    return field;
}

std::string authserv_id_of(std::string_view v) {
    std::size_t i = 0;
    // CFWS: whitespace and (nested) comments
    while (i < v.size()) {
        if (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n') {
            ++i;
        } else if (v[i] == '(') {
            int depth = 0;
            for (; i < v.size(); ++i) {
                if (v[i] == '\\') {
                    ++i;
                    continue;
                }
                if (v[i] == '(') ++depth;
                if (v[i] == ')' && --depth == 0) {
                    ++i;
                    break;
                }
            }
        } else {
            break;
        }
    }
    std::string id;
    if (i < v.size() && v[i] == '"') {
        for (++i; i < v.size() && v[i] != '"'; ++i) {
            if (v[i] == '\\' && i + 1 < v.size()) ++i;
            id += v[i];
        }
        return lower(id);
    }
    while (i < v.size() && v[i] != ';' && v[i] != ' ' && v[i] != '\t' && v[i] != '(' && v[i] != '\r') id += v[i++];
    return lower(id);
}

std::vector<std::size_t> forged_authentication_results(const std::vector<HeaderField>& fields, std::string_view authserv_id) {
    std::vector<std::size_t> out;
    const std::string ours = lower(authserv_id);
    for (std::size_t i = 0; i < fields.size(); ++i)
        if (fields[i].is("Authentication-Results") && authserv_id_of(fields[i].value()) == ours) out.push_back(i);
    return out;
}

}  // namespace ehlo::msgauth
