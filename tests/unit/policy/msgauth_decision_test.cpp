// What the verdicts do at the end of DATA ([msgauth]): DMARC's policy by the operator's
// choice (RFC 7489 6.7), SPF fail on its own (RFC 7208 8.4), DNS failures (RFC 7208 2.6.6).
#include <gtest/gtest.h>

#include "policy/msgauth_decision.hpp"

namespace ehlo::policy {
namespace {

using msgauth::Result;

msgauth::InboundVerdicts dmarc_failing(msgauth::DmarcPolicy policy) {
    msgauth::InboundVerdicts v;
    v.spf = msgauth::SpfVerdict{};
    v.spf->result = Result::Fail;
    v.spf->domain = "example.org";
    msgauth::DmarcVerdict d;
    d.result = Result::Fail;
    d.policy = policy;
    d.requested = policy;
    d.from_domain = "example.org";
    d.record_domain = "example.org";
    v.dmarc = d;
    return v;
}

TEST(MsgauthDecision, RejectPolicyRefusesWith550_5_7_1_Rfc7489_6_7) {
    const config::Config::Msgauth settings;
    const auto d = msgauth_decision(settings, dmarc_failing(msgauth::DmarcPolicy::Reject));
    ASSERT_TRUE(d.refusal);
    EXPECT_EQ(d.refusal->code, 550);
    EXPECT_EQ(d.refusal->enhanced, "5.7.1");
    EXPECT_NE(d.refusal->one_line().find("example.org"), std::string::npos);
    EXPECT_FALSE(d.quarantine);
}

TEST(MsgauthDecision, QuarantinePolicyDeliversMarked) {
    const config::Config::Msgauth settings;
    const auto d = msgauth_decision(settings, dmarc_failing(msgauth::DmarcPolicy::Quarantine));
    EXPECT_FALSE(d.refusal);
    EXPECT_TRUE(d.quarantine);
    EXPECT_EQ(quarantine_field(d), "X-Ehlo-Quarantine: DMARC policy of example.org (p=quarantine)\r\n");
}

TEST(MsgauthDecision, OperatorChoosesTheAction) {
    config::Config::Msgauth settings;
    settings.dmarc_reject = config::DmarcAction::Quarantine;
    settings.dmarc_quarantine = config::DmarcAction::None;
    EXPECT_TRUE(msgauth_decision(settings, dmarc_failing(msgauth::DmarcPolicy::Reject)).quarantine);
    const auto none = msgauth_decision(settings, dmarc_failing(msgauth::DmarcPolicy::Quarantine));
    EXPECT_FALSE(none.refusal);
    EXPECT_FALSE(none.quarantine);
    // p=none (or pct sampled out to none) never refuses.
    EXPECT_FALSE(msgauth_decision(config::Config::Msgauth{}, dmarc_failing(msgauth::DmarcPolicy::None)).refusal);
}

TEST(MsgauthDecision, SpfFailRefusedOnlyWhenAsked_Rfc7372_X_7_23) {
    msgauth::InboundVerdicts v = dmarc_failing(msgauth::DmarcPolicy::None);
    v.spf->explanation = "see https://example.org/spf";
    EXPECT_FALSE(msgauth_decision(config::Config::Msgauth{}, v).refusal);
    config::Config::Msgauth settings;
    settings.spf_reject = true;
    const auto d = msgauth_decision(settings, v);
    ASSERT_TRUE(d.refusal);
    EXPECT_EQ(d.refusal->one_line(), "550 5.7.23 SPF validation failed for example.org: see https://example.org/spf");
}

TEST(MsgauthDecision, DnsFailureAcceptedOrDeferred_Rfc7208_2_6_6) {
    msgauth::InboundVerdicts v;
    v.spf = msgauth::SpfVerdict{};
    v.spf->result = Result::TempError;
    EXPECT_FALSE(msgauth_decision(config::Config::Msgauth{}, v).refusal);
    config::Config::Msgauth settings;
    settings.dns_defer = true;
    const auto d = msgauth_decision(settings, v);
    ASSERT_TRUE(d.refusal);
    EXPECT_EQ(d.refusal->code, 451);
    EXPECT_EQ(d.refusal->enhanced, "4.7.24");  // RFC 7372: SPF validation error
}

// RFC 7489 6.6.1: no one author domain, nothing DMARC can pass: refused.
TEST(MsgauthDecision, NoOneAuthorDomainIsRefused_Rfc7489_6_6_1) {
    msgauth::InboundVerdicts v;
    v.dkim_checked = true;
    v.from_problem = "more than one From field";
    const auto d = msgauth_decision(config::Config::Msgauth{}, v);
    ASSERT_TRUE(d.refusal);
    EXPECT_EQ(d.refusal->one_line(), "550 5.7.1 The From header must name one author domain: more than one From field");
}

}  // namespace
}  // namespace ehlo::policy
