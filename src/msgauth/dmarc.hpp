// DMARC (RFC 7489, RFC 9091): the policy record of the From domain (or of its organisational
// domain), identifier alignment of the SPF and DKIM results, and the policy to apply, with
// pct sampling (the random draw comes from the caller: no randomness in here).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "msgauth/dkim_verify.hpp"
#include "msgauth/dns.hpp"
#include "msgauth/public_suffix.hpp"
#include "msgauth/result.hpp"

namespace ehlo::msgauth {

enum class DmarcPolicy { None, Quarantine, Reject };
const char* dmarc_policy_name(DmarcPolicy p);  // "none", "quarantine", "reject"

struct DmarcRecord {
    DmarcPolicy p = DmarcPolicy::None;
    std::optional<DmarcPolicy> sp;  // subdomains (RFC 7489 6.3)
    std::optional<DmarcPolicy> np;  // non-existent subdomains (RFC 9091 4.1)
    unsigned pct = 100;
    bool strict_dkim = false;       // adkim=s
    bool strict_spf = false;        // aspf=s
    std::vector<std::string> rua, ruf;
    std::string text;               // as published
};

struct DmarcRecordParse {
    std::optional<DmarcRecord> record;
    std::string error;
};

// RFC 7489 6.3 and 6.4: v=DMARC1 first, p= required (a record without a valid p= but with a
// valid rua= is treated as p=none, 6.6.3), unknown tags ignored.
DmarcRecordParse parse_dmarc_record(std::string_view txt);

struct DmarcInput {
    std::string from_domain;   // RFC5322.From domain (RFC 7489 3.1)
    Result spf = Result::None; // the SPF verdict of MAIL FROM (or HELO when MAIL FROM was empty)
    std::string spf_domain;    // the domain SPF checked
    std::vector<DkimVerdict> dkim;
};

struct DmarcVerdict {
    Result result = Result::None;      // pass, fail, none, temperror, permerror
    DmarcPolicy policy = DmarcPolicy::None;     // to apply, after pct
    DmarcPolicy requested = DmarcPolicy::None;  // p=, sp= or np= as the record says
    bool sampled_out = false;          // pct let this failing message through with a lesser policy
    bool spf_aligned = false;
    bool dkim_aligned = false;
    std::string aligned_dkim_domain;   // the d= that passed aligned
    std::string from_domain;
    std::string org_domain;
    std::string record_domain;         // where the record was found
    std::optional<DmarcRecord> record;
    std::vector<std::string> reasons;  // what was decided, in order
};

// `percent_draw` is uniform in 0..99 (pct: the policy applies when draw < pct).
// `done` is called once, maybe before check_dmarc() returns.
void check_dmarc(DnsLookup& dns, const PublicSuffixList& psl, DmarcInput input, unsigned percent_draw,
                 std::function<void(DmarcVerdict)> done);

// RFC 7489 3.1: relaxed alignment is the same organisational domain, strict the same name.
bool dmarc_aligned(const PublicSuffixList& psl, std::string_view a, std::string_view b, bool strict);

}  // namespace ehlo::msgauth
