// ESMTP parameters of MAIL and RCPT: RFC 5321 4.1.1.11 and the extensions that define them.
#include <gtest/gtest.h>

#include "smtp/mail_params.hpp"

namespace ehlo::smtp {
namespace {

constexpr ParamRules kEsmtp{true, false};
constexpr ParamRules kEsmtpDsn{true, true};
constexpr ParamRules kHelo{false, false};

int mail_code(std::string_view params, ParamRules rules = kEsmtp) {
    Envelope e;
    const auto r = apply_mail_params(params, rules, e);
    return r ? r->code : 0;
}

int rcpt_code(std::string_view params, ParamRules rules = kEsmtpDsn) {
    Recipient rcpt;
    const auto r = apply_rcpt_params(params, rules, rcpt);
    return r ? r->code : 0;
}

TEST(MailParams, NoParametersIsFine) {
    EXPECT_EQ(mail_code(""), 0);
    EXPECT_EQ(mail_code("   "), 0);
    EXPECT_EQ(mail_code("", kHelo), 0);
}

TEST(MailParams, SizeIsStored_Rfc1870_3) {
    Envelope e;
    EXPECT_FALSE(apply_mail_params("SIZE=12345", kEsmtp, e));
    EXPECT_EQ(e.declared_size, 12345u);
    EXPECT_FALSE(apply_mail_params("size=99999999999999999999999", kEsmtp, e));
    EXPECT_EQ(e.declared_size, UINT64_MAX);  // too big, never wrapped round
    EXPECT_EQ(mail_code("SIZE="), 501);
    EXPECT_EQ(mail_code("SIZE"), 501);
    EXPECT_EQ(mail_code("SIZE=12a"), 501);
    EXPECT_EQ(mail_code("SIZE=-1"), 501);
}

TEST(MailParams, BodySevenBitAndEightBitMime_Rfc6152) {
    Envelope e;
    EXPECT_FALSE(apply_mail_params("BODY=8BITMIME", kEsmtp, e));
    EXPECT_EQ(e.body, BodyType::EightBitMime);
    EXPECT_FALSE(apply_mail_params("body=7bit", kEsmtp, e));
    EXPECT_EQ(e.body, BodyType::SevenBit);
    EXPECT_EQ(mail_code("BODY=BINARYMIME"), 555);  // RFC 3030: not offered
    EXPECT_EQ(mail_code("BODY=9BIT"), 501);
    EXPECT_EQ(mail_code("BODY"), 501);
}

TEST(MailParams, Smtputf8IsAKeywordWithoutValue_Rfc6531_3_4) {
    Envelope e;
    EXPECT_FALSE(apply_mail_params("SMTPUTF8", kEsmtp, e));
    EXPECT_TRUE(e.smtputf8);
    EXPECT_EQ(mail_code("SMTPUTF8=yes"), 501);
}

TEST(MailParams, UnknownKeywordIs555_Rfc5321_4_1_1_11) {
    const Envelope e0;
    Envelope e;
    const auto r = apply_mail_params("XFOO=1", kEsmtp, e);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, 555);
    EXPECT_EQ(r->enhanced, "5.5.4");
    EXPECT_EQ(mail_code("AUTH=<>"), 555);
}

TEST(MailParams, RepeatedKeywordIs501) {
    EXPECT_EQ(mail_code("SIZE=1 SIZE=2"), 501);
    EXPECT_EQ(mail_code("BODY=7BIT body=8BITMIME"), 501);
    EXPECT_EQ(mail_code("SMTPUTF8 SMTPUTF8"), 501);
}

TEST(MailParams, AnyParameterAfterHeloIs555_Rfc5321_4_1_1_11) {
    EXPECT_EQ(mail_code("SIZE=10", kHelo), 555);
    EXPECT_EQ(mail_code("SMTPUTF8", kHelo), 555);
    EXPECT_EQ(rcpt_code("NOTIFY=NEVER", kHelo), 555);
}

TEST(MailParams, BadParameterSyntaxIs501_Rfc5321_4_1_2) {
    EXPECT_EQ(mail_code("=x"), 501);
    EXPECT_EQ(mail_code("-SIZE=1"), 501);
    EXPECT_EQ(mail_code("SIZE==1"), 501);
    EXPECT_EQ(mail_code("SIZE=1\x01"), 501);
}

TEST(MailParams, SeveralParametersAndExtraSpaces) {
    Envelope e;
    EXPECT_FALSE(apply_mail_params("SIZE=10  BODY=8BITMIME SMTPUTF8 ", kEsmtp, e));
    EXPECT_EQ(e.declared_size, 10u);
    EXPECT_EQ(e.body, BodyType::EightBitMime);
    EXPECT_TRUE(e.smtputf8);
}

TEST(DsnParams, OnlyWhenDsnIsOffered_Rfc3461_4) {
    EXPECT_EQ(mail_code("RET=FULL", kEsmtp), 555);
    EXPECT_EQ(mail_code("ENVID=abc", kEsmtp), 555);
    EXPECT_EQ(rcpt_code("NOTIFY=NEVER", kEsmtp), 555);
    EXPECT_EQ(rcpt_code("ORCPT=rfc822;a@b", kEsmtp), 555);
}

TEST(DsnParams, RetAndEnvid_Rfc3461_4_3_and_4_4) {
    Envelope e;
    EXPECT_FALSE(apply_mail_params("RET=HDRS ENVID=QQ314159+2B+3D", kEsmtpDsn, e));
    EXPECT_EQ(e.ret, DsnRet::Headers);
    EXPECT_EQ(e.envid, "QQ314159+=");
    EXPECT_FALSE(apply_mail_params("ret=full", kEsmtpDsn, e));
    EXPECT_EQ(e.ret, DsnRet::Full);
    EXPECT_EQ(mail_code("RET=BODY", kEsmtpDsn), 501);
    EXPECT_EQ(mail_code("ENVID=" + std::string(100, 'x'), kEsmtpDsn), 0);
    EXPECT_EQ(mail_code("ENVID=" + std::string(101, 'x'), kEsmtpDsn), 501);
    EXPECT_EQ(mail_code("ENVID=a+0D+0Ab", kEsmtpDsn), 501);  // decodes to a line break
}

TEST(DsnParams, Notify_Rfc3461_4_1) {
    Recipient r;
    EXPECT_FALSE(apply_rcpt_params("NOTIFY=SUCCESS,failure,DELAY", kEsmtpDsn, r));
    EXPECT_EQ(r.notify, notify::Success | notify::Failure | notify::Delay);
    EXPECT_FALSE(apply_rcpt_params("NOTIFY=NEVER", kEsmtpDsn, r));
    EXPECT_EQ(r.notify, notify::Never);
    EXPECT_EQ(rcpt_code("NOTIFY=NEVER,SUCCESS"), 501);
    EXPECT_EQ(rcpt_code("NOTIFY=SOMETIMES"), 501);
    EXPECT_EQ(rcpt_code("NOTIFY=SUCCESS,"), 501);
    EXPECT_EQ(rcpt_code("NOTIFY=SUCCESS NOTIFY=DELAY"), 501);
}

TEST(DsnParams, OrcptIsXtextDecoded_Rfc3461_4_2) {
    Recipient r;
    EXPECT_FALSE(apply_rcpt_params("ORCPT=rfc822;bob+2Btag@example.org", kEsmtpDsn, r));
    EXPECT_EQ(r.orcpt, "rfc822;bob+tag@example.org");
    EXPECT_EQ(rcpt_code("ORCPT=rfc822"), 501);
    EXPECT_EQ(rcpt_code("ORCPT=;a@b"), 501);
    EXPECT_EQ(rcpt_code("ORCPT=rfc822;"), 501);
    EXPECT_EQ(rcpt_code("ORCPT=rfc822;a+2"), 501);
    EXPECT_EQ(rcpt_code("ORCPT=rfc822;a+2b@example.org"), 501);  // lower-case hex is not xtext
    EXPECT_EQ(rcpt_code("ORCPT=rfc822;" + std::string(600, 'a')), 501);
}

TEST(Xtext, DecodesHexcharsAndRejectsMalformed_Rfc3461_4) {
    EXPECT_EQ(xtext_decode("abc"), "abc");
    EXPECT_EQ(xtext_decode("a+20b"), "a b");
    EXPECT_EQ(xtext_decode(""), "");
    EXPECT_FALSE(xtext_decode("a+"));
    EXPECT_FALSE(xtext_decode("a+4"));
    EXPECT_FALSE(xtext_decode("a+GG"));
    EXPECT_FALSE(xtext_decode("a=b"));
    EXPECT_FALSE(xtext_decode("a b"));
    EXPECT_FALSE(xtext_decode("+00"));
}

}  // namespace
}  // namespace ehlo::smtp
