// The path grammar of RFC 5321 4.1.2 and 4.1.3, its limits (4.5.3.1) and UTF-8 (RFC 6531).
#include <gtest/gtest.h>

#include <string>

#include "smtp/address.hpp"

namespace ehlo::smtp {
namespace {

// A domain of exactly n octets, made of labels no longer than 51.
std::string domain_of(std::size_t n) {
    std::string s;
    while (n - s.size() > 51) s += std::string(50, 'a') + ".";
    s += std::string(n - s.size(), 'b');
    return s;
}

ParsedPath path(std::string_view in, bool allow_utf8 = false) { return parse_path(in, false, allow_utf8); }

bool accepted(std::string_view in, bool allow_utf8 = false) {
    const auto p = path(in, allow_utf8);
    return !p.error && p.mailbox && p.consumed == in.size();
}

PathError error_of(std::string_view in, bool allow_utf8 = false) {
    const auto p = path(in, allow_utf8);
    EXPECT_TRUE(p.error) << in;
    return p.error.value_or(PathError::Syntax);
}

TEST(PathGrammar, PlainMailboxIsSplitIntoLocalPartAndDomain_Rfc5321_4_1_2) {
    const auto p = path("<alice@example.org>");
    ASSERT_FALSE(p.error);
    EXPECT_EQ(p.mailbox->local_part, "alice");
    EXPECT_EQ(p.mailbox->domain, "example.org");
    EXPECT_EQ(p.consumed, 19u);
    EXPECT_EQ(p.mailbox->str(), "alice@example.org");
}

TEST(PathGrammar, ConsumedStopsAtTheClosingBracket) {
    const auto p = path("<a@b.c> SIZE=10");
    ASSERT_FALSE(p.error);
    EXPECT_EQ(p.consumed, 7u);
}

TEST(PathGrammar, NullReversePathOnlyWhereAllowed_Rfc5321_4_1_2) {
    const auto p = parse_path("<>", true, false);
    EXPECT_FALSE(p.error);
    EXPECT_FALSE(p.mailbox);
    EXPECT_EQ(p.consumed, 2u);
    EXPECT_TRUE(parse_path("<>", false, false).error);
}

TEST(PathGrammar, DotStringLocalParts_Rfc5321_4_1_2) {
    EXPECT_TRUE(accepted("<first.last@example.org>"));
    EXPECT_TRUE(accepted("<a!#$%&'*+-/=?^_`{|}~@example.org>"));
    EXPECT_FALSE(accepted("<.a@example.org>"));
    EXPECT_FALSE(accepted("<a.@example.org>"));
    EXPECT_FALSE(accepted("<a..b@example.org>"));
    EXPECT_FALSE(accepted("<a b@example.org>"));
    EXPECT_FALSE(accepted("<a(b)@example.org>"));
    EXPECT_FALSE(accepted("<a,b@example.org>"));
    EXPECT_FALSE(accepted("<@example.org>"));
}

TEST(PathGrammar, QuotedStringLocalPartsWithQuotedPairs_Rfc5321_4_1_2) {
    EXPECT_TRUE(accepted("<\"john doe\"@example.org>"));
    EXPECT_TRUE(accepted("<\"a@b>c\"@example.org>"));
    EXPECT_TRUE(accepted("<\"quote\\\"inside\"@example.org>"));
    EXPECT_TRUE(accepted("<\"back\\\\slash\"@example.org>"));
    EXPECT_TRUE(accepted("<\"\"@example.org>"));
    EXPECT_FALSE(accepted("<\"unterminated@example.org>"));
    EXPECT_FALSE(accepted("<\"bare\"quote\"@example.org>"));
    EXPECT_FALSE(accepted("<\"tab\there\"@example.org>"));
    EXPECT_FALSE(accepted("<\"ends with backslash\\\"@example.org>"));
    EXPECT_FALSE(accepted("<\"x\"y@example.org>"));
    const auto p = path("<\"a\\\"b c\"@example.org>");
    ASSERT_TRUE(p.mailbox);
    EXPECT_EQ(p.mailbox->local_part, "\"a\\\"b c\"");
    EXPECT_EQ(p.mailbox->unquoted_local_part(), "a\"b c");
}

TEST(PathGrammar, DomainsAreLetDigLabels_Rfc5321_4_1_2) {
    EXPECT_TRUE(accepted("<a@localhost>"));
    EXPECT_TRUE(accepted("<a@x-1.example>"));
    EXPECT_TRUE(accepted("<a@123.example>"));
    EXPECT_FALSE(accepted("<a@-x.example>"));
    EXPECT_FALSE(accepted("<a@x-.example>"));
    EXPECT_FALSE(accepted("<a@x..example>"));
    EXPECT_FALSE(accepted("<a@example.>"));
    EXPECT_FALSE(accepted("<a@.example>"));
    EXPECT_FALSE(accepted("<a@ex_ample.org>"));
    EXPECT_FALSE(accepted("<a@>"));
    EXPECT_FALSE(accepted("<a>"));
    EXPECT_FALSE(accepted("<a@b"));
    EXPECT_FALSE(accepted("a@b"));
    EXPECT_FALSE(accepted("<a@b@c>"));
}

TEST(PathGrammar, DnsLabelOf63OctetsButNot64_Rfc1035_2_3_4) {
    EXPECT_TRUE(is_valid_domain(std::string(63, 'a') + ".example", false));
    EXPECT_FALSE(is_valid_domain(std::string(64, 'a') + ".example", false));
}

TEST(PathGrammar, SourceRouteIsAcceptedAndIgnored_Rfc5321_4_1_2_AppendixC) {
    const auto p = path("<@relay1.example,@relay2.example:user@example.org>");
    ASSERT_FALSE(p.error);
    EXPECT_EQ(p.mailbox->str(), "user@example.org");
    EXPECT_FALSE(accepted("<@relay1.example user@example.org>"));
    EXPECT_FALSE(accepted("<@:user@example.org>"));
    EXPECT_FALSE(accepted("<@relay1.example,user@example.org>"));
}

TEST(AddressLiteral, Ipv4_Rfc5321_4_1_3) {
    EXPECT_TRUE(is_valid_address_literal("[192.0.2.1]"));
    EXPECT_TRUE(is_valid_address_literal("[0.0.0.0]"));
    EXPECT_TRUE(is_valid_address_literal("[255.255.255.255]"));
    EXPECT_TRUE(is_valid_address_literal("[001.002.003.004]"));
    EXPECT_FALSE(is_valid_address_literal("[256.0.0.1]"));
    EXPECT_FALSE(is_valid_address_literal("[1.2.3]"));
    EXPECT_FALSE(is_valid_address_literal("[1.2.3.4.5]"));
    EXPECT_FALSE(is_valid_address_literal("[1.2.3.0004]"));
    EXPECT_FALSE(is_valid_address_literal("[1..2.3]"));
    EXPECT_FALSE(is_valid_address_literal("[1.2.3.4"));
    EXPECT_FALSE(is_valid_address_literal("1.2.3.4"));
    EXPECT_FALSE(is_valid_address_literal("[]"));
    EXPECT_TRUE(accepted("<postmaster@[192.0.2.1]>"));
}

TEST(AddressLiteral, Ipv6FullForm_Rfc5321_4_1_3) {
    EXPECT_TRUE(is_valid_address_literal("[IPv6:2001:db8:0:0:0:0:0:1]"));
    EXPECT_TRUE(is_valid_address_literal("[IPv6:ffff:FFFF:0:1:22:333:4444:5]"));
    EXPECT_TRUE(is_valid_address_literal("[ipv6:2001:db8:0:0:0:0:0:1]"));  // tags are case-insensitive
    EXPECT_FALSE(is_valid_address_literal("[IPv6:2001:db8:0:0:0:0:1]"));   // 7 groups
    EXPECT_FALSE(is_valid_address_literal("[IPv6:2001:db8:0:0:0:0:0:0:1]"));
    EXPECT_FALSE(is_valid_address_literal("[IPv6:12345:db8:0:0:0:0:0:1]"));
    EXPECT_FALSE(is_valid_address_literal("[IPv6:g001:db8:0:0:0:0:0:1]"));
    EXPECT_FALSE(is_valid_address_literal("[IPv6::2001:db8:0:0:0:0:1]"));
    // Without the tag it is no IPv6 literal; the grammar reads it as a General-address-literal
    // with the tag "2001", which a mailbox lookup will never match.
    EXPECT_TRUE(is_valid_address_literal("[2001:db8:0:0:0:0:0:1]"));
}

TEST(AddressLiteral, Ipv6CompressedForm_Rfc5321_4_1_3) {
    EXPECT_TRUE(is_valid_address_literal("[IPv6:::]"));
    EXPECT_TRUE(is_valid_address_literal("[IPv6:::1]"));
    EXPECT_TRUE(is_valid_address_literal("[IPv6:2001:db8::]"));
    EXPECT_TRUE(is_valid_address_literal("[IPv6:2001:db8::1]"));
    EXPECT_TRUE(is_valid_address_literal("[IPv6:1:2:3::4:5:6]"));  // six groups beside "::"
    EXPECT_TRUE(is_valid_address_literal("[IPv6:1:2:3:4:5:6::]"));
    EXPECT_TRUE(is_valid_address_literal("[IPv6:::1:2:3:4:5:6]"));
    // "::" stands for at least two groups: seven written groups beside it are too many.
    EXPECT_FALSE(is_valid_address_literal("[IPv6:1:2:3:4:5:6:7::]"));
    EXPECT_FALSE(is_valid_address_literal("[IPv6:1:2:3::4:5:6:7]"));
    EXPECT_FALSE(is_valid_address_literal("[IPv6:1::2::3]"));
    EXPECT_FALSE(is_valid_address_literal("[IPv6::::1]"));
    EXPECT_FALSE(is_valid_address_literal("[IPv6:1:::2]"));
    EXPECT_FALSE(is_valid_address_literal("[IPv6:1::2:]"));
    EXPECT_FALSE(is_valid_address_literal("[IPv6:]"));
}

TEST(AddressLiteral, Ipv6WithIpv4Tail_Rfc5321_4_1_3) {
    EXPECT_TRUE(is_valid_address_literal("[IPv6:0:0:0:0:ffff:0:192.0.2.1]"));  // IPv6v4-full
    EXPECT_FALSE(is_valid_address_literal("[IPv6:0:0:0:ffff:0:192.0.2.1]"));   // 5 groups
    EXPECT_FALSE(is_valid_address_literal("[IPv6:0:0:0:0:0:ffff:0:192.0.2.1]"));
    EXPECT_TRUE(is_valid_address_literal("[IPv6:::192.0.2.1]"));               // IPv6v4-comp
    EXPECT_TRUE(is_valid_address_literal("[IPv6:::ffff:192.0.2.1]"));
    EXPECT_TRUE(is_valid_address_literal("[IPv6:1:2::3:4:192.0.2.1]"));
    EXPECT_TRUE(is_valid_address_literal("[IPv6:1:2:3:4::192.0.2.1]"));
    EXPECT_FALSE(is_valid_address_literal("[IPv6:1:2:3:4:5::192.0.2.1]"));  // 5 beside "::"
    EXPECT_FALSE(is_valid_address_literal("[IPv6:1:2::3:4:5:192.0.2.1]"));
    EXPECT_FALSE(is_valid_address_literal("[IPv6:::ffff:192.0.2.256]"));
    EXPECT_FALSE(is_valid_address_literal("[IPv6:::ffff:192.0.2]"));
    EXPECT_FALSE(is_valid_address_literal("[IPv6:1.2.3.4]"));
    EXPECT_FALSE(is_valid_address_literal("[IPv6::1.2.3.4]"));
    EXPECT_FALSE(is_valid_address_literal("[IPv6:::1.2.3.4:1]"));
}

TEST(AddressLiteral, GeneralAddressLiteral_Rfc5321_4_1_3) {
    EXPECT_TRUE(is_valid_address_literal("[x400:c=us;a=x]"));
    EXPECT_TRUE(is_valid_address_literal("[tag-1:anything!~]"));
    EXPECT_FALSE(is_valid_address_literal("[tag-:x]"));       // Ldh-str ends with Let-dig
    EXPECT_FALSE(is_valid_address_literal("[tag:]"));         // 1*dcontent
    EXPECT_FALSE(is_valid_address_literal("[tag:a\\b]"));     // no backslash
    EXPECT_FALSE(is_valid_address_literal("[tag:a b]"));
    EXPECT_FALSE(is_valid_address_literal("[:x]"));
    EXPECT_FALSE(is_valid_address_literal("[IPv6:zzz]"));     // the IPv6 tag means IPv6
    EXPECT_FALSE(is_valid_address_literal("[tag:a[b]"));
}

TEST(PathLimits, LocalPartOf64ButNot65_Rfc5321_4_5_3_1_1) {
    EXPECT_TRUE(accepted("<" + std::string(64, 'l') + "@example.org>"));
    EXPECT_EQ(error_of("<" + std::string(65, 'l') + "@example.org>"), PathError::TooLong);
    EXPECT_TRUE(is_valid_local_part(std::string(64, 'l'), false));
    EXPECT_FALSE(is_valid_local_part(std::string(65, 'l'), false));
}

TEST(PathLimits, DomainOf255ButNot256_Rfc5321_4_5_3_1_2) {
    ASSERT_EQ(domain_of(255).size(), 255u);
    EXPECT_TRUE(is_valid_domain(domain_of(255), false));
    EXPECT_FALSE(is_valid_domain(domain_of(256), false));
}

TEST(PathLimits, PathOf256ButNot257_Rfc5321_4_5_3_1_3) {
    // "<" + 64 + "@" + 189 + ">" = 256 octets with the punctuation.
    const std::string at_limit = "<" + std::string(64, 'l') + "@" + domain_of(189) + ">";
    ASSERT_EQ(at_limit.size(), 256u);
    EXPECT_TRUE(accepted(at_limit));
    const std::string over = "<" + std::string(64, 'l') + "@" + domain_of(190) + ">";
    EXPECT_EQ(error_of(over), PathError::TooLong);
    // A source route counts towards the path too.
    const std::string routed = "<@r.example:" + std::string(64, 'l') + "@" + domain_of(189) + ">";
    EXPECT_EQ(error_of(routed), PathError::TooLong);
}

TEST(PathUtf8, Utf8OnlyWithSmtputf8_Rfc6531_3_3) {
    const std::string u = "<j\xC3\xB6rg@b\xC3\xBC" "cher.example>";  // jörg@bücher.example
    EXPECT_EQ(error_of(u, false), PathError::Utf8NotAllowed);
    ASSERT_TRUE(accepted(u, true));
    EXPECT_TRUE(path(u, true).mailbox->needs_smtputf8());
    EXPECT_FALSE(path("<a@b.example>").mailbox->needs_smtputf8());
    EXPECT_TRUE(accepted("<\"\xE2\x9C\x89 mail\"@example.org>", true));  // UTF-8 in a quoted string
}

TEST(PathUtf8, IllFormedUtf8IsASyntaxError_Rfc3629_4) {
    EXPECT_EQ(error_of("<\xC3@example.org>", true), PathError::Syntax);          // truncated
    EXPECT_EQ(error_of("<\xC0\xAF@example.org>", true), PathError::Syntax);      // overlong
    EXPECT_EQ(error_of("<\xED\xA0\x80@example.org>", true), PathError::Syntax);  // surrogate
    EXPECT_EQ(error_of("<\xF4\x90\x80\x80@example.org>", true), PathError::Syntax);  // > U+10FFFF
    EXPECT_EQ(error_of("<\xFF@example.org>", true), PathError::Syntax);
    EXPECT_EQ(error_of("<\xC3@example.org>", false), PathError::Syntax);
    EXPECT_TRUE(accepted("<\xF0\x9F\x93\xA7@example.org>", true));  // U+1F4E7
}

TEST(PathUtf8, Utf8DomainLabelsNeedLetDigEnds_Rfc6531_3_3) {
    EXPECT_TRUE(is_valid_domain("b\xC3\xBC" "cher.example", true));
    EXPECT_FALSE(is_valid_domain("b\xC3\xBC" "cher.example", false));
    EXPECT_FALSE(is_valid_domain("-\xC3\xBC.example", true));
}

TEST(ForwardPath, PostmasterWithoutDomainInAnyCase_Rfc5321_4_1_1_3) {
    for (const char* in : {"<Postmaster>", "<postmaster>", "<POSTMASTER>"}) {
        const auto p = parse_forward_path(in, false);
        ASSERT_FALSE(p.error) << in;
        EXPECT_EQ(*p.mailbox, (Mailbox{"Postmaster", ""}));
        EXPECT_EQ(p.consumed, 12u);
    }
    EXPECT_EQ(parse_forward_path("<Postmaster>", false).mailbox->str(), "Postmaster");
    EXPECT_TRUE(parse_forward_path("<Postmaster@example.org>", false).mailbox);
    EXPECT_TRUE(parse_forward_path("<webmaster>", false).error);
    EXPECT_TRUE(parse_forward_path("<>", false).error);
    // Only RCPT knows the special case: as a reverse-path it is just a path without domain.
    EXPECT_TRUE(parse_path("<Postmaster>", true, false).error);
}

TEST(MailboxName, AddressLiteralDomainIsRecognised) {
    EXPECT_TRUE((Mailbox{"a", "[192.0.2.1]"}.is_address_literal()));
    EXPECT_FALSE((Mailbox{"a", "example.org"}.is_address_literal()));
    EXPECT_EQ((Mailbox{"plain", "x"}.unquoted_local_part()), "plain");
}

}  // namespace
}  // namespace ehlo::smtp
