// The MX resolver (RFC 5321 5.1, RFC 7505) against a real DNS server on loopback (unbound, see
// dns_test_server.hpp), and the DNS rdata it reads (RFC 1035, RFC 3596) as hostile input.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>

#include <unistd.h>

#include "delivery/dns_wire.hpp"
#include "delivery/resolver.hpp"
#include "dns_test_server.hpp"

namespace ehlo::delivery {
namespace {

using Status = RouteLookup::Status;
using Bytes = std::vector<unsigned char>;
using Clock = std::chrono::steady_clock;

constexpr auto kAnswerWait = std::chrono::seconds(20);  // bound on waiting for any one callback

std::vector<std::string> zone() {
    std::vector<std::string> z = {
        "pref.example. MX 20 mx20.pref.example.",
        "pref.example. MX 10 mx10.pref.example.",
        "pref.example. MX 30 MX30.Pref.Example.",
        "mx10.pref.example. A 127.0.0.10",
        "mx20.pref.example. A 127.0.0.20",
        "mx20.pref.example. AAAA ::1",
        "mx30.pref.example. AAAA ::1",
        "equal.example. MX 10 one.equal.example.",
        "equal.example. MX 10 two.equal.example.",
        "equal.example. MX 5 first.equal.example.",
        "first.equal.example. A 127.0.0.13",
        "one.equal.example. A 127.0.0.11",
        "two.equal.example. A 127.0.0.12",
        "plain.example. A 127.0.0.5",
        "plain.example. AAAA ::1",
        "v6only.example. AAAA ::1",
        "null.example. MX 0 .",
        "bare.example. TXT \"no mail here\"",
        "skip.example. MX 10 noaddr.skip.example.",
        "skip.example. MX 20 ok.skip.example.",
        "ok.skip.example. A 127.0.0.7",
        "dead.example. MX 10 gone.dead.example.",
        "dead.example. MX 20 gone2.dead.example.",
        "flaky.example. MX 10 mx.refused.example.",
        "flaky.example. MX 20 ok.skip.example.",
        "broken.example. MX 10 mx.refused.example.",
        "loop.example. MX 10 relay.loop.example.",
        "loop.example. MX 20 backup.loop.example.",
        "relay.loop.example. A 127.0.0.8",
        "backup.loop.example. A 127.0.0.9",
        "dup.example. MX 20 mx.dup.example.",
        "dup.example. MX 10 MX.dup.example.",
        "mx.dup.example. A 127.0.0.6",
    };
    for (int i = 0; i < 15; ++i) {  // more MX hosts than kMaxMxHosts
        z.push_back("many.example. MX " + std::to_string(i) + " h" + std::to_string(i) + ".many.example.");
        z.push_back("h" + std::to_string(i) + ".many.example. A 127.0.1." + std::to_string(i + 1));
    }
    for (int i = 1; i <= 15; ++i) z.push_back("wide.example. A 127.0.2." + std::to_string(i));  // > kMaxAddressesPerHost
    for (int i = 0; i < 200; ++i)
        z.push_back("h" + std::to_string(i) + ".bulk.example. A 127.0.3." + std::to_string(i % 250 + 1));
    return z;
}

template <typename Start>
RouteLookup wait_for(Start start) {
    auto promise = std::make_shared<std::promise<RouteLookup>>();
    auto future = promise->get_future();
    start([promise](RouteLookup r) { promise->set_value(std::move(r)); });
    if (future.wait_for(kAnswerWait) != std::future_status::ready) {
        ADD_FAILURE() << "no answer within " << kAnswerWait.count() << " s";
        return {};
    }
    return future.get();
}

RouteLookup mx(Resolver& resolver, std::string domain) {
    return wait_for([&](Resolver::Done done) { resolver.lookup_mx(std::move(domain), std::move(done)); });
}

RouteLookup addresses(Resolver& resolver, std::string host) {
    return wait_for([&](Resolver::Done done) { resolver.lookup_addresses(std::move(host), std::move(done)); });
}

std::vector<std::string> hosts(const RouteLookup& r) {
    std::vector<std::string> out;
    for (const NextHop& h : r.hops) out.push_back(h.host);
    return out;
}

std::vector<std::string> ips(const NextHop& hop) {
    std::vector<std::string> out;
    for (const Address& a : hop.addresses) out.push_back(a.ip);
    return out;
}

ResolverOptions options_for(const std::string& forwarder, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    ResolverOptions o;
    o.forwarders = {forwarder};
    o.timeout = timeout;
    return o;
}

class ResolverTest : public ::testing::Test {
protected:
    testing::DnsTestServer dns{zone(), {"refused.example."}};
    Resolver resolver{options_for(dns.forwarder())};
};

// RFC 5321 5.1: hosts in order of preference, lowest first, each with its addresses.
TEST_F(ResolverTest, MxHostsLowestPreferenceFirst_Rfc5321_5_1) {
    const RouteLookup r = mx(resolver, "pref.example");
    ASSERT_EQ(r.status, Status::Ok) << r.error;
    EXPECT_FALSE(r.reply);
    ASSERT_EQ(hosts(r), (std::vector<std::string>{"mx10.pref.example", "mx20.pref.example", "mx30.pref.example"}));
    EXPECT_EQ(r.hops[0].preference, 10);
    EXPECT_EQ(r.hops[1].preference, 20);
    EXPECT_EQ(r.hops[2].preference, 30);
    EXPECT_EQ(ips(r.hops[0]), (std::vector<std::string>{"127.0.0.10"}));
    EXPECT_FALSE(r.hops[0].addresses[0].v6);
    EXPECT_EQ(ips(r.hops[1]), (std::vector<std::string>{"127.0.0.20", "::1"}));  // IPv4 first by default
    EXPECT_TRUE(r.hops[1].addresses[1].v6);
    EXPECT_EQ(ips(r.hops[2]), (std::vector<std::string>{"::1"}));
    EXPECT_FALSE(r.secure);  // no DNSSEC asked for
}

// RFC 5321 5.1: equal preferences in random order; lower ones still first.
TEST_F(ResolverTest, EqualPreferencesInRandomOrder_Rfc5321_5_1) {
    std::set<std::vector<std::string>> orders;
    for (int i = 0; i < 40 && orders.size() < 2; ++i) {
        const RouteLookup r = mx(resolver, "equal.example");
        ASSERT_EQ(r.status, Status::Ok) << r.error;
        ASSERT_EQ(r.hops.size(), 3u);
        EXPECT_EQ(r.hops[0].host, "first.equal.example");
        orders.insert(hosts(r));
    }
    EXPECT_EQ(orders, (std::set<std::vector<std::string>>{{"first.equal.example", "one.equal.example", "two.equal.example"},
                                                          {"first.equal.example", "two.equal.example", "one.equal.example"}}));
}

// RFC 5321 5.1: no MX records: the domain itself, with its A and AAAA addresses.
TEST_F(ResolverTest, NoMxMeansTheDomainItself_Rfc5321_5_1) {
    const RouteLookup r = mx(resolver, "Plain.Example.");
    ASSERT_EQ(r.status, Status::Ok) << r.error;
    ASSERT_EQ(r.hops.size(), 1u);
    EXPECT_EQ(r.hops[0].host, "plain.example");
    EXPECT_EQ(r.hops[0].preference, 0);
    EXPECT_EQ(ips(r.hops[0]), (std::vector<std::string>{"127.0.0.5", "::1"}));

    const RouteLookup v6 = mx(resolver, "v6only.example");
    ASSERT_EQ(v6.status, Status::Ok) << v6.error;
    ASSERT_EQ(v6.hops.size(), 1u);
    ASSERT_EQ(v6.hops[0].addresses.size(), 1u);
    EXPECT_EQ(v6.hops[0].addresses[0].ip, "::1");
    EXPECT_TRUE(v6.hops[0].addresses[0].v6);
}

TEST(Resolver, Ipv6FirstWhenPreferred) {
    testing::DnsTestServer dns{{"dual.example. A 127.0.0.5", "dual.example. AAAA ::1"}};
    ResolverOptions o = options_for(dns.forwarder());
    o.prefer_ipv6 = true;
    Resolver resolver(o);
    const RouteLookup r = mx(resolver, "dual.example");
    ASSERT_EQ(r.status, Status::Ok) << r.error;
    EXPECT_EQ(ips(r.hops.at(0)), (std::vector<std::string>{"::1", "127.0.0.5"}));
}

// RFC 7505 3 and 4.2: a null MX is a permanent 556 5.1.10 at once.
TEST_F(ResolverTest, NullMxIsPermanent_Rfc7505_4_2) {
    const RouteLookup r = mx(resolver, "null.example");
    EXPECT_EQ(r.status, Status::NullMx);
    ASSERT_TRUE(r.reply);
    EXPECT_EQ(r.reply->code, 556);
    EXPECT_EQ(r.reply->enhanced, "5.1.10");
    EXPECT_TRUE(r.hops.empty());
}

// RFC 3463 5.1.2: a domain that does not exist (NXDOMAIN) is a bad destination system.
TEST_F(ResolverTest, NxdomainIsNotFound_Rfc3463_5_1_2) {
    const RouteLookup r = mx(resolver, "nope.example");
    EXPECT_EQ(r.status, Status::NotFound);
    ASSERT_TRUE(r.reply);
    EXPECT_EQ(r.reply->code, 550);
    EXPECT_EQ(r.reply->enhanced, "5.1.2");
}

// RFC 5321 5.1: neither MX nor address: the implicit MX is unusable, reported as an error.
TEST_F(ResolverTest, DomainWithoutMxOrAddressIsNotFound_Rfc5321_5_1) {
    const RouteLookup r = mx(resolver, "bare.example");
    EXPECT_EQ(r.status, Status::NotFound) << r.error;
    ASSERT_TRUE(r.reply);
    EXPECT_EQ(r.reply->enhanced, "5.1.2");
}

// RFC 5321 5.1: an MX host without addresses is skipped.
TEST_F(ResolverTest, MxHostWithoutAddressIsSkipped_Rfc5321_5_1) {
    const RouteLookup r = mx(resolver, "skip.example");
    ASSERT_EQ(r.status, Status::Ok) << r.error;
    EXPECT_EQ(hosts(r), (std::vector<std::string>{"ok.skip.example"}));
    EXPECT_EQ(r.hops[0].preference, 20);
}

// RFC 5321 5.1 "none of them are usable": retried later, 4.4.3.
TEST_F(ResolverTest, NoMxHostWithAnAddressIsTemporary_Rfc5321_5_1) {
    const RouteLookup r = mx(resolver, "dead.example");
    EXPECT_EQ(r.status, Status::TempFail);
    ASSERT_TRUE(r.reply);
    EXPECT_EQ(r.reply->code, 451);
    EXPECT_EQ(r.reply->enhanced, "4.4.3");
}

// A failing address lookup for one MX host does not hide the others.
TEST_F(ResolverTest, ServfailForOneMxHostKeepsTheOthers) {
    const RouteLookup r = mx(resolver, "flaky.example");
    ASSERT_EQ(r.status, Status::Ok) << r.error;
    EXPECT_EQ(hosts(r), (std::vector<std::string>{"ok.skip.example"}));

    const RouteLookup broken = mx(resolver, "broken.example");
    EXPECT_EQ(broken.status, Status::TempFail);
}

// RFC 3463 4.4.3: the DNS server fails (REFUSED, seen as SERVFAIL): retry later.
TEST_F(ResolverTest, ServerFailureIsTemporary_Rfc3463_4_4_3) {
    const RouteLookup r = mx(resolver, "zone.refused.example");
    EXPECT_EQ(r.status, Status::TempFail);
    ASSERT_TRUE(r.reply);
    EXPECT_EQ(r.reply->enhanced, "4.4.3");
}

// RFC 5321 5.1: a host listed twice is tried once, at its lowest preference; names are
// case-insensitive.
TEST_F(ResolverTest, HostListedTwiceIsTriedOnce_Rfc5321_5_1) {
    const RouteLookup r = mx(resolver, "dup.example");
    ASSERT_EQ(r.status, Status::Ok) << r.error;
    ASSERT_EQ(hosts(r), (std::vector<std::string>{"mx.dup.example"}));
    EXPECT_EQ(r.hops[0].preference, 10);
}

// RFC 5321 5.1: this host in the list: it and everything at or above its preference go.
TEST(Resolver, OwnNameInMxListCutsThere_Rfc5321_5_1) {
    testing::DnsTestServer dns{zone()};
    ResolverOptions o = options_for(dns.forwarder());
    o.local_names = {"backup.loop.example"};
    {
        Resolver resolver(o);
        const RouteLookup r = mx(resolver, "loop.example");
        ASSERT_EQ(r.status, Status::Ok) << r.error;
        EXPECT_EQ(hosts(r), (std::vector<std::string>{"relay.loop.example"}));
    }
    o.local_names = {"relay.loop.example"};
    Resolver resolver(o);
    const RouteLookup r = mx(resolver, "loop.example");
    EXPECT_EQ(r.status, Status::Loop);
    ASSERT_TRUE(r.reply);
    EXPECT_EQ(r.reply->enhanced, "5.4.6");
}

// Limits: a zone with many MX hosts or addresses costs at most kMaxMxHosts hosts and
// kMaxAddressesPerHost addresses; the lowest preferences are kept.
TEST_F(ResolverTest, ManyMxHostsAndAddressesAreCapped) {
    const RouteLookup r = mx(resolver, "many.example");
    ASSERT_EQ(r.status, Status::Ok) << r.error;
    ASSERT_EQ(r.hops.size(), kMaxMxHosts);
    for (std::size_t i = 0; i < r.hops.size(); ++i) EXPECT_EQ(r.hops[i].preference, i);

    const RouteLookup wide = mx(resolver, "wide.example");
    ASSERT_EQ(wide.status, Status::Ok) << wide.error;
    EXPECT_EQ(wide.hops.at(0).addresses.size(), kMaxAddressesPerHost);
}

TEST_F(ResolverTest, AddressesOfOneHost) {
    const RouteLookup r = addresses(resolver, "plain.example");
    ASSERT_EQ(r.status, Status::Ok) << r.error;
    ASSERT_EQ(r.hops.size(), 1u);
    EXPECT_EQ(r.hops[0].host, "plain.example");
    EXPECT_EQ(ips(r.hops[0]), (std::vector<std::string>{"127.0.0.5", "::1"}));

    EXPECT_EQ(addresses(resolver, "nope.example").status, Status::NotFound);
    EXPECT_EQ(addresses(resolver, "bare.example").status, Status::NotFound);
    // An address lookup never looks at MX records.
    EXPECT_EQ(addresses(resolver, "pref.example").status, Status::NotFound);
    EXPECT_EQ(addresses(resolver, "mx.refused.example").status, Status::TempFail);
}

// Many lookups at once are all answered, each with its own result.
TEST_F(ResolverTest, TwoHundredConcurrentLookupsAllAnswered) {
    constexpr int kLookups = 200;
    std::mutex mutex;
    std::condition_variable cv;
    int answered = 0;
    int right = 0;
    for (int i = 0; i < kLookups; ++i) {
        const std::string expected = "127.0.3." + std::to_string(i % 250 + 1);
        resolver.lookup_mx("h" + std::to_string(i) + ".bulk.example", [&, expected](RouteLookup r) {
            std::lock_guard lock(mutex);
            ++answered;
            if (r.status == Status::Ok && r.hops.size() == 1 && ips(r.hops[0]) == std::vector<std::string>{expected})
                ++right;
            cv.notify_all();
        });
    }
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return answered == kLookups; })) << answered;
    EXPECT_EQ(right, kLookups);
}

