// SPF (RFC 7208) on the in-memory DNS: the record grammar, the macro examples of RFC 7208 7.4,
// and check_host()'s mechanisms, limits and results. The same evaluation against a real DNS
// server and pyspf is in spf_pyspf_test.cpp.
#include <gtest/gtest.h>

#include "memory_dns.hpp"
#include "msgauth/ip.hpp"
#include "msgauth/spf.hpp"
#include "msgauth/spf_record.hpp"

namespace ehlo::msgauth {
namespace {

SpfMacroContext rfc_context(const char* ip = "192.0.2.3") {
    SpfMacroContext c;
    c.sender = "strong-bad@email.example.com";
    c.local_part = "strong-bad";
    c.sender_domain = "email.example.com";
    c.domain = "email.example.com";
    c.ip = *parse_ip(ip);
    c.helo = "mx.example.org";
    return c;
}

TEST(SpfMacro, Rfc7208Examples_Rfc7208_7_4) {
    const SpfMacroContext c = rfc_context();
    const std::pair<const char*, const char*> cases[] = {
        {"%{s}", "strong-bad@email.example.com"},
        {"%{o}", "email.example.com"},
        {"%{d}", "email.example.com"},
        {"%{d4}", "email.example.com"},
        {"%{d3}", "email.example.com"},
        {"%{d2}", "example.com"},
        {"%{d1}", "com"},
        {"%{dr}", "com.example.email"},
        {"%{d2r}", "example.email"},
        {"%{l}", "strong-bad"},
        {"%{l-}", "strong.bad"},
        {"%{lr}", "strong-bad"},
        {"%{lr-}", "bad.strong"},
        {"%{l1r-}", "strong"},
        {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
        {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
        {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
        {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
        {"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
    };
    for (const auto& [spec, expected] : cases) EXPECT_EQ(expand_spf_macros(spec, c), expected) << spec;
    EXPECT_EQ(expand_spf_macros("%{ir}.%{v}._spf.%{d2}", rfc_context("2001:db8::cb01")),
              "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
}

// RFC 7208 7.1-7.3: escapes, URL-encoding of upper-case letters, explanation-only letters.
TEST(SpfMacro, EscapesAndExplanationLetters_Rfc7208_7_1) {
    SpfMacroContext c = rfc_context();
    c.now = 1700000000;
    EXPECT_EQ(expand_spf_macros("a%%b%_c%-d", c, true), "a%b c%20d");
    EXPECT_EQ(expand_spf_macros("%{S}", c), "strong-bad%40email.example.com");
    EXPECT_EQ(expand_spf_macros("%{c} %{t} %{r}", c, true), "192.0.2.3 1700000000 unknown");
    EXPECT_FALSE(expand_spf_macros("%{c}.example.com", c));  // c is for explanations only
    EXPECT_FALSE(expand_spf_macros("%{x}", c));
    EXPECT_FALSE(expand_spf_macros("%{d0}", c));
    EXPECT_FALSE(expand_spf_macros("%{d", c));
    EXPECT_FALSE(expand_spf_macros("50%", c));
    const std::string long_local(200, 'a');
    c.local_part = long_local + "." + long_local;
    const auto truncated = expand_spf_macros("%{l}.example.com", c);
    ASSERT_TRUE(truncated);
    EXPECT_EQ(*truncated, long_local + ".example.com");  // RFC 7208 7.3: left labels go
}

TEST(SpfRecord, Grammar_Rfc7208_12) {
    auto r = parse_spf_record("v=spf1 +a -mx:example.org/24//64 ~ip4:192.0.2.0/24 ?ip6:2001:db8::/32 ptr exists:%{i}.x.example include:y.example redirect=z.example exp=e.example unknown=%{d}");
    ASSERT_TRUE(r.record) << r.error;
    ASSERT_EQ(r.record->terms.size(), 7u);
    EXPECT_EQ(r.record->terms[1].qualifier, Result::Fail);
    EXPECT_EQ(r.record->terms[1].domain_spec, "example.org");
    EXPECT_EQ(r.record->terms[1].cidr4, 24u);
    EXPECT_EQ(r.record->terms[1].cidr6, 64u);
    EXPECT_EQ(r.record->terms[2].qualifier, Result::SoftFail);
    EXPECT_EQ(r.record->terms[3].cidr6, 32u);
    EXPECT_EQ(r.record->redirect, "z.example");
    EXPECT_TRUE(is_spf_record("V=SPF1"));
    EXPECT_FALSE(is_spf_record("v=spf10 -all"));
    for (const char* bad : {"v=spf1 foo", "v=spf1 ip4:192.0.2.1/33", "v=spf1 ip4:2001:db8::1", "v=spf1 ip6:192.0.2.1",
                            "v=spf1 a:example", "v=spf1 include", "v=spf1 redirect=a.example redirect=b.example",
                            "v=spf1 all:x", "v=spf1 a/024", "v=spf1 exists:%{z}.example.org", "v=spf1 mx:a.example/24/"})
        EXPECT_FALSE(parse_spf_record(bad).record) << bad;
}

SpfVerdict run(testing::MemoryDns& dns, const char* ip, const char* sender = "user@example.org", const char* helo = "mx.example.org") {
    SpfVerdict out;
    bool called = false;
    check_spf(dns, SpfRequest{ip, sender, helo, "mx.ehlo.example", 1700000000}, [&](SpfVerdict v) {
        out = std::move(v);
        called = true;
    });
    dns.run();
    EXPECT_TRUE(called);
    return out;
}

TEST(Spf, MechanismsAndQualifiers_Rfc7208_5) {
    testing::MemoryDns dns;
    dns.txt("example.org", "v=spf1 ip4:192.0.2.0/24 a:host.example.org mx include:inc.example.org ~all");
    dns.add(DnsType::A, "host.example.org", "198.51.100.7");
    dns.add(DnsType::Mx, "example.org", "mx1.example.org");
    dns.add(DnsType::A, "mx1.example.org", "198.51.100.25");
    dns.add(DnsType::Aaaa, "mx1.example.org", "2001:db8::25");
    dns.txt("inc.example.org", "v=spf1 ip4:203.0.113.0/28 -all");
    EXPECT_EQ(run(dns, "192.0.2.99").result, Result::Pass);
    EXPECT_EQ(run(dns, "198.51.100.7").result, Result::Pass);
    EXPECT_EQ(run(dns, "198.51.100.25").result, Result::Pass);
    EXPECT_EQ(run(dns, "2001:db8::25").result, Result::Pass);
    EXPECT_EQ(run(dns, "203.0.113.5").result, Result::Pass);     // include's pass
    const SpfVerdict soft = run(dns, "203.0.113.200");           // include's fail is no match (RFC 7208 5.2)
    EXPECT_EQ(soft.result, Result::SoftFail);
    EXPECT_EQ(soft.mechanism, "~all");
    EXPECT_EQ(run(dns, "::ffff:192.0.2.1").result, Result::Pass);  // IPv4-mapped is IPv4
    EXPECT_EQ(run(dns, "192.0.2.1", "").result, Result::None);    // HELO identity: mx.example.org has no record
}

TEST(Spf, PathOfEvaluationNamesRecordAndMatch) {
    testing::MemoryDns dns;
    dns.txt("example.org", "v=spf1 include:inc.example.org -all");
    dns.txt("inc.example.org", "v=spf1 ip4:192.0.2.1");
    const SpfVerdict v = run(dns, "192.0.2.1");
    ASSERT_EQ(v.result, Result::Pass);
    std::string path;
    for (const std::string& line : v.path) path += line + "\n";
    EXPECT_NE(path.find("example.org: \"v=spf1 include:inc.example.org -all\""), std::string::npos) << path;
    EXPECT_NE(path.find("    ip4:192.0.2.1: match => pass"), std::string::npos) << path;
    EXPECT_NE(path.find("  include:inc.example.org: match => pass"), std::string::npos) << path;
    EXPECT_EQ(v.identity, "mailfrom");
    EXPECT_EQ(v.lookups, 1);
}

TEST(Spf, RedirectAndExplanation_Rfc7208_6) {
    testing::MemoryDns dns;
    dns.txt("example.org", "v=spf1 redirect=_spf.example.net");
    dns.txt("_spf.example.net", "v=spf1 ip4:192.0.2.1 -all exp=why.example.net");
    dns.txt("why.example.net", "%{i} is not one of %{d}'s servers");
    EXPECT_EQ(run(dns, "192.0.2.1").result, Result::Pass);
    const SpfVerdict v = run(dns, "192.0.2.2");
    EXPECT_EQ(v.result, Result::Fail);
    EXPECT_EQ(v.explanation, "192.0.2.2 is not one of _spf.example.net's servers");
    dns.txt("nowhere.example.org", "v=spf1 redirect=missing.example.org");
    EXPECT_EQ(run(dns, "192.0.2.1", "a@nowhere.example.org").result, Result::PermError);  // RFC 7208 6.1
}

TEST(Spf, LookupAndVoidLimits_Rfc7208_4_6_4) {
    testing::MemoryDns dns;
    std::string record = "v=spf1";
    for (int i = 0; i < 11; ++i) {
        record += " a:h" + std::to_string(i) + ".example.org";
        dns.add(DnsType::A, "h" + std::to_string(i) + ".example.org", "198.51.100.1");
    }
    dns.txt("example.org", record + " -all");
    SpfVerdict v = run(dns, "192.0.2.1");
    EXPECT_EQ(v.result, Result::PermError);
    EXPECT_NE(v.problem.find("10 DNS lookups"), std::string::npos) << v.problem;
    EXPECT_EQ(run(dns, "198.51.100.1").result, Result::Pass);  // matched before the limit

    testing::MemoryDns voids;
    voids.txt("example.org", "v=spf1 a:n1.example.org a:n2.example.org a:n3.example.org -all");
    v = run(voids, "192.0.2.1");
    EXPECT_EQ(v.result, Result::PermError);
    EXPECT_NE(v.problem.find("void"), std::string::npos);
    voids.txt("two.example.org", "v=spf1 a:n1.example.org a:n2.example.org -all");
    EXPECT_EQ(run(voids, "192.0.2.1", "a@two.example.org").result, Result::Fail);

    testing::MemoryDns loop;  // an include loop ends at the lookup limit
    loop.txt("example.org", "v=spf1 include:example.org");
    EXPECT_EQ(run(loop, "192.0.2.1").result, Result::PermError);
}

TEST(Spf, ErrorResults_Rfc7208_2_6) {
    testing::MemoryDns dns;
    dns.txt("two.example.org", "v=spf1 -all");
    dns.txt("two.example.org", "v=spf1 +all");
    dns.txt("bad.example.org", "v=spf1 ip4:300.1.1.1 -all");
    dns.fail(DnsType::Txt, "down.example.org");
    dns.txt("mxdown.example.org", "v=spf1 mx -all");
    dns.fail(DnsType::Mx, "mxdown.example.org");
    dns.txt("noinc.example.org", "v=spf1 include:none.example.org -all");
    dns.txt("other.example.org", "some other TXT record");
    EXPECT_EQ(run(dns, "192.0.2.1", "a@two.example.org").result, Result::PermError);
    EXPECT_EQ(run(dns, "192.0.2.1", "a@bad.example.org").result, Result::PermError);
    EXPECT_EQ(run(dns, "192.0.2.1", "a@down.example.org").result, Result::TempError);
    EXPECT_EQ(run(dns, "192.0.2.1", "a@mxdown.example.org").result, Result::TempError);
    EXPECT_EQ(run(dns, "192.0.2.1", "a@noinc.example.org").result, Result::PermError);
    EXPECT_EQ(run(dns, "192.0.2.1", "a@other.example.org").result, Result::None);
    EXPECT_EQ(run(dns, "192.0.2.1", "a@nxdomain.example.org").result, Result::None);
    EXPECT_EQ(run(dns, "192.0.2.1", "a@localhost").result, Result::None);  // RFC 7208 4.3: one label
    EXPECT_EQ(run(dns, "not-an-ip", "a@two.example.org").result, Result::PermError);
}

TEST(Spf, PtrAndValidatedNameMacro_Rfc7208_5_5) {
    testing::MemoryDns dns;
    dns.txt("example.org", "v=spf1 ptr -all");
    dns.add(DnsType::Ptr, "1.2.0.192.in-addr.arpa", "mail.example.org");
    dns.add(DnsType::A, "mail.example.org", "192.0.2.1");
    dns.add(DnsType::Ptr, "2.2.0.192.in-addr.arpa", "forged.example.org");  // its A does not point back
    dns.add(DnsType::A, "forged.example.org", "198.51.100.1");
    EXPECT_EQ(run(dns, "192.0.2.1").result, Result::Pass);
    EXPECT_EQ(run(dns, "192.0.2.2").result, Result::Fail);
    dns.txt("p.example.org", "v=spf1 exists:%{p}.allowed.example.org -all");
    dns.add(DnsType::A, "mail.example.org.allowed.example.org", "127.0.0.2");
    EXPECT_EQ(run(dns, "192.0.2.1", "a@p.example.org").result, Result::Pass);
    EXPECT_EQ(run(dns, "192.0.2.2", "a@p.example.org").result, Result::Fail);  // %{p} is "unknown"
}

TEST(Ip, ParsingAndNetworks) {
    EXPECT_EQ(parse_ip("2001:DB8::1")->str(), "2001:db8::1");
    EXPECT_FALSE(parse_ip("192.0.2.256"));
    EXPECT_FALSE(parse_ip("[::1]"));
    EXPECT_TRUE(in_network(*parse_ip("192.0.2.200"), *parse_ip("192.0.2.0"), 24));
    EXPECT_FALSE(in_network(*parse_ip("192.0.3.1"), *parse_ip("192.0.2.0"), 24));
    EXPECT_TRUE(in_network(*parse_ip("10.1.1.1"), *parse_ip("192.0.2.0"), 0));
    EXPECT_FALSE(in_network(*parse_ip("::1"), *parse_ip("192.0.2.0"), 0));
    EXPECT_TRUE(in_network(*parse_ip("2001:db8:ff::1"), *parse_ip("2001:db8::"), 32));
    EXPECT_EQ(parse_ip("192.0.2.1")->reverse_name(), "1.2.0.192.in-addr.arpa");
}

}  // namespace
}  // namespace ehlo::msgauth
