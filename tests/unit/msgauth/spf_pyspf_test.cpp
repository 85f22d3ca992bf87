// SPF against a real DNS server on loopback (unbound, tests/unit/delivery/dns_test_server.hpp)
// through ehlo's libunbound resolver, each verdict compared with pyspf's on the same zone and
// the same question, for a table of cases covering every mechanism, macros, include and
// redirect, the lookup and void-lookup limits (RFC 7208 4.6.4) and the error results.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "dns_test_server.hpp"
#include "msgauth/resolver_dns.hpp"
#include "msgauth/spf.hpp"
#include "real_peers.hpp"
#include "temp_dir.hpp"

namespace ehlo::msgauth {
namespace {

// Addresses in 5.0.0.0/16 and 2a00:1450:4000::/36: libunbound answers the reverse zones of
// the documentation and private ranges itself (RFC 6303), so PTR tests need others. The DNS
// server answers from these records only; nothing leaves the machine.
std::vector<std::string> spf_zone() {
    std::vector<std::string> z = {
        "ip4.spf.example. TXT \"v=spf1 ip4:5.0.0.0/24 -all\"",
        "ip6.spf.example. TXT \"v=spf1 ip6:2a00:1450:4000::/36 -all\"",
        "upper.spf.example. TXT \"V=SPF1 IP4:5.0.0.0/24 -ALL\"",
        "a.spf.example. TXT \"v=spf1 a -all\"",
        "a.spf.example. A 5.0.0.10",
        "a.spf.example. AAAA 2a00:1450:4000::10",
        "acidr.spf.example. TXT \"v=spf1 a:host.spf.example/24 -all\"",
        "host.spf.example. A 5.0.1.1",
        "adual.spf.example. TXT \"v=spf1 a:host6.spf.example/24//64 ~all\"",
        "host6.spf.example. A 5.0.2.1",
        "host6.spf.example. AAAA 2a00:1450:4000:1::1",
        "mx.spf.example. TXT \"v=spf1 mx -all\"",
        "mx.spf.example. MX 10 mx1.spf.example.",
        "mx.spf.example. MX 20 mx2.spf.example.",
        "mx1.spf.example. A 5.0.3.1",
        "mx2.spf.example. A 5.0.3.2",
        "mxother.spf.example. TXT \"v=spf1 mx:mx.spf.example/30 -all\"",
        "ptr.spf.example. TXT \"v=spf1 ptr -all\"",
        "20.0.0.5.in-addr.arpa. PTR mail.ptr.spf.example.",
        "mail.ptr.spf.example. A 5.0.0.20",
        "21.0.0.5.in-addr.arpa. PTR mail2.ptr.spf.example.",
        "mail2.ptr.spf.example. A 5.0.9.9",
        "exists.spf.example. TXT \"v=spf1 exists:%{i}.allow.spf.example -all\"",
        "5.0.0.30.allow.spf.example. A 127.0.0.2",
        "include.spf.example. TXT \"v=spf1 include:inctarget.spf.example ?all\"",
        "inctarget.spf.example. TXT \"v=spf1 ip4:5.0.4.0/24 -all\"",
        "redirect.spf.example. TXT \"v=spf1 redirect=ip4.spf.example\"",
        "macro.spf.example. TXT \"v=spf1 exists:%{l1r-}.%{d2}.%{v}.m.spf.example -all\"",
        "a.spf.example.in-addr.m.spf.example. A 127.0.0.2",
        "rbl.spf.example. TXT \"v=spf1 exists:%{ir}.%{v}.rbl.spf.example -all\"",
        "40.0.0.5.in-addr.rbl.spf.example. A 127.0.0.2",
        "softfail.spf.example. TXT \"v=spf1 ~all\"",
        "neutral.spf.example. TXT \"v=spf1 ?all\"",
        "noall.spf.example. TXT \"v=spf1 ip4:5.9.9.9\"",
        "nospf.spf.example. TXT \"hello world\"",
        "two.spf.example. TXT \"v=spf1 -all\"",
        "two.spf.example. TXT \"v=spf1 +all\"",
        "syntax.spf.example. TXT \"v=spf1 ip4:5.0.0.1/33 -all\"",
        "unknown.spf.example. TXT \"v=spf1 foo:bar -all\"",
        "incnone.spf.example. TXT \"v=spf1 include:nospf.spf.example -all\"",
        "rednone.spf.example. TXT \"v=spf1 redirect=nospf.spf.example\"",
        "void.spf.example. TXT \"v=spf1 a:v1.spf.example a:v2.spf.example a:v3.spf.example -all\"",
        "void2.spf.example. TXT \"v=spf1 a:v1.spf.example a:v2.spf.example -all\"",
        "tempinc.spf.example. TXT \"v=spf1 include:x.broken.spf.example -all\"",
        "helo.spf.example. TXT \"v=spf1 a -all\"",
        "helo.spf.example. A 5.0.5.1",
        "exp.spf.example. TXT \"v=spf1 -all exp=why.spf.example\"",
        "why.spf.example. TXT \"%{i} is not allowed\"",
    };
    std::string limit = "v=spf1";
    for (int i = 1; i <= 11; ++i) {
        limit += " a:h" + std::to_string(i) + ".spf.example";
        z.push_back("h" + std::to_string(i) + ".spf.example. A 5.0.8." + std::to_string(i));
    }
    z.push_back("limit.spf.example. TXT \"" + limit + " -all\"");
    for (int i = 1; i <= 12; ++i)  // a chain of includes: 11 from chain1, 10 from chain2
        z.push_back("chain" + std::to_string(i) + ".spf.example. TXT \"v=spf1 " +
                    (i < 12 ? "include:chain" + std::to_string(i + 1) + ".spf.example" : std::string("ip4:5.0.7.1")) + " -all\"");
    for (int i = 1; i <= 11; ++i) z.push_back("mxmany.spf.example. MX " + std::to_string(i) + " m" + std::to_string(i) + ".spf.example.");
    z.push_back("mxmany.spf.example. TXT \"v=spf1 mx -all\"");
    return z;
}

struct Case {
    const char* ip;
    const char* sender;
    const char* helo;
    const char* expected;  // what RFC 7208 says; both implementations must give it
};

const Case kCases[] = {
    {"5.0.0.1", "u@ip4.spf.example", "h.example", "pass"},
    {"5.0.1.1", "u@ip4.spf.example", "h.example", "fail"},
    {"2a00:1450:4000::99", "u@ip6.spf.example", "h.example", "pass"},
    {"2a00:1450:5000::1", "u@ip6.spf.example", "h.example", "fail"},
    {"5.0.0.1", "u@ip6.spf.example", "h.example", "fail"},
    {"5.0.0.1", "u@upper.spf.example", "h.example", "pass"},
    {"5.0.0.10", "u@a.spf.example", "h.example", "pass"},
    {"2a00:1450:4000::10", "u@a.spf.example", "h.example", "pass"},
    {"5.0.0.11", "u@a.spf.example", "h.example", "fail"},
    {"5.0.1.200", "u@acidr.spf.example", "h.example", "pass"},
    {"5.0.2.200", "u@acidr.spf.example", "h.example", "fail"},
    {"5.0.2.99", "u@adual.spf.example", "h.example", "pass"},
    {"2a00:1450:4000:1:ffff::1", "u@adual.spf.example", "h.example", "pass"},
    {"2a00:1450:4000:2::1", "u@adual.spf.example", "h.example", "softfail"},
    {"5.0.3.2", "u@mx.spf.example", "h.example", "pass"},
    {"5.0.3.3", "u@mx.spf.example", "h.example", "fail"},
    {"5.0.3.3", "u@mxother.spf.example", "h.example", "pass"},
    {"5.0.3.4", "u@mxother.spf.example", "h.example", "fail"},
    {"5.0.0.20", "u@ptr.spf.example", "h.example", "pass"},
    {"5.0.0.21", "u@ptr.spf.example", "h.example", "fail"},
    {"5.0.0.30", "u@exists.spf.example", "h.example", "pass"},
    {"5.0.0.31", "u@exists.spf.example", "h.example", "fail"},
    {"5.0.4.1", "u@include.spf.example", "h.example", "pass"},
    {"5.0.5.1", "u@include.spf.example", "h.example", "neutral"},
    {"5.0.0.1", "u@redirect.spf.example", "h.example", "pass"},
    {"5.0.1.1", "u@redirect.spf.example", "h.example", "fail"},
    {"5.0.0.1", "a-b@macro.spf.example", "h.example", "pass"},  // %{l1r-} of a-b is "a"
    {"5.0.0.1", "b-a@macro.spf.example", "h.example", "fail"},
    {"5.0.0.40", "u@rbl.spf.example", "h.example", "pass"},
    {"5.0.0.41", "u@rbl.spf.example", "h.example", "fail"},
    {"5.0.0.1", "u@softfail.spf.example", "h.example", "softfail"},
    {"5.0.0.1", "u@neutral.spf.example", "h.example", "neutral"},
    {"5.0.0.1", "u@noall.spf.example", "h.example", "neutral"},
    {"5.0.0.1", "u@nospf.spf.example", "h.example", "none"},
    {"5.0.0.1", "u@nxdomain.spf.example", "h.example", "none"},
    {"5.0.0.1", "u@two.spf.example", "h.example", "permerror"},
    {"5.0.0.1", "u@syntax.spf.example", "h.example", "permerror"},
    {"5.0.0.1", "u@unknown.spf.example", "h.example", "permerror"},
    {"5.0.0.1", "u@incnone.spf.example", "h.example", "permerror"},
    {"5.0.0.1", "u@rednone.spf.example", "h.example", "permerror"},
    {"5.0.8.10", "u@limit.spf.example", "h.example", "pass"},
    {"5.0.8.11", "u@limit.spf.example", "h.example", "permerror"},
    {"5.0.7.1", "u@chain2.spf.example", "h.example", "pass"},
    {"5.0.7.1", "u@chain1.spf.example", "h.example", "permerror"},
    {"5.0.0.1", "u@void.spf.example", "h.example", "permerror"},
    {"5.0.0.1", "u@void2.spf.example", "h.example", "fail"},
    {"5.0.0.1", "u@mxmany.spf.example", "h.example", "permerror"},
    {"5.0.0.1", "u@x.broken.spf.example", "h.example", "temperror"},
    {"5.0.0.1", "u@tempinc.spf.example", "h.example", "temperror"},
    {"5.0.5.1", "", "helo.spf.example", "pass"},
    {"5.0.5.2", "", "helo.spf.example", "fail"},
    {"5.0.0.1", "u@exp.spf.example", "h.example", "fail"},
};

SpfVerdict ehlo_verdict(DnsLookup& dns, const Case& c) {
    auto promise = std::make_shared<std::promise<SpfVerdict>>();
    auto future = promise->get_future();
    check_spf(dns, SpfRequest{c.ip, c.sender, c.helo, "mx.test", 1700000000}, [promise](SpfVerdict v) { promise->set_value(std::move(v)); });
    if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
        ADD_FAILURE() << "no SPF verdict for " << c.sender;
        return {};
    }
    return future.get();
}

TEST(SpfAgainstPyspf, EveryCaseAgreesOnARealDnsServer_Rfc7208) {
    if (!testing::has_program(delivery::testing::kUnboundBinary)) GTEST_SKIP() << "unbound is not installed";
    if (!testing::python_has("spf")) GTEST_SKIP() << "pyspf (python3-spf) is not installed";
    delivery::testing::DnsTestServer server(spf_zone(), {"broken.spf.example."});
    delivery::ResolverOptions options;
    options.forwarders = {server.forwarder()};
    options.timeout = std::chrono::seconds(5);
    delivery::Resolver resolver(options);
    ResolverDns dns(resolver);

    delivery::testing::TempDir dir;
    const auto cases_file = dir.path() / "cases";
    {
        std::ofstream out(cases_file);
        for (const Case& c : kCases) out << c.ip << '\t' << c.sender << '\t' << c.helo << '\n';
    }
    int status = -1;
    const std::string oracle = std::string(EHLO_MSGAUTH_TEST_DIR) + "/pyspf_oracle.py";
    const std::string out = testing::run_command(std::string(testing::kPython) + " " + oracle + " " +
                                                     std::to_string(server.port()) + " " + cases_file.string(), &status);
    ASSERT_EQ(status, 0) << out;
    std::istringstream lines(out);
    for (const Case& c : kCases) {
        std::string pyspf;
        std::getline(lines, pyspf);
        const SpfVerdict v = ehlo_verdict(dns, c);
        std::string path;
        for (const std::string& line : v.path) path += "\n  " + line;
        EXPECT_EQ(result_name(v.result), pyspf) << c.ip << " " << c.sender << " " << c.helo << path;
        EXPECT_STREQ(result_name(v.result), c.expected) << c.ip << " " << c.sender << path;
    }
}

}  // namespace
}  // namespace ehlo::msgauth