// A callback may start the next lookup; one that throws does not stop the resolver.
TEST_F(ResolverTest, CallbacksMayChainAndMayThrow) {
    resolver.lookup_mx("pref.example", [](RouteLookup) { throw std::runtime_error("callback failed"); });
    const RouteLookup r = wait_for([&](Resolver::Done done) {
        resolver.lookup_mx("plain.example", [&, done](RouteLookup) { resolver.lookup_mx("pref.example", done); });
    });
    EXPECT_EQ(r.status, Status::Ok) << r.error;
    EXPECT_EQ(r.hops.size(), 3u);
}

// RFC 5321 4.1.3: an address literal is its own destination, without any DNS.
TEST(Resolver, AddressLiteralsNeedNoDns_Rfc5321_4_1_3) {
    Resolver resolver(options_for("127.0.0.1@" + std::to_string(testing::unused_loopback_port())));
    RouteLookup r = mx(resolver, "[127.0.0.1]");
    ASSERT_EQ(r.status, Status::Ok) << r.error;
    ASSERT_EQ(r.hops.size(), 1u);
    EXPECT_EQ(r.hops[0].host, "[127.0.0.1]");
    ASSERT_EQ(r.hops[0].addresses.size(), 1u);
    EXPECT_EQ(r.hops[0].addresses[0].ip, "127.0.0.1");
    EXPECT_FALSE(r.hops[0].addresses[0].v6);

    r = mx(resolver, "[IPv6:0:0:0:0:0:0:0:1]");
    ASSERT_EQ(r.status, Status::Ok) << r.error;
    EXPECT_EQ(r.hops.at(0).addresses.at(0).ip, "::1");
    EXPECT_TRUE(r.hops.at(0).addresses.at(0).v6);
    EXPECT_EQ(mx(resolver, "[ipv6:::1]").status, Status::Ok);
    EXPECT_EQ(addresses(resolver, "[192.0.2.1]").hops.at(0).addresses.at(0).ip, "192.0.2.1");

    for (const char* bad : {"[300.0.0.1]", "[127.0.0.01]", "[::1]", "[IPv6:127.0.0.1]", "[]", "[127.0.0.1",
                            "[x-tag:abc]", "[IPv6:1::2::3]"})
        EXPECT_EQ(mx(resolver, bad).status, Status::NotFound) << bad;
    EXPECT_EQ(mx(resolver, std::string("[127.0.0.1\0junk]", 16)).status, Status::NotFound);
}

