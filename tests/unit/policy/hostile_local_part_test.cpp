// A catch-all accepts "any local part", but a local part becomes a directory under maildir_root:
// every form that could escape it, hide, or alias another entry must be refused (550 5.1.1)
// and must never become a route. One test per hostile form.
#include <gtest/gtest.h>

#include "policy_fixture.hpp"

namespace ehlo::policy {
namespace {

using test::mbox;

class HostileLocalPart : public ::testing::Test {
protected:
    Policy policy{test::test_config()};

    void expect_refused(const std::string& local_part) {
        const auto m = mbox(local_part, "catchall.test");
        for (bool trusted : {false, true}) {
            const auto reply = policy.check_rcpt(m, trusted);
            EXPECT_EQ(reply.code, 550) << local_part;
            EXPECT_EQ(reply.enhanced, "5.1.1") << local_part;
        }
        const auto route = policy.route(m);
        EXPECT_EQ(route.kind, queue::Route::Kind::Hold) << local_part;
        EXPECT_TRUE(route.maildir.empty()) << local_part;
    }
};

TEST_F(HostileLocalPart, ParentDirectoryTraversal) { expect_refused("../../etc"); }
TEST_F(HostileLocalPart, QuotedParentDirectoryTraversal) { expect_refused("\"../../etc/passwd\""); }
TEST_F(HostileLocalPart, DotDot) { expect_refused(".."); }
TEST_F(HostileLocalPart, QuotedDotDot) { expect_refused("\"..\""); }
TEST_F(HostileLocalPart, SingleDot) { expect_refused("\".\""); }
TEST_F(HostileLocalPart, Slash) { expect_refused("a/b"); }
TEST_F(HostileLocalPart, QuotedSlash) { expect_refused("\"a/b\""); }
TEST_F(HostileLocalPart, QuotedAbsolutePath) { expect_refused("\"/etc/passwd\""); }
TEST_F(HostileLocalPart, QuotedBackslash) { expect_refused("\"a\\\\b\""); }
TEST_F(HostileLocalPart, LeadingDotHiddenEntry) { expect_refused("\".hidden\""); }
TEST_F(HostileLocalPart, EmbeddedDotDot) { expect_refused("\"a..b\""); }
TEST_F(HostileLocalPart, QuotedSpace) { expect_refused("\"a b\""); }
TEST_F(HostileLocalPart, EmptyQuoted) { expect_refused("\"\""); }
TEST_F(HostileLocalPart, OnlyAnExtension) { expect_refused("+tag"); }
TEST_F(HostileLocalPart, TraversalInsideAnExtensionIsCutButTheRestIsChecked) { expect_refused("..+x"); }
TEST_F(HostileLocalPart, NulByte) { expect_refused(std::string("a\0b", 3)); }
TEST_F(HostileLocalPart, NewLine) { expect_refused("a\nb"); }
TEST_F(HostileLocalPart, OverlongUtf8Slash) { expect_refused("a\xc0\xaf" "b"); }  // RFC 3629 3: overlong '/'
TEST_F(HostileLocalPart, OverlongUtf8Dot) { expect_refused("\xc0\xae\xc0\xae"); }
TEST_F(HostileLocalPart, InvalidUtf8) { expect_refused("caf\xff"); }
TEST_F(HostileLocalPart, TruncatedUtf8) { expect_refused("caf\xc3"); }
TEST_F(HostileLocalPart, Utf8Surrogate) { expect_refused("a\xed\xa0\x80"); }
TEST_F(HostileLocalPart, Utf8C1Control) { expect_refused("a\xc2\x85" "b"); }  // U+0085 NEXT LINE
TEST_F(HostileLocalPart, Utf8WithQuotedSlash) { expect_refused("\"caf\xc3\xa9/x\""); }
TEST_F(HostileLocalPart, Utf8WithDotDot) { expect_refused("\"caf\xc3\xa9..x\""); }
// 64 octets (the RFC 5321 4.5.3.1.1 maximum) whose "xn--" form is 73 characters.
TEST_F(HostileLocalPart, Utf8TooLongOnceEncoded) {
    std::string local(40, 'a');
    for (int i = 0; i < 2; ++i) local += "\xe6\x9d\xb1\xe4\xba\xac\xe5\xa4\xa7\xe9\x98\xaa";  // 東京大阪
    ASSERT_EQ(local.size(), 64u);
    expect_refused(local);
}
TEST_F(HostileLocalPart, OtherAtextCharacters) { expect_refused("a$b"); }
TEST_F(HostileLocalPart, LongerThan64) { expect_refused(std::string(65, 'a')); }  // RFC 5321 4.5.3.1.1

// RFC 6531: a UTF-8 local part is an address like any other; its mailbox is the "xn--" form.
TEST_F(HostileLocalPart, Utf8LocalPartIsNotHostile_Rfc6531) {
    const auto m = mbox("Jos\xc3\xa9+tag", "catchall.test");
    EXPECT_EQ(policy.check_rcpt(m, false).code, 250);
    const auto route = policy.route(m);
    ASSERT_EQ(route.kind, queue::Route::Kind::Maildir);
    EXPECT_EQ(route.maildir, "/srv/mail/catchall/xn--jos-dma");
}

// The extension is cut before the check, so a harmless name with a hostile tag is fine:
// the tag never reaches the path.
TEST_F(HostileLocalPart, HostileExtensionIsDroppedNotUsed) {
    const auto route = policy.route(mbox("alice+../../etc", "catchall.test"));
    ASSERT_EQ(route.kind, queue::Route::Kind::Maildir);
    EXPECT_EQ(route.maildir, "/srv/mail/catchall/alice");
}

}  // namespace
}  // namespace ehlo::policy
