// The "xn--" mailbox names of UTF-8 local parts: Punycode (RFC 3492) after strict UTF-8.
#include <gtest/gtest.h>

#include "policy/utf8_mailbox.hpp"

namespace ehlo::policy {
namespace {

TEST(Utf8MailboxName, PunycodeOfTheLocalPart_Rfc3492) {
    EXPECT_EQ(utf8_mailbox_name("jos\xc3\xa9"), "xn--jos-dma");                     // josé
    EXPECT_EQ(utf8_mailbox_name("m\xc3\xbcller"), "xn--mller-kva");                 // müller
    EXPECT_EQ(utf8_mailbox_name("\xe6\x9d\xb1\xe4\xba\xac"), "xn--1lqs71d");        // 東京: no basic part
    EXPECT_EQ(utf8_mailbox_name("\xc3\xbc"), "xn--tda");                             // ü
    EXPECT_EQ(utf8_mailbox_name("a.\xc3\xa9"), "xn--a.-cja");
    EXPECT_EQ(utf8_mailbox_name("a\xc3\xa9-b"), "xn--a-b-bma");
    EXPECT_EQ(utf8_mailbox_name("ab--\xc3\xa9"), "xn--ab---epa");
    EXPECT_EQ(utf8_mailbox_name("\xf0\x9f\x93\xa7"), "xn--du8h");                   // U+1F4E7, 4 octets
}

TEST(Utf8MailboxName, PlainAsciiIsNotEncoded) {
    EXPECT_FALSE(utf8_mailbox_name("alice"));
    EXPECT_FALSE(utf8_mailbox_name(""));
}

// RFC 3629 3: ill-formed sequences are errors, never decoded leniently.
TEST(Utf8MailboxName, RefusesIllFormedUtf8_Rfc3629_3) {
    for (const char* s : {"\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf",  // overlong '/'
                          "\xed\xa0\x80",                                   // surrogate
                          "\xf4\x90\x80\x80",                               // beyond U+10FFFF
                          "\xc3", "\xe6\x9d", "\x80", "\xff", "\xf8\x88\x80\x80\x80",
                          "\xc2\x85"}) {                                    // C1 control
        EXPECT_FALSE(utf8_mailbox_name(std::string("a") + s)) << s;
    }
}

TEST(Utf8MailboxName, RefusesAsciiOutsideTheMailboxAlphabet) {
    for (const char* s : {"\xc3\xa9/x", "\xc3\xa9 x", "\xc3\xa9+x", "\xc3\xa9X", "\xc3\xa9\\"}) {
        EXPECT_FALSE(utf8_mailbox_name(s)) << s;
    }
}

}  // namespace
}  // namespace ehlo::policy
