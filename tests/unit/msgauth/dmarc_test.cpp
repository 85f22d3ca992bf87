// DMARC (RFC 7489, RFC 9091): records, organisational domains from Debian's public suffix
// list, alignment, policy selection (p, sp, np, pct) and the aggregate report XML.
#include <gtest/gtest.h>

#include <unistd.h>

#include "memory_dns.hpp"
#include "msgauth/dmarc.hpp"
#include "msgauth/dmarc_report.hpp"

namespace ehlo::msgauth {
namespace {

const PublicSuffixList& test_psl() {
    static const PublicSuffixList psl = PublicSuffixList::parse(
        "// test list\ncom\norg\nuk\nco.uk\n*.ck\n!www.ck\n// ===BEGIN PRIVATE DOMAINS===\nblogspot.com\n");
    return psl;
}

TEST(PublicSuffix, OrganizationalDomain_Rfc7489_3_2) {
    const PublicSuffixList& psl = test_psl();
    EXPECT_EQ(psl.organizational_domain("mail.Example.COM."), "example.com");
    EXPECT_EQ(psl.organizational_domain("a.b.example.co.uk"), "example.co.uk");
    EXPECT_EQ(psl.organizational_domain("x.y.ck"), "x.y.ck");   // *.ck: y.ck is a suffix
    EXPECT_EQ(psl.organizational_domain("a.www.ck"), "www.ck");  // !www.ck
    EXPECT_EQ(psl.organizational_domain("me.blogspot.com"), "me.blogspot.com");
    EXPECT_EQ(psl.organizational_domain("com"), "com");
    EXPECT_EQ(psl.organizational_domain("a.b.unlisted"), "b.unlisted");  // the implicit "*" rule
}

TEST(PublicSuffix, DebiansListLoads) {
    if (::access(kPublicSuffixFile, R_OK) != 0) GTEST_SKIP() << "no " << kPublicSuffixFile << " (Debian package publicsuffix)";
    std::string error;
    const PublicSuffixList psl = load_public_suffix_list(kPublicSuffixFile, &error);
    EXPECT_TRUE(error.empty()) << error;
    EXPECT_GT(psl.rules(), 5000u);
    EXPECT_EQ(psl.organizational_domain("mail.bbc.co.uk"), "bbc.co.uk");
    EXPECT_EQ(psl.organizational_domain("smtp.example.com.au"), "example.com.au");
    load_public_suffix_list("/nonexistent", &error);
    EXPECT_FALSE(error.empty());
}

TEST(DmarcRecord, Parsing_Rfc7489_6_3) {
    auto r = parse_dmarc_record("v=DMARC1; p=reject; sp=quarantine; np=reject; pct=25; adkim=s; aspf=r; "
                                "rua=mailto:a@example.org,mailto:b@example.org; ruf=mailto:f@example.org");
    ASSERT_TRUE(r.record) << r.error;
    EXPECT_EQ(r.record->p, DmarcPolicy::Reject);
    EXPECT_EQ(r.record->sp, DmarcPolicy::Quarantine);
    EXPECT_EQ(r.record->np, DmarcPolicy::Reject);
    EXPECT_EQ(r.record->pct, 25u);
    EXPECT_TRUE(r.record->strict_dkim);
    EXPECT_FALSE(r.record->strict_spf);
    EXPECT_EQ(r.record->rua.size(), 2u);
    EXPECT_FALSE(parse_dmarc_record("p=reject; v=DMARC1").record);  // v= first
    EXPECT_FALSE(parse_dmarc_record("v=DMARC1; p=bogus").record);
    EXPECT_EQ(parse_dmarc_record("v=DMARC1; p=bogus; rua=mailto:a@example.org").record->p, DmarcPolicy::None);  // 6.6.3
    EXPECT_EQ(parse_dmarc_record("v=DMARC1; p=none; pct=200").record->pct, 100u);
}

DkimVerdict dkim(const char* domain, Result r) {
    DkimVerdict v;
    v.domain = domain;
    v.selector = "s";
    v.result = r;
    return v;
}

DmarcVerdict run(testing::MemoryDns& dns, DmarcInput in, unsigned draw = 0) {
    DmarcVerdict out;
    check_dmarc(dns, test_psl(), std::move(in), draw, [&](DmarcVerdict v) { out = std::move(v); });
    dns.run();
    return out;
}

TEST(Dmarc, RelaxedAndStrictAlignment_Rfc7489_3_1) {
    testing::MemoryDns dns;
    dns.txt("_dmarc.example.com", "v=DMARC1; p=reject");
    dns.txt("_dmarc.strict.com", "v=DMARC1; p=reject; adkim=s; aspf=s");
    // relaxed: a subdomain's signature or SPF domain aligns
    DmarcVerdict v = run(dns, {"example.com", Result::Pass, "bounce.example.com", {}});
    EXPECT_EQ(v.result, Result::Pass);
    EXPECT_TRUE(v.spf_aligned);
    v = run(dns, {"example.com", Result::Fail, "bounce.example.com", {dkim("mail.example.com", Result::Pass)}});
    EXPECT_EQ(v.result, Result::Pass);
    EXPECT_TRUE(v.dkim_aligned);
    EXPECT_EQ(v.policy, DmarcPolicy::None);
    // strict: only the same name
    v = run(dns, {"strict.com", Result::Pass, "bounce.strict.com", {dkim("mail.strict.com", Result::Pass)}});
    EXPECT_EQ(v.result, Result::Fail);
    EXPECT_EQ(v.policy, DmarcPolicy::Reject);
    v = run(dns, {"strict.com", Result::Fail, "x.org", {dkim("strict.com", Result::Pass)}});
    EXPECT_EQ(v.result, Result::Pass);
    // a pass for another domain, or an aligned fail, does not count
    v = run(dns, {"example.com", Result::Pass, "other.org", {dkim("other.org", Result::Pass), dkim("example.com", Result::Fail)}});
    EXPECT_EQ(v.result, Result::Fail);
    EXPECT_EQ(v.policy, DmarcPolicy::Reject);
}

// RFC 7489 6.6.3 and 6.3: no record at the From domain: the organisational domain's, with sp=.
TEST(Dmarc, SubdomainPolicyFromTheOrganizationalDomain_Rfc7489_6_3) {
    testing::MemoryDns dns;
    dns.txt("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine");
    dns.add(DnsType::A, "news.example.com", "192.0.2.1");
    DmarcVerdict v = run(dns, {"news.example.com", Result::None, "", {}});
    EXPECT_EQ(v.result, Result::Fail);
    EXPECT_EQ(v.record_domain, "example.com");
    EXPECT_EQ(v.requested, DmarcPolicy::Quarantine);
    v = run(dns, {"example.com", Result::None, "", {}});
    EXPECT_EQ(v.requested, DmarcPolicy::Reject);
    dns.txt("_dmarc.own.example.com", "v=DMARC1; p=none");  // the From domain's own record wins
    EXPECT_EQ(run(dns, {"own.example.com", Result::None, "", {}}).requested, DmarcPolicy::None);
    EXPECT_EQ(run(dns, {"nodmarc.org", Result::Pass, "nodmarc.org", {}}).result, Result::None);
    dns.fail(DnsType::Txt, "_dmarc.down.org");
    EXPECT_EQ(run(dns, {"down.org", Result::Pass, "down.org", {}}).result, Result::TempError);
}

// RFC 9091 4: np= for a From domain that does not exist (no A, AAAA or MX).
TEST(Dmarc, NonExistentSubdomainPolicy_Rfc9091_4) {
    testing::MemoryDns dns;
    dns.txt("_dmarc.example.com", "v=DMARC1; p=none; sp=quarantine; np=reject");
    dns.add(DnsType::Mx, "real.example.com", "mx.example.com");
    EXPECT_EQ(run(dns, {"ghost.example.com", Result::None, "", {}}).policy, DmarcPolicy::Reject);
    EXPECT_EQ(run(dns, {"real.example.com", Result::None, "", {}}).policy, DmarcPolicy::Quarantine);
}

// RFC 7489 6.6.4: outside pct, reject becomes quarantine and quarantine none.
TEST(Dmarc, PctSamplesThePolicy_Rfc7489_6_6_4) {
    testing::MemoryDns dns;
    dns.txt("_dmarc.example.com", "v=DMARC1; p=reject; pct=30");
    dns.txt("_dmarc.example.org", "v=DMARC1; p=quarantine; pct=0");
    DmarcVerdict v = run(dns, {"example.com", Result::Fail, "", {}}, 29);
    EXPECT_EQ(v.policy, DmarcPolicy::Reject);
    EXPECT_FALSE(v.sampled_out);
    v = run(dns, {"example.com", Result::Fail, "", {}}, 30);
    EXPECT_EQ(v.policy, DmarcPolicy::Quarantine);
    EXPECT_TRUE(v.sampled_out);
    EXPECT_EQ(run(dns, {"example.org", Result::Fail, "", {}}, 0).policy, DmarcPolicy::None);
}

TEST(DmarcReport, AggregateXml_Rfc7489_AppendixC) {
    testing::MemoryDns dns;
    dns.txt("_dmarc.example.com", "v=DMARC1; p=reject; rua=mailto:r@example.com");
    const DmarcVerdict v = run(dns, {"example.com", Result::Pass, "example.com", {dkim("example.com", Result::Pass)}});
    SpfVerdict spf;
    spf.result = Result::Pass;
    spf.domain = "example.com";
    spf.identity = "mailfrom";
    DmarcReportRow row = dmarc_report_row("192.0.2.1", v, spf, {dkim("example.com", Result::Pass)}, DmarcPolicy::None);
    DmarcReportRow spoof = row;
    spoof.source_ip = "203.0.113.9";
    spoof.header_from = "example.com<script>";
    spoof.disposition = "reject";
    DmarcReportMetadata meta{"ehlo at mx.example.net", "postmaster@example.net", "r1", 1700000000, 1700086400, "example.com",
                             *v.record};
    const std::string x = dmarc_aggregate_xml(meta, {row, row, spoof});
    EXPECT_NE(x.find("<feedback>"), std::string::npos);
    EXPECT_NE(x.find("<source_ip>192.0.2.1</source_ip>\n      <count>2</count>"), std::string::npos) << x;
    EXPECT_NE(x.find("<p>reject</p>"), std::string::npos);
    EXPECT_NE(x.find("example.com&lt;script&gt;"), std::string::npos);
    EXPECT_EQ(x.find("<script>"), std::string::npos);
    EXPECT_NE(x.find("<scope>mfrom</scope>"), std::string::npos);
}

// The row the history keeps for the day's report reads back as written, and nothing from
// outside can add a column or a line to it.
TEST(DmarcReport, StoredRowRoundTrips_Rfc7489_7_2) {
    StoredReportRow st;
    st.policy_domain = "example.org";
    st.record = "v=DMARC1; p=reject;\trua=mailto:d@example.org";
    st.row.source_ip = "192.0.2.7";
    st.row.disposition = "reject";
    st.row.dkim_aligned = Result::Fail;
    st.row.spf_aligned = Result::Pass;
    st.row.header_from = "example.org";
    st.row.envelope_from = "example.org";
    st.row.spf_domain = "example.org";
    st.row.spf = Result::Pass;
    st.row.dkim = {{"evil\t.example\n", "s 1/x", Result::Fail}, {"example.org", "s2", Result::Pass}};
    const std::string text = encode_report_row(st);
    EXPECT_EQ(text.find('\n'), std::string::npos);
    const auto back = decode_report_row(text);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->policy_domain, "example.org");
    EXPECT_EQ(back->record, "v=DMARC1; p=reject; rua=mailto:d@example.org");
    EXPECT_EQ(back->row.disposition, "reject");
    EXPECT_EQ(back->row.spf_aligned, Result::Pass);
    ASSERT_EQ(back->row.dkim.size(), 2u);
    EXPECT_EQ(back->row.dkim[0].domain, "evil?.example?");
    EXPECT_EQ(back->row.dkim[0].selector, "s?1?x");
    EXPECT_EQ(back->row.dkim[1].result, Result::Pass);
    EXPECT_FALSE(decode_report_row("2\tnot\tours"));
    EXPECT_FALSE(decode_report_row(""));
}

}  // namespace
}  // namespace ehlo::msgauth
