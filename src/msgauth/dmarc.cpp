#include "msgauth/dmarc.hpp"

#include <memory>

#include "msgauth/message.hpp"
#include "msgauth/tag_list.hpp"

namespace ehlo::msgauth {

namespace {

std::optional<DmarcPolicy> policy_of(std::string_view text) {
    const std::string p = lower(trim(text));
    if (p == "none") return DmarcPolicy::None;
    if (p == "quarantine") return DmarcPolicy::Quarantine;
    if (p == "reject") return DmarcPolicy::Reject;
    return std::nullopt;
}

std::vector<std::string> uri_list(std::string_view text) {
    std::vector<std::string> out;
    while (!text.empty()) {
        const std::size_t comma = std::min(text.find(','), text.size());
        const std::string_view uri = trim(text.substr(0, comma));
        if (!uri.empty()) out.emplace_back(uri);
        text.remove_prefix(std::min(comma + 1, text.size()));
    }
    return out;
}

struct Check : std::enable_shared_from_this<Check> {
    DnsLookup& dns;
    const PublicSuffixList& psl;
    DmarcInput input;
    unsigned draw;
    std::function<void(DmarcVerdict)> done;
    DmarcVerdict v;

    Check(DnsLookup& d, const PublicSuffixList& p, DmarcInput i, unsigned r, std::function<void(DmarcVerdict)> f)
        : dns(d), psl(p), input(std::move(i)), draw(r), done(std::move(f)) {}

    void finish() {
        auto d = std::move(done);
        d(std::move(v));
    }

    void start() {
        v.from_domain = normal_dns_name(input.from_domain);
        if (!is_query_name(v.from_domain)) {
            v.result = Result::PermError;
            v.reasons.push_back("no usable From domain");
            return finish();
        }
        v.org_domain = psl.organizational_domain(v.from_domain);
        ask(v.from_domain, false);
    }

    // RFC 7489 6.6.3: the From domain's record, else the organisational domain's.
    void ask(const std::string& domain, bool at_org) {
        dns.txt("_dmarc." + domain, [self = shared_from_this(), domain, at_org](DnsAnswer a) { self->answered(domain, at_org, a); });
    }

    void answered(const std::string& domain, bool at_org, const DnsAnswer& a) {
        if (a.status == DnsStatus::TempError) {
            v.result = Result::TempError;
            v.reasons.push_back("DNS failure for _dmarc." + domain + ": " + a.error);
            return finish();
        }
        std::vector<DmarcRecord> found;
        for (const std::string& txt : a.records)
            if (auto r = parse_dmarc_record(txt); r.record) found.push_back(std::move(*r.record));
        if (found.size() != 1) {  // none, or several (RFC 7489 6.6.3: then none applies)
            if (found.size() > 1) v.reasons.push_back("more than one DMARC record at _dmarc." + domain);
            if (!at_org && v.org_domain != domain) return ask(v.org_domain, true);
            v.result = Result::None;
            v.reasons.push_back("no DMARC record for " + v.from_domain);
            return finish();
        }
        v.record = std::move(found.front());
        v.record_domain = domain;
        v.reasons.push_back("record at _dmarc." + domain + ": " + printable(v.record->text));
        evaluate(at_org);
    }

    void evaluate(bool at_org) {
        const DmarcRecord& r = *v.record;
        if (input.spf == Result::Pass && dmarc_aligned(psl, input.spf_domain, v.from_domain, r.strict_spf)) v.spf_aligned = true;
        for (const DkimVerdict& d : input.dkim)
            if (d.result == Result::Pass && dmarc_aligned(psl, d.domain, v.from_domain, r.strict_dkim)) {
                v.dkim_aligned = true;
                v.aligned_dkim_domain = d.domain;
                break;
            }
        v.reasons.push_back(std::string("spf=") + result_name(input.spf) + " (" + printable(input.spf_domain) + ")" +
                            (v.spf_aligned ? " aligned" : " not aligned") + (r.strict_spf ? " strictly" : ""));
        v.reasons.push_back(v.dkim_aligned ? "dkim pass aligned (d=" + v.aligned_dkim_domain + ")"
                                           : "no aligned passing DKIM signature");
        v.result = v.spf_aligned || v.dkim_aligned ? Result::Pass : Result::Fail;
        // RFC 7489 6.3: sp= for a From below the record's (organisational) domain, p= otherwise.
        v.requested = at_org && r.sp ? *r.sp : r.p;
        if (at_org && r.np) return check_exists(0);  // RFC 9091 4: np= for names that do not exist
        decide();
    }