// RFC 5321 4.1.2 and RFC 1035 2.3.4: a malformed domain is refused before any query.
TEST(Resolver, MalformedDomainsNeverReachTheDns_Rfc5321_4_1_2) {
    Resolver resolver(options_for("127.0.0.1@" + std::to_string(testing::unused_loopback_port())));
    const std::string label63(63, 'a');
    const std::vector<std::string> bad = {"", ".", "a..b", ".a.b", "-a.example", "a-.example", "a_b.example", "a b.example",
                                          "a\\.b.example", std::string("a\0b.example", 8), "\xc3\xa9.example",
                                          std::string(64, 'a') + ".example",
                                          label63 + "." + label63 + "." + label63 + "." + label63 + ".example"};
    for (const std::string& name : bad) {
        const RouteLookup r = mx(resolver, name);
        EXPECT_EQ(r.status, Status::NotFound) << name;
        ASSERT_TRUE(r.reply);
        EXPECT_EQ(r.reply->lines.at(0), "Not a valid domain");  // the name is not echoed
        EXPECT_EQ(addresses(resolver, name).status, Status::NotFound) << name;
    }
}

// RFC 3463 4.4.3: a DNS server that never answers: TempFail within the configured timeout.
TEST(Resolver, SilentServerTimesOut_Rfc3463_4_4_3) {
    testing::SilentDnsServer silent;
    const auto timeout = std::chrono::milliseconds(1500);
    Resolver resolver(options_for(silent.forwarder(), timeout));
    const auto started = Clock::now();
    const RouteLookup r = mx(resolver, "pref.example");
    const auto elapsed = Clock::now() - started;
    EXPECT_EQ(r.status, Status::TempFail);
    ASSERT_TRUE(r.reply);
    EXPECT_EQ(r.reply->enhanced, "4.4.3");
    EXPECT_GE(elapsed, timeout - std::chrono::milliseconds(50));
    EXPECT_LT(elapsed, timeout + std::chrono::seconds(1));
    EXPECT_EQ(addresses(resolver, "plain.example").status, Status::TempFail);
}

