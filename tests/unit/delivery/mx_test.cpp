// MX ordering (RFC 5321 5.1) and null MX (RFC 7505).
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "delivery/mx.hpp"

namespace ehlo::delivery {
namespace {

using Hosts = std::vector<std::string>;
const std::vector<std::string> kLocal = {"relay.example.org"};

MxRoute order(std::vector<MxRecord> records, unsigned seed = 1, std::string_view domain = "example.net",
              const std::vector<std::string>& local = kLocal) {
    std::mt19937 rng(seed);
    return order_mx(domain, std::move(records), local, rng);
}

// RFC 5321 5.1: lower preference first.
TEST(Mx, LowestPreferenceFirst_Rfc5321_5_1) {
    const MxRoute r = order({{20, "b.example.net"}, {10, "a.example.net."}, {30, "C.Example.Net"}});
    EXPECT_FALSE(r.error);
    EXPECT_EQ(r.hosts, (Hosts{"a.example.net", "b.example.net", "c.example.net"}));
}

// RFC 5321 5.1: hosts of equal preference are tried in random order, the same for the same seed.
TEST(Mx, EqualPreferencesShuffledDeterministicallyPerSeed_Rfc5321_5_1) {
    const std::vector<MxRecord> records = {{10, "a"}, {10, "b"}, {10, "c"}, {5, "first"}, {20, "last"}};
    std::set<Hosts> orders;
    for (unsigned seed = 0; seed < 50; ++seed) {
        const MxRoute r = order(records, seed);
        ASSERT_EQ(r.hosts.size(), 5u);
        EXPECT_EQ(r.hosts.front(), "first");
        EXPECT_EQ(r.hosts.back(), "last");
        EXPECT_EQ(std::set<std::string>(r.hosts.begin() + 1, r.hosts.end() - 1), (std::set<std::string>{"a", "b", "c"}));
        EXPECT_EQ(order(records, seed).hosts, r.hosts);  // deterministic
        orders.insert(r.hosts);
    }
    EXPECT_EQ(orders.size(), 6u);  // every order of a, b, c occurs
}

// RFC 5321 5.1: no MX records: the domain itself is the implicit MX.
TEST(Mx, NoRecordsMeansImplicitMx_Rfc5321_5_1) {
    const MxRoute r = order({}, 1, "Example.NET.");
    EXPECT_FALSE(r.error);
    EXPECT_EQ(r.hosts, Hosts{"example.net"});
}

// RFC 7505 3 and 4.2: a lone MX "." says the domain takes no mail: 556 5.1.10 at once.
TEST(Mx, NullMxIsAPermanentFailure_Rfc7505_4_2) {
    const MxRoute r = order({{0, "."}});
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->code, 556);
    EXPECT_EQ(r.error->enhanced, "5.1.10");
    EXPECT_TRUE(r.hosts.empty());
    EXPECT_TRUE(order({{0, ""}}).error);
}

TEST(Mx, DotAmongOtherRecordsIsDropped_Rfc7505_3) {
    const MxRoute r = order({{0, "."}, {10, "mx.example.net"}});
    EXPECT_FALSE(r.error);
    EXPECT_EQ(r.hosts, Hosts{"mx.example.net"});
}

TEST(Mx, HostListedTwiceIsTriedOnceAtItsBestPreference) {
    const MxRoute r = order({{30, "a.example.net"}, {20, "b.example.net"}, {10, "A.example.net."}});
    EXPECT_EQ(r.hosts, (Hosts{"a.example.net", "b.example.net"}));
}

// RFC 5321 5.1: a client that finds itself among the MX hosts drops itself and every host of
// equal or greater preference.
TEST(Mx, OwnNameCutsItselfAndWorsePreferences_Rfc5321_5_1) {
    const MxRoute r =
        order({{10, "mx1.example.net"}, {20, "backup.example.net"}, {20, "Relay.Example.Org."}, {30, "mx3"}});
    EXPECT_FALSE(r.error);
    EXPECT_EQ(r.hosts, Hosts{"mx1.example.net"});
}

// RFC 5321 5.1: nothing left after the cut is a loop (RFC 3463 5.4.6).
TEST(Mx, OwnNameAtBestPreferenceIsALoop_Rfc5321_5_1) {
    MxRoute r = order({{10, "relay.example.org"}, {20, "mx.example.net"}});
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->code, 554);
    EXPECT_EQ(r.error->enhanced, "5.4.6");
    EXPECT_TRUE(r.hosts.empty());
    r = order({}, 1, "relay.example.org");  // the implicit MX is ourselves
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->enhanced, "5.4.6");
}

}  // namespace
}  // namespace ehlo::delivery
