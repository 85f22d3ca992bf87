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

std::string key(const DmarcReportRow& r) {
    std::string k = r.source_ip + '\n' + r.disposition + '\n' + result_name(r.dkim_aligned) + result_name(r.spf_aligned) + '\n' +
                    r.header_from + '\n' + r.envelope_from + '\n' + r.spf_domain + r.spf_scope + result_name(r.spf);
    for (const auto& d : r.dkim) k += '\n' + d.domain + ' ' + d.selector + ' ' + result_name(d.result);
    return k;
}

}  // namespace

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