// RFC 3463 4.4.3: a DNS server that is down: TempFail, at the latest at the timeout.
TEST(Resolver, ServerDownIsTemporary_Rfc3463_4_4_3) {
    const auto timeout = std::chrono::milliseconds(1500);
    Resolver resolver(options_for("127.0.0.1@" + std::to_string(testing::unused_loopback_port()), timeout));
    const auto started = Clock::now();
    const RouteLookup r = mx(resolver, "pref.example");
    EXPECT_EQ(r.status, Status::TempFail);
    EXPECT_LT(Clock::now() - started, timeout + std::chrono::seconds(1));
}

// A server stopped while answering (the test server killed mid-run): later lookups TempFail.
TEST(Resolver, ServerGoneAfterAnsweringIsTemporary) {
    testing::DnsTestServer dns{zone()};
    Resolver resolver(options_for(dns.forwarder(), std::chrono::milliseconds(1500)));
    ASSERT_EQ(mx(resolver, "pref.example").status, Status::Ok);
    dns.stop();
    EXPECT_EQ(mx(resolver, "plain.example").status, Status::TempFail);
}

// stop() ends pending lookups with a TempFail; a lookup after it fails at once.
TEST(Resolver, StopAnswersEveryPendingLookup) {
    testing::SilentDnsServer silent;
    Resolver resolver(options_for(silent.forwarder(), std::chrono::seconds(60)));
    std::atomic<int> temp_failed{0};
    for (int i = 0; i < 5; ++i)
        resolver.lookup_mx("pref.example", [&](RouteLookup r) {
            if (r.status == Status::TempFail) ++temp_failed;
        });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto started = Clock::now();
    resolver.stop();
    EXPECT_LT(Clock::now() - started, std::chrono::seconds(2));
    EXPECT_EQ(temp_failed.load(), 5);

    bool called = false;
    resolver.lookup_mx("pref.example", [&](RouteLookup r) {
        called = true;
        EXPECT_EQ(r.status, Status::TempFail);
    });
    EXPECT_TRUE(called);
    resolver.stop();  // again: harmless
}

