// The DNS cache: answers kept for their TTL (RFC 1035 3.2.1, RFC 2308 5 for negative ones),
// temporary errors never kept, the size bounded.
#include <gtest/gtest.h>

#include "memory_dns.hpp"
#include "msgauth/dns_cache.hpp"

namespace ehlo::msgauth {
namespace {

DnsAnswer ask(DnsLookup& dns, DnsType type, const std::string& name) {
    DnsAnswer out;
    dns.query(type, name, [&](DnsAnswer a) { out = std::move(a); });
    return out;
}

TEST(DnsCache, AnswersLiveForTheirTtl_Rfc1035_3_2_1) {
    testing::MemoryDns upstream;
    upstream.add(DnsType::Txt, "a.example", "v=spf1 -all", 300);
    DnsCache cache;
    std::int64_t now = 1000;
    CachingDnsLookup dns(upstream, cache, [&] { return now; });
    EXPECT_EQ(ask(dns, DnsType::Txt, "a.example").records.at(0), "v=spf1 -all");
    now = 1299;
    const DnsAnswer hit = ask(dns, DnsType::Txt, "A.Example.");  // names are case-insensitive
    EXPECT_EQ(hit.status, DnsStatus::Ok);
    EXPECT_EQ(hit.ttl, 1u);  // what is left of it
    EXPECT_EQ(upstream.queries, 1);
    now = 1300;
    ask(dns, DnsType::Txt, "a.example");
    EXPECT_EQ(upstream.queries, 2);  // expired: asked again
    ask(dns, DnsType::A, "a.example");  // (name, type) is the key
    EXPECT_EQ(upstream.queries, 3);
}

// RFC 2308 5: NXDOMAIN and NODATA are cached (capped); temporary errors are not.
TEST(DnsCache, NegativeAnswersCachedTempErrorsNot_Rfc2308_5) {
    testing::MemoryDns upstream;
    upstream.fail(DnsType::Txt, "down.example");
    DnsCacheOptions o;
    o.max_negative_ttl = 30;
    DnsCache cache(o);
    std::int64_t now = 0;
    CachingDnsLookup dns(upstream, cache, [&] { return now; });
    EXPECT_EQ(ask(dns, DnsType::Txt, "none.example").status, DnsStatus::NxDomain);  // memory TTL 60, capped to 30
    EXPECT_EQ(ask(dns, DnsType::Txt, "none.example").status, DnsStatus::NxDomain);
    EXPECT_EQ(upstream.queries, 1);
    now = 30;
    ask(dns, DnsType::Txt, "none.example");
    EXPECT_EQ(upstream.queries, 2);
    EXPECT_EQ(ask(dns, DnsType::Txt, "down.example").status, DnsStatus::TempError);
    EXPECT_EQ(ask(dns, DnsType::Txt, "down.example").status, DnsStatus::TempError);
    EXPECT_EQ(upstream.queries, 4);
}

TEST(DnsCache, BoundedLeastRecentlyUsedGoesFirst) {
    DnsCacheOptions o;
    o.max_entries = 3;
    o.max_ttl = 100;
    DnsCache cache(o);
    const DnsAnswer a{DnsStatus::Ok, {"x"}, 1000000, {}};
    for (const char* n : {"1.example", "2.example", "3.example"}) cache.store(DnsType::A, n, a, 0);
    EXPECT_TRUE(cache.find(DnsType::A, "1.example", 1));  // now the most recent
    cache.store(DnsType::A, "4.example", a, 1);
    EXPECT_EQ(cache.size(), 3u);
    EXPECT_FALSE(cache.find(DnsType::A, "2.example", 1));
    EXPECT_TRUE(cache.find(DnsType::A, "1.example", 1));
    EXPECT_EQ(cache.find(DnsType::A, "4.example", 1)->ttl, 100u);  // max_ttl caps a week-long TTL
    EXPECT_FALSE(cache.find(DnsType::A, "4.example", 101));
    cache.store(DnsType::A, "zero.example", DnsAnswer{DnsStatus::Ok, {"x"}, 0, {}}, 1);
    EXPECT_FALSE(cache.find(DnsType::A, "zero.example", 1));
}

}  // namespace
}  // namespace ehlo::msgauth
