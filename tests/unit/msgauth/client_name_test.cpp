// The client's name confirmed by forward DNS (Postfix's smtpd_peername_lookup, RFC 8601 2.7.3
// iprev): which PTR name is taken, or why none is.
#include <gtest/gtest.h>

#include "memory_dns.hpp"
#include "msgauth/client_name.hpp"

namespace ehlo::msgauth {
namespace {

using testing::MemoryDns;

IpAddress ip(const char* text) { return *parse_ip(text); }

ClientName look_up(MemoryDns& dns, const char* address) {
    ClientName out{"(not called)", "(not called)"};
    int calls = 0;
    look_up_client_name(dns, ip(address), [&](ClientName n) {
        out = std::move(n);
        ++calls;
    });
    dns.run();
    EXPECT_EQ(calls, 1);
    return out;
}

TEST(ClientName, PtrConfirmedByItsARecordIsTheName) {
    MemoryDns dns;
    dns.add(DnsType::Ptr, "2.2.0.192.in-addr.arpa", "Mail.Client.Example.");
    dns.add(DnsType::A, "mail.client.example", "192.0.2.9");
    dns.add(DnsType::A, "mail.client.example", "192.0.2.2");
    const ClientName n = look_up(dns, "192.0.2.2");
    EXPECT_EQ(n.name, "mail.client.example");
    EXPECT_EQ(n.reason, "");
    EXPECT_EQ(dns.asked, (std::vector<std::string>{"PTR 2.2.0.192.in-addr.arpa", "A mail.client.example"}));
}

TEST(ClientName, Ipv6IsConfirmedByAaaa_Rfc3596) {
    MemoryDns dns;
    dns.add(DnsType::Ptr, ip("2001:db8::25").reverse_name(), "mx.client.example");
    dns.add(DnsType::A, "mx.client.example", "192.0.2.25");
    dns.add(DnsType::Aaaa, "mx.client.example", "2001:db8::25");
    EXPECT_EQ(look_up(dns, "2001:db8::25").name, "mx.client.example");
    EXPECT_EQ(dns.asked.back(), "AAAA mx.client.example");
}

TEST(ClientName, NoPtrIsNoName) {
    MemoryDns dns;  // NXDOMAIN
    EXPECT_EQ(look_up(dns, "192.0.2.2").reason, "no PTR");
    dns.add(DnsType::Txt, "2.2.0.192.in-addr.arpa", "x");  // the name exists: NODATA
    const ClientName n = look_up(dns, "192.0.2.2");
    EXPECT_EQ(n.name, "");
    EXPECT_EQ(n.reason, "no PTR");
}

TEST(ClientName, PtrWhoseAddressesDoNotHoldTheClientIsNotConfirmed) {
    MemoryDns dns;
    dns.add(DnsType::Ptr, "2.2.0.192.in-addr.arpa", "bank.example");
    dns.add(DnsType::A, "bank.example", "198.51.100.1");
    const ClientName n = look_up(dns, "192.0.2.2");
    EXPECT_EQ(n.name, "");
    EXPECT_EQ(n.reason, "PTR bank.example not confirmed");
}

TEST(ClientName, FirstConfirmedOfSeveralInAnswerOrderAndNoFurtherQuery) {
    MemoryDns dns;
    for (const char* name : {"a.example", "b.example", "c.example"}) dns.add(DnsType::Ptr, "2.2.0.192.in-addr.arpa", name);
    dns.add(DnsType::A, "a.example", "198.51.100.1");
    dns.add(DnsType::A, "b.example", "192.0.2.2");
    dns.add(DnsType::A, "c.example", "192.0.2.2");
    EXPECT_EQ(look_up(dns, "192.0.2.2").name, "b.example");
    EXPECT_EQ(dns.asked.back(), "A b.example");
    EXPECT_EQ(dns.queries, 3);
}

TEST(ClientName, AtMostTenPtrNamesAreTried) {
    MemoryDns dns;
    for (int i = 0; i < 15; ++i) dns.add(DnsType::Ptr, "2.2.0.192.in-addr.arpa", "n" + std::to_string(i) + ".example");
    dns.add(DnsType::A, "n12.example", "192.0.2.2");
    const ClientName n = look_up(dns, "192.0.2.2");
    EXPECT_EQ(n.name, "");
    EXPECT_EQ(n.reason, "PTR n0.example and 9 more not confirmed");
    EXPECT_EQ(dns.queries, 1 + 10);
}

TEST(ClientName, PtrTempFailureIsALookupFailure) {
    MemoryDns dns;
    dns.fail(DnsType::Ptr, "2.2.0.192.in-addr.arpa");
    const ClientName n = look_up(dns, "192.0.2.2");
    EXPECT_EQ(n.name, "");
    EXPECT_EQ(n.reason, "lookup failed: PTR: SERVFAIL (test)");
}

TEST(ClientName, ForwardTempFailureIsALookupFailureNotADenial) {
    MemoryDns dns;
    dns.add(DnsType::Ptr, "2.2.0.192.in-addr.arpa", "slow.example");
    dns.fail(DnsType::A, "slow.example");
    EXPECT_EQ(look_up(dns, "192.0.2.2").reason, "lookup failed: A slow.example: SERVFAIL (test)");
    // A later name that confirms still wins.
    dns.add(DnsType::Ptr, "2.2.0.192.in-addr.arpa", "fine.example");
    dns.add(DnsType::A, "fine.example", "192.0.2.2");
    EXPECT_EQ(look_up(dns, "192.0.2.2").name, "fine.example");
}

// What a PTR says is not shown, nor asked, unless it is a host name fit for Received (RFC 5321
// 4.4): a zone owner can publish any octets there.
TEST(ClientName, PtrThatIsNoHostNameIsNeitherAskedNorShown) {
    MemoryDns dns;
    dns.add(DnsType::Ptr, "2.2.0.192.in-addr.arpa", "evil\r\nX-Injected: yes.example");
    dns.add(DnsType::Ptr, "2.2.0.192.in-addr.arpa", "192.0.2.2");
    dns.add(DnsType::A, "192.0.2.2", "192.0.2.2");
    const ClientName n = look_up(dns, "192.0.2.2");
    EXPECT_EQ(n.name, "");
    EXPECT_EQ(n.reason, "PTR is no host name");
    EXPECT_EQ(dns.queries, 1);
}

TEST(ClientName, CandidatesAreNormalisedAndEachOnce) {
    DnsAnswer ptr{DnsStatus::Ok, {"A.Example.", "a.example", "under_score.example", "b.example"}, 300, {}};
    EXPECT_EQ(client_name_candidates(ptr), (std::vector<std::string>{"a.example", "b.example"}));
    EXPECT_TRUE(client_name_candidates(DnsAnswer{DnsStatus::NxDomain, {}, 0, {}}).empty());
}

TEST(ClientName, DecisionStopsWhereTheAnswersStop) {
    const DnsAnswer ptr{DnsStatus::Ok, {"a.example", "b.example"}, 300, {}};
    const std::vector<std::string> candidates{"a.example", "b.example"};
    const DnsAnswer wrong{DnsStatus::Ok, {"198.51.100.1"}, 300, {}};
    const DnsAnswer right{DnsStatus::Ok, {"192.0.2.2"}, 300, {}};
    EXPECT_EQ(decide_client_name(ip("192.0.2.2"), ptr, candidates, {}).name, "");
    EXPECT_EQ(decide_client_name(ip("192.0.2.2"), ptr, candidates, {wrong, right}).name, "b.example");
    EXPECT_EQ(decide_client_name(ip("192.0.2.2"), ptr, candidates, {right, wrong}).name, "a.example");
    EXPECT_EQ(decide_client_name(ip("192.0.2.2"), ptr, candidates, {wrong, wrong}).reason,
              "PTR a.example and 1 more not confirmed");
}

TEST(ClientName, AnswersDeferredAsFromAResolverThread) {
    MemoryDns dns;
    dns.deferred = true;
    dns.add(DnsType::Ptr, "2.2.0.192.in-addr.arpa", "later.example");
    dns.add(DnsType::A, "later.example", "192.0.2.2");
    std::string name;
    look_up_client_name(dns, ip("192.0.2.2"), [&](ClientName n) { name = n.name; });
    EXPECT_EQ(name, "");
    EXPECT_EQ(dns.run(), 2);
    EXPECT_EQ(name, "later.example");
}

}  // namespace
}  // namespace ehlo::msgauth