// DNSSEC on: the test zone is unsigned below the signed root, so its answers cannot be
// validated; a bogus answer is never used as a route (TempFail), and nothing is secure.
TEST(Resolver, DnssecBogusAnswerIsTemporary) {
    ResolverOptions o;
    if (::access(o.trust_anchor_file.c_str(), R_OK) != 0) GTEST_SKIP() << "no " << o.trust_anchor_file;
    testing::DnsTestServer dns{zone()};
    o = options_for(dns.forwarder(), std::chrono::seconds(5));
    o.dnssec = true;
    Resolver resolver(o);
    const RouteLookup r = mx(resolver, "pref.example");
    EXPECT_EQ(r.status, Status::TempFail) << r.error;
    EXPECT_NE(r.error.find("bogus"), std::string::npos) << r.error;
    EXPECT_FALSE(r.secure);
    EXPECT_EQ(addresses(resolver, "plain.example").status, Status::TempFail);
}

// ---- query(): one question of any type, raw rdata back (message authentication's DNS) ----

RawAnswer raw(Resolver& resolver, std::string name, std::uint16_t type) {
    auto promise = std::make_shared<std::promise<RawAnswer>>();
    auto future = promise->get_future();
    resolver.query(std::move(name), type, [promise](RawAnswer a) { promise->set_value(std::move(a)); });
    if (future.wait_for(kAnswerWait) != std::future_status::ready) {
        ADD_FAILURE() << "no answer within " << kAnswerWait.count() << " s";
        return {};
    }
    return future.get();
}

