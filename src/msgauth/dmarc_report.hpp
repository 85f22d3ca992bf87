// DMARC aggregate reports (RFC 7489 7.2, appendix C): what each message contributes (one
// DmarcReportRow, collected by the caller per day and per reporting domain), and the XML of
// one day's report.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "msgauth/dmarc.hpp"
#include "msgauth/spf.hpp"

namespace ehlo::msgauth {

struct DmarcReportRow {
    std::string source_ip;
    std::uint64_t count = 1;              // messages with these same values
    std::string disposition = "none";     // none, quarantine, reject: what was done
    Result dkim_aligned = Result::Fail;   // policy_evaluated: pass or fail
    Result spf_aligned = Result::Fail;
    std::string header_from;
    std::string envelope_from;            // the SPF domain
    struct Dkim {
        std::string domain, selector;
        Result result = Result::None;
    };
    std::vector<Dkim> dkim;
    std::string spf_domain;
    std::string spf_scope = "mfrom";      // mfrom or helo
    Result spf = Result::None;
};

// The row for one message, from its verdicts and what was done with it.
DmarcReportRow dmarc_report_row(const std::string& source_ip, const DmarcVerdict& dmarc, const SpfVerdict& spf,
                                const std::vector<DkimVerdict>& dkim, DmarcPolicy disposition);

struct DmarcReportMetadata {
    std::string org_name;       // the reporter: us
    std::string email;          // where questions go
    std::string report_id;
    std::int64_t begin = 0;     // seconds since the epoch, the day's bounds
    std::int64_t end = 0;
    std::string domain;         // the policy domain the report is about
    DmarcRecord policy;         // as published (policy_published)
};

// What the history keeps of one message for the day's report: the row, the policy domain it
// is about and the record as published, as one line of text (tab-separated; every value from
// outside cut down to the characters a domain, an address or a record holds).
struct StoredReportRow {
    std::string policy_domain;
    std::string record;  // the DMARC record's text
    DmarcReportRow row;
};
std::string encode_report_row(const StoredReportRow& stored);
std::optional<StoredReportRow> decode_report_row(std::string_view text);

// RFC 7489 appendix C. Rows with equal values are merged (their counts added). Every text is
// XML-escaped.
std::string dmarc_aggregate_xml(const DmarcReportMetadata& meta, const std::vector<DmarcReportRow>& rows);

}  // namespace ehlo::msgauth
