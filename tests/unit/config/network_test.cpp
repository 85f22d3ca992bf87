#include <gtest/gtest.h>

#include "config/network.hpp"

namespace ehlo::config {
namespace {

IpAddress ip(std::string_view s) {
    auto a = parse_ip_address(s);
    EXPECT_TRUE(a) << s;
    return a.value_or(IpAddress{});
}

Network net(std::string_view s) {
    auto n = parse_network(s);
    EXPECT_TRUE(n.value) << s << ": " << n.error;
    return n.value.value_or(Network{});
}

TEST(IpAddress, ParsesBothFamilies) {
    EXPECT_EQ(ip("192.0.2.1").family, IpAddress::Family::V4);
    EXPECT_EQ(ip("2001:db8::1").family, IpAddress::Family::V6);
    EXPECT_EQ(ip("192.0.2.1").str(), "192.0.2.1");
    EXPECT_EQ(ip("2001:DB8:0::1").str(), "2001:db8::1");
}

TEST(IpAddress, V4MappedIsTheIpv4Address) {
    EXPECT_EQ(ip("::ffff:192.0.2.1"), ip("192.0.2.1"));
    EXPECT_EQ(ip("::FFFF:c000:0201"), ip("192.0.2.1"));
}

TEST(IpAddress, RejectsNonStrictForms) {
    for (const char* s : {"", "127.1", "0x7f.0.0.1", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4", "1.2.3.4:25", "[::1]",
                          "fe80::1%eth0", "localhost", "1.2.3.256"}) {
        EXPECT_FALSE(parse_ip_address(s)) << s;
    }
    EXPECT_FALSE(parse_ip_address(std::string_view("1.2.3.4\0junk", 12)));
}

TEST(Network, BareAddressIsAHostRoute) {
    EXPECT_EQ(net("192.0.2.7").prefix, 32u);
    EXPECT_EQ(net("::1").prefix, 128u);
}

TEST(Network, Contains) {
    const Network ten = net("10.0.0.0/8");
    EXPECT_TRUE(ten.contains(ip("10.255.1.2")));
    EXPECT_FALSE(ten.contains(ip("11.0.0.0")));
    EXPECT_FALSE(ten.contains(ip("::ffff:11.0.0.1")));
    EXPECT_TRUE(ten.contains(ip("::ffff:10.0.0.1")));
    EXPECT_FALSE(ten.contains(ip("a00::")));  // same leading bits, other family

    const Network doc = net("2001:db8::/32");
    EXPECT_TRUE(doc.contains(ip("2001:db8:ffff::1")));
    EXPECT_FALSE(doc.contains(ip("2001:db9::1")));

    const Network odd = net("192.0.2.128/25");
    EXPECT_TRUE(odd.contains(ip("192.0.2.200")));
    EXPECT_FALSE(odd.contains(ip("192.0.2.127")));

    EXPECT_TRUE(net("0.0.0.0/0").contains(ip("203.0.113.9")));
    EXPECT_FALSE(net("0.0.0.0/0").contains(ip("::2")));
    EXPECT_TRUE(net("::/0").contains(ip("::2")));
}

TEST(Network, V4MappedNetworkIsTheIpv4Network) {
    EXPECT_EQ(net("::ffff:10.0.0.0/104"), net("10.0.0.0/8"));
    EXPECT_TRUE(net("::ffff:0:0/96").contains(ip("198.51.100.1")));
}

TEST(Network, Errors) {
    EXPECT_NE(parse_network("10.0.0.1/8").error.find("did you mean '10.0.0.0/8'"), std::string::npos);
    EXPECT_NE(parse_network("2001:db8::1/32").error.find("did you mean '2001:db8::/32'"), std::string::npos);
    for (const char* s : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/08", "10.0.0.0/+8", "/8", "10/8",
                          "10.0.0.0/8/8", "10.0.0.0 /8", "10.0.0.0/1000"}) {
        EXPECT_FALSE(parse_network(s).value) << s;
        EXPECT_FALSE(parse_network(s).error.empty()) << s;
    }
}

TEST(ListenAddress, Forms) {
    auto v4 = parse_listen_address("0.0.0.0:25");
    ASSERT_TRUE(v4.value) << v4.error;
    EXPECT_EQ(*v4.value, (ListenAddress{"0.0.0.0", 25}));
    auto v6 = parse_listen_address("[::1]:2525");
    ASSERT_TRUE(v6.value) << v6.error;
    EXPECT_EQ(*v6.value, (ListenAddress{"::1", 2525}));
    for (const char* s : {"", ":25", "[]:25", "::1:25", "[::1]", "[::1]25", "127.0.0.1", "127.0.0.1:0",
                          "127.0.0.1:65536", "127.0.0.1:025", "host:25", "[fe80::1%lo]:25", "1.2.3.4:25 "}) {
        EXPECT_FALSE(parse_listen_address(s).value) << s;
    }
}

}  // namespace
}  // namespace ehlo::config