constexpr std::uint16_t kTxt = 16;  // RFC 1035 3.2.2
constexpr std::uint16_t kPtr = 12;

TEST(ResolverQuery, TxtRecordsWithTtlAndUnderscoreNames_Rfc1035_3_3_14) {
    testing::DnsTestServer dns{{"_dmarc.mail.example. 600 TXT \"v=DMARC1; p=reject\"",
                                "split.example. TXT \"v=spf1 \" \"-all\"",
                                "1.0.0.5.in-addr.arpa. PTR host.mail.example.",
                                "mail.example. A 127.0.0.5"}};
    Resolver resolver(options_for(dns.forwarder()));
    RawAnswer a = raw(resolver, "_dmarc.mail.example", kTxt);
    ASSERT_EQ(a.status, RawAnswer::Status::Ok) << a.error;
    ASSERT_EQ(a.rdata.size(), 1u);
    EXPECT_EQ(dns::parse_txt(std::span(reinterpret_cast<const unsigned char*>(a.rdata[0].data()), a.rdata[0].size())),
              "v=DMARC1; p=reject");
    EXPECT_GT(a.ttl, 500u);
    EXPECT_LE(a.ttl, 600u);
    a = raw(resolver, "split.example", kTxt);
    ASSERT_EQ(a.status, RawAnswer::Status::Ok);
    EXPECT_EQ(dns::parse_txt(std::span(reinterpret_cast<const unsigned char*>(a.rdata[0].data()), a.rdata[0].size())),
              "v=spf1 -all");  // RFC 7208 3.3: the strings joined
    a = raw(resolver, "1.0.0.5.in-addr.arpa", kPtr);
    ASSERT_EQ(a.status, RawAnswer::Status::Ok);
    EXPECT_EQ(dns::parse_name(std::span(reinterpret_cast<const unsigned char*>(a.rdata[0].data()), a.rdata[0].size())),
              "host.mail.example");
    EXPECT_EQ(raw(resolver, "mail.example", kTxt).status, RawAnswer::Status::NoData);
    EXPECT_EQ(raw(resolver, "nope.mail.example", kTxt).status, RawAnswer::Status::NxDomain);
    EXPECT_EQ(raw(resolver, "a b.example", kTxt).status, RawAnswer::Status::NxDomain);  // never asked
    // The route lookups are unchanged beside it.
    EXPECT_EQ(mx(resolver, "mail.example").status, Status::Ok);
}

