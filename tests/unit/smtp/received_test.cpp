// The Received: trace header of RFC 5321 4.4 and the date of RFC 5322 3.3.
#include <gtest/gtest.h>

#include "smtp/received.hpp"

namespace ehlo::smtp {
namespace {

ReceivedFields fields() {
    ReceivedFields f;
    f.helo = "client.example";
    f.client_address = "192.0.2.1";
    f.by_host = "mx.example";
    f.protocol = "ESMTP";
    f.queue_id = "0SD3XM5K2W8G0001";
    f.for_recipient = "alice@mx.example";
    f.date = "Thu, 01 Jan 1970 00:00:00 +0000";
    return f;
}

TEST(ReceivedHeader, FoldedStampWithForClause_Rfc5321_4_4) {
    EXPECT_EQ(received_header(fields()),
              "Received: from client.example ([192.0.2.1])\r\n"
              "\tby mx.example (ehlo) with ESMTP id 0SD3XM5K2W8G0001\r\n"
              "\tfor <alice@mx.example>; Thu, 01 Jan 1970 00:00:00 +0000\r\n");
}

TEST(ReceivedHeader, TlsNamesProtocolAndCipher_Rfc3848) {
    auto f = fields();
    f.protocol = "ESMTPS";
    f.tls = "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)";
    EXPECT_EQ(received_header(f),
              "Received: from client.example ([192.0.2.1])\r\n"
              "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"
              "\tby mx.example (ehlo) with ESMTPS id 0SD3XM5K2W8G0001\r\n"
              "\tfor <alice@mx.example>; Thu, 01 Jan 1970 00:00:00 +0000\r\n");
}

TEST(ReceivedHeader, WithoutRecipientTheDateEndsTheIdLine_Rfc5321_4_4) {
    auto f = fields();
    f.for_recipient.reset();
    EXPECT_EQ(received_header(f),
              "Received: from client.example ([192.0.2.1])\r\n"
              "\tby mx.example (ehlo) with ESMTP id 0SD3XM5K2W8G0001; Thu, 01 Jan 1970 00:00:00 +0000\r\n");
}

TEST(ReceivedHeader, Ipv6ClientIsAnIpv6AddressLiteral_Rfc5321_4_1_3) {
    auto f = fields();
    f.client_address = "2001:db8::1";
    EXPECT_NE(received_header(f).find("from client.example ([IPv6:2001:db8::1])\r\n"), std::string::npos);
}

TEST(ReceivedHeader, ConfirmedNameStandsBeforeTheAddress_Rfc5321_4_4) {
    auto f = fields();
    f.client_name = "mail.client.example";
    EXPECT_EQ(received_header(f),
              "Received: from client.example (mail.client.example [192.0.2.1])\r\n"
              "\tby mx.example (ehlo) with ESMTP id 0SD3XM5K2W8G0001\r\n"
              "\tfor <alice@mx.example>; Thu, 01 Jan 1970 00:00:00 +0000\r\n");
    f.client_address = "2001:db8::1";
    EXPECT_NE(received_header(f).find("(mail.client.example [IPv6:2001:db8::1])\r\n"), std::string::npos);
}

// RFC 5321 4.4: TCP-info = address-literal / ( Domain FWS address-literal ); what is not a
// Domain is left out, never cleaned into one.
TEST(ReceivedHeader, NameThatIsNoDomainIsLeftOut_Rfc5321_4_4) {
    for (const char* bad : {"evil\r\nX-Injected: yes", "a b.example", "under_score.example", "-lead.example",
                            "trail-.example", "dot..example", "trailing.dot.", "192.0.2.1", "[192.0.2.1]",
                            "ex\xc3\xa4mple.org"}) {
        auto f = fields();
        f.client_name = bad;
        const std::string h = received_header(f);
        EXPECT_EQ(h.substr(0, h.find("\r\n")), "Received: from client.example ([192.0.2.1])") << bad;
    }
}

TEST(ClientHostName, LetDigHyphenLabelsWithinTheDnsLimits_Rfc5321_4_1_2) {
    EXPECT_TRUE(is_client_host_name("localhost"));
    EXPECT_TRUE(is_client_host_name("mail-1.Client.example"));
    EXPECT_TRUE(is_client_host_name("xn--exmple-cua.org"));
    EXPECT_TRUE(is_client_host_name("1.2.3.4.dsl.example"));
    EXPECT_TRUE(is_client_host_name("host.123a"));
    EXPECT_FALSE(is_client_host_name(""));
    EXPECT_FALSE(is_client_host_name("1.2.3.4"));
    EXPECT_FALSE(is_client_host_name("host.example.123"));
    EXPECT_FALSE(is_client_host_name(std::string(64, 'a') + ".example"));  // a label over 63 octets
    EXPECT_TRUE(is_client_host_name(std::string(63, 'a') + ".example"));
    const std::string three_labels = std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + ".";
    EXPECT_TRUE(is_client_host_name(three_labels + std::string(61, 'd')));   // 253 octets
    EXPECT_FALSE(is_client_host_name(three_labels + std::string(62, 'd')));  // 254
}

TEST(ReceivedHeader, ControlCharactersCannotEndTheHeader) {
    auto f = fields();
    f.helo = "evil\r\nX-Injected: yes";
    f.for_recipient = "a\n@b";
    const std::string h = received_header(f);
    EXPECT_EQ(h.find("\r\nX-Injected"), std::string::npos);
    EXPECT_NE(h.find("evil??X-Injected: yes"), std::string::npos);
    EXPECT_NE(h.find("<a?@b>"), std::string::npos);
}

TEST(Rfc5322Date, Epoch_Rfc5322_3_3) { EXPECT_EQ(rfc5322_date(0, 0), "Thu, 01 Jan 1970 00:00:00 +0000"); }

TEST(Rfc5322Date, KnownInstants_Rfc5322_3_3) {
    EXPECT_EQ(rfc5322_date(1700000000, 0), "Tue, 14 Nov 2023 22:13:20 +0000");
    EXPECT_EQ(rfc5322_date(1709164800, 0), "Thu, 29 Feb 2024 00:00:00 +0000");  // leap day
    EXPECT_EQ(rfc5322_date(951782400, 0), "Tue, 29 Feb 2000 00:00:00 +0000");
    EXPECT_EQ(rfc5322_date(-1, 0), "Wed, 31 Dec 1969 23:59:59 +0000");
}

TEST(Rfc5322Date, ZoneOffsetShiftsTheLocalTime_Rfc5322_3_3) {
    EXPECT_EQ(rfc5322_date(1700000000, 90), "Tue, 14 Nov 2023 23:43:20 +0130");
    EXPECT_EQ(rfc5322_date(1700000000, 120), "Wed, 15 Nov 2023 00:13:20 +0200");
    EXPECT_EQ(rfc5322_date(0, -480), "Wed, 31 Dec 1969 16:00:00 -0800");
    EXPECT_EQ(rfc5322_date(0, -30), "Wed, 31 Dec 1969 23:30:00 -0030");
}

}  // namespace
}  // namespace ehlo::smtp

// RFC 5321 4.4: a message submitted on the host itself is traced too, by the user who sent it.
TEST(ReceivedHeader, LocalSubmissionNamesTheUserId_Rfc5321_4_4) {
    EXPECT_EQ(ehlo::smtp::local_received_header("mx.example.org", 1000, "0123456789ABCDEF",
                                                "Thu, 01 Jan 1970 00:00:00 +0000"),
              "Received: by mx.example.org (ehlo, from userid 1000)\r\n"
              "\tid 0123456789ABCDEF; Thu, 01 Jan 1970 00:00:00 +0000\r\n");
    // A host name cannot end the header and add one.
    EXPECT_EQ(ehlo::smtp::local_received_header("a\r\nX-Forged: 1", 0, "ID", "D"),
              "Received: by a??X-Forged: 1 (ehlo, from userid 0)\r\n\tid ID; D\r\n");
}
