// SMTP smuggling (SEC Consult, December 2023; CVE-2023-51764 Postfix, CVE-2023-51765 Sendmail,
// CVE-2023-51766 Exim): a message ends only at <CRLF>.<CRLF> (RFC 5321 4.1.1.4); a bare CR or
// LF inside it refuses the whole message (2.3.8), so the fake second transaction that follows
// a false end marker is neither executed here nor carried to a lenient server later.
#include <gtest/gtest.h>

#include "fake_host.hpp"

namespace ehlo::smtp::test {
namespace {

using namespace std::string_literals;

const std::string kSmuggled =
    "MAIL FROM:<evil@client.example>\r\n"
    "RCPT TO:<bob@mx.example>\r\n"
    "DATA\r\n"
    "Subject: smuggled\r\n\r\nsmuggled message\r\n";

struct Vector {
    const char* name;
    std::string trick;
    bool bare = true;  // holds a bare CR, bare LF or NUL: the message is refused
};

const Vector kVectors[] = {
    {"LF.LF", "\n.\n"},
    {"CR.CR", "\r.\r"},
    {"LF.CRLF", "\n.\r\n"},
    {"CRLF.LF", "\r\n.\n"},
    {"CRLF.CR", "\r\n.\r"},
    {"CR.CRLF", "\r.\r\n"},
    {"LF.CR", "\n.\r"},
    {"CRLF.CRCRLF", "\r\n.\r\r\n"},
    {"CRLF.NULCRLF", "\r\n.\x00\r\n"s},
    {"LFLF.LFLF", "\n\n.\n\n"},
    // Well-formed lines that merely look like an end: the message is accepted, the fake
    // transaction inside it is text.
    {"CRLF.SPCRLF", "\r\n. \r\n", false},
    {"CRLFSP.CRLF", "\r\n .\r\n", false},
};

class Smuggling : public ::testing::TestWithParam<Vector> {};

TEST_P(Smuggling, FalseEndMarkerNeverEndsData_Rfc5321_4_1_1_4_and_2_3_8) {
    const Vector& v = GetParam();
    const std::string content = "Subject: outer\r\n\r\nouter message\r\n" + v.trick + kSmuggled + ".\r\n";
    Dialog d;
    d.open_transaction();
    EXPECT_EQ(d.send("DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
    const std::string out = d.send(content);
    if (v.bare) {
        EXPECT_EQ(out, "554 5.6.0 Message refused: bare CR, bare LF or NUL in content (RFC 5321 2.3.8)\r\n");
        EXPECT_TRUE(d.host.messages.empty());
        EXPECT_EQ(d.host.aborts, 1);
    } else {
        EXPECT_EQ(out, "250 2.0.0 Ok: queued as TESTID\r\n");
        ASSERT_EQ(d.host.messages.size(), 1u);
        EXPECT_NE(d.host.messages[0].find("MAIL FROM:<evil@client.example>\r\n"), std::string::npos);
    }
    EXPECT_EQ(d.host.mails.size(), 1u) << "the smuggled MAIL was executed";
    EXPECT_TRUE(d.host.rcpts.size() == 1u) << "the smuggled RCPT was executed";
    EXPECT_EQ(d.send("QUIT\r\n"), "221 2.0.0 Bye\r\n");
}

TEST_P(Smuggling, SameOutcomeWhenFedOneOctetAtATime) {
    const Vector& v = GetParam();
    const std::string content = "outer\r\n" + v.trick + kSmuggled + ".\r\n";
    Dialog whole;
    whole.open_transaction();
    const std::string a = whole.send("DATA\r\n" + content + "QUIT\r\n");
    Dialog bytewise;
    bytewise.open_transaction();
    const std::string b = bytewise.send_bytewise("DATA\r\n" + content + "QUIT\r\n");
    EXPECT_EQ(a, b) << v.name;
    EXPECT_EQ(bytewise.host.mails.size(), 1u) << v.name;
}

std::string vector_name(const ::testing::TestParamInfo<Vector>& param_info) {
    std::string n;
    for (const char* p = param_info.param.name; *p; ++p) n += (*p == '.') ? '_' : *p;
    return n;
}

INSTANTIATE_TEST_SUITE_P(SecConsultVectors, Smuggling, ::testing::ValuesIn(kVectors), vector_name);

TEST(SmugglingBdat, BdatContentWithBareLfDotLfIsRefused_Rfc3030_Rfc5321_2_3_8) {
    // BDAT needs no end marker, but what it carries is relayed with DATA later: the same
    // content check keeps "\n.\n" out of the queue.
    Dialog d;
    d.open_transaction();
    const std::string content = "outer\r\n\n.\n" + kSmuggled;
    EXPECT_EQ(d.send("BDAT " + std::to_string(content.size()) + " LAST\r\n" + content),
              "554 5.6.0 Message refused: bare CR, bare LF or NUL in content (RFC 5321 2.3.8)\r\n");
    EXPECT_TRUE(d.host.messages.empty());
    EXPECT_EQ(d.host.mails.size(), 1u);
}

TEST(SmugglingCommands, BareLfNeverEndsACommandLine_Rfc5321_2_3_8) {
    // "RCPT TO:<c>\nDATA": what precedes the bare LF is refused, not executed.
    Dialog d;
    d.ehlo();
    d.send("MAIL FROM:<a@b.example>\r\n");
    EXPECT_EQ(d.send("RCPT TO:<c@d.example>\nDATA\r\n"),
              "500 5.5.2 Bare LF received; lines must end with CRLF\r\n554 5.5.1 No valid recipients\r\n");
    EXPECT_TRUE(d.host.rcpts.empty());
}

}  // namespace
}  // namespace ehlo::smtp::test