// A DNS timeout is a temporary error, never a hang; stop() answers pending questions.
TEST(ResolverQuery, SilentServerIsTempFailWithinTheTimeout_Rfc3463_4_4_3) {
    testing::SilentDnsServer silent;
    const auto timeout = std::chrono::milliseconds(1000);
    Resolver resolver(options_for(silent.forwarder(), timeout));
    const auto started = Clock::now();
    const RawAnswer a = raw(resolver, "x.example", kTxt);
    EXPECT_EQ(a.status, RawAnswer::Status::TempFail);
    EXPECT_NE(a.error.find("timed out"), std::string::npos) << a.error;
    EXPECT_LT(Clock::now() - started, timeout + std::chrono::seconds(1));

    Resolver slow(options_for(silent.forwarder(), std::chrono::seconds(60)));
    std::atomic<int> failed{0};
    slow.query("y.example", kTxt, [&](RawAnswer r) { failed += r.status == RawAnswer::Status::TempFail; });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    slow.stop();
    EXPECT_EQ(failed.load(), 1);
    slow.query("z.example", kTxt, [&](RawAnswer r) { failed += r.status == RawAnswer::Status::TempFail; });
    EXPECT_EQ(failed.load(), 2);
}

TEST(DnsWire, TxtAndNameRdata_Rfc1035_3_3) {
    EXPECT_EQ(dns::parse_txt(Bytes{2, 'a', 'b', 0, 1, 'c'}), "abc");
    EXPECT_FALSE(dns::parse_txt(Bytes{3, 'a', 'b'}));
    EXPECT_FALSE(dns::parse_txt(Bytes{}));
    EXPECT_EQ(dns::parse_name(Bytes{1, 'a', 2, '_', 'b', 0}), "a._b");
    EXPECT_FALSE(dns::parse_name(Bytes{1, 'a'}));
    EXPECT_FALSE(dns::parse_name(Bytes{1, '\n', 0}));
    EXPECT_FALSE(dns::parse_name(Bytes{0}));
    EXPECT_FALSE(dns::parse_name(Bytes{1, 'a', 0, 0}));
}

TEST(Resolver, MalformedForwarderIsAConfigurationError) {
    EXPECT_THROW(Resolver(options_for("not an address")), std::runtime_error);
}

// The test server itself: killed when it goes, port free again.
TEST(DnsTestServer, AnswersAndIsGoneAfterwards) {
    std::uint16_t port = 0;
    {
        testing::DnsTestServer dns{{"x.example. A 127.0.0.1"}};
        port = dns.port();
        EXPECT_TRUE(testing::dns_answers(port, std::chrono::seconds(1)));
        EXPECT_NE(dns.config().find("local-data: \"x.example. A 127.0.0.1\""), std::string::npos);
    }
    EXPECT_FALSE(testing::dns_answers(port, std::chrono::milliseconds(200)));
}

// ---- rdata, as it comes off the network (RFC 1035 3.3.9, 3.4.1; RFC 3596 2.2) ----

Bytes mx_rdata(std::uint16_t preference, const Bytes& name) {
    Bytes b = {static_cast<unsigned char>(preference >> 8), static_cast<unsigned char>(preference & 0xff)};
    b.insert(b.end(), name.begin(), name.end());
    return b;
}

const Bytes kMxName = {2, 'm', 'x', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};

TEST(DnsWire, MxRecord_Rfc1035_3_3_9) {
    const auto r = dns::parse_mx(mx_rdata(0x0102, kMxName));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->preference, 0x0102);
    EXPECT_EQ(r->host, "mx.example");
}

// RFC 7505 3: the null MX, preference 0 and the root name.
TEST(DnsWire, NullMxIsTheRoot_Rfc7505_3) {
    const auto r = dns::parse_mx(mx_rdata(0, {0}));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->host, ".");
}

