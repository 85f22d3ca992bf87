// DKIM canonicalization (RFC 6376 3.4) with the RFC's own examples, and the streaming body
// hasher against the whole-message result at every split point.
#include <gtest/gtest.h>

#include "msgauth/dkim_canon.hpp"
#include "msgauth/message.hpp"
#include "msgauth/tag_list.hpp"

namespace ehlo::msgauth {
namespace {

// RFC 6376 3.4.5, the example message (the RFC's <SP>, <HTAB> and <CRLF> spelled out).
const std::string kExample =
    "A: X\r\n"
    "B : Y\t\r\n"
    "\tZ  \r\n"
    "\r\n"
    " C \r\n"
    "D \t E\r\n"
    "\r\n"
    "\r\n";

std::string canonical_headers(Canon canon, const std::string& message) {
    const auto parsed = parse_message(message);
    std::string out;
    for (const HeaderField& f : parsed->fields) out += canonicalize_header(canon, f);
    return out;
}

std::string canonical_body(Canon canon, std::string_view body, std::size_t piece = 0) {
    BodyCanonicalizer c(canon);
    std::string out;
    if (piece == 0) {
        c.feed(body, out);
    } else {
        for (std::size_t at = 0; at < body.size(); at += piece) c.feed(body.substr(at, piece), out);
    }
    c.finish(out);
    return out;
}

std::string body_of(const std::string& message) { return message.substr(parse_message(message)->body_offset); }

TEST(DkimCanon, RelaxedExample_Rfc6376_3_4_5) {
    EXPECT_EQ(canonical_headers(Canon::Relaxed, kExample), "a:X\r\nb:Y Z\r\n");
    EXPECT_EQ(canonical_body(Canon::Relaxed, body_of(kExample)), " C\r\nD E\r\n");
}

TEST(DkimCanon, SimpleExample_Rfc6376_3_4_5) {
    EXPECT_EQ(canonical_headers(Canon::Simple, kExample), "A: X\r\nB : Y\t\r\n\tZ  \r\n");
    EXPECT_EQ(canonical_body(Canon::Simple, body_of(kExample)), " C \r\nD \t E\r\n");
}

// RFC 6376 3.4.3: an empty body is one CRLF; a missing final CRLF is added.
TEST(DkimCanon, SimpleEmptyBodyIsOneCrlf_Rfc6376_3_4_3) {
    EXPECT_EQ(canonical_body(Canon::Simple, ""), "\r\n");
    EXPECT_EQ(canonical_body(Canon::Simple, "\r\n\r\n\r\n"), "\r\n");
    EXPECT_EQ(canonical_body(Canon::Simple, "abc"), "abc\r\n");
    EXPECT_EQ(canonical_body(Canon::Simple, "\r\n\r\nabc\r\n\r\n"), "\r\n\r\nabc\r\n");
}

// RFC 6376 3.4.4 (erratum 1384): relaxed drops trailing empty lines, and an empty body stays empty.
TEST(DkimCanon, RelaxedBodyIgnoresTrailingEmptyLines_Rfc6376_3_4_4) {
    EXPECT_EQ(canonical_body(Canon::Relaxed, ""), "");
    EXPECT_EQ(canonical_body(Canon::Relaxed, "\r\n  \r\n\t\r\n"), "");
    EXPECT_EQ(canonical_body(Canon::Relaxed, "a  b \t\r\n \r\n"), "a b\r\n");
    EXPECT_EQ(canonical_body(Canon::Relaxed, "  lead"), " lead\r\n");
}

// A CR without LF is content, not a line end; 8-bit octets pass through unchanged.
TEST(DkimCanon, BareCrAndEightBitOctetsAreContent) {
    EXPECT_EQ(canonical_body(Canon::Simple, "a\rb\r\n"), "a\rb\r\n");
    EXPECT_EQ(canonical_body(Canon::Relaxed, "\xc3\xa9t\xc3\xa9 \r\n"), "\xc3\xa9t\xc3\xa9\r\n");
}

// Content arriving in pieces canonicalizes exactly as in one piece, whatever the split.
TEST(DkimCanon, PiecesOfAnySizeGiveTheSameCanonicalBody) {
    const std::string body = " C \r\nD \t E\r\n\r\n\tx\r\r\n  \r\n\r\n \r";
    for (Canon canon : {Canon::Simple, Canon::Relaxed}) {
        const std::string whole = canonical_body(canon, body);
        for (std::size_t piece = 1; piece <= body.size(); ++piece) EXPECT_EQ(canonical_body(canon, body, piece), whole) << piece;
    }
}

TEST(DkimCanon, BodyHasherLimitsToLength_Rfc6376_3_5_l) {
    BodyHasher limited(Canon::Simple, HashAlg::Sha256, 3);
    limited.update("abcdef\r\n");
    EXPECT_EQ(limited.finish(), digest(HashAlg::Sha256, "abc"));
    EXPECT_EQ(limited.canonical_length(), 8u);
    BodyHasher pieces(Canon::Relaxed, HashAlg::Sha256);
    for (char c : std::string("a  b\r\n\r\n")) pieces.update(std::string_view(&c, 1));
    EXPECT_EQ(pieces.finish(), digest(HashAlg::Sha256, "a b\r\n"));
}

// RFC 6376 3.4.2: relaxed header keeps a colon inside the value and its space.
TEST(DkimCanon, RelaxedHeaderKeepsInnerColons_Rfc6376_3_4_2) {
    EXPECT_EQ(canonicalize_header(Canon::Relaxed, std::string_view("Subject:  Re: a \r\n\t b  ")), "subject:Re: a b\r\n");
    EXPECT_EQ(canonicalize_header(Canon::Relaxed, std::string_view("X-Empty:   ")), "x-empty:\r\n");
}

TEST(Message, HeaderSectionAndBody_Rfc5322_2_2) {
    const auto m = parse_message("From: a\r\n b\r\nTo: c\r\n\r\nbody\r\n");
    ASSERT_TRUE(m);
    ASSERT_EQ(m->fields.size(), 2u);
    EXPECT_EQ(m->fields[0].raw, "From: a\r\n b");
    EXPECT_EQ(m->fields[1].name, "To");
    EXPECT_EQ(m->body_offset, 22u);
    EXPECT_EQ(parse_message("no header here\r\n")->body_offset, 0u);  // not a field: all body
    std::string many;
    for (int i = 0; i < 1001; ++i) many += "X: y\r\n";
    EXPECT_FALSE(parse_message(many));
}

TEST(TagList, GrammarAndDuplicates_Rfc6376_3_2) {
    const auto t = parse_tag_list(" v=1; a = rsa-sha256 ;\r\n\tb=ab\r\n cd; ");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->find("a")->value, "rsa-sha256");
    EXPECT_EQ(t->find("b")->value, "ab\r\n cd");
    EXPECT_FALSE(parse_tag_list("v=1; v=2"));
    EXPECT_FALSE(parse_tag_list("1v=1"));
    EXPECT_FALSE(parse_tag_list("v"));
    EXPECT_FALSE(parse_tag_list("v=a\r\nb"));  // CRLF without WSP is not folding
    EXPECT_FALSE(parse_tag_list(std::string("v=a\0b", 5)));
}

TEST(Base64, StrictDecoding_Rfc4648_4) {
    EXPECT_EQ(base64_decode("aGVs bG8=\r\n"), "hello");
    EXPECT_EQ(base64_decode(""), "");
    EXPECT_FALSE(base64_decode("aGVsbG8"));
    EXPECT_FALSE(base64_decode("aG=sbG8="));
    EXPECT_FALSE(base64_decode("aGVs*G8="));
    EXPECT_EQ(base64_encode("hello"), "aGVsbG8=");
}

}  // namespace
}  // namespace ehlo::msgauth
