// The header section held back and passed on (net/reception_auth.hpp): whatever the pieces,
// every octet goes on once and in order, and every Authentication-Results field that claims our
// authserv-id is gone (RFC 8601 5), also one after a line that is no field, where lenient
// readers still look for fields.
#include "net/reception_auth.hpp"

#include <gtest/gtest.h>

#include "../msgauth/memory_dns.hpp"

namespace ehlo::net {
namespace {

struct Fixture {
    msgauth::testing::MemoryDns dns;
    msgauth::PublicSuffixList psl = msgauth::PublicSuffixList::parse("example\n");
    MsgauthService service{dns, psl, nullptr, config::Config::Msgauth{}, "mx.example.net"};

    // The content through a session of our own network (nothing checked), cut every `piece`
    // octets; what goes to the spool, and the outcome.
    std::pair<std::string, ReceptionAuth::Outcome> pass(const std::string& content, std::size_t piece) {
        ReceptionAuth auth(service, std::nullopt, false);
        auth.mail("192.0.2.1", "a@example.org", "client.example.org", 0);
        auth.begin_content();
        std::string out;
        for (std::size_t at = 0; at < content.size(); at += piece) auth.content(std::string_view(content).substr(at, piece), out);
        auth.end_content(out);
        ReceptionAuth::Outcome outcome;
        bool called = false;
        auth.finish(0, 0, false, [&](ReceptionAuth::Outcome o) {
            outcome = std::move(o);
            called = true;
        });
        EXPECT_TRUE(called);
        return {out, outcome};
    }
};

const std::string kForged =
    "Received: from a\r\n"
    "Authentication-Results: mx.example.net; dkim=pass header.d=bank.example\r\n"
    "Subject: hello\r\n"
    "Authentication-Results: elsewhere.example; spf=pass\r\n"
    "authentication-results :\r\n (a comment) MX.Example.NET;\r\n\tdmarc=pass\r\n"
    "\r\n"
    "Authentication-Results: mx.example.net; in the body, kept\r\n";

const std::string kClean =
    "Received: from a\r\n"
    "Subject: hello\r\n"
    "Authentication-Results: elsewhere.example; spf=pass\r\n"
    "\r\n"
    "Authentication-Results: mx.example.net; in the body, kept\r\n";

TEST(ReceptionAuth, ForgedFieldsGoWhateverThePieces_Rfc8601_5) {
    Fixture f;
    for (std::size_t piece : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}, std::size_t{64}, std::size_t{4096}}) {
        SCOPED_TRACE(piece);
        const auto [out, outcome] = f.pass(kForged, piece);
        EXPECT_EQ(out, kClean);
        EXPECT_FALSE(outcome.refusal);
        EXPECT_EQ(outcome.top, "");  // our own network's mail: no verdicts, no keys here
    }
}

TEST(ReceptionAuth, AMessageWithoutBodyOrWithoutHeaderPassesWhole) {
    Fixture f;
    EXPECT_EQ(f.pass("Subject: only a header\r\nAuthentication-Results: mx.example.net; x\r\n", 5).first,
              "Subject: only a header\r\n");
    EXPECT_EQ(f.pass("\r\nAuthentication-Results: mx.example.net; body\r\n", 3).first,
              "\r\nAuthentication-Results: mx.example.net; body\r\n");
    EXPECT_EQ(f.pass("", 1).first, "");
}

TEST(ReceptionAuth, ForgedFieldAfterALineThatIsNoFieldGoesToo) {
    Fixture f;
    const std::string in =
        "X: a\r\n"
        "junk without a colon\r\n"
        "Authentication-Results:\r\n mx.example.net; dkim=pass\r\n"
        "Y: b\r\n"
        "\r\n"
        "body\r\n";
    EXPECT_EQ(f.pass(in, 4).first, "X: a\r\njunk without a colon\r\nY: b\r\n\r\nbody\r\n");
}

// A header section longer than is checked: ours goes on as it came; one from outside is refused.
TEST(ReceptionAuth, AnOverlongHeaderSection) {
    Fixture f;
    std::string in;
    while (in.size() <= kMaxCheckedHeader) in += "X-Long: " + std::string(70, 'x') + "\r\n";
    in += "\r\nbody\r\n";
    const auto [out, outcome] = f.pass(in, 65536);
    EXPECT_TRUE(out == in);
    EXPECT_FALSE(outcome.refusal);

    ReceptionAuth outside(f.service, std::nullopt, true);
    outside.mail("192.0.2.1", "a@example.org", "client.example.org", 0);
    outside.begin_content();
    std::string spooled;
    outside.content(in, spooled);
    outside.end_content(spooled);
    EXPECT_TRUE(spooled == in);
    std::optional<ReceptionAuth::Outcome> o;
    outside.finish(0, 0, false, [&](ReceptionAuth::Outcome x) { o = std::move(x); });
    ASSERT_TRUE(o && o->refusal);
    EXPECT_EQ(o->refusal->one_line(), "552 5.3.4 Message header too large to be checked");
}

// From outside: the verdicts come back as one Authentication-Results field to put on top.
TEST(ReceptionAuth, MailFromOutsideGetsTheVerdicts_Rfc8601_2) {
    Fixture f;
    f.dns.txt("example.org", "v=spf1 ip4:192.0.2.0/24 -all");
    ReceptionAuth outside(f.service, std::nullopt, true);
    outside.mail("192.0.2.1", "a@example.org", "client.example.org", 0);
    outside.begin_content();
    std::string spooled;
    outside.content("From: a@example.org\r\nSubject: s\r\n\r\nhi\r\n", spooled);
    outside.end_content(spooled);
    std::optional<ReceptionAuth::Outcome> o;
    outside.finish(0, 0, false, [&](ReceptionAuth::Outcome x) { o = std::move(x); });
    f.dns.run();
    ASSERT_TRUE(o);
    EXPECT_FALSE(o->refusal);
    EXPECT_EQ(o->top.rfind("Authentication-Results: mx.example.net;", 0), 0u) << o->top;
    EXPECT_NE(o->top.find("spf=pass smtp.mailfrom=a@example.org"), std::string::npos) << o->top;
    EXPECT_NE(o->top.find("dkim=none"), std::string::npos) << o->top;
    EXPECT_TRUE(o->top.ends_with("\r\n"));
}

}  // namespace
}  // namespace ehlo::net