TEST(DnsWire, MalformedMxRefused_Rfc1035_4_1_4) {
    EXPECT_FALSE(dns::parse_mx({}));
    EXPECT_FALSE(dns::parse_mx(Bytes{0, 10}));                             // no name
    EXPECT_FALSE(dns::parse_mx(mx_rdata(10, {2, 'm', 'x'})));              // no root label
    EXPECT_FALSE(dns::parse_mx(mx_rdata(10, {5, 'm', 'x', 0})));           // label past the end
    EXPECT_FALSE(dns::parse_mx(mx_rdata(10, {2, 'm', 'x', 0, 0})));        // bytes after the name
    EXPECT_FALSE(dns::parse_mx(mx_rdata(10, {2, 'm', 'x', 0xc0, 0x0c})));  // compression pointer
    EXPECT_FALSE(dns::parse_mx(mx_rdata(10, {0xc0, 0x02})));
    EXPECT_FALSE(dns::parse_mx(mx_rdata(10, {0x41, 'x', 0})));             // extended label type
    EXPECT_FALSE(dns::parse_mx(mx_rdata(10, {3, 'a', '.', 'b', 0})));      // '.' inside a label
    EXPECT_FALSE(dns::parse_mx(mx_rdata(10, {3, 'a', 0, 'b', 0})));        // NUL inside a label
    EXPECT_FALSE(dns::parse_mx(mx_rdata(10, {3, 'a', '_', 'b', 0})));      // not a host name
    EXPECT_FALSE(dns::parse_mx(mx_rdata(10, {1, '-', 0})));

    Bytes label64 = {64};
    label64.insert(label64.end(), 64, 'a');
    label64.push_back(0);
    EXPECT_FALSE(dns::parse_mx(mx_rdata(10, label64)));  // RFC 1035 2.3.4: 63 octets a label

    Bytes long_name;  // 5 labels of 63: 321 octets, over the 255 of RFC 1035 2.3.4
    for (int i = 0; i < 5; ++i) {
        long_name.push_back(63);
        long_name.insert(long_name.end(), 63, 'a');
    }
    long_name.push_back(0);
    EXPECT_FALSE(dns::parse_mx(mx_rdata(10, long_name)));

    Bytes longest;  // 253 characters of text, 255 octets of wire: the longest allowed
    for (int i = 0; i < 3; ++i) {
        longest.push_back(63);
        longest.insert(longest.end(), 63, 'a');
    }
    longest.push_back(61);
    longest.insert(longest.end(), 61, 'b');
    longest.push_back(0);
    ASSERT_EQ(longest.size(), dns::kMaxNameWire);
    const auto r = dns::parse_mx(mx_rdata(10, longest));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->host.size(), dns::kMaxNameText);
}

TEST(DnsWire, AddressRecordsHaveExactLengths_Rfc1035_3_4_1_Rfc3596_2_2) {
    EXPECT_EQ(dns::parse_a(Bytes{192, 0, 2, 1}), "192.0.2.1");
    EXPECT_FALSE(dns::parse_a(Bytes{192, 0, 2}));
    EXPECT_FALSE(dns::parse_a(Bytes{192, 0, 2, 1, 0}));
    Bytes v6(16, 0);
    v6[0] = 0x20;
    v6[1] = 0x01;
    v6[2] = 0x0d;
    v6[3] = 0xb8;
    v6[15] = 1;
    EXPECT_EQ(dns::parse_aaaa(v6), "2001:db8::1");  // RFC 5952 form
    EXPECT_FALSE(dns::parse_aaaa(Bytes(15, 0)));
    EXPECT_FALSE(dns::parse_aaaa(Bytes(17, 0)));
}

TEST(DnsWire, HostNames_Rfc5321_4_1_2) {
    for (const char* good : {"a", "a.b", "mx-1.example.org", "Example.ORG.", "1.2.3.example", "xn--bcher-kva.example"})
        EXPECT_TRUE(dns::is_host_name(good)) << good;
    for (const char* bad : {"", ".", "a..b", ".a", "a.b..", "-a", "a-", "a_b", "a b", "a/b", "a\\.b"})
        EXPECT_FALSE(dns::is_host_name(bad)) << bad;
    EXPECT_TRUE(dns::is_host_name(std::string(63, 'a')));
    EXPECT_FALSE(dns::is_host_name(std::string(64, 'a')));
}

}  // namespace
}  // namespace ehlo::delivery