    // RFC 9091 2.1: a non-existent domain has no A, AAAA and MX records (NXDOMAIN for each).
    void check_exists(int step) {
        static constexpr DnsType kTypes[] = {DnsType::A, DnsType::Aaaa, DnsType::Mx};
        if (step == 3) {
            v.requested = *v.record->np;
            v.reasons.push_back(v.from_domain + " does not exist: np=" + dmarc_policy_name(v.requested));
            return decide();
        }
        dns.query(kTypes[step], v.from_domain, [self = shared_from_this(), step](DnsAnswer a) {
            if (a.status != DnsStatus::NxDomain) return self->decide();
            self->check_exists(step + 1);
        });
    }

    void decide() {
        if (v.result == Result::Pass) {
            v.policy = DmarcPolicy::None;
            return finish();
        }
        v.policy = v.requested;
        // RFC 7489 6.6.4: outside the pct sample, the next weaker policy applies.
        if (draw >= v.record->pct && v.policy != DmarcPolicy::None) {
            v.sampled_out = true;
            v.policy = v.policy == DmarcPolicy::Reject ? DmarcPolicy::Quarantine : DmarcPolicy::None;
            v.reasons.push_back("outside pct=" + std::to_string(v.record->pct) + ": " + dmarc_policy_name(v.policy));
        }
        v.reasons.push_back(std::string("policy ") + dmarc_policy_name(v.policy));
        finish();
    }
};

}  // namespace

const char* dmarc_policy_name(DmarcPolicy p) {
    switch (p) {
        case DmarcPolicy::None: return "none";
        case DmarcPolicy::Quarantine: return "quarantine";
        case DmarcPolicy::Reject: return "reject";
    }
    return "?";
}

DmarcRecordParse parse_dmarc_record(std::string_view txt) {
    std::string why;
    const auto tags = parse_tag_list(txt, &why);
    if (!tags || tags->tags.empty()) return {std::nullopt, "malformed DMARC record: " + why};
    if (tags->tags.front().name != "v" || tags->tags.front().value != "DMARC1") return {std::nullopt, "not a DMARC1 record"};
    DmarcRecord r;
    r.text = std::string(txt);
    if (const Tag* t = tags->find("rua")) r.rua = uri_list(t->value);
    if (const Tag* t = tags->find("ruf")) r.ruf = uri_list(t->value);
    const Tag* p = tags->find("p");
    const auto policy = p ? policy_of(p->value) : std::nullopt;
    if (!policy) {
        if (r.rua.empty()) return {std::nullopt, "no valid p= (RFC 7489 6.3)"};
        r.p = DmarcPolicy::None;  // RFC 7489 6.6.3: a valid rua= makes it p=none
    } else {
        r.p = *policy;
    }
    if (const Tag* t = tags->find("sp")) r.sp = policy_of(t->value);
    if (const Tag* t = tags->find("np")) r.np = policy_of(t->value);
    if (const Tag* t = tags->find("pct")) {
        unsigned value = 0;
        bool ok = !t->value.empty() && t->value.size() <= 3;
        for (char c : t->value) {
            ok = ok && c >= '0' && c <= '9';
            value = value * 10 + static_cast<unsigned>(c - '0');
        }
        r.pct = ok && value <= 100 ? value : 100;  // an invalid pct is ignored (RFC 7489 6.3)
    }
    if (const Tag* t = tags->find("adkim")) r.strict_dkim = lower(t->value) == "s";
    if (const Tag* t = tags->find("aspf")) r.strict_spf = lower(t->value) == "s";
    return {std::move(r), {}};
}

bool dmarc_aligned(const PublicSuffixList& psl, std::string_view a, std::string_view b, bool strict) {
    const std::string x = normal_dns_name(a), y = normal_dns_name(b);
    if (x.empty() || y.empty()) return false;
    if (strict) return x == y;
    return psl.organizational_domain(x) == psl.organizational_domain(y);
}

void check_dmarc(DnsLookup& dns, const PublicSuffixList& psl, DmarcInput input, unsigned percent_draw,
                 std::function<void(DmarcVerdict)> done) {
    std::make_shared<Check>(dns, psl, std::move(input), percent_draw, std::move(done))->start();
}

}  // namespace ehlo::msgauth
