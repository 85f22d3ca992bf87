// Authentication-Results (RFC 8601): formatting, escaping of what peers control, and finding
// the fields that claim our authserv-id (RFC 8601 5).
#include <gtest/gtest.h>

#include "msgauth/auth_results.hpp"
#include "msgauth/dkim_canon.hpp"

namespace ehlo::msgauth {
namespace {

TEST(AuthResults, OneFieldWithEveryMethod_Rfc8601_2_2) {
    AuthResultsInput in;
    in.authserv_id = "mx.example.net";
    SpfVerdict spf;
    spf.result = Result::Pass;
    spf.identity = "mailfrom";
    spf.sender = "alice@example.org";
    spf.domain = "example.org";
    in.spf = spf;
    DkimVerdict d;
    d.result = Result::Pass;
    d.reason = "good signature";
    d.domain = "example.org";
    d.selector = "s1";
    d.b = "AbCdEfGhIjKl+/==";
    d.algorithm = "ed25519-sha256";
    in.dkim = {d};
    in.dkim_checked = true;
    DmarcVerdict dm;
    dm.result = Result::Pass;
    dm.from_domain = "example.org";
    in.dmarc = dm;
    in.arc = Result::None;
    const std::string f = authentication_results_field(in);
    EXPECT_EQ(f,
              "Authentication-Results: mx.example.net;\r\n"
              "\tspf=pass smtp.mailfrom=alice@example.org;\r\n"
              "\tdkim=pass (good signature) header.d=example.org header.s=s1 header.b=AbCdEfGh header.a=ed25519-sha256;\r\n"
              "\tdmarc=pass header.from=example.org;\r\n"
              "\tarc=none");
    // It is a well-formed field: it parses back, and relaxed canonicalization keeps one line.
    const auto m = parse_message(f + "\r\n\r\n");
    ASSERT_TRUE(m);
    ASSERT_EQ(m->fields.size(), 1u);
    EXPECT_EQ(authserv_id_of(m->fields[0].value()), "mx.example.net");

    AuthResultsInput submission;
    submission.authserv_id = "mx.example.net";
    submission.auth_user = "alice";
    EXPECT_EQ(authentication_results_field(submission), "Authentication-Results: mx.example.net;\r\n\tauth=pass smtp.auth=alice");
    AuthResultsInput nothing;
    nothing.authserv_id = "mx.example.net";
    EXPECT_EQ(authentication_results_field(nothing), "Authentication-Results: mx.example.net; none");
}

// Hostile input: a sender's text never ends the field, adds a property or a line.
TEST(AuthResults, PeerTextIsQuotedAndEscaped_Rfc8601_2_2) {
    AuthResultsInput in;
    in.authserv_id = "mx.example.net";
    SpfVerdict spf;
    spf.result = Result::Fail;
    spf.identity = "mailfrom";
    spf.sender = "\"a;b\\\" dkim=pass\"\r\nX-Evil: 1@example.org";
    spf.problem = "bad (nested) \\ comment)\r\n";
    in.spf = spf;
    const std::string f = authentication_results_field(in);
    EXPECT_EQ(f.find("\r\nX-Evil"), std::string::npos) << f;
    EXPECT_NE(f.find("smtp.mailfrom=\"\\\"a;b\\\\\\\" dkim=pass\\\"X-Evil: 1@example.org\""), std::string::npos) << f;
    EXPECT_NE(f.find("(bad \\(nested\\) \\\\ comment\\))"), std::string::npos) << f;
    EXPECT_EQ(pvalue("example.org"), "example.org");
    EXPECT_EQ(pvalue(""), "\"\"");
    EXPECT_EQ(pvalue("a b"), "\"a b\"");
}

// RFC 8601 5: fields that claim our authserv-id are found (to be removed), others kept.
TEST(AuthResults, ForgedFieldsClaimingOurIdAreFound_Rfc8601_5) {
    const auto m = parse_message(
        "Authentication-Results: MX.Example.NET; dkim=pass\r\n"
        "Authentication-Results: (comment) mx.example.net (more); spf=pass\r\n"
        "Authentication-Results: \"mx.example.net\"; dmarc=pass\r\n"
        "Authentication-Results: mx.example.net.evil.com; spf=pass\r\n"
        "Authentication-Results: other.example; spf=pass\r\n"
        "Authentication-Results:mx.example.net 1; none\r\n"
        "X-Authentication-Results: mx.example.net; none\r\n"
        "From: a@example.org\r\n\r\n");
    ASSERT_TRUE(m);
    EXPECT_EQ(forged_authentication_results(m->fields, "mx.example.net"), (std::vector<std::size_t>{0, 1, 2, 5}));
}

}  // namespace
}  // namespace ehlo::msgauth
