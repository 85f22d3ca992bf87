#include "msgauth/dmarc_report.hpp"

#include <sstream>

namespace ehlo::msgauth {

namespace {

std::string xml(std::string_view text) {
    std::string out;
    for (unsigned char c : text) {
        switch (c) {
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '&': out += "&amp;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            default:
                if (c < 0x20 && c != '\t') break;  // not allowed in XML 1.0
                out += static_cast<char>(c);
        }
    }
    return out;
}

// appendix C DKIMResultType / SPFResultType words
const char* report_word(Result r) {
    switch (r) {
        case Result::SoftFail: return "softfail";
        default: return result_name(r);
    }
}

// A value from outside, for the stored row: no tab, no newline, no control; `names` keeps
// only what a domain name, an address or a selector holds.
std::string clean(std::string_view text, bool names) {
    std::string out;
    for (unsigned char c : text.substr(0, 255)) {
        const bool name_char = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                               c == '-' || c == '_' || c == '@' || c == ':' || c == '+';
        if (names)
            out += name_char ? static_cast<char>(c) : '?';
        else
            out += c < 0x20 || c >= 0x7f ? ' ' : static_cast<char>(c);
    }
    return out;
}

std::optional<Result> result_from_name(std::string_view word) {
    for (Result r : {Result::None, Result::Pass, Result::Fail, Result::SoftFail, Result::Neutral, Result::Policy,
                     Result::TempError, Result::PermError})
        if (word == result_name(r)) return r;
    return std::nullopt;
}

std::vector<std::string_view> split(std::string_view text, char sep) {
    std::vector<std::string_view> out;
    for (;;) {
        const std::size_t at = text.find(sep);
        out.push_back(text.substr(0, at));
        if (at == std::string_view::npos) return out;
        text.remove_prefix(at + 1);
    }
}

std::string key(const DmarcReportRow& r) {
    std::string k = r.source_ip + '\n' + r.disposition + '\n' + result_name(r.dkim_aligned) + result_name(r.spf_aligned) + '\n' +
                    r.header_from + '\n' + r.envelope_from + '\n' + r.spf_domain + r.spf_scope + result_name(r.spf);
    for (const auto& d : r.dkim) k += '\n' + d.domain + ' ' + d.selector + ' ' + result_name(d.result);
    return k;
}

}  // namespace

std::string encode_report_row(const StoredReportRow& st) {
    const DmarcReportRow& r = st.row;
    std::string out = "1";
    for (const std::string& f : {clean(st.policy_domain, true), clean(st.record, false), clean(r.source_ip, true),
                                 clean(r.disposition, true), std::string(result_name(r.dkim_aligned)),
                                 std::string(result_name(r.spf_aligned)), clean(r.header_from, true), clean(r.envelope_from, true),
                                 clean(r.spf_domain, true), clean(r.spf_scope, true), std::string(result_name(r.spf))})
        out += '\t' + f;
    out += '\t';
    for (std::size_t i = 0; i < r.dkim.size(); ++i) {
        if (i) out += ' ';
        out += clean(r.dkim[i].domain, true) + '/' + clean(r.dkim[i].selector, true) + '/' + result_name(r.dkim[i].result);
    }
    return out;
}

std::optional<StoredReportRow> decode_report_row(std::string_view text) {
    const auto f = split(text, '\t');
    if (f.size() != 13 || f[0] != "1") return std::nullopt;
    StoredReportRow st;
    st.policy_domain = f[1];
    st.record = f[2];
    DmarcReportRow& r = st.row;
    r.source_ip = f[3];
    r.disposition = f[4];
    const auto dkim_aligned = result_from_name(f[5]), spf_aligned = result_from_name(f[6]), spf = result_from_name(f[11]);
    if (!dkim_aligned || !spf_aligned || !spf) return std::nullopt;
    r.dkim_aligned = *dkim_aligned;
    r.spf_aligned = *spf_aligned;
    r.header_from = f[7];
    r.envelope_from = f[8];
    r.spf_domain = f[9];
    r.spf_scope = f[10];
    r.spf = *spf;
    if (!f[12].empty())
        for (std::string_view entry : split(f[12], ' ')) {
            const auto parts = split(entry, '/');
            if (parts.size() != 3) return std::nullopt;
            const auto result = result_from_name(parts[2]);
            if (!result) return std::nullopt;
            r.dkim.push_back({std::string(parts[0]), std::string(parts[1]), *result});
        }
    return st;
}

DmarcReportRow dmarc_report_row(const std::string& source_ip, const DmarcVerdict& dmarc, const SpfVerdict& spf,
                                const std::vector<DkimVerdict>& dkim, DmarcPolicy disposition) {
    DmarcReportRow row;
    row.source_ip = source_ip;
    row.disposition = dmarc_policy_name(disposition);
    row.dkim_aligned = dmarc.dkim_aligned ? Result::Pass : Result::Fail;
    row.spf_aligned = dmarc.spf_aligned ? Result::Pass : Result::Fail;
    row.header_from = dmarc.from_domain;
    row.envelope_from = spf.domain;
    for (const DkimVerdict& d : dkim)
        if (!d.domain.empty()) row.dkim.push_back({d.domain, d.selector, d.result});
    row.spf_domain = spf.domain;
    row.spf_scope = spf.identity == "helo" ? "helo" : "mfrom";
    row.spf = spf.result;
    return row;
}

std::string dmarc_aggregate_xml(const DmarcReportMetadata& meta, const std::vector<DmarcReportRow>& rows) {
    std::vector<DmarcReportRow> merged;
    std::vector<std::string> keys;
    for (const DmarcReportRow& r : rows) {
        const std::string k = key(r);
        std::size_t i = 0;
        while (i < keys.size() && keys[i] != k) ++i;
        if (i == keys.size()) {
            keys.push_back(k);
            merged.push_back(r);
        } else {
            merged[i].count += r.count;
        }
    }
    const DmarcRecord& p = meta.policy;
    std::ostringstream o;
    o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n"
      << "  <report_metadata>\n    <org_name>" << xml(meta.org_name) << "</org_name>\n    <email>" << xml(meta.email)
      << "</email>\n    <report_id>" << xml(meta.report_id) << "</report_id>\n    <date_range>\n      <begin>" << meta.begin
      << "</begin>\n      <end>" << meta.end << "</end>\n    </date_range>\n  </report_metadata>\n"
      << "  <policy_published>\n    <domain>" << xml(meta.domain) << "</domain>\n    <adkim>" << (p.strict_dkim ? "s" : "r")
      << "</adkim>\n    <aspf>" << (p.strict_spf ? "s" : "r") << "</aspf>\n    <p>" << dmarc_policy_name(p.p) << "</p>\n    <sp>"
      << dmarc_policy_name(p.sp.value_or(p.p)) << "</sp>\n    <pct>" << p.pct << "</pct>\n  </policy_published>\n";
    for (const DmarcReportRow& r : merged) {
        o << "  <record>\n    <row>\n      <source_ip>" << xml(r.source_ip) << "</source_ip>\n      <count>" << r.count
          << "</count>\n      <policy_evaluated>\n        <disposition>" << xml(r.disposition) << "</disposition>\n        <dkim>"
          << result_name(r.dkim_aligned) << "</dkim>\n        <spf>" << result_name(r.spf_aligned)
          << "</spf>\n      </policy_evaluated>\n    </row>\n    <identifiers>\n      <header_from>" << xml(r.header_from)
          << "</header_from>\n";
        if (!r.envelope_from.empty()) o << "      <envelope_from>" << xml(r.envelope_from) << "</envelope_from>\n";
        o << "    </identifiers>\n    <auth_results>\n";
        for (const auto& d : r.dkim)
            o << "      <dkim>\n        <domain>" << xml(d.domain) << "</domain>\n        <selector>" << xml(d.selector)
              << "</selector>\n        <result>" << report_word(d.result) << "</result>\n      </dkim>\n";
        o << "      <spf>\n        <domain>" << xml(r.spf_domain) << "</domain>\n        <scope>" << r.spf_scope
          << "</scope>\n        <result>" << report_word(r.spf) << "</result>\n      </spf>\n    </auth_results>\n  </record>\n";
    }
    o << "</feedback>\n";
    return o.str();
}

}  // namespace ehlo::msgauth
