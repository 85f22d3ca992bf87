// RFC 5322 3.4 address lists, as `sendmail -t` reads To, Cc and Bcc.
#include "smtp/header_addresses.hpp"

#include <gtest/gtest.h>

using ehlo::smtp::header_addresses;
using List = std::vector<std::string>;

TEST(HeaderAddresses, Rfc5322_3_4_PlainAndNamed) {
    EXPECT_EQ(header_addresses(" a@example.org"), (List{"a@example.org"}));
    EXPECT_EQ(header_addresses(" Alice Example <alice@example.org>, bob@example.net"),
              (List{"alice@example.org", "bob@example.net"}));
    EXPECT_EQ(header_addresses(" \"Doe, John\" <john@example.org>"), (List{"john@example.org"}));
}

TEST(HeaderAddresses, Rfc5322_3_2_2_CommentsAndFolding) {
    EXPECT_EQ(header_addresses(" carol@example.org (Carol (the boss)),\r\n\tdave@example.org"),
              (List{"carol@example.org", "dave@example.org"}));
}

TEST(HeaderAddresses, Rfc5322_3_4_Groups) {
    EXPECT_EQ(header_addresses(" undisclosed-recipients:;"), List{});
    EXPECT_EQ(header_addresses(" team: a@x.example, B <b@y.example>; c@z.example"),
              (List{"a@x.example", "b@y.example", "c@z.example"}));
}

TEST(HeaderAddresses, Rfc5322_3_4_1_QuotedLocalPartAndLiteral) {
    EXPECT_EQ(header_addresses(" \"a b\"@example.org, x@[192.0.2.1]"),
              (List{"\"a b\"@example.org", "x@[192.0.2.1]"}));
}

TEST(HeaderAddresses, Rfc5322_4_4_ObsoleteRouteIgnored) {
    EXPECT_EQ(header_addresses(" <@relay.example:joe@example.org>"), (List{"joe@example.org"}));
}

TEST(HeaderAddresses, NotAnAddressList) {
    EXPECT_FALSE(header_addresses(" justaname"));
    EXPECT_FALSE(header_addresses(" <unclosed@example.org"));
    EXPECT_FALSE(header_addresses(" \"unclosed@example.org"));
    EXPECT_FALSE(header_addresses(" a@example.org (open comment"));
    EXPECT_FALSE(header_addresses(" @example.org"));
    EXPECT_FALSE(header_addresses(" a@"));
    EXPECT_FALSE(header_addresses(" a@b@c"));
    // RFC 5322 3.4.1: words side by side are no local part (a display name needs <...>).
    EXPECT_FALSE(header_addresses(" John Smith john@x.example"));
    EXPECT_FALSE(header_addresses(" \"a\" \"b\"@x.example"));
    EXPECT_FALSE(header_addresses(" a@\"quoted.domain\""));
}
